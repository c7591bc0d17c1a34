//! Every deep-learning operation passes first- and second-order gradient checks against
//! central finite differences in double precision: the gradient of a weighted sum of the
//! op's output, and the Hessian-vector product of that sum (from a gradient taken with
//! `enable_higher_derivatives`), against finite differences of the function and of the
//! gradient.

use cranegrad::prelude::*;
use ndarray::{array, ArrayD, IxDyn};

/// A deterministic pseudo-random array with values in `[-1, 1)`.
fn rand(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    })
}

fn arr(a: ArrayD<f64>) -> DlArray {
    DlArray::from(a)
}

/// `sum(f(x) * w)` for fixed weights `w`.
fn objective(f: &dyn Fn(&DlArray) -> DlArray, w: &DlArray, x: &DlArray) -> DlArray {
    (f(x) * w).sum_all()
}

fn gradient(f: &dyn Fn(&DlArray) -> DlArray, w: &DlArray, x: &ArrayD<f64>) -> ArrayD<f64> {
    let g = dlfeval(|x: DlArray| dlgradient(&objective(f, w, &x), &x), arr(x.clone())).unwrap();
    g.extractdata::<f64>().unwrap()
}

fn assert_close(name: &str, what: &str, actual: &ArrayD<f64>, expected: &ArrayD<f64>, tol: f64) {
    let scale = expected.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (a, e)) in actual.iter().zip(expected.iter()).enumerate() {
        assert!(a.is_finite(), "{name}: {what} element {i} is {a}");
        assert!((a - e).abs() <= tol * scale, "{name}: {what} element {i}: got {a}, finite differences give {e}");
    }
}

/// First- and second-order checks of `f` at `x0`.
fn check(name: &str, x0: ArrayD<f64>, f: impl Fn(&DlArray) -> DlArray) {
    let f: &dyn Fn(&DlArray) -> DlArray = &f;
    let out = f(&arr(x0.clone()));
    assert!(out.data().is_ok(), "{name}: {:?}", out.data().err());
    let w = arr(rand(out.shape(), 7) + 0.5);
    let value = |x: &ArrayD<f64>| objective(f, &w, &arr(x.clone())).to_scalar::<f64>().unwrap();

    // First order: dlgradient against central differences of the function.
    let g = gradient(f, &w, &x0);
    let h = 1e-6;
    let mut fd = ArrayD::zeros(x0.raw_dim());
    for i in 0..x0.len() {
        let (mut xp, mut xm) = (x0.clone(), x0.clone());
        xp.as_slice_mut().unwrap()[i] += h;
        xm.as_slice_mut().unwrap()[i] -= h;
        fd.as_slice_mut().unwrap()[i] = (value(&xp) - value(&xm)) / (2.0 * h);
    }
    assert_close(name, "gradient", &g, &fd, 1e-6);

    // Second order: Hessian-vector product against central differences of the gradient.
    let v = rand(x0.shape(), 11);
    let vd = arr(v.clone());
    let hv = dlfeval(
        |x: DlArray| {
            let y = objective(f, &w, &x);
            let opts = GradOptions { enable_higher_derivatives: Some(true), ..Default::default() };
            let g = dlgradient_with(&y, &x, opts)?;
            dlgradient(&(g * &vd).sum_all(), &x)
        },
        arr(x0.clone()),
    )
    .unwrap()
    .extractdata::<f64>()
    .unwrap();
    let e = 1e-5;
    let fd_hv = (gradient(f, &w, &(&x0 + &(&v * e))) - gradient(f, &w, &(&x0 - &(&v * e)))) / (2.0 * e);
    assert_close(name, "Hessian-vector product", &hv, &fd_hv, 1e-5);
}

/// Values bounded away from zero (for kinks at 0): magnitudes in [0.2, 1.2).
fn away_from_zero(shape: &[usize], seed: u64) -> ArrayD<f64> {
    rand(shape, seed).mapv(|v| if v < 0.0 { v - 0.2 } else { v + 0.2 })
}

#[test]
fn activations() {
    check("relu", away_from_zero(&[3, 4], 1), relu);
    check("leakyrelu", away_from_zero(&[3, 4], 2), |x| leakyrelu(x, 0.1));
    check("gelu", rand(&[3, 4], 3) * 3.0, gelu);
    check("sigmoid", rand(&[3, 4], 4) * 3.0, sigmoid);
    check("softmax", rand(&[3, 4], 5) * 3.0, |x| softmax(x, 1));
    check("softmax axis 0", rand(&[3, 4], 6) * 3.0, |x| softmax(x, 0));
    check("log_softmax", rand(&[3, 4], 7) * 3.0, |x| log_softmax(x, 1));
}

#[test]
fn losses() {
    let t = arr(rand(&[3, 4], 8));
    let probs = arr(rand(&[3, 4], 9).mapv(|v| v.abs()));
    check("crossentropy wrt p", rand(&[3, 4], 10).mapv(|v| 0.1 + v.abs()), |p| crossentropy(p, &probs));
    check("crossentropy of softmax", rand(&[3, 4], 11) * 2.0, |x| crossentropy(&softmax(x, 1), &probs));
    check("mse", rand(&[3, 4], 12), |y| mse(y, &t));
    let shifted = |seed| rand(&[3, 4], 8) + away_from_zero(&[3, 4], seed);
    check("l1loss", shifted(13), |y| l1loss(y, &t));
    // Residuals in (0.2, 1.2) in magnitude: with delta 0.7, away from the switch.
    let r = away_from_zero(&[3, 4], 14).mapv(|v| if (v.abs() - 0.7).abs() < 0.05 { v * 1.2 } else { v });
    check("huber", &r + &rand(&[3, 4], 8), |y| huber(y, &t, 0.7));
}

#[test]
fn fullyconnect_all_operands() {
    let (x, w, b) = (rand(&[3, 4], 1), rand(&[2, 4], 2), rand(&[2], 3));
    check("fullyconnect x", x.clone(), |x| fullyconnect(x, &arr(w.clone()), &arr(b.clone())));
    check("fullyconnect w", w.clone(), |w| fullyconnect(&arr(x.clone()), w, &arr(b.clone())));
    check("fullyconnect b", b.clone(), |b| fullyconnect(&arr(x.clone()), &arr(w.clone()), b));
    // The op is bilinear: a nonlinearity after it makes the second-order check meaningful.
    check("tanh(fullyconnect) w", w.clone(), |w| fullyconnect(&arr(x.clone()), w, &arr(b.clone())).tanh());
}

#[test]
fn convolution() {
    let opts = ConvOptions::default().stride(&[2, 1]).padding(&[1]).dilation(&[1, 2]).groups(2);
    let (x, w, b) = (rand(&[2, 4, 5, 6], 1), rand(&[4, 2, 2, 3], 2), rand(&[4], 3));
    check("dlconv 2-D x", x.clone(), |x| dlconv(x, &arr(w.clone()), &arr(b.clone()), &opts).tanh());
    check("dlconv 2-D w", w.clone(), |w| dlconv(&arr(x.clone()), w, &arr(b.clone()), &opts).tanh());
    check("dlconv 2-D b", b.clone(), |b| dlconv(&arr(x.clone()), &arr(w.clone()), b, &opts).tanh());
    let opts1 = ConvOptions::default().stride(&[2]).padding(&[2]).dilation(&[2]);
    let (x1, w1) = (rand(&[2, 3, 7], 4), rand(&[2, 3, 3], 5));
    check("dlconv 1-D x", x1.clone(), |x| dlconv(x, &arr(w1.clone()), &DlArray::scalar(0.1), &opts1).tanh());
    check("dlconv 1-D w", w1.clone(), |w| dlconv(&arr(x1.clone()), w, &DlArray::scalar(0.1), &opts1).tanh());
}

#[test]
fn pooling() {
    let x = rand(&[2, 2, 5, 4], 1);
    let opts = PoolOptions::new(&[2, 3]).stride(&[2, 1]).padding(&[1]);
    check("maxpool 2-D", x.clone(), |x| maxpool(x, &opts));
    check("maxpool 1-D", rand(&[2, 3, 7], 2), |x| maxpool(x, &PoolOptions::new(&[3]).stride(&[2])));
    check("avgpool 2-D", x, |x| avgpool(x, &opts).sin());
    check("avgpool 1-D", rand(&[2, 3, 7], 3), |x| avgpool(x, &PoolOptions::new(&[2]).padding(&[1])).sin());
}

#[test]
fn normalization() {
    let (x, offset, scale) = (rand(&[3, 2, 4], 1), rand(&[2], 2), rand(&[2], 3));
    check("batchnorm x", x.clone(), |x| batchnorm(x, &arr(offset.clone()), &arr(scale.clone())).0);
    check("batchnorm scale", scale.clone(), |s| batchnorm(&arr(x.clone()), &arr(offset.clone()), s).0.tanh());
    check("batchnorm statistics", x.clone(), |x| {
        let (_, m, v) = batchnorm(x, &arr(offset.clone()), &arr(scale.clone()));
        m * v
    });
    let (m, v) = (rand(&[2], 4), rand(&[2], 5).mapv(|a| a.abs() + 0.5));
    check("batchnorm_inference x", x.clone(), |x| {
        batchnorm_inference(x, &arr(offset.clone()), &arr(scale.clone()), &arr(m.clone()), &arr(v.clone())).tanh()
    });
    check("batchnorm_inference var", v.clone(), |v| {
        batchnorm_inference(&arr(x.clone()), &arr(offset.clone()), &arr(scale.clone()), &arr(m.clone()), v)
    });
    let (o4, s4) = (rand(&[4], 6), rand(&[4], 7));
    check("layernorm x", x.clone(), |x| layernorm(x, &arr(o4.clone()), &arr(s4.clone()), &[2]));
    check("layernorm over 1, 2", x, |x| layernorm(x, &arr(o4.clone()), &arr(s4.clone()), &[1, 2]));
}

#[test]
fn embedding_with_respect_to_the_weights() {
    let idx = arr(array![[3.0, 0.0, 3.0], [1.0, 4.0, 2.0]].into_dyn());
    check("embed", rand(&[5, 3], 1), |w| embed(&idx, w).tanh());
}

#[test]
fn lstm_every_operand() {
    let (n, t, c, hs) = (2, 3, 3, 2);
    let (x, h0, c0) = (rand(&[n, t, c], 1), rand(&[n, hs], 2), rand(&[n, hs], 3));
    let (w, r, b) = (rand(&[4 * hs, c], 4), rand(&[4 * hs, hs], 5), rand(&[4 * hs], 6));
    let all = |x: &DlArray, h0: &DlArray, c0: &DlArray, w: &DlArray, r: &DlArray, b: &DlArray| {
        let (y, h, cell) = lstm(x, h0, c0, w, r, b);
        y.sum_axes(&[1], false) + h * 2.0 + cell
    };
    let a = |v: &ArrayD<f64>| arr(v.clone());
    check("lstm x", x.clone(), |x| all(x, &a(&h0), &a(&c0), &a(&w), &a(&r), &a(&b)));
    check("lstm h0", h0.clone(), |h| all(&a(&x), h, &a(&c0), &a(&w), &a(&r), &a(&b)));
    check("lstm c0", c0.clone(), |c| all(&a(&x), &a(&h0), c, &a(&w), &a(&r), &a(&b)));
    check("lstm weights", w.clone(), |w| all(&a(&x), &a(&h0), &a(&c0), w, &a(&r), &a(&b)));
    check("lstm recurrent", r.clone(), |r| all(&a(&x), &a(&h0), &a(&c0), &a(&w), r, &a(&b)));
    check("lstm bias", b.clone(), |b| all(&a(&x), &a(&h0), &a(&c0), &a(&w), &a(&r), b));
}

#[test]
fn gru_every_operand() {
    let (n, t, c, hs) = (2, 3, 3, 2);
    let (x, h0) = (rand(&[n, t, c], 1), rand(&[n, hs], 2));
    let (w, r, b) = (rand(&[3 * hs, c], 4), rand(&[3 * hs, hs], 5), rand(&[3 * hs], 6));
    let all = |x: &DlArray, h0: &DlArray, w: &DlArray, r: &DlArray, b: &DlArray| {
        let (y, h) = gru(x, h0, w, r, b);
        y.sum_axes(&[1], false) + h * 2.0
    };
    let a = |v: &ArrayD<f64>| arr(v.clone());
    check("gru x", x.clone(), |x| all(x, &a(&h0), &a(&w), &a(&r), &a(&b)));
    check("gru h0", h0.clone(), |h| all(&a(&x), h, &a(&w), &a(&r), &a(&b)));
    check("gru weights", w.clone(), |w| all(&a(&x), &a(&h0), w, &a(&r), &a(&b)));
    check("gru recurrent", r.clone(), |r| all(&a(&x), &a(&h0), &a(&w), r, &a(&b)));
    check("gru bias", b.clone(), |b| all(&a(&x), &a(&h0), &a(&w), &a(&r), b));
}

#[test]
fn attention_every_operand_with_a_mask() {
    let (q, k, v) = (rand(&[2, 3, 4], 1), rand(&[2, 3, 4], 2), rand(&[2, 3, 2], 3));
    let mask =
        arr(ndarray::Array2::from_shape_fn((3, 3), |(i, j)| j <= i).mapv(|b| if b { 1.0 } else { 0.0 }).into_dyn())
            .gt(&DlArray::scalar(0.5));
    let a = |v: &ArrayD<f64>| arr(v.clone());
    check("attention q", q.clone(), |q| attention(q, &a(&k), &a(&v), 2, Some(&mask)));
    check("attention k", k.clone(), |k| attention(&a(&q), k, &a(&v), 2, Some(&mask)));
    check("attention v", v.clone(), |v| attention(&a(&q), &a(&k), v, 2, Some(&mask)).tanh());
    check("attention no mask", q, |q| attention(q, &a(&k), &a(&v), 1, None));
}

#[test]
fn dropout_with_respect_to_x() {
    let key = DlArray::scalar(42.0);
    check("dropout", rand(&[4, 5], 1), |x| dropout(x, 0.4, &key).sin());
}

#[test]
fn products_sums_norms() {
    check("prod", rand(&[3, 5, 2], 1) * 1.5, |x| prod(x, &[1], false));
    check("prod two axes", rand(&[3, 5, 2], 2) * 1.5, |x| prod(x, &[0, 2], true));
    let mut with_zero = rand(&[2, 3], 3);
    with_zero[[0, 1]] = 0.0;
    check("prod with a zero", with_zero, |x| prod(x, &[1], false));
    check("cumsum", rand(&[3, 6], 4), |x| cumsum(x, 1).sin());
    check("cumsum axis 0", rand(&[5, 2], 5), |x| cumsum(x, 0).square());
    check("norm 1", away_from_zero(&[3, 4], 6), |x| norm(x, 1.0, &[1]));
    check("norm 2", rand(&[3, 4], 7), |x| norm(x, 2.0, &[0]));
    check("norm inf", rand(&[3, 4], 8), |x| norm(x, f64::INFINITY, &[1]));
    check("norm 3", away_from_zero(&[3, 4], 9), |x| norm(x, 3.0, &[]));
}

#[test]
fn interp1_with_respect_to_values_queries_and_knots() {
    let knots = array![0.0, 1.0, 2.5, 3.0].into_dyn();
    let values = array![1.0, -2.0, 0.5, 3.0].into_dyn();
    let queries = array![[0.3, 1.7], [2.9, 0.8], [2.6, 1.2]].into_dyn();
    let a = |v: &ArrayD<f64>| arr(v.clone());
    check("interp1 y", values.clone(), |y| interp1(&a(&knots), y, &a(&queries)).square());
    check("interp1 xq", queries.clone(), |q| interp1(&a(&knots), &a(&values), q).square());
    check("interp1 x", knots.clone(), |x| interp1(x, &a(&values), &a(&queries)).square());
}

/// The harness itself: at 0, `sign` has a zero gradient while its finite difference is huge,
/// so the check must fail.
#[test]
#[should_panic(expected = "finite differences give")]
fn the_harness_detects_a_wrong_gradient() {
    check("sign at 0", ArrayD::zeros(IxDyn(&[3])), |x| x.sign());
}
