//! Lazy tracing (issue 11): the first call of an accelerated function records ops without
//! computing values, computes a value only where `f` asks for one (and only what it depends
//! on), and returns the compiled program's outputs.

mod common;

use cranegrad::prelude::*;
use ndarray::{s, Array1};
use std::sync::{Arc, Mutex};

fn extended_rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
    let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

fn bits(a: &DlArray) -> Vec<u64> {
    a.extractdata::<f64>().unwrap().iter().map(|v| v.to_bits()).collect()
}

fn input(n: usize) -> DlArray {
    DlArray::from(Array1::from_shape_fn(n, |i| (i % 7) as f64 * 0.3 - 1.0))
}

#[test]
fn a_first_call_computes_no_value_and_returns_what_the_compiled_program_returns() {
    let af = accelerate(|x: DlArray| extended_rosenbrock(&x));
    let x = input(1001);
    let (y1, g1) = af.call(x.clone()).unwrap();
    let report = af.build_reports().remove(0);
    assert_eq!(report.evaluated_nodes, 0, "{report}");
    assert!(report.traced_nodes > 10 && report.kernels > 0, "{report}");
    // The first call's results are the compiled program's: the hit gives the same bits.
    let (y2, g2) = af.call(x.clone()).unwrap();
    assert_eq!((bits(&y1), bits(&g1)), (bits(&y2), bits(&g2)));
    // And they agree with the eager evaluation.
    let (ye, ge) = dlfeval(|x: DlArray| extended_rosenbrock(&x), x).unwrap();
    let (a, b) = (y1.to_scalar::<f64>().unwrap(), ye.to_scalar::<f64>().unwrap());
    assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
    for (p, q) in g1.extractdata::<f64>().unwrap().iter().zip(ge.extractdata::<f64>().unwrap().iter()) {
        assert!((p - q).abs() <= 1e-12 * q.abs().max(1.0), "{p} vs {q}");
    }
}

#[test]
fn values_f_asks_for_are_computed_with_only_what_they_depend_on() {
    // Control flow on a value: the branch taken on the first call is frozen into the trace.
    let af = accelerate(|x: DlArray| {
        let big = x.square(); // never looked at: stays uncomputed
        let total = x.sum_all();
        let y = if total.to_scalar::<f64>()? > 0.0 { (&big * 2.0).sum_all() } else { big.sum_all() };
        Ok((y.clone(), dlgradient(&y, &x)?))
    });
    let x = DlArray::from(ndarray::array![1.0, 2.0, 3.0]);
    let (y, g) = af.call(x).unwrap();
    assert_eq!(y.to_scalar::<f64>().unwrap(), 28.0);
    assert_eq!(g.extractdata::<f64>().unwrap().iter().copied().collect::<Vec<_>>(), vec![4.0, 8.0, 12.0]);
    let report = af.build_reports().remove(0);
    assert_eq!(report.evaluated_nodes, 1, "only the sum was computed: {report}");
}

#[test]
fn printing_and_extracting_inside_f_work_on_the_first_call() {
    let printed = Arc::new(Mutex::new(String::new()));
    let seen = printed.clone();
    let af = accelerate(move |x: DlArray| {
        let y = x.exp().sum_all();
        *seen.lock().unwrap() = format!("{y}");
        let v = (&x * 3.0).extractdata::<f64>()?;
        Ok(y * v.sum())
    });
    let y = af.call(DlArray::from(ndarray::array![0.0, 0.0])).unwrap();
    assert_eq!(y.to_scalar::<f64>().unwrap(), 0.0);
    assert!(printed.lock().unwrap().contains('2'), "{}", printed.lock().unwrap());
    let y = af.call(DlArray::from(ndarray::array![1.0, 0.0])).unwrap();
    // The extracted value was frozen into the trace (0), as MATLAB's tracing freezes it.
    assert_eq!(y.to_scalar::<f64>().unwrap(), 0.0);
}

#[test]
fn a_lazily_traced_array_read_after_its_trace_ended_is_an_error() {
    let kept: Arc<Mutex<Option<DlArray>>> = Arc::new(Mutex::new(None));
    let keep = kept.clone();
    let af = accelerate(move |x: DlArray| {
        let y = x.sin();
        *keep.lock().unwrap() = Some(y.clone());
        Ok(y)
    });
    let y = af.call(DlArray::from(ndarray::array![0.5])).unwrap();
    assert_eq!(y.to_scalar::<f64>().unwrap(), 0.5f64.sin());
    let escaped = kept.lock().unwrap().take().unwrap();
    assert_eq!(escaped.shape(), &[1]);
    let err = escaped.to_scalar::<f64>().unwrap_err().to_string();
    assert!(err.contains("lazily"), "{err}");
    // The function stays usable.
    assert!(af.call(DlArray::from(ndarray::array![0.25])).is_ok());
}

#[test]
fn an_eager_dlfeval_inside_f_computes_the_pending_values_it_reads() {
    let af = accelerate(|x: DlArray| {
        let h = x.square() + 1.0;
        let inner = dlfeval(|h: DlArray| dlgradient(&h.log().sum_all(), &h), h.clone())?;
        Ok((h * inner).sum_all())
    });
    let y = af.call(DlArray::from(ndarray::array![1.0, 2.0])).unwrap();
    // sum(h * (1 / h)) = 2, whatever x.
    assert!((y.to_scalar::<f64>().unwrap() - 2.0).abs() < 1e-15);
}

#[test]
fn a_trace_that_fails_after_asking_for_a_value_caches_nothing() {
    let af = accelerate(|x: DlArray| {
        let s = x.sum_all().to_scalar::<f64>()?;
        if s > 100.0 {
            return Err(cranegrad::Error::Gradient("too large".into()));
        }
        Ok(x * s)
    });
    assert!(af.call(DlArray::from(ndarray::array![200.0])).is_err());
    assert_eq!(af.num_entries(), 0);
    let y = af.call(DlArray::from(ndarray::array![2.0])).unwrap();
    assert_eq!(y.to_scalar::<f64>().unwrap(), 4.0);
}

#[test]
fn make_ir_records_without_computing() {
    // A broadcast to 2^28 doubles (2 GiB): computed, it would raise the peak resident memory
    // by 2 GiB; recorded, by nothing.
    let before = common::peak_rss_kib();
    let ir = make_ir(
        |x: DlArray| Ok(x.reshape(&[1, 1]).broadcast_to(&[1 << 14, 1 << 14]).exp().sum_all()),
        DlArray::scalar(1.0),
    )
    .unwrap();
    assert!(ir.contains("broadcast") && ir.contains("exp"), "{ir}");
    let after = common::peak_rss_kib();
    assert!(after < before + 512 * 1024, "peak RSS grew from {before} KiB to {after} KiB");
}
