//! A language model's output layer: the softmax cross-entropy of the logits `h W` over 10,000
//! classes, `-sum(log_softmax(h W) .* T) / B` for `h [512, 64]`, `W [64, 10000]` and one-hot
//! targets `T`, with its gradient with respect to `W`. The products run through faer, whose
//! kernels leave the vector registers' upper halves dirty for the kernels that follow
//! (`array/cpu.rs`).

use crate::measure::median;
use crate::models::data;
use crate::Row;
use cranegrad::prelude::*;
use std::time::Duration;

/// Observations, features, classes.
const B: usize = 512;
const D: usize = 64;
const C: usize = 10_000;

/// The loss and its gradient with respect to `w`.
fn loss_and_grad(h: &DlArray, w: &DlArray, t: &DlArray) -> Result<(DlArray, DlArray)> {
    let logits = h.matmul(w);
    let loss = -(log_softmax(&logits, 1) * t).sum_all() / B as f64;
    let g = dlgradient(&loss, w)?;
    Ok((loss, g))
}

/// The one-hot targets: observation `i` of class `(7919 i) mod C`.
fn targets() -> DlArray {
    let mut t = ndarray::Array2::<f64>::zeros((B, C));
    for i in 0..B {
        t[[i, (7919 * i) % C]] = 1.0;
    }
    DlArray::from(t)
}

/// The row: eager and accelerated (checked against each other).
pub fn cross_entropy_row(budget: Duration) -> Result<Row> {
    let h = DlArray::from(ndarray::Array2::from_shape_vec((B, D), data(B * D, 61)).expect("shape"));
    let w = DlArray::from(ndarray::Array2::from_shape_vec((D, C), data(D * C, 62)).expect("shape"));
    let args = (h, w, targets());
    let af = accelerate(|(h, w, t): (DlArray, DlArray, DlArray)| loss_and_grad(&h, &w, &t));
    let (loss, _) = af.call(args.clone())?;
    let (want, _) = dlfeval(|(h, w, t): (DlArray, DlArray, DlArray)| loss_and_grad(&h, &w, &t), args.clone())?;
    let (got, want) = (loss.to_scalar::<f64>()?, want.to_scalar::<f64>()?);
    assert!((got - want).abs() <= 1e-12 * want.abs(), "cross-entropy {got} differs from {want} eagerly");
    let eager = median(budget, || {
        dlfeval(|(h, w, t): (DlArray, DlArray, DlArray)| loss_and_grad(&h, &w, &t), args.clone()).unwrap();
    });
    let accelerated = median(budget, || {
        af.call(args.clone()).unwrap();
    });
    Ok(Row {
        workload: format!("CE softmax cross-entropy of h W + grad, B={B} D={D} C={C}"),
        eager: Some(eager),
        accelerated: Some(accelerated),
        hand: None,
        note: "d/dW".into(),
    })
}
