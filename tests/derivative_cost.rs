//! Inside one `dlfeval`, a derivative call costs time in proportion to the part of the trace
//! it differentiates, not to everything traced before it (API.md section 7). Its own test
//! binary, so no other test runs beside the timing.

use cranegrad::prelude::*;
use ndarray::array;

/// Seconds per inner gradient of a loop of `count` small gradient steps in one `dlfeval`.
fn per_call(count: usize) -> f64 {
    let started = std::time::Instant::now();
    dlfeval(
        |x: DlArray| {
            let mut x = x;
            for _ in 0..count {
                let y = (&x * &x).sin().sum_all();
                let g = dlgradient(&y, &x)?;
                x = &x - 0.01 * &g;
            }
            Ok(x)
        },
        DlArray::from(array![0.3, 0.4]),
    )
    .unwrap();
    started.elapsed().as_secs_f64() / count as f64
}

#[test]
fn an_inner_gradient_costs_what_it_differentiates_not_the_whole_trace() {
    // 1,600 inner gradients must cost at most 2x per call what 100 cost (it was 5x when each
    // call read the whole trace). The two sizes alternate and each keeps its fastest of nine
    // runs: on a shared machine, other work only ever adds time.
    let (mut small, mut large) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..9 {
        small = small.min(per_call(100));
        large = large.min(per_call(1600));
    }
    assert!(large <= 2.0 * small, "per call: {:.1} us at 100, {:.1} us at 1,600", small * 1e6, large * 1e6);
}
