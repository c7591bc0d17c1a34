//! `lbfgsupdate`: limited-memory BFGS with a line search, MATLAB's `lbfgsupdate` and
//! `lbfgsState` (R2023a) over any parameter tree.
//!
//! The parameters of a tree are seen as one real vector (complex parameters as their real and
//! imaginary parts, the gradient convention `dy/da + i dy/db` making that exact); the two-loop
//! recursion and the line search run on plain `f64` vectors, and only the loss function touches
//! arrays.

use super::tree_walk::paired_arrays;
use crate::array::{DType, Data};
use crate::error::{Error, Result};
use crate::trace::DlArray;
use crate::trace::Tree;
use num_complex::{Complex32, Complex64};
use std::collections::VecDeque;
use std::sync::Arc;

const OP: &str = "lbfgsupdate";
/// Sufficient decrease (Armijo) constant of every line search.
const C1: f64 = 1e-4;
/// Curvature constant of the Wolfe conditions.
const C2: f64 = 0.9;

/// How [`lbfgsupdate`] chooses the learning rate along the search direction (MATLAB's
/// `LineSearchMethod`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineSearch {
    /// `"weak-wolfe"` (default): sufficient decrease `J(W + a p) <= J(W) + c1 a g'p` and the
    /// curvature condition `g(a)'p >= c2 g'p` (`c1 = 1e-4`, `c2 = 0.9`), by bracketing and
    /// bisection.
    #[default]
    WeakWolfe,
    /// `"strong-wolfe"`: sufficient decrease and `|g(a)'p| <= c2 |g'p|`, by bracketing and
    /// safeguarded cubic interpolation (Nocedal and Wright, algorithms 3.5 and 3.6).
    StrongWolfe,
    /// `"backtracking"`: sufficient decrease only, halving the learning rate from 1.
    Backtracking,
}

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

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// `x + a p`.
fn axpy(x: &[f64], a: f64, p: &[f64]) -> Vec<f64> {
    x.iter().zip(p).map(|(x, p)| x + a * p).collect()
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

/// A trial point of the line search.
struct Trial {
    a: f64,
    f: f64,
    g: Vec<f64>,
    /// `g'p`.
    d: f64,
}

/// The line search's result: the accepted trial (or the best one on failure) and whether the
/// conditions held.
struct Search {
    best: Option<Trial>,
    found: bool,
}

/// Tracks the trial with the lowest finite loss.
fn keep_best(best: &mut Option<Trial>, t: &Trial) {
    if t.f.is_finite() && best.as_ref().is_none_or(|b| t.f < b.f) {
        *best = Some(Trial { a: t.a, f: t.f, g: t.g.clone(), d: t.d });
    }
}

/// The minimizer of the cubic through `(a, fa, da)` and `(b, fb, db)`, kept inside the interval
/// (10% away from its ends); bisection when the cubic has none there.
fn cubic_min(a: f64, fa: f64, da: f64, b: f64, fb: f64, db: f64) -> f64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let d1 = da + db - 3.0 * (fa - fb) / (a - b);
    let sq = d1 * d1 - da * db;
    let mid = 0.5 * (a + b);
    if sq.is_nan() || sq < 0.0 || !sq.is_finite() {
        return mid;
    }
    let d2 = (b - a).signum() * sq.sqrt();
    let t = b - (b - a) * ((db + d2 - d1) / (db - da + 2.0 * d2));
    let margin = 0.1 * (hi - lo);
    if t.is_finite() && t > lo + margin && t < hi - margin {
        t
    } else {
        mid
    }
}

fn line_search<T: Tree, F: FnMut(&T) -> Result<(DlArray, T)>>(
    obj: &mut Objective<'_, T, F>,
    x: &[f64],
    f0: f64,
    d0: f64,
    p: &[f64],
    options: &LbfgsOptions,
) -> Result<Search> {
    let max = options.max_num_line_search_iterations;
    let mut best: Option<Trial> = None;
    let trial = |obj: &mut Objective<'_, T, F>, a: f64, best: &mut Option<Trial>| -> Result<Trial> {
        let (f, g) = obj.eval(&axpy(x, a, p))?;
        let d = dot(&g, p);
        let t = Trial { a, f, g, d };
        keep_best(best, &t);
        Ok(t)
    };
    let armijo = |t: &Trial| t.f.is_finite() && t.f <= f0 + C1 * t.a * d0;
    let found = |t: Trial| Ok(Search { best: Some(t), found: true });
    match options.line_search_method {
        LineSearch::Backtracking => {
            let mut a = 1.0;
            for _ in 0..max {
                let t = trial(obj, a, &mut best)?;
                if armijo(&t) {
                    return found(t);
                }
                a *= 0.5;
            }
        }
        LineSearch::WeakWolfe => {
            let (mut lo, mut hi, mut a) = (0.0, f64::INFINITY, 1.0);
            for _ in 0..max {
                let t = trial(obj, a, &mut best)?;
                if !armijo(&t) {
                    hi = a;
                } else if t.d < C2 * d0 {
                    lo = a;
                } else {
                    return found(t);
                }
                a = if hi.is_finite() { 0.5 * (lo + hi) } else { 2.0 * lo };
            }
        }
        LineSearch::StrongWolfe => {
            let curvature = |t: &Trial| t.d.abs() <= -C2 * d0;
            let mut prev = Trial { a: 0.0, f: f0, g: Vec::new(), d: d0 };
            let mut a = 1.0;
            let mut used = 0;
            // Bracketing phase: (lo, hi) ends with lo satisfying sufficient decrease.
            let bracket = loop {
                if used >= max {
                    break None;
                }
                used += 1;
                let t = trial(obj, a, &mut best)?;
                if !armijo(&t) || (used > 1 && t.f >= prev.f) {
                    break Some((prev, t));
                }
                if curvature(&t) {
                    return found(t);
                }
                if t.d >= 0.0 {
                    break Some((t, prev));
                }
                a *= 2.0;
                prev = t;
            };
            if let Some((mut lo, mut hi)) = bracket {
                while used < max {
                    used += 1;
                    let a = if lo.f.is_finite() && hi.f.is_finite() {
                        cubic_min(lo.a, lo.f, lo.d, hi.a, hi.f, hi.d)
                    } else {
                        0.5 * (lo.a + hi.a)
                    };
                    let t = trial(obj, a, &mut best)?;
                    if !armijo(&t) || t.f >= lo.f {
                        hi = t;
                    } else {
                        if curvature(&t) {
                            return found(t);
                        }
                        if t.d * (hi.a - lo.a) >= 0.0 {
                            hi = lo;
                        }
                        lo = t;
                    }
                }
            }
        }
    }
    Ok(Search { best, found: false })
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
    let arrays = params.arrays();
    let layout = Layout::of(&arrays)?;
    let x = layout.flatten(&arrays, "value")?;
    let mut obj = Objective { f: loss_fn, params, layout: &layout };
    let fresh = !state.is_at(&arrays) || state.gradients.len() != x.len() || !state.loss.is_finite();
    let (f0, g0) = if fresh { obj.eval_tree(params)? } else { (state.loss, state.gradients.clone()) };
    if !f0.is_finite() {
        return Err(Error::argument(
            OP,
            format!(
                "the loss at the current parameters is {f0}; L-BFGS needs a finite loss to start (check the \
                 initial parameters and the loss function)"
            ),
        ));
    }
    // A new starting point (other arrays than the last update returned) starts a new history.
    let mut history = if fresh { VecDeque::new() } else { state.history.clone() };
    let gamma = |h: &VecDeque<Pair>| match h.back() {
        Some(pair) => dot(&pair.s, &pair.y) / dot(&pair.y, &pair.y),
        None => factor,
    };
    let mut p = direction(&history, &g0, gamma(&history));
    let mut d0 = dot(&g0, &p);
    if !is_descent(d0) && !history.is_empty() {
        // Not a descent direction (rounding in a badly scaled history): start over.
        history.clear();
        p = direction(&history, &g0, factor);
        d0 = dot(&g0, &p);
    }
    let commit = |state: &mut LbfgsState, f: f64, g: Vec<f64>, step: f64, status, history, at: &[DlArray]| {
        state.loss = f;
        state.gradients_norm = norm(&g);
        state.gradients = g;
        state.step_norm = step;
        state.iteration += 1;
        state.line_search_status = status;
        state.history = history;
        state.at = at.to_vec();
    };
    if !is_descent(d0) {
        // A zero gradient (or one the direction cannot descend along): a stationary point.
        let out = layout.unflatten(&x)?;
        let tree = rebuild_from(params, out.clone())?;
        commit(state, f0, g0, 0.0, LineSearchStatus::Found, history, &out);
        return Ok(tree);
    }
    let search = line_search(&mut obj, &x, f0, d0, &p, options)?;
    let (status, accepted) = match search.best {
        Some(t) if search.found => (LineSearchStatus::Found, Some(t)),
        Some(t) if t.f < f0 => (LineSearchStatus::Failed, Some(t)),
        _ => (LineSearchStatus::Failed, None),
    };
    let Some(t) = accepted else {
        let out = layout.unflatten(&x)?;
        let tree = rebuild_from(params, out.clone())?;
        commit(state, f0, g0, 0.0, status, VecDeque::new(), &out);
        return Ok(tree);
    };
    let s: Vec<f64> = p.iter().map(|p| t.a * p).collect();
    let x1 = axpy(&x, 1.0, &s);
    if status == LineSearchStatus::Found {
        let y: Vec<f64> = t.g.iter().zip(&g0).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > f64::EPSILON * dot(&y, &y) {
            history.push_back(Pair { rho: 1.0 / sy, s: s.clone(), y });
            while history.len() > state.history_size {
                history.pop_front();
            }
        } else {
            // No positive curvature along the step (possible when the line search does not
            // check curvature, as backtracking): the stored pairs no longer describe the
            // function here, and keeping them can stall the search. Start over.
            history.clear();
        }
    } else {
        history.clear();
    }
    let out = layout.unflatten(&x1)?;
    let tree = rebuild_from(params, out.clone())?;
    commit(state, t.f, t.g, norm(&s), status, history, &out);
    Ok(tree)
}

/// `params` with its arrays replaced by `values`, in visiting order.
fn rebuild_from<T: Tree>(params: &T, values: Vec<DlArray>) -> Result<T> {
    super::tree_walk::rebuild(OP, params, values)
}
