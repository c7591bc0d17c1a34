//! The argmin adapter (`--features argmin`): one native call per point, argmin's L-BFGS on the
//! extended Rosenbrock function, errors, threads, Hessians.
#![cfg(feature = "argmin")]

use ::argmin::core::{CostFunction, Executor, Gradient, Hessian, State};
use ::argmin::solver::linesearch::MoreThuenteLineSearch;
use ::argmin::solver::quasinewton::LBFGS;
use ::argmin::solver::trustregion::{Steihaug, TrustRegion};
use cranegrad::argmin::ArgminProblem;
use cranegrad::prelude::*;
use ndarray::s;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// `sum(100 (x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)` and its gradient.
fn extended_rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
    let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

/// The Hessian of the extended Rosenbrock function, row by row (second derivatives of the
/// traced gradient).
fn extended_rosenbrock_hessian(x: &DlArray) -> Result<DlArray> {
    let n = x.numel();
    let (y, _) = extended_rosenbrock(x)?;
    let options = GradOptions { enable_higher_derivatives: Some(true), retain_data: true, ..Default::default() };
    let g = dlgradient_with(&y, x, options)?;
    let rows =
        (0..n).map(|i| Ok(dlgradient_with(&g.at(i), x, options)?.reshape(&[1, n]))).collect::<Result<Vec<_>>>()?;
    Ok(concat(&rows.iter().collect::<Vec<_>>(), 0))
}

/// An accelerated extended Rosenbrock problem and a counter of its native calls, kept by the
/// test itself (independent of the adapter's own counters).
fn counted_problem() -> (ArgminProblem, Arc<AtomicUsize>) {
    let af = accelerate(|x: DlArray| extended_rosenbrock(&x));
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let problem = ArgminProblem::from_fn(move |x| {
        c.fetch_add(1, Ordering::Relaxed);
        af.call(x)
    });
    (problem, counter)
}

#[test]
fn a_cost_then_a_gradient_at_one_point_is_one_call() {
    let (problem, counter) = counted_problem();
    let x = vec![-1.0, 2.0];
    assert_eq!(problem.cost(&x).unwrap(), 104.0);
    assert_eq!(problem.gradient(&x).unwrap(), vec![396.0, 200.0]);
    assert_eq!(counter.load(Ordering::Relaxed), 1);
    assert_eq!((problem.calls(), problem.cache_hits()), (1, 1));

    // A gradient first, then the cost, at a new point: one more call.
    let y = vec![0.5, 0.25];
    let g = problem.gradient(&y).unwrap();
    assert_eq!(problem.cost(&y).unwrap(), 0.25);
    assert_eq!(g, vec![-1.0, 0.0]);
    assert_eq!(counter.load(Ordering::Relaxed), 2);

    // Back to the first point: the cache holds one point only, so this is a new call.
    assert_eq!(problem.cost(&x).unwrap(), 104.0);
    assert_eq!(counter.load(Ordering::Relaxed), 3);
    assert_eq!(problem.calls(), 3);

    // A point that differs in the last bit is a new point.
    let x2 = vec![-1.0, f64::from_bits(2.0f64.to_bits() + 1)];
    problem.cost(&x2).unwrap();
    assert_eq!(counter.load(Ordering::Relaxed), 4);
    problem.reset();
    assert_eq!((problem.calls(), problem.cache_hits()), (0, 0));
}

#[test]
fn lbfgs_with_more_thuente_solves_extended_rosenbrock_at_n_100() {
    let n = 100;
    let (problem, counter) = counted_problem();
    // examples/argmin_lbfgs.rs at n = 100: history 10, More-Thuente with c2 = 0.5.
    let line_search = MoreThuenteLineSearch::new().with_c(1e-4, 0.5).unwrap();
    let solver = LBFGS::new(line_search, 10).with_tolerance_grad(1e-10).unwrap();
    let result =
        Executor::new(problem, solver).configure(|state| state.param(vec![-1.2; n]).max_iters(10_000)).run().unwrap();
    let iterations = result.state.get_iter();
    let counts = result.problem.counts.clone();
    let f = result.state.get_best_cost();
    let x = result.state.get_best_param().unwrap().clone();
    let problem = result.problem.problem.as_ref().unwrap();
    assert!(f < 1e-10, "f = {f} after {iterations} iterations");
    assert_eq!(x.len(), n);
    let worst = x.iter().map(|v| (v - 1.0).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-5, "max |x - 1| = {worst}");

    // argmin counted cost and gradient requests; the adapter served each point with one call.
    let costs = counts["cost_count"];
    let gradients = counts["gradient_count"];
    let calls = counter.load(Ordering::Relaxed) as u64;
    assert_eq!(calls, problem.calls());
    assert_eq!(calls + problem.cache_hits(), costs + gradients);
    assert!(calls <= costs.max(gradients), "{calls} calls for {costs} costs and {gradients} gradients");
    assert!(problem.cache_hits() >= costs.min(gradients), "hits {}", problem.cache_hits());
    assert!(iterations > 10 && iterations < 10_000, "{iterations} iterations");
}

#[test]
fn cranegrad_errors_become_argmin_errors_with_the_message() {
    // The function adds arrays of shapes [n] and [3]: a shape error for n != 3.
    let af = accelerate(|x: DlArray| {
        let y = (&x + DlArray::from(ndarray::array![1.0, 2.0, 3.0])).sum_all();
        let g = dlgradient(&y, &x)?;
        Ok((y, g))
    });
    let expected = af.call(DlArray::from(ndarray::array![1.0, 2.0])).unwrap_err().to_string();
    let problem = ArgminProblem::new(af);
    let err = problem.cost(&vec![1.0, 2.0]).unwrap_err();
    assert_eq!(err.to_string(), expected);
    assert!(matches!(err.downcast_ref::<Error>(), Some(Error::Shape { .. })), "{err:?}");

    // Through an executor: L-BFGS's first cost fails, the run is that error.
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 5);
    let Err(err) = Executor::new(problem, solver).configure(|s| s.param(vec![1.0, 2.0])).run() else {
        panic!("L-BFGS ran on a function that fails");
    };
    assert_eq!(err.to_string(), expected);

    // A gradient of the wrong shape and a non-scalar value are errors too, not panics.
    let wrong = ArgminProblem::from_fn(|x: DlArray| Ok((x.sum_all(), DlArray::from(ndarray::array![1.0]))));
    let msg = wrong.gradient(&vec![1.0, 2.0]).unwrap_err().to_string();
    assert!(msg.contains("gradient has shape [1]"), "{msg}");
    let vector = ArgminProblem::from_fn(|x: DlArray| Ok((x.clone(), x)));
    let msg = vector.cost(&vec![1.0, 2.0]).unwrap_err().to_string();
    assert!(msg.contains("return a scalar"), "{msg}");
    let no_hessian = counted_problem().0;
    let msg = no_hessian.hessian(&vec![1.0, 2.0]).unwrap_err().to_string();
    assert!(msg.contains("no Hessian function"), "{msg}");
}

#[test]
fn the_problem_is_sync_and_bulk_calls_work_from_many_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ArgminProblem>();

    let (problem, counter) = counted_problem();
    let points: Vec<Vec<f64>> = (0..8).map(|k| vec![k as f64 * 0.25 - 1.0, 0.5, 1.5]).collect();
    let expected: Vec<f64> = points
        .iter()
        .map(|p| (0..2).map(|i| 100.0 * (p[i + 1] - p[i] * p[i]).powi(2) + (1.0 - p[i]).powi(2)).sum())
        .collect();
    assert_eq!(problem.bulk_cost(&points).unwrap(), expected);
    let gradients = problem.bulk_gradient(&points).unwrap();
    assert_eq!(gradients.len(), 8);
    // Four threads share one problem (what argmin's rayon feature does in bulk_*).
    let results: Vec<Vec<(f64, Vec<f64>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| points.iter().map(|p| problem.value_and_gradient(p).unwrap()).collect()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &results {
        for (k, (f, g)) in r.iter().enumerate() {
            assert_eq!(*f, expected[k]);
            assert_eq!(g, &gradients[k]);
        }
    }
    assert_eq!(counter.load(Ordering::Relaxed) as u64, problem.calls());
    assert!(problem.calls() >= 16);
}

#[test]
fn a_trust_region_newton_method_runs_on_an_accelerated_hessian() {
    let hessian = accelerate(|x: DlArray| extended_rosenbrock_hessian(&x));
    let problem = ArgminProblem::new(accelerate(|x: DlArray| extended_rosenbrock(&x))).with_hessian(hessian);
    // At [-1, 2]: [[1200 x^2 - 400 y + 2, -400 x], [-400 x, 200]].
    assert_eq!(problem.hessian(&vec![-1.0, 2.0]).unwrap(), vec![vec![402.0, 400.0], vec![400.0, 200.0]]);

    assert_eq!(problem.hessian(&vec![0.9, 0.7]).unwrap(), vec![vec![694.0, -360.0], vec![-360.0, 200.0]]);
    let solver = TrustRegion::new(Steihaug::new().with_max_iters(20));
    let result =
        Executor::new(problem, solver).configure(|state| state.param(vec![-1.2, 1.0]).max_iters(100)).run().unwrap();
    let x = result.state.get_best_param().unwrap();
    assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-9), "{x:?}");
    let problem = result.problem.problem.as_ref().unwrap();
    assert!(problem.hessian_calls() >= 10);
    assert_eq!(problem.hessian_calls(), result.problem.counts["hessian_count"] + 2);
}
