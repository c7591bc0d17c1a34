//! Implicit differentiation: a Newton solver in plain Rust inside an external function, given
//! its gradient by the implicit function theorem, and a fit of the system's parameters.
//!
//! The system (stated here, nothing is loaded): for parameters `theta = (t1, t2)`, `x(theta)`
//! is the root of
//!
//! ```text
//! g1(x, theta) = x1 + x1^3 / 3 + x2 / 2 - t1 = 0
//! g2(x, theta) = x2 + x2^3 / 3 - x1 / 2 - t2 = 0
//! ```
//!
//! Its Jacobian `dg/dx = [[1 + x1^2, 1/2], [-1/2, 1 + x2^2]]` has determinant
//! `(1 + x1^2)(1 + x2^2) + 1/4 > 0`, so the root is unique and Newton's method finds it. The
//! solver is Rust code that tracing never sees (an `external` function); the implicit function
//! theorem gives `dx/dtheta = (dg/dx)^-1` (since `dg/dtheta = -I`), so the cotangent of `theta`
//! is `(dg/dx)^-T` times the cotangent of `x`: the rule, written with ops on the solution
//! (so it is differentiable again). The fit: find `theta` whose root is `x* = (0.8, -0.3)` by
//! minimizing `|x(theta) - x*|^2` with `lbfgsupdate` on an accelerated loss-and-gradient,
//! from `theta = (0, 0)`. The generating parameters are `g(x*, 0)`:
//! `(0.8 + 0.512 / 3 - 0.15, -0.3 - 0.009 / 3 - 0.4)`.
//!
//! ```text
//! cargo run --release --example implicit_solver
//! ```

use cranegrad::prelude::*;
use ndarray::{array, ArrayD};

/// The root the fit aims at.
pub const TARGET: [f64; 2] = [0.8, -0.3];

/// `g(x, theta)`.
fn residual(x: [f64; 2], t: [f64; 2]) -> [f64; 2] {
    [x[0] + x[0].powi(3) / 3.0 + x[1] / 2.0 - t[0], x[1] + x[1].powi(3) / 3.0 - x[0] / 2.0 - t[1]]
}

/// The parameters whose root is `x`: `g(x, 0)`.
pub fn generating_theta(x: [f64; 2]) -> [f64; 2] {
    residual(x, [0.0, 0.0])
}

/// Newton's method on `g(., theta) = 0` from `x = 0`; an `Err` when it does not converge.
fn newton(t: [f64; 2]) -> Result<[f64; 2]> {
    let mut x = [0.0, 0.0];
    for _ in 0..50 {
        let g = residual(x, t);
        if g[0].abs().max(g[1].abs()) < 1e-15 {
            return Ok(x);
        }
        let (a, b, c, d) = (1.0 + x[0] * x[0], 0.5, -0.5, 1.0 + x[1] * x[1]);
        let det = a * d - b * c;
        x[0] -= (d * g[0] - b * g[1]) / det;
        x[1] -= (-c * g[0] + a * g[1]) / det;
    }
    let g = residual(x, t);
    if g[0].abs().max(g[1].abs()) < 1e-12 {
        Ok(x)
    } else {
        Err(Error::msg(format!("Newton's method did not converge for theta = {t:?}")))
    }
}

/// `x(theta)` as an external function with its implicit-function-theorem rule.
pub fn root() -> ExternalFunction {
    external(
        "newton root",
        |shapes: &[&[usize]], dtypes: &[DType]| {
            if shapes[0] != [2] {
                return Err(Error::msg(format!("theta must have 2 elements, not shape {:?}", shapes[0])));
            }
            Ok(vec![(vec![2], dtypes[0])])
        },
        |theta: &[ArrayD<f64>]| {
            let x = newton([theta[0][[0]], theta[0][[1]]])?;
            Ok(vec![array![x[0], x[1]].into_dyn()])
        },
        |_theta: &[DlArray], x: &[DlArray], ct: &[DlArray]| {
            // (dg/dx)^-T ct for dg/dx = [[a, b], [c, d]] at the root: 1 / det [[d, -c], [-b, a]],
            // with b = 1/2 and c = -1/2.
            let (x1, x2) = (x[0].at(0), x[0].at(1));
            let (a, d) = (x1.square() + 1.0, x2.square() + 1.0);
            let det = &a * &d + 0.25;
            let (g1, g2) = (ct[0].at(0), ct[0].at(1));
            let t1 = (&d * &g1 + 0.5 * &g2) / &det;
            let t2 = (-0.5 * &g1 + &a * &g2) / &det;
            Ok(vec![concat(&[&t1.reshape(&[1]), &t2.reshape(&[1])], 0)])
        },
    )
}

/// `|x(theta) - x*|^2`.
fn loss(root: &ExternalFunction, theta: &DlArray) -> Result<DlArray> {
    let x = root.call(&[theta])?.remove(0);
    Ok((x - DlArray::from(array![TARGET[0], TARGET[1]])).square().sum_all())
}

/// What the example found.
pub struct Report {
    /// The gradient at the start point, by the rule.
    pub gradient: [f64; 2],
    /// The largest relative difference between it and central finite differences.
    pub gradient_error: f64,
    /// The fitted parameters.
    pub theta: [f64; 2],
    /// The final loss.
    pub loss: f64,
    /// L-BFGS iterations.
    pub iterations: usize,
}

/// The gradient check at `theta = 0`, then the fit.
pub fn run() -> Result<Report> {
    let r = root();
    let value_and_grad = accelerate(move |theta: DlArray| {
        let y = loss(&r, &theta)?;
        let g = dlgradient(&y, &theta)?;
        Ok((y, g))
    });
    let start = DlArray::from(array![0.0, 0.0]);
    let (_, g) = value_and_grad.call(start.clone())?;
    let g = g.extractdata::<f64>()?;
    let plain = root();
    let f = |t: [f64; 2]| -> Result<f64> { loss(&plain, &DlArray::from(array![t[0], t[1]]))?.to_scalar::<f64>() };
    let h = 1e-6;
    let mut gradient_error: f64 = 0.0;
    for i in 0..2 {
        let (mut up, mut down) = ([0.0; 2], [0.0; 2]);
        up[i] = h;
        down[i] = -h;
        let fd = (f(up)? - f(down)?) / (2.0 * h);
        gradient_error = gradient_error.max((g[[i]] - fd).abs() / fd.abs().max(1e-12));
    }
    let mut state = LbfgsState::default();
    let mut theta = start;
    let mut iterations = 0;
    while iterations < 100 {
        theta = lbfgsupdate(&theta, |t| value_and_grad.call(t.clone()), &mut state, &LbfgsOptions::default())?;
        iterations += 1;
        if state.gradients_norm < 1e-12 {
            break;
        }
    }
    let t = theta.extractdata::<f64>()?;
    Ok(Report { gradient: [g[[0]], g[[1]]], gradient_error, theta: [t[[0]], t[[1]]], loss: state.loss, iterations })
}

#[allow(dead_code)]
fn main() -> Result<()> {
    let report = run()?;
    let truth = generating_theta(TARGET);
    println!("gradient at theta = (0, 0): {:?}", report.gradient);
    println!("agreement with central finite differences: {:.1e} (largest relative difference)", report.gradient_error);
    println!(
        "fitted theta: ({:.12}, {:.12}) after {} L-BFGS iterations",
        report.theta[0], report.theta[1], report.iterations
    );
    println!("generating theta: ({:.12}, {:.12})", truth[0], truth[1]);
    println!("final loss: {:.3e}", report.loss);
    Ok(())
}
