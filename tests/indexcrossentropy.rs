//! `indexcrossentropy` (docs/API.md section 6): 0-based class indices in any real numeric dtype,
//! values, gradients to second order, accelerated calls with new targets, deferred errors.

mod common;

use common::{check_both, Rng, Tol};
use cranegrad::prelude::*;
use ndarray::{array, Array1, Array2, ArrayD};

fn softmax_rows(a: &Array2<f64>) -> Array2<f64> {
    let mut out = a.mapv(f64::exp);
    for mut row in out.rows_mut() {
        let s = row.sum();
        row.mapv_inplace(|v| v / s);
    }
    out
}

fn by_hand(p: &Array2<f64>, t: &[usize]) -> f64 {
    -t.iter().enumerate().map(|(n, &c)| p[[n, c]].ln()).sum::<f64>() / t.len() as f64
}

#[test]
fn value_matches_the_formula_for_every_index_dtype() {
    let mut rng = Rng::new(1);
    let p = softmax_rows(&rng.array(&[6, 4], -2.0, 2.0).into_dimensionality().unwrap());
    let t = [3usize, 0, 1, 1, 2, 0];
    let want = by_hand(&p, &t);
    let tf: Array1<f64> = t.iter().map(|&c| c as f64).collect();
    for td in [DlArray::from(tf.clone()), DlArray::from(tf.clone()).cast(DType::F32)] {
        let got = indexcrossentropy(&DlArray::from(p.clone()), &td).to_scalar::<f64>().unwrap();
        assert!((got - want).abs() < 1e-14 * want.abs().max(1.0), "{:?}: {got} vs {want}", td.dtype());
    }
    // Single-precision probabilities give a single-precision loss.
    let got = indexcrossentropy(&DlArray::from(p.mapv(|v| v as f32)), &DlArray::from(tf.clone()));
    assert_eq!(got.dtype(), DType::F32);
    assert!((got.to_scalar::<f32>().unwrap() as f64 - want).abs() < 1e-5);
    // The same as crossentropy with one-hot targets.
    let onehot = Array2::from_shape_fn((6, 4), |(n, c)| if t[n] == c { 1.0 } else { 0.0 });
    let ce = crossentropy(&DlArray::from(p.clone()), &DlArray::from(onehot)).to_scalar::<f64>().unwrap();
    let ice = indexcrossentropy(&DlArray::from(p), &DlArray::from(tf)).to_scalar::<f64>().unwrap();
    assert_eq!(ce, ice);
}

#[test]
fn gradients_to_second_order() {
    let mut rng = Rng::new(2);
    let logits: ArrayD<f64> = rng.array(&[5, 3], -1.0, 1.0);
    let t = DlArray::from(array![2.0, 0.0, 1.0, 2.0, 1.0]);
    check_both(move |xs: &[DlArray]| indexcrossentropy(&softmax(&xs[0], 1), &t), &[logits], Tol::F64);
}

#[test]
fn accelerated_calls_use_the_targets_they_get() {
    let af = accelerate(|(z, t): (DlArray, DlArray)| {
        let loss = indexcrossentropy(&softmax(&z, 1), &t);
        Ok((loss.clone(), dlgradient(&loss, &z)?))
    });
    let mut rng = Rng::new(3);
    let z0: Array2<f64> = rng.array(&[4, 3], -1.0, 1.0).into_dimensionality().unwrap();
    let p = softmax_rows(&z0);
    for t in [[0usize, 1, 2, 0], [2, 2, 1, 0], [1, 0, 0, 2]] {
        let tf: Array1<f64> = t.iter().map(|&c| c as f64).collect();
        let (loss, g) = af.call((DlArray::from(z0.clone()), DlArray::from(tf))).unwrap();
        let want = by_hand(&p, &t);
        assert!((loss.to_scalar::<f64>().unwrap() - want).abs() < 1e-12, "{t:?}");
        // d/dz of -log softmax(z)[t] / N is (softmax(z) - onehot) / N.
        let g = g.extractdata::<f64>().unwrap();
        for n in 0..4 {
            for c in 0..3 {
                let want = (p[[n, c]] - if t[n] == c { 1.0 } else { 0.0 }) / 4.0;
                assert!((g[[n, c]] - want).abs() < 1e-12, "{t:?} [{n}, {c}]");
            }
        }
    }
    assert_eq!(af.hit_rate(), 200.0 / 3.0);
}

#[test]
fn bad_targets_are_deferred_errors() {
    let p = DlArray::from(array![[0.5, 0.5], [0.25, 0.75]]);
    let msg = |r: Result<f64>| r.unwrap_err().to_string();
    // Out of range, negative, not whole.
    for (t, bad) in [(array![0.0, 2.0], "t[1] = 2"), (array![-1.0, 0.0], "t[0] = -1"), (array![0.0, 0.5], "t[1] = 0.5")]
    {
        let e = msg(indexcrossentropy(&p, &DlArray::from(t.clone())).to_scalar::<f64>());
        assert!(e.contains("indexcrossentropy") && e.contains(bad) && e.contains("0..2"), "{e}");
        // Inside dlfeval the error is deferred to the end of the call.
        let r = dlfeval(
            |(p, t): (DlArray, DlArray)| {
                let loss = indexcrossentropy(&p, &t);
                Ok(loss * 2.0)
            },
            (p.clone(), DlArray::from(t)),
        );
        assert!(r.unwrap_err().to_string().contains(bad));
    }
    // Shapes and dtypes.
    let e = msg(indexcrossentropy(&p, &DlArray::from(array![0.0, 1.0, 1.0])).to_scalar::<f64>());
    assert!(e.contains("[2, 2] and [3]"), "{e}");
    let e = msg(indexcrossentropy(&DlArray::from(array![0.5, 0.5]), &DlArray::from(array![0.0])).to_scalar::<f64>());
    assert!(e.contains("[N, C]"), "{e}");
    let e = msg(indexcrossentropy(&p, &DlArray::from(array![true, false])).to_scalar::<f64>());
    assert!(e.contains("real numeric"), "{e}");
    let e = msg(indexcrossentropy(&p.cast(DType::C128), &DlArray::from(array![0.0, 1.0])).to_scalar::<f64>());
    assert!(e.contains("indexcrossentropy"), "{e}");
    // An accelerated function reports it on the call that records the trace.
    let af = accelerate(|(p, t): (DlArray, DlArray)| Ok(indexcrossentropy(&p, &t)));
    assert!(af.call((p.clone(), DlArray::from(array![0.0, 5.0]))).is_err());
}
