//! Every deep-learning operation of `cranegrad::nn` through `accelerate`, against the same
//! function under `dlfeval`.
//!
//! Each case wraps a function that computes the operation, a scalar of it
//! (`s = sum_k sum(w_k * y_k)` over the outputs `y_k` with fixed pseudo-random weights `w_k`, so
//! every output element contributes), and the gradient of `s` with respect to the
//! differentiable inputs (`dlgradient` inside). The accelerated function is called with two
//! sets of input values of one signature: the first call traces, the second is served from the
//! cache (`hit_rate() == 50.0`, one entry). A third call with the first values runs the cached
//! program on those too. Every result (the outputs, `s`, the gradients) is compared with
//! `dlfeval` of the same function on the same values, and the two calls must give different
//! results (so the cached program really computes with its inputs).
//!
//! Tolerance: 1e-12 relative, measured against the largest magnitude of the expected array:
//! `|a - e| <= 1e-12 * max|e|` element by element (NaN must match NaN; an all-zero expected
//! array must be matched exactly). The cached program may evaluate in another order than the
//! eager trace (the optimizer rewrites the graph), so bitwise equality is not required, but in
//! double precision anything beyond rounding would exceed this bound.

use cranegrad::internals::dlconv_shifted;
use cranegrad::prelude::*;
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

/// Relative tolerance of every comparison (see the module documentation).
const TOLERANCE: f64 = 1e-12;

/// A deterministic pseudo-random array with values in `[lo, hi)`.
fn rand(shape: &[usize], seed: u64, lo: f64, hi: f64) -> ArrayD<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
    })
}

/// A pseudo-random `DlArray` with values in `[-1, 1)`.
fn arr(shape: &[usize], seed: u64) -> DlArray {
    DlArray::from(rand(shape, seed, -1.0, 1.0))
}

/// A pseudo-random `DlArray` with values in `[lo, hi)`.
fn arr_in(shape: &[usize], seed: u64, lo: f64, hi: f64) -> DlArray {
    DlArray::from(rand(shape, seed, lo, hi))
}

/// The operation under test: inputs to outputs.
type OpFn = Arc<dyn Fn(&[DlArray]) -> Vec<DlArray> + Send + Sync>;

/// The outputs of `op`, the scalar `s` of them, and the gradient of `s` with respect to the
/// inputs listed in `wrt`: `[y_0, .., y_k, s, g_0, .., g_m]`.
fn value_and_gradient(op: &OpFn, args: &[DlArray], wrt: &[usize]) -> Result<Vec<DlArray>> {
    let ys = op(args);
    let mut s: Option<DlArray> = None;
    for (k, y) in ys.iter().enumerate() {
        y.data()?;
        let w = DlArray::from(rand(y.shape(), 1000 + k as u64, -1.0, 1.0));
        let term = (y * &w).sum_all();
        s = Some(match s {
            Some(acc) => acc + term,
            None => term,
        });
    }
    let s = s.ok_or_else(|| Error::Gradient("the operation has no outputs".into()))?;
    let vars: Vec<DlArray> = wrt.iter().map(|&i| args[i].clone()).collect();
    let grads = dlgradient(&s, &vars)?;
    let mut out = ys;
    out.push(s);
    out.extend(grads);
    Ok(out)
}

/// The values of `results` as double arrays (logical outputs become 0 and 1).
fn values(results: &[DlArray]) -> Vec<ArrayD<f64>> {
    results.iter().map(|r| r.cast(DType::F64).extractdata::<f64>().expect("a real result")).collect()
}

/// Asserts `actual` equals `expected` within [`TOLERANCE`] (see the module documentation).
fn assert_close(case: &str, what: &str, actual: &[ArrayD<f64>], expected: &[ArrayD<f64>]) {
    assert_eq!(actual.len(), expected.len(), "{case} ({what}): number of results");
    for (k, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(a.shape(), e.shape(), "{case} ({what}): shape of result {k}");
        let scale = e.iter().filter(|v| v.is_finite()).fold(0.0f64, |m, v| m.max(v.abs()));
        for (i, (x, y)) in a.iter().zip(e.iter()).enumerate() {
            let ok = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= TOLERANCE * scale;
            assert!(ok, "{case} ({what}): result {k}, element {i}: accelerated {x}, dlfeval {y} (scale {scale})");
        }
    }
}

/// Whether two result lists differ somewhere.
fn differ(a: &[ArrayD<f64>], b: &[ArrayD<f64>]) -> bool {
    a.iter().zip(b).any(|(x, y)| x.shape() != y.shape() || x.iter().zip(y.iter()).any(|(u, v)| u != v))
}

/// Runs one case (see the module documentation); returns the accelerated results of the two
/// calls.
fn check(
    case: &str,
    op: impl Fn(&[DlArray]) -> Vec<DlArray> + Send + Sync + 'static,
    first: Vec<DlArray>,
    second: Vec<DlArray>,
    wrt: &[usize],
) -> (Vec<ArrayD<f64>>, Vec<ArrayD<f64>>) {
    let op: OpFn = Arc::new(op);
    let (traced_op, traced_wrt) = (op.clone(), wrt.to_vec());
    let af = accelerate(move |args: Vec<DlArray>| value_and_gradient(&traced_op, &args, &traced_wrt));
    let eager = |args: &Vec<DlArray>| {
        let result = dlfeval(|a: Vec<DlArray>| value_and_gradient(&op, &a, wrt), args.clone());
        values(&result.unwrap_or_else(|e| panic!("{case}: dlfeval failed: {e}")))
    };
    let accelerated = |args: &Vec<DlArray>| {
        values(&af.call(args.clone()).unwrap_or_else(|e| panic!("{case}: accelerated call failed: {e}")))
    };
    let (expected1, expected2) = (eager(&first), eager(&second));
    let traced = accelerated(&first);
    assert_close(case, "first call, traced", &traced, &expected1);
    let cached = accelerated(&second);
    assert_eq!(af.hit_rate(), 50.0, "{case}: the second call must be served from the cache");
    assert_eq!(af.num_entries(), 1, "{case}: one signature, one entry");
    assert_close(case, "second call, cached", &cached, &expected2);
    assert!(differ(&cached, &traced), "{case}: new input values must give new results");
    let again = accelerated(&first);
    assert_close(case, "third call, cached, first values", &again, &expected1);
    assert_eq!(af.num_entries(), 1, "{case}: no retrace");
    let native = af.native_dump();
    assert!(!native.contains("interpreted"), "{case}: the cached trace must run as native code:\n{native}");
    (traced, cached)
}

/// `[first, second]` values for arrays of these shapes, pseudo-random in `[-1, 1)`.
fn two_sets(shapes: &[&[usize]], seed: u64) -> (Vec<DlArray>, Vec<DlArray>) {
    let set = |s: u64| shapes.iter().enumerate().map(|(i, sh)| arr(sh, s + 17 * i as u64)).collect();
    (set(seed), set(seed + 5000))
}

#[test]
fn fullyconnect_matches_dlfeval() {
    let (a, b) = two_sets(&[&[4, 5], &[3, 5], &[3]], 1);
    check("fullyconnect", |x| vec![fullyconnect(&x[0], &x[1], &x[2])], a, b, &[0, 1, 2]);
    // [N, C, H] inputs are flattened to [N, C * H].
    let (a, b) = two_sets(&[&[4, 2, 3], &[3, 6], &[3]], 2);
    check("fullyconnect 3-D", |x| vec![fullyconnect(&x[0], &x[1], &x[2])], a, b, &[0, 1, 2]);
}

#[test]
fn activations_match_dlfeval() {
    let (a, b) = two_sets(&[&[3, 4]], 3);
    check("relu", |x| vec![relu(&x[0])], a.clone(), b.clone(), &[0]);
    check("leakyrelu", |x| vec![leakyrelu(&x[0], 0.1)], a.clone(), b.clone(), &[0]);
    check("gelu", |x| vec![gelu(&x[0])], a.clone(), b.clone(), &[0]);
    check("sigmoid", |x| vec![sigmoid(&x[0])], a.clone(), b.clone(), &[0]);
    check("softmax axis 1", |x| vec![softmax(&x[0], 1)], a.clone(), b.clone(), &[0]);
    check("softmax axis 0", |x| vec![softmax(&x[0], 0)], a.clone(), b.clone(), &[0]);
    check("log_softmax", |x| vec![log_softmax(&x[0], 1)], a, b, &[0]);
}

#[test]
fn losses_match_dlfeval() {
    let probs = |s: u64| vec![arr_in(&[4, 3], s, 0.01, 1.0), arr_in(&[4, 3], s + 1, 0.0, 1.0)];
    check("crossentropy", |x| vec![crossentropy(&x[0], &x[1])], probs(4), probs(40), &[0, 1]);
    // Logits through softmax, as a classifier computes them.
    check("softmax + crossentropy", |x| vec![crossentropy(&softmax(&x[0], 1), &x[1])], probs(5), probs(50), &[0, 1]);
    let (a, b) = two_sets(&[&[5, 3], &[5, 3]], 6);
    check("mse", |x| vec![mse(&x[0], &x[1])], a.clone(), b.clone(), &[0, 1]);
    check("l1loss", |x| vec![l1loss(&x[0], &x[1])], a.clone(), b.clone(), &[0, 1]);
    // delta 0.5: the residuals in (-2, 2) fall on both sides.
    check("huber", |x| vec![huber(&x[0], &x[1], 0.5)], a, b, &[0, 1]);
}

#[test]
fn conv_1d_with_stride_padding_dilation_groups_matches_dlfeval() {
    let opts = ConvOptions::default().stride(&[2]).padding(&[1]).dilation(&[2]).groups(2);
    let (a, b) = two_sets(&[&[2, 4, 9], &[6, 2, 3], &[6]], 7);
    let o = opts.clone();
    let (traced, _) =
        check("dlconv 1-D", move |x| vec![dlconv(&x[0], &x[1], &x[2], &o)], a.clone(), b.clone(), &[0, 1, 2]);
    assert_eq!(traced[0].shape(), &[2, 6, 4]);
    check("dlconv_shifted 1-D", move |x| vec![dlconv_shifted(&x[0], &x[1], &x[2], &opts)], a, b, &[0, 1, 2]);
    // Asymmetric [before, after] padding, no groups.
    let opts = ConvOptions::default().padding(&[2, 0]);
    let (a, b) = two_sets(&[&[3, 2, 6], &[3, 2, 2], &[3]], 8);
    check("dlconv 1-D asymmetric padding", move |x| vec![dlconv(&x[0], &x[1], &x[2], &opts)], a, b, &[0, 1, 2]);
}

#[test]
fn conv_2d_with_stride_padding_dilation_groups_matches_dlfeval() {
    let opts = ConvOptions::default().stride(&[2, 1]).padding(&[1, 1]).dilation(&[1, 2]);
    let (a, b) = two_sets(&[&[2, 2, 7, 6], &[4, 2, 3, 2], &[4]], 9);
    let o = opts.clone();
    let (traced, _) =
        check("dlconv 2-D", move |x| vec![dlconv(&x[0], &x[1], &x[2], &o)], a.clone(), b.clone(), &[0, 1, 2]);
    assert_eq!(traced[0].shape(), &[2, 4, 4, 6]);
    check("dlconv_shifted 2-D", move |x| vec![dlconv_shifted(&x[0], &x[1], &x[2], &opts)], a, b, &[0, 1, 2]);
    let opts = ConvOptions::default().padding(&[1, 1]).groups(2);
    let (a, b) = two_sets(&[&[1, 4, 5, 5], &[4, 2, 3, 3], &[4]], 10);
    check("dlconv 2-D groups", move |x| vec![dlconv(&x[0], &x[1], &x[2], &opts)], a, b, &[0, 1, 2]);
}

#[test]
fn pooling_1d_and_2d_matches_dlfeval() {
    let p1 = PoolOptions::new(&[3]).stride(&[2]).padding(&[1]);
    let (a, b) = two_sets(&[&[2, 3, 8]], 11);
    let o = p1.clone();
    check("maxpool 1-D", move |x| vec![maxpool(&x[0], &o)], a.clone(), b.clone(), &[0]);
    check("avgpool 1-D", move |x| vec![avgpool(&x[0], &p1)], a, b, &[0]);
    let p2 = PoolOptions::new(&[2, 2]).stride(&[2, 2]);
    let (a, b) = two_sets(&[&[2, 2, 6, 5]], 12);
    let o = p2.clone();
    check("maxpool 2-D", move |x| vec![maxpool(&x[0], &o)], a.clone(), b.clone(), &[0]);
    check("avgpool 2-D", move |x| vec![avgpool(&x[0], &p2)], a.clone(), b.clone(), &[0]);
    let p3 = PoolOptions::new(&[3, 2]).stride(&[2, 1]).padding(&[1, 0]);
    let o = p3.clone();
    check("maxpool 2-D padded", move |x| vec![maxpool(&x[0], &o)], a.clone(), b.clone(), &[0]);
    check("avgpool 2-D padded", move |x| vec![avgpool(&x[0], &p3)], a, b, &[0]);
}

#[test]
fn normalizations_match_dlfeval() {
    let (a, b) = two_sets(&[&[4, 3, 5], &[3], &[3]], 13);
    check(
        "batchnorm",
        |x| {
            let (y, mean, var) = batchnorm(&x[0], &x[1], &x[2]);
            vec![y, mean, var]
        },
        a,
        b,
        &[0, 1, 2],
    );
    let stats = |s: u64| {
        vec![arr(&[4, 3, 5], s), arr(&[3], s + 1), arr(&[3], s + 2), arr(&[3], s + 3), arr_in(&[3], s + 4, 0.2, 2.0)]
    };
    check(
        "batchnorm_inference",
        |x| vec![batchnorm_inference(&x[0], &x[1], &x[2], &x[3], &x[4])],
        stats(14),
        stats(140),
        &[0, 1, 2, 3, 4],
    );
    let (a, b) = two_sets(&[&[2, 3, 4], &[4], &[4]], 15);
    check("layernorm sequence", |x| vec![layernorm(&x[0], &x[1], &x[2], &[2])], a, b, &[0, 1, 2]);
    let (a, b) = two_sets(&[&[2, 3, 2, 2], &[3, 1, 1], &[3, 1, 1]], 16);
    check("layernorm image", |x| vec![layernorm(&x[0], &x[1], &x[2], &[1, 2, 3])], a, b, &[0, 1, 2]);
}

#[test]
fn embed_matches_dlfeval_with_new_indices_through_the_cache() {
    let indices = |v: [f64; 6]| DlArray::from(ndarray::Array2::from_shape_vec((2, 3), v.to_vec()).expect("2 x 3"));
    let first = vec![indices([0.0, 4.0, 2.0, 2.0, 1.0, 3.0]), arr(&[5, 4], 17)];
    let second = vec![indices([3.0, 3.0, 0.0, 1.0, 4.0, 2.0]), arr(&[5, 4], 170)];
    let (traced, cached) = check("embed", |x| vec![embed(&x[0], &x[1])], first, second, &[1]);
    // Row 2 of the second weights is looked up at position (1, 2) of the second call.
    let w2 = rand(&[5, 4], 170, -1.0, 1.0);
    for j in 0..4 {
        assert_eq!(cached[0][[1, 2, j]], w2[[2, j]]);
    }
    assert_eq!(traced[0].shape(), &[2, 3, 4]);
}

#[test]
fn lstm_and_gru_match_dlfeval() {
    let (a, b) = two_sets(&[&[2, 3, 4], &[2, 5], &[2, 5], &[20, 4], &[20, 5], &[20]], 18);
    check(
        "lstm",
        |x| {
            let (y, h, c) = lstm(&x[0], &x[1], &x[2], &x[3], &x[4], &x[5]);
            vec![y, h, c]
        },
        a,
        b,
        &[0, 1, 2, 3, 4, 5],
    );
    let (a, b) = two_sets(&[&[2, 3, 4], &[2, 5], &[15, 4], &[15, 5], &[15]], 19);
    check(
        "gru",
        |x| {
            let (y, h) = gru(&x[0], &x[1], &x[2], &x[3], &x[4]);
            vec![y, h]
        },
        a,
        b,
        &[0, 1, 2, 3, 4],
    );
}

#[test]
fn attention_with_and_without_mask_matches_dlfeval() {
    let (a, b) = two_sets(&[&[2, 3, 4], &[2, 5, 4], &[2, 5, 6]], 20);
    check("attention", |x| vec![attention(&x[0], &x[1], &x[2], 2, None)], a.clone(), b.clone(), &[0, 1, 2]);
    // The mask is an input too: the second call masks other positions (each row keeps one at
    // least), served by the same cached program.
    let mask = |seed: u64| {
        let r = rand(&[3, 5], seed, 0.0, 1.0);
        let m = ndarray::Array2::from_shape_fn((3, 5), |(i, j)| j == i || r[[i, j]] > 0.5);
        DlArray::from(m)
    };
    let with_mask = |mut v: Vec<DlArray>, m: DlArray| {
        v.push(m);
        v
    };
    check(
        "attention masked",
        |x| vec![attention(&x[0], &x[1], &x[2], 2, Some(&x[3]))],
        with_mask(a, mask(21)),
        with_mask(b, mask(22)),
        &[0, 1, 2],
    );
}

#[test]
fn dropout_matches_dlfeval() {
    let key = DlArray::scalar;
    let first = vec![arr(&[4, 6], 23), key(1.0)];
    let second = vec![arr(&[4, 6], 230), key(2.0)];
    check("dropout", |x| vec![dropout(&x[0], 0.3, &x[1])], first, second, &[0]);
}

#[test]
fn dropout_draws_a_new_mask_for_a_new_key_through_the_cache() {
    let x = arr_in(&[8, 16], 24, 0.5, 1.5);
    let op: OpFn = Arc::new(|x: &[DlArray]| vec![dropout(&x[0], 0.5, &x[1])]);
    let traced_op = op.clone();
    let af = accelerate(move |args: Vec<DlArray>| value_and_gradient(&traced_op, &args, &[0]));
    let run = |k: f64| values(&af.call(vec![x.clone(), DlArray::scalar(k)]).expect("accelerated dropout"));
    let eager = |k: f64| {
        let r = dlfeval(|a: Vec<DlArray>| value_and_gradient(&op, &a, &[0]), vec![x.clone(), DlArray::scalar(k)]);
        values(&r.expect("dropout under dlfeval"))
    };
    let kept = |r: &[ArrayD<f64>]| r[0].mapv(|v| (v != 0.0) as u8);
    let (a, b) = (run(1.0), run(2.0));
    assert_eq!(af.hit_rate(), 50.0, "same signature, different key values: no retrace");
    assert_eq!(af.num_entries(), 1);
    assert_ne!(kept(&a), kept(&b), "a new key must draw a new mask");
    assert_close("dropout key 1", "traced", &a, &eager(1.0));
    assert_close("dropout key 2", "cached", &b, &eager(2.0));
    // The gradient is the mask times 1 / (1 - p) times the weights: zero exactly where dropped.
    let g = &b[2];
    assert!(b[0].iter().zip(g.iter()).all(|(y, g)| (*y == 0.0) == (*g == 0.0)));
    // The same key again gives the same mask from the cache.
    assert_eq!(kept(&run(1.0)), kept(&a));
    let dropped = kept(&b).iter().filter(|&&k| k == 0).count();
    assert!((32..=96).contains(&dropped), "about half of 128 dropped, got {dropped}");
}

#[test]
fn prod_cumsum_norm_match_dlfeval() {
    // The second values contain a zero: prod's gradient is exact there.
    let first = vec![arr(&[3, 4], 25)];
    let mut z = rand(&[3, 4], 250, -1.0, 1.0);
    z[[1, 2]] = 0.0;
    let second = vec![DlArray::from(z)];
    check("prod axis 1", |x| vec![prod(&x[0], &[1], false)], first.clone(), second.clone(), &[0]);
    check("prod all keepdims", |x| vec![prod(&x[0], &[0, 1], true)], first.clone(), second.clone(), &[0]);
    check("cumsum axis 1", |x| vec![cumsum(&x[0], 1)], first.clone(), second.clone(), &[0]);
    check("cumsum axis 0", |x| vec![cumsum(&x[0], 0)], first.clone(), second.clone(), &[0]);
    let (a, b) = two_sets(&[&[3, 4]], 26);
    for p in [1.0, 2.0, 3.0, f64::INFINITY] {
        check(&format!("norm p={p}"), move |x| vec![norm(&x[0], p, &[1])], a.clone(), b.clone(), &[0]);
    }
    check("norm all axes", |x| vec![norm(&x[0], 2.0, &[0, 1])], a, b, &[0]);
}

#[test]
fn interp1_matches_dlfeval() {
    let table = |shift: f64, seed: u64| {
        let knots = ndarray::Array1::from_iter((0..6).map(|i| i as f64 + shift + 0.3 * (i as f64).sin()));
        vec![DlArray::from(knots), arr(&[6], seed), arr_in(&[2, 4], seed + 1, 0.6 + shift, 4.9 + shift)]
    };
    check("interp1", |x| vec![interp1(&x[0], &x[1], &x[2])], table(0.0, 27), table(0.25, 270), &[0, 1, 2]);
    // Queries outside the table give NaN values; only the table values are differentiated.
    let outside = |seed: u64| {
        let mut v = table(0.0, seed);
        v[2] = arr_in(&[2, 4], seed + 2, -1.0, 7.0);
        v
    };
    let (traced, _) = check("interp1 outside", |x| vec![interp1(&x[0], &x[1], &x[2])], outside(28), outside(280), &[]);
    assert!(traced[0].iter().any(|v| v.is_nan()), "some queries fall outside [0, 5]");
}

/// Gradient of `sum(g^2)`, `g` the traced gradient of a weighted sum of `op`'s first output
/// with respect to the inputs in `inner`; differentiated with respect to every input.
fn gradient_norm_gradient(op: &OpFn, args: &[DlArray], inner: &[usize]) -> Result<Vec<DlArray>> {
    let options = GradOptions { enable_higher_derivatives: Some(true), ..Default::default() };
    let y = op(args).swap_remove(0);
    y.data()?;
    let s = (&y * &DlArray::from(rand(y.shape(), 999, -1.0, 1.0))).sum_all();
    let vars: Vec<DlArray> = inner.iter().map(|&i| args[i].clone()).collect();
    let g = dlgradient_with(&s, &vars, options)?;
    let mut penalty = g[0].square().sum_all();
    for gi in &g[1..] {
        penalty = penalty + gi.square().sum_all();
    }
    let all = args.to_vec();
    let mut out = dlgradient_with(&penalty, &all, options)?;
    out.push(penalty);
    Ok(out)
}

/// The second-order case for `op` (see [`gradient_norm_gradient`]).
fn check_second_order(case: &str, op: OpFn, first: Vec<DlArray>, second: Vec<DlArray>, inner: &[usize]) {
    let (traced_op, traced_inner) = (op.clone(), inner.to_vec());
    let af = accelerate(move |args: Vec<DlArray>| gradient_norm_gradient(&traced_op, &args, &traced_inner));
    let eager = |args: &Vec<DlArray>| {
        values(&dlfeval(|a: Vec<DlArray>| gradient_norm_gradient(&op, &a, inner), args.clone()).expect("dlfeval"))
    };
    let accelerated = |args: &Vec<DlArray>| values(&af.call(args.clone()).expect("accelerated"));
    let traced = accelerated(&first);
    let cached = accelerated(&second);
    assert_eq!(af.hit_rate(), 50.0, "{case}: the second call is served from the cache");
    assert_close(case, "traced", &traced, &eager(&first));
    assert_close(case, "cached", &cached, &eager(&second));
    assert!(differ(&traced, &cached));
    // Every input gets a nonzero second-order gradient somewhere (the penalty depends on all).
    for (k, g) in cached[..second.len()].iter().enumerate() {
        assert!(g.iter().any(|v| *v != 0.0), "{case}: second-order gradient of input {k} is zero");
    }
}

#[test]
fn second_order_through_lstm_matches_dlfeval() {
    let (a, b) = two_sets(&[&[2, 3, 2], &[2, 3], &[2, 3], &[12, 2], &[12, 3], &[12]], 29);
    let op: OpFn = Arc::new(|x: &[DlArray]| {
        let (y, _, _) = lstm(&x[0], &x[1], &x[2], &x[3], &x[4], &x[5]);
        vec![y]
    });
    // The gradient with respect to the input weights and the recurrent weights.
    check_second_order("lstm second order", op, a, b, &[3, 4]);
}

#[test]
fn second_order_through_prod_matches_dlfeval() {
    let first = vec![arr(&[3, 4], 30)];
    let mut z = rand(&[3, 4], 300, -1.0, 1.0);
    z[[0, 1]] = 0.0;
    let op: OpFn = Arc::new(|x: &[DlArray]| vec![prod(&x[0], &[1], false)]);
    check_second_order("prod second order", op, first, vec![DlArray::from(z)], &[0]);
}
