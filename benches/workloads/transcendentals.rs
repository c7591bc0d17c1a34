//! Transcendentals over a large vector: `sum(f(x))` of 1.28M `f64` for `log`, `sin`, `atan` and
//! `erf`, against a loop over std's functions (`libm`'s `erf`). The compiled code evaluates each
//! function inline on vector lanes (`array/vmath`).

use crate::measure::median;
use crate::models::data;
use crate::Row;
use cranegrad::prelude::*;
use std::time::Duration;

/// Elements of the vector.
const N: usize = 1_280_000;

/// One function of the table: its name, the traced op, the scalar function of the hand loop.
type Function = (&'static str, fn(&DlArray) -> DlArray, fn(f64) -> f64);

/// The functions timed.
const FUNCTIONS: [Function; 4] = [
    ("log", |x| x.log(), f64::ln),
    ("sin", |x| x.sin(), f64::sin),
    ("atan", |x| x.atan(), f64::atan),
    ("erf", |x| x.erf(), libm::erf),
];

/// The rows whose names `wanted` accepts: `T <f> n=1.28e6`, on arguments in `(0.01, 3.01)`.
pub fn rows(budget: Duration, wanted: impl Fn(&str) -> bool) -> Result<Vec<Row>> {
    let xs: Vec<f64> = data(N, 23).into_iter().map(|v| 1.51 + 1.5 * v).collect();
    let x = DlArray::from(ndarray::Array1::from_vec(xs.clone()));
    let mut rows = Vec::new();
    for (name, traced, scalar) in FUNCTIONS {
        let workload = format!("T sum({name}(x)), n=1.28e6");
        if !wanted(&workload) {
            continue;
        }
        let af = accelerate(move |x: DlArray| Ok(traced(&x).sum_all()));
        af.call(x.clone())?;
        let eager = median(budget, || {
            dlfeval(|x: DlArray| Ok(traced(&x).sum_all()), x.clone()).unwrap();
        });
        let accelerated = median(budget, || {
            af.call(x.clone()).unwrap();
        });
        let hand = median(budget, || {
            std::hint::black_box(std::hint::black_box(&xs).iter().map(|&v| scalar(v)).sum::<f64>());
        });
        rows.push(Row {
            workload,
            eager: Some(eager),
            accelerated: Some(accelerated),
            hand: Some(hand),
            note: String::new(),
        });
    }
    Ok(rows)
}
