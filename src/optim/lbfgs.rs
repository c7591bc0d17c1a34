//! `lbfgsupdate`: limited-memory BFGS with a line search, MATLAB's `lbfgsupdate` and
//! `lbfgsState` (R2023a) over any parameter tree.
//!
//! The parameters of a tree are seen as one real vector (complex parameters as their real and
//! imaginary parts, the gradient convention `dy/da + i dy/db` making that exact); the two-loop
//! recursion and the line search run on plain `f64` vectors, and only the loss function touches
//! arrays.

use super::flat_vector::{axpy, dot, norm};
use super::line_search::{line_search, LineSearch};
use super::tree_walk::paired_arrays;
use crate::array::{DType, Data};
use crate::error::{Error, Result};
use crate::trace::DlArray;
use crate::trace::Tree;
use num_complex::{Complex32, Complex64};
use std::collections::VecDeque;
use std::sync::Arc;

const OP: &str = "lbfgsupdate";

/// The outcome of the last line search (MATLAB's `LineSearchStatus`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineSearchStatus {
    /// No update has run yet (MATLAB's `""`).
    #[default]
    NotStarted,
    /// A learning rate satisfying the line search's conditions was found and taken.
    Found,
    /// None was found within `max_num_line_search_iterations` evaluations: the parameters moved
    /// to the evaluated point with the lowest loss if it is lower than the current loss, and
    /// stayed where they were otherwise; the history is cleared.
    Failed,
}

/// Options of [`lbfgsupdate`], named after MATLAB's arguments; `Default` gives MATLAB's
/// defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LbfgsOptions {
    /// The line search (default [`LineSearch::WeakWolfe`]).
    pub line_search_method: LineSearch,
    /// The most loss-function evaluations one line search may use, at least 1 (default 20).
    pub max_num_line_search_iterations: usize,
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        LbfgsOptions { line_search_method: LineSearch::WeakWolfe, max_num_line_search_iterations: 20 }
    }
}

/// One stored update: the step `s`, the gradient difference `y`, and `1 / s'y`.
#[derive(Clone, Debug)]
struct Pair {
    s: Vec<f64>,
    y: Vec<f64>,
    rho: f64,
}

/// The state of the L-BFGS solver between calls of [`lbfgsupdate`] (MATLAB's `lbfgsState`):
/// the history of steps and gradient differences, the loss and gradients at the current
/// parameters, and what the last update did.
#[derive(Clone, Debug)]
pub struct LbfgsState {
    /// The loss at the parameters the last update returned (`NaN` before the first update).
    pub loss: f64,
    /// The 2-norm of the gradients there (`NaN` before the first update).
    pub gradients_norm: f64,
    /// The 2-norm of the last step, learning rate included (`NaN` before the first update).
    pub step_norm: f64,
    /// The number of updates so far.
    pub iteration: usize,
    /// The outcome of the last line search.
    pub line_search_status: LineSearchStatus,
    history_size: usize,
    initial_inverse_hessian_factor: f64,
    history: VecDeque<Pair>,
    /// The gradients at `at` (flattened), so the next update need not evaluate them again.
    gradients: Vec<f64>,
    /// The parameter arrays the last update returned: an update on other arrays starts by
    /// evaluating the loss function.
    at: Vec<DlArray>,
}

impl Default for LbfgsState {
    /// History size 10 and initial inverse Hessian factor 1, as MATLAB's `lbfgsState`.
    fn default() -> Self {
        LbfgsState::new(10, 1.0)
    }
}

impl LbfgsState {
    /// A state keeping the last `history_size` updates (values between 3 and 20 suit most
    /// tasks; at least 1), whose inverse Hessian approximation starts as
    /// `initial_inverse_hessian_factor` (positive) times the identity. Invalid values are
    /// reported by [`lbfgsupdate`].
    pub fn new(history_size: usize, initial_inverse_hessian_factor: f64) -> Self {
        LbfgsState {
            loss: f64::NAN,
            gradients_norm: f64::NAN,
            step_norm: f64::NAN,
            iteration: 0,
            line_search_status: LineSearchStatus::NotStarted,
            history_size,
            initial_inverse_hessian_factor,
            history: VecDeque::new(),
            gradients: Vec::new(),
            at: Vec::new(),
        }
    }

    /// The number of stored updates.
    pub fn history_size(&self) -> usize {
        self.history_size
    }

    /// The factor of the initial inverse Hessian approximation.
    pub fn initial_inverse_hessian_factor(&self) -> f64 {
        self.initial_inverse_hessian_factor
    }

    /// The number of updates currently in the history (at most `history_size`).
    pub fn history_len(&self) -> usize {
        self.history.len()
    }

    /// True when `params` are the arrays the last update returned.
    fn is_at(&self, params: &[&DlArray]) -> bool {
        self.at.len() == params.len()
            && self.at.iter().zip(params).all(|(a, p)| match (a.ready_data(), p.ready_data()) {
                (Some(a), Some(p)) => Arc::ptr_eq(a, p),
                _ => false,
            })
    }
}

/// Where each parameter lives in the flat vector: its dtype, shape and length in reals.
struct Layout {
    parts: Vec<(DType, Vec<usize>, usize)>,
}

impl Layout {
    fn of(params: &[&DlArray]) -> Result<Layout> {
        let mut parts = Vec::with_capacity(params.len());
        for (k, p) in params.iter().enumerate() {
            let d = p.data()?;
            if !d.dtype().is_float() {
                return Err(Error::dtype(
                    OP,
                    &[d.dtype()],
                    format!("parameter {k} (shape {:?}) is logical; parameters must be numeric", d.shape()),
                ));
            }
            let reals = d.numel() * if d.dtype().is_complex() { 2 } else { 1 };
            parts.push((d.dtype(), d.shape().to_vec(), reals));
        }
        Ok(Layout { parts })
    }

    /// The arrays as one real vector, each cast to its parameter's dtype first.
    fn flatten(&self, arrays: &[&DlArray], what: &str) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(self.parts.iter().map(|p| p.2).sum());
        for (k, (a, (dtype, _, _))) in arrays.iter().zip(&self.parts).enumerate() {
            let d = a.data()?;
            if !d.dtype().is_float() || (d.dtype().is_complex() && !dtype.is_complex()) {
                return Err(Error::dtype(
                    OP,
                    &[*dtype, d.dtype()],
                    format!("the {what} of parameter {k} must be numeric, and real for a real parameter"),
                ));
            }
            match &d.cast(*dtype) {
                Data::F32(x) => out.extend(x.iter().map(|&v| v as f64)),
                Data::F64(x) => out.extend(x.iter().copied()),
                Data::C64(x) => x.iter().for_each(|v| out.extend([v.re as f64, v.im as f64])),
                Data::C128(x) => x.iter().for_each(|v| out.extend([v.re, v.im])),
                Data::Bool(_) => return Err(Error::argument(OP, "internal: logical after a cast to a float type")),
            }
        }
        Ok(out)
    }

    /// Untraced arrays of the parameters' dtypes and shapes holding `v`.
    fn unflatten(&self, v: &[f64]) -> Result<Vec<DlArray>> {
        let mut out = Vec::with_capacity(self.parts.len());
        let mut at = 0;
        for (dtype, shape, n) in &self.parts {
            let chunk = &v[at..at + n];
            at += n;
            let shape = ndarray::IxDyn(shape);
            let bad = |e: ndarray::ShapeError| Error::argument(OP, format!("internal: {e}"));
            let data = match dtype {
                DType::F32 => Data::new(
                    ndarray::ArrayD::from_shape_vec(shape, chunk.iter().map(|&x| x as f32).collect()).map_err(bad)?,
                ),
                DType::F64 => Data::new(ndarray::ArrayD::from_shape_vec(shape, chunk.to_vec()).map_err(bad)?),
                DType::C64 => Data::new(
                    ndarray::ArrayD::from_shape_vec(
                        shape,
                        chunk.chunks(2).map(|c| Complex32::new(c[0] as f32, c[1] as f32)).collect(),
                    )
                    .map_err(bad)?,
                ),
                DType::C128 => Data::new(
                    ndarray::ArrayD::from_shape_vec(
                        shape,
                        chunk.chunks(2).map(|c| Complex64::new(c[0], c[1])).collect(),
                    )
                    .map_err(bad)?,
                ),
                DType::Bool => return Err(Error::argument(OP, "internal: logical parameter")),
            };
            out.push(DlArray::from_data(Arc::new(data)));
        }
        Ok(out)
    }
}

/// The loss function on a flat point: `(loss, gradient)`, `loss` possibly non-finite.
struct Objective<'a, T: Tree, F: FnMut(&T) -> Result<(DlArray, T)>> {
    f: F,
    params: &'a T,
    layout: &'a Layout,
}

impl<T: Tree, F: FnMut(&T) -> Result<(DlArray, T)>> Objective<'_, T, F> {
    fn tree(&self, x: &[f64]) -> Result<T> {
        let mut values = self.layout.unflatten(x)?.into_iter();
        self.params.map_arrays(&mut |_| {
            values.next().ok_or_else(|| Error::argument(OP, "internal: fewer values than parameters"))
        })
    }

    fn eval_tree(&mut self, p: &T) -> Result<(f64, Vec<f64>)> {
        let (loss, grads) = (self.f)(p)?;
        let d = loss.data()?;
        if d.numel() != 1 || !matches!(d.dtype(), DType::F32 | DType::F64) {
            return Err(Error::argument(
                OP,
                format!(
                    "the loss function must return a real scalar loss, but it returned {} of shape {:?}",
                    d.dtype(),
                    d.shape()
                ),
            ));
        }
        let loss = loss.cast(DType::F64).to_scalar::<f64>()?;
        let (_, gs) = paired_arrays(OP, p, &grads)?;
        let g = self.layout.flatten(&gs, "gradient")?;
        Ok((loss, g))
    }

    fn eval(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        let p = self.tree(x)?;
        self.eval_tree(&p)
    }
}

/// True when `d0 = g'p` makes `p` a descent direction (false for zero and NaN).
fn is_descent(d0: f64) -> bool {
    d0 < 0.0
}

/// `-H g` by the two-loop recursion, with `H0 = gamma I`.
fn direction(history: &VecDeque<Pair>, g: &[f64], gamma: f64) -> Vec<f64> {
    let mut q = g.to_vec();
    let mut alphas = Vec::with_capacity(history.len());
    for pair in history.iter().rev() {
        let alpha = pair.rho * dot(&pair.s, &q);
        q.iter_mut().zip(&pair.y).for_each(|(q, y)| *q -= alpha * y);
        alphas.push(alpha);
    }
    q.iter_mut().for_each(|q| *q *= gamma);
    for (pair, alpha) in history.iter().zip(alphas.iter().rev()) {
        let beta = pair.rho * dot(&pair.y, &q);
        q.iter_mut().zip(&pair.s).for_each(|(q, s)| *q += (alpha - beta) * s);
    }
    q.iter_mut().for_each(|q| *q = -*q);
    q
}

/// One L-BFGS update of `params`, as MATLAB's `[params, solverState] = lbfgsupdate(params,
/// lossFcn, solverState)`: returns the new parameters and updates `state`.
///
/// `loss_fn(&params)` returns `(loss, gradients)`: a real scalar loss and the gradients with the
/// structure of `params` (typically an [`accelerate`](crate::accelerate)d function that calls
/// [`dlgradient`](crate::dlgradient)). The update computes the search direction `p = -H g`
/// from the history of steps `s` and gradient differences `y` (the last `history_size`,
/// `H0 = lambda I` with `lambda = s'y / y'y` of the latest pair, or the state's initial inverse
/// Hessian factor while the history is empty), then finds a learning rate `a` along `p` by the
/// line search of `options` starting from `a = 1`, and moves to `params + a p`. Each line search
/// step evaluates `loss_fn` once; the loss and gradients at the new parameters are kept in
/// `state`, so the next update starts without evaluating them again (unless it gets other
/// parameter arrays than this update returned).
///
/// `params` is any [`Tree`]; parameters may be single or double, real or complex (a complex
/// parameter is two real ones). A loss function that returns an `Err`, or returns a non-finite
/// loss at `params`, makes the update an `Err` and leaves `state` as it was (the parameters are
/// never modified in place). When the line search fails, see [`LineSearchStatus::Failed`].
///
/// ```
/// use cranegrad::prelude::*;
/// use ndarray::array;
/// // minimize (x0 - 1)^2 + 10 (x1 + 2)^2
/// let f = accelerate(|x: DlArray| {
///     let y = (x.at(0) - 1.0).square() + 10.0 * (x.at(1) + 2.0).square();
///     Ok((y.clone(), dlgradient(&y, &x)?))
/// });
/// let mut x = DlArray::from(array![0.0, 0.0]);
/// let mut state = LbfgsState::default();
/// for _ in 0..20 {
///     x = lbfgsupdate(&x, |x| f.call(x.clone()), &mut state, &LbfgsOptions::default()).unwrap();
/// }
/// assert!(state.gradients_norm < 1e-8);
/// assert_eq!(state.line_search_status, LineSearchStatus::Found);
/// ```
pub fn lbfgsupdate<T, F>(params: &T, loss_fn: F, state: &mut LbfgsState, options: &LbfgsOptions) -> Result<T>
where
    T: Tree,
    F: FnMut(&T) -> Result<(DlArray, T)>,
{
    check_settings(state, options)?;
    let arrays = params.arrays();
    let layout = Layout::of(&arrays)?;
    let x = layout.flatten(&arrays, "value")?;
    let mut obj = Objective { f: loss_fn, params, layout: &layout };
    let fresh = !state.is_at(&arrays) || state.gradients.len() != x.len() || !state.loss.is_finite();
    let (f0, g0) = if fresh { obj.eval_tree(params)? } else { (state.loss, state.gradients.clone()) };
    check_start(f0)?;
    // A new starting point (other arrays than the last update returned) starts a new history.
    let mut history = if fresh { VecDeque::new() } else { state.history.clone() };
    let (p, d0) = search_direction(&mut history, &g0, state.initial_inverse_hessian_factor);
    if !is_descent(d0) {
        // A zero gradient (or one the direction cannot descend along): a stationary point.
        let outcome = Outcome { loss: f0, gradients: g0, step_norm: 0.0, status: LineSearchStatus::Found, history };
        return finish(params, &layout, state, &x, outcome);
    }
    let method = options.line_search_method;
    let max = options.max_num_line_search_iterations;
    let search = line_search(&mut |x: &[f64]| obj.eval(x), &x, f0, d0, &p, method, max)?;
    let (status, accepted) = match search.best {
        Some(t) if search.found => (LineSearchStatus::Found, Some(t)),
        Some(t) if t.f < f0 => (LineSearchStatus::Failed, Some(t)),
        _ => (LineSearchStatus::Failed, None),
    };
    let Some(t) = accepted else {
        let outcome = Outcome { loss: f0, gradients: g0, step_norm: 0.0, status, history: VecDeque::new() };
        return finish(params, &layout, state, &x, outcome);
    };
    let s: Vec<f64> = p.iter().map(|p| t.a * p).collect();
    let x1 = axpy(&x, 1.0, &s);
    if status == LineSearchStatus::Found {
        remember_step(&mut history, &s, &t.g, &g0, state.history_size);
    } else {
        history.clear();
    }
    let outcome = Outcome { loss: t.f, gradients: t.g, step_norm: norm(&s), status, history };
    finish(params, &layout, state, &x1, outcome)
}

/// An error unless the state's settings and the options are valid.
fn check_settings(state: &LbfgsState, options: &LbfgsOptions) -> Result<()> {
    if state.history_size == 0 {
        return Err(Error::argument(OP, "the state's history size must be at least 1; use LbfgsState::new(10, 1.0)"));
    }
    let factor = state.initial_inverse_hessian_factor;
    if !(factor > 0.0 && factor.is_finite()) {
        return Err(Error::argument(
            OP,
            format!("the state's initial inverse Hessian factor must be positive and finite, got {factor}"),
        ));
    }
    if options.max_num_line_search_iterations == 0 {
        return Err(Error::argument(OP, "max_num_line_search_iterations must be at least 1"));
    }
    Ok(())
}

/// An error unless the loss `f0` at the current parameters is finite.
fn check_start(f0: f64) -> Result<()> {
    if f0.is_finite() {
        return Ok(());
    }
    Err(Error::argument(
        OP,
        format!(
            "the loss at the current parameters is {f0}; L-BFGS needs a finite loss to start (check the \
             initial parameters and the loss function)"
        ),
    ))
}

/// The search direction `p` at gradient `g0` and its slope `g0'p`, with `H0 = lambda I` from
/// the latest pair of `history` (or `factor` while it is empty); `history` is cleared when it
/// gives no descent direction.
fn search_direction(history: &mut VecDeque<Pair>, g0: &[f64], factor: f64) -> (Vec<f64>, f64) {
    let gamma = match history.back() {
        Some(pair) => dot(&pair.s, &pair.y) / dot(&pair.y, &pair.y),
        None => factor,
    };
    let mut p = direction(history, g0, gamma);
    let mut d0 = dot(g0, &p);
    if !is_descent(d0) && !history.is_empty() {
        // Not a descent direction (rounding in a badly scaled history): start over.
        history.clear();
        p = direction(history, g0, factor);
        d0 = dot(g0, &p);
    }
    (p, d0)
}

/// Adds the step `s` and the gradient difference `g1 - g0` to `history` (dropping the oldest
/// pairs beyond `history_size`), or clears it when the step shows no positive curvature.
fn remember_step(history: &mut VecDeque<Pair>, s: &[f64], g1: &[f64], g0: &[f64], history_size: usize) {
    let y: Vec<f64> = g1.iter().zip(g0).map(|(a, b)| a - b).collect();
    let sy = dot(s, &y);
    if sy > f64::EPSILON * dot(&y, &y) {
        history.push_back(Pair { rho: 1.0 / sy, s: s.to_vec(), y });
        while history.len() > history_size {
            history.pop_front();
        }
    } else {
        // No positive curvature along the step (possible when the line search does not
        // check curvature, as backtracking): the stored pairs no longer describe the
        // function here, and keeping them can stall the search. Start over.
        history.clear();
    }
}

/// What an update ends with, besides the new point.
struct Outcome {
    loss: f64,
    gradients: Vec<f64>,
    step_norm: f64,
    status: LineSearchStatus,
    history: VecDeque<Pair>,
}

/// The parameters at the flat point `x`, with `state` recording `outcome` and those
/// parameters' arrays.
fn finish<T: Tree>(params: &T, layout: &Layout, state: &mut LbfgsState, x: &[f64], outcome: Outcome) -> Result<T> {
    let out = layout.unflatten(x)?;
    let tree = rebuild_from(params, out.clone())?;
    state.loss = outcome.loss;
    state.gradients_norm = norm(&outcome.gradients);
    state.gradients = outcome.gradients;
    state.step_norm = outcome.step_norm;
    state.iteration += 1;
    state.line_search_status = outcome.status;
    state.history = outcome.history;
    state.at = out;
    Ok(tree)
}

/// `params` with its arrays replaced by `values`, in visiting order.
fn rebuild_from<T: Tree>(params: &T, values: Vec<DlArray>) -> Result<T> {
    super::tree_walk::rebuild(OP, params, values)
}
