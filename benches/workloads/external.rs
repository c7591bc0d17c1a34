//! The cost of one external function call in compiled code: an identity on a 14-element vector
//! called from an accelerated function, against the same accelerated function without it, and
//! against calling the user's closure directly from Rust.

use crate::measure::median;
use crate::Row;
use cranegrad::prelude::*;
use ndarray::ArrayD;
use std::time::Duration;

/// The user's forward: a copy of its input (an identity).
fn identity(x: &[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>> {
    Ok(vec![x[0].clone()])
}

/// The overhead row: accelerated = (with the call) - (without it), hand = the closure alone.
pub fn external_call_row(budget: Duration) -> Result<Row> {
    let ident = external(
        "identity",
        |s: &[&[usize]], d: &[DType]| Ok(vec![(s[0].to_vec(), d[0])]),
        identity,
        |_x: &[DlArray], _y: &[DlArray], ct: &[DlArray]| Ok(vec![ct[0].clone()]),
    );
    let x = DlArray::from(ndarray::Array1::from_iter((0..14).map(f64::from)));
    let with_call = accelerate(move |x: DlArray| Ok(ident.call(&[&(&x * 2.0)])?.remove(0) + 1.0));
    let without = accelerate(|x: DlArray| Ok(&x * 2.0 + 1.0));
    assert_eq!(
        with_call.call(x.clone())?.extractdata::<f64>()?,
        without.call(x.clone())?.extractdata::<f64>()?,
        "the identity changes nothing"
    );
    let t_with = median(budget, || {
        with_call.call(x.clone()).unwrap();
    });
    let t_without = median(budget, || {
        without.call(x.clone()).unwrap();
    });
    let input = vec![x.extractdata::<f64>()?];
    let direct = median(budget, || {
        std::hint::black_box(identity(std::hint::black_box(&input)).unwrap());
    });
    let overhead = t_with.saturating_sub(t_without);
    Ok(Row {
        workload: "external identity, 14 elements".into(),
        eager: None,
        accelerated: Some(overhead),
        hand: Some(direct),
        note: format!("accelerated = with the call ({t_with:?}) - without ({t_without:?}); hand = the closure alone"),
    })
}
