//! A least-squares loss of a large matrix product: `sum((x c' - 1/4)^2)` of `x [10000, 16]`
//! and `c [1000, 16]` (the k-means data), the value alone. The sum of every element goes by
//! rows (`opt/sums.rs`), so the product is computed by panels inside the rows' sums and never
//! written whole.

use crate::clustering::{kmeans_data, KmeansData};
use crate::measure::median;
use crate::Row;
use cranegrad::prelude::*;
use std::time::Duration;

/// The loss, traced.
fn loss(x: &DlArray, c: &DlArray) -> DlArray {
    (x.matmul(&c.transpose()) - 0.25).square().sum_all()
}

/// The loss by hand: each point's dot product with each centroid, one thread.
fn loss_by_hand(x: &[f64], c: &[f64], d: usize) -> f64 {
    let mut total = 0.0;
    for p in x.chunks(d) {
        for cj in c.chunks(d) {
            let dot: f64 = p.iter().zip(cj).map(|(a, b)| a * b).sum();
            total += (dot - 0.25) * (dot - 0.25);
        }
    }
    total
}

/// The row: eager, accelerated and by hand (checked against each other).
pub fn least_squares_row(budget: Duration) -> Result<Row> {
    let KmeansData { n, k, d, xs, cs, args } = kmeans_data();
    let af = accelerate(|(x, c): (DlArray, DlArray)| Ok(loss(&x, &c)));
    let got = af.call(args.clone())?.to_scalar::<f64>()?;
    let want = loss_by_hand(&xs, &cs, d);
    assert!((got - want).abs() <= 1e-9 * want, "least-squares loss {got} differs from {want} by hand");
    let eager = median(budget, || {
        dlfeval(|(x, c): (DlArray, DlArray)| Ok(loss(&x, &c)), args.clone()).unwrap();
    });
    let accelerated = median(budget, || {
        af.call(args.clone()).unwrap();
    });
    let hand = median(budget, || {
        std::hint::black_box(loss_by_hand(&xs, &cs, d));
    });
    Ok(Row {
        workload: format!("LS sum((x c' - 1/4)^2), n={n} K={k} d={d}"),
        eager: Some(eager),
        accelerated: Some(accelerated),
        hand: Some(hand),
        note: "value only".into(),
    })
}
