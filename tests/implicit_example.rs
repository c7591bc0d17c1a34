//! `examples/implicit_solver.rs`: the implicit-function-theorem gradient through a Newton
//! solver in an external function agrees with finite differences, and the fit recovers the
//! parameters that generated the target root.

#[path = "../examples/implicit_solver.rs"]
mod implicit_solver;

#[test]
fn the_implicit_gradient_agrees_and_the_fit_recovers_the_parameters() {
    let report = implicit_solver::run().unwrap();
    assert!(report.gradient_error < 1e-6, "gradient vs finite differences: {}", report.gradient_error);
    assert!(report.gradient.iter().any(|g| g.abs() > 0.1), "a gradient that moves: {:?}", report.gradient);
    let truth = implicit_solver::generating_theta(implicit_solver::TARGET);
    for (fit, want) in report.theta.iter().zip(truth) {
        assert!((fit - want).abs() < 1e-6, "fitted {:?}, generating {truth:?}", report.theta);
    }
    assert!(report.loss < 1e-12, "final loss {}", report.loss);
}
