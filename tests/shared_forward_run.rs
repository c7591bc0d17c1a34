//! A while loop and the reverse steps through it, on the same operands in one compiled
//! program, run the loop once: the loop's driver keeps its carries and the reverse steps read
//! them, at the top level and nested in another loop's body, with the interpreter's bits, on
//! any number of threads, and a failing run leaves the function usable.

use cranegrad::prelude::*;
use ndarray::{array, ArrayD};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn bits(a: &DlArray) -> Vec<u64> {
    a.extractdata::<f64>().unwrap().iter().map(|v| v.to_bits()).collect()
}

type Carry = (DlArray, DlArray, DlArray);

/// Ascent on `y` of `x . y - |y|^2` from `start` until the step is small (at most `max`
/// steps), the body passing `y` through `tap` first; then `sum(y^2) + x . y` and its gradient
/// with respect to `x`, which goes through the loop. Also returns the number of steps.
fn ascent(x: &DlArray, max: usize, tap: impl Fn(&DlArray) -> Result<DlArray>) -> Result<(DlArray, DlArray, DlArray)> {
    let start = DlArray::from(array![1.0, -1.0, 0.5]);
    let options = LoopOptions { max_iterations: Some(max), ..Default::default() };
    let (y, _, steps) = while_loop_with(
        (start, DlArray::scalar(1.0), DlArray::scalar(0.0)),
        |(_, g, _): &Carry| Ok(g.gt(&DlArray::scalar(1e-6))),
        |(y, _, n): Carry| {
            let y = tap(&y)?;
            let g = x - &y * 2.0;
            Ok((&y + 0.1 * &g, g.square().sum_all().sqrt(), n + 1.0))
        },
        options,
    )?;
    let loss = (y.square() + x * &y).sum_all();
    let g = dlgradient(&loss, x)?;
    Ok((loss, g, steps))
}

fn plain(x: DlArray) -> Result<(DlArray, DlArray, DlArray)> {
    ascent(&x, 10_000, |y| Ok(y.clone()))
}

/// The drivers compiled for the reverse steps, from the native dump: those that read a kept
/// run and those that run the loop again.
fn reverse_drivers(dump: &str) -> (usize, usize) {
    let lines = dump.lines().filter(|l| l.starts_with("; driver of") && l.contains("(reverse mode)"));
    lines.fold((0, 0), |(after, alone), l| match l.contains("after the forward loop") {
        true => (after + 1, alone),
        false => (after, alone + 1),
    })
}

#[test]
fn a_loop_and_its_reverse_steps_run_it_once_with_the_interpreters_bits() {
    let x = DlArray::from(array![0.3, -0.7, 1.1]);
    let (want_loss, want_g, _) = dlfeval(plain, x.clone()).unwrap();
    let af = accelerate(plain);
    for _ in 0..3 {
        let (loss, g, _) = af.call(x.clone()).unwrap();
        assert_eq!(bits(&loss), bits(&want_loss));
        assert_eq!(bits(&g), bits(&want_g));
    }
    let dump = af.native_dump();
    assert!(dump.contains("keeping its carries for the reverse steps after it"), "{dump}");
    assert_eq!(reverse_drivers(&dump), (1, 0), "{dump}");
}

/// The identity as an external function (its VJP passes the cotangent through), and the
/// number of times it has run.
fn counting_tap() -> (ExternalFunction, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let tap = external(
        "tap",
        |shapes: &[&[usize]], dtypes: &[DType]| Ok(vec![(shapes[0].to_vec(), dtypes[0])]),
        move |y: &[ArrayD<f64>]| {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(vec![y[0].clone()])
        },
        |_y: &[DlArray], _out: &[DlArray], ct: &[DlArray]| Ok(vec![ct[0].clone()]),
    );
    (tap, calls)
}

#[test]
fn the_shared_loop_runs_its_body_once_per_step() {
    let (tap, calls) = counting_tap();
    let f = move |x: DlArray| ascent(&x, 10_000, |y| Ok(tap.call(&[y])?.remove(0)));
    let af = accelerate(f.clone());
    let x = DlArray::from(array![0.3, -0.7, 1.1]);
    let (want_loss, want_g, _) = dlfeval(f, x.clone()).unwrap();
    af.call(x.clone()).unwrap();
    calls.store(0, Ordering::Relaxed);
    let (loss, g, steps) = af.call(x).unwrap();
    let steps = steps.to_scalar::<f64>().unwrap() as usize;
    assert!(steps > 10, "{steps}");
    // Once per step for the loop, once per reverse step (which runs the body again for its
    // derivative); a second forward run would make it three.
    assert_eq!(calls.load(Ordering::Relaxed), 2 * steps, "the loop ran once for the value and the reverse steps");
    assert_eq!(bits(&loss), bits(&want_loss));
    assert_eq!(bits(&g), bits(&want_g));
}

/// [`ascent`] from each outer step's `x`, descending on `x` with the gradient: the loop and its
/// reverse steps in the body of another loop.
fn nested(x: DlArray) -> Result<DlArray> {
    let (x, _) = fori_loop(3, (x, DlArray::scalar(0.0)), |_, (x, _)| {
        let (loss, g, _) = ascent(&x, 10_000, |y| Ok(y.clone()))?;
        Ok((&x - 0.1 * &g, loss))
    })?;
    Ok(x)
}

#[test]
fn nested_in_a_loop_body_the_loop_runs_once_with_the_interpreters_bits() {
    let x = DlArray::from(array![0.3, -0.7, 1.1]);
    let want = dlfeval(nested, x.clone()).unwrap();
    let af = accelerate(nested);
    assert_eq!(bits(&af.call(x.clone()).unwrap()), bits(&want));
    assert_eq!(reverse_drivers(&af.native_dump()), (1, 0));
    let runs: Vec<Vec<u64>> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..4).map(|_| s.spawn(|| bits(&af.call(x.clone()).unwrap()))).collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for r in runs {
        assert_eq!(r, bits(&want));
    }
}

#[test]
fn a_shared_loop_past_max_iterations_is_an_err_and_the_function_stays_usable() {
    let af = accelerate(|x: DlArray| ascent(&x, 40, |y| Ok(y.clone())));
    let near = DlArray::from(array![2.0, -2.0, 1.0]);
    let (want_loss, want_g, _) = dlfeval(|x: DlArray| ascent(&x, 40, |y| Ok(y.clone())), near.clone()).unwrap();
    let e = af.call(DlArray::from(array![1e12, 0.0, 0.0])).unwrap_err().to_string();
    assert!(e.contains("max_iterations"), "{e}");
    let (loss, g, _) = af.call(near).unwrap();
    assert_eq!(bits(&loss), bits(&want_loss));
    assert_eq!(bits(&g), bits(&want_g));
}

/// Large elementwise kernels before the loop (chunked steps on the pool, merged into one step
/// per group of rows), then the loop and its reverse steps: the pair still finds each other.
fn after_large_kernels(args: (DlArray, DlArray)) -> Result<(DlArray, DlArray)> {
    let (big, p) = args;
    let a = (&big * 0.5).exp();
    let b = (&a + &big).sin() * &a;
    let c = (&b - &a).cos() + &b;
    let s = c.sum_all() * 1e-6;
    let options = LoopOptions { max_iterations: Some(10_000), ..Default::default() };
    let (y, _) = while_loop_with(
        (p.clone(), DlArray::scalar(1.0)),
        |(_, g): &(DlArray, DlArray)| Ok(g.gt(&DlArray::scalar(1e-6))),
        |(y, _)| {
            let g = &p + &s - &y * 2.0;
            Ok((&y + 0.1 * &g, g.square().sum_all().sqrt()))
        },
        options,
    )?;
    let loss = (y.square() + &p * &y).sum_all();
    Ok((loss.clone(), dlgradient(&loss, &p)?))
}

#[test]
fn after_kernels_merged_into_row_groups_the_pair_still_shares_its_run() {
    let n = 1 << 18;
    let big = DlArray::from(ndarray::Array1::from_iter((0..n).map(|i| (i % 97) as f64 * 0.01)));
    let p = DlArray::from(array![0.3, -0.7]);
    let (want_loss, want_g) = dlfeval(after_large_kernels, (big.clone(), p.clone())).unwrap();
    let af = accelerate(after_large_kernels);
    let (loss, g) = af.call((big, p)).unwrap();
    assert_eq!(bits(&loss), bits(&want_loss));
    assert_eq!(bits(&g), bits(&want_g));
    assert_eq!(reverse_drivers(&af.native_dump()), (1, 0));
}

/// A scan of `steps` steps with a carry of two leaves whose body passes `y` through `tap` (a
/// residual of reverse mode: its result is read by the VJP of the `tanh` after it), then
/// `sum(y^2) + acc` and its gradient with respect to `x`, twice in one `dlfeval` (the first
/// with `retain_data`). Returns the loss and both gradients.
fn scanned(x: &DlArray, steps: usize, tap: &ExternalFunction) -> Result<(DlArray, DlArray, DlArray)> {
    let rows = DlArray::from(ndarray::Array1::from_iter((0..steps).map(|i| 0.1 * i as f64)));
    let ((y, acc), _) = scan((x.clone(), DlArray::scalar(0.0)), rows, |(y, acc): (DlArray, DlArray), r: DlArray| {
        let t = tap.call(&[&y])?.remove(0).tanh();
        let next = &t * x + &r;
        let acc = acc + next.sum_all();
        Ok(((next, acc), DlArray::scalar(0.0)))
    })?;
    let loss = y.square().sum_all() + acc;
    let first = dlgradient_with(&loss, x, GradOptions { retain_data: true, ..Default::default() })?;
    let second = dlgradient(&loss, x)?;
    Ok((loss, first, second))
}

#[test]
fn an_eager_scan_and_its_reverse_steps_run_the_body_once_per_step() {
    let (tap, calls) = counting_tap();
    let steps = 25;
    let x = DlArray::from(array![0.3, -0.7, 1.1]);
    let (loss, first, second) = dlfeval(|x: DlArray| scanned(&x, steps, &tap), x.clone()).unwrap();
    // The forward run stacks the carries and the residuals too; the first sweep reads them
    // from it. The second finds them taken and runs the loop again, once for both leaves of
    // the carry and the residuals: two runs in all, not one per stacked result.
    assert_eq!(calls.load(Ordering::Relaxed), 2 * steps, "runs of the scan's body");
    assert_eq!(bits(&first), bits(&second));
    let af = accelerate(move |x: DlArray| scanned(&x, steps, &tap));
    let (c_loss, c_first, c_second) = af.call(x).unwrap();
    assert_eq!(bits(&c_loss), bits(&loss));
    assert_eq!(bits(&c_first), bits(&first));
    assert_eq!(bits(&c_second), bits(&first));
}

/// `steps` steps of `y -> tap(y) * 0.5 + x` from `x` by a while loop, then `sum(y^2)` and its
/// gradient with respect to `x`.
fn halving(x: &DlArray, steps: f64, tap: &ExternalFunction) -> Result<(DlArray, DlArray)> {
    let (y, _) = while_loop(
        (x.clone(), DlArray::scalar(0.0)),
        |(_, k): &(DlArray, DlArray)| Ok(k.lt(&DlArray::scalar(steps))),
        |(y, k)| Ok((tap.call(&[&y])?.remove(0) * 0.5 + x, k + 1.0)),
    )?;
    let loss = y.square().sum_all();
    Ok((loss.clone(), dlgradient(&loss, x)?))
}

#[test]
fn an_eager_while_loop_keeps_its_carries_for_its_reverse_steps_within_a_bound() {
    let (tap, calls) = counting_tap();
    let steps = 10;
    // The reverse steps need no run of `tap` (its VJP passes the cotangent through), so the body
    // runs only for the loop. 3 x 10 carries of 24 bytes are kept and the loop runs once;
    // 2^20 elements make 10 carries of 8 MiB, past the bound (64 MiB), so none is kept and the
    // reverse target runs the loop again.
    for (n, runs) in [(3, steps), (1 << 20, 2 * steps)] {
        let x = DlArray::from(ndarray::Array1::from_iter((0..n).map(|i| 0.25 + (i % 7) as f64 * 0.1)));
        calls.store(0, Ordering::Relaxed);
        let (loss, g) = dlfeval(|x: DlArray| halving(&x, steps as f64, &tap), x.clone()).unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), runs, "runs of the body at n = {n}");
        let tap = tap.clone();
        let af = accelerate(move |x: DlArray| halving(&x, steps as f64, &tap));
        let (c_loss, c_g) = af.call(x).unwrap();
        assert_eq!(bits(&c_loss), bits(&loss));
        assert_eq!(bits(&c_g), bits(&g));
    }
}
