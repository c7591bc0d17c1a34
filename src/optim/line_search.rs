//! The line searches of [`lbfgsupdate`](super::lbfgsupdate): a learning rate `a` along a
//! descent direction `p` from a point `x`, by sufficient decrease alone (backtracking) or with
//! a curvature condition too (weak or strong Wolfe). They see the loss function as a function
//! of a flat real vector.

use super::flat_vector::{axpy, dot};
use crate::error::Result;

/// Sufficient decrease (Armijo) constant of every line search.
const C1: f64 = 1e-4;
/// Curvature constant of the Wolfe conditions.
const C2: f64 = 0.9;

/// How [`lbfgsupdate`](super::lbfgsupdate) chooses the learning rate along the search
/// direction (MATLAB's `LineSearchMethod`).
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

/// A trial point of the line search.
pub(super) struct Trial {
    /// The learning rate.
    pub(super) a: f64,
    /// The loss at `x + a p`.
    pub(super) f: f64,
    /// The gradient there.
    pub(super) g: Vec<f64>,
    /// `g'p`.
    d: f64,
}

/// The line search's result: the accepted trial (or the best one on failure) and whether the
/// conditions held.
pub(super) struct Search {
    pub(super) best: Option<Trial>,
    pub(super) found: bool,
}

/// The search along `p` from `x`, where the loss is `f0` and its slope `d0 = g'p` (negative):
/// at most `max` evaluations of `eval` (`(loss, gradient)` at a point) by `method`, starting
/// from `a = 1`.
pub(super) fn line_search<E>(
    eval: &mut E,
    x: &[f64],
    f0: f64,
    d0: f64,
    p: &[f64],
    method: LineSearch,
    max: usize,
) -> Result<Search>
where
    E: FnMut(&[f64]) -> Result<(f64, Vec<f64>)>,
{
    let mut line = Line { eval, x, p, f0, d0, best: None };
    let found = match method {
        LineSearch::Backtracking => line.backtracking(max)?,
        LineSearch::WeakWolfe => line.weak_wolfe(max)?,
        LineSearch::StrongWolfe => line.strong_wolfe(max)?,
    };
    Ok(match found {
        Some(t) => Search { best: Some(t), found: true },
        None => Search { best: line.best, found: false },
    })
}

/// The line being searched, and the trial with the lowest finite loss so far.
struct Line<'a, E> {
    eval: &'a mut E,
    x: &'a [f64],
    p: &'a [f64],
    f0: f64,
    d0: f64,
    best: Option<Trial>,
}

/// One evaluation and the conditions on it.
impl<E: FnMut(&[f64]) -> Result<(f64, Vec<f64>)>> Line<'_, E> {
    /// The loss and slope at learning rate `a`, kept as the best when it is.
    fn trial(&mut self, a: f64) -> Result<Trial> {
        let (f, g) = (self.eval)(&axpy(self.x, a, self.p))?;
        let d = dot(&g, self.p);
        let t = Trial { a, f, g, d };
        keep_best(&mut self.best, &t);
        Ok(t)
    }

    /// Sufficient decrease (Armijo) at `t`, with a finite loss.
    fn armijo(&self, t: &Trial) -> bool {
        t.f.is_finite() && t.f <= self.f0 + C1 * t.a * self.d0
    }

    /// The strong Wolfe curvature condition at `t`.
    fn strong_curvature(&self, t: &Trial) -> bool {
        t.d.abs() <= -C2 * self.d0
    }
}

/// Tracks the trial with the lowest finite loss.
fn keep_best(best: &mut Option<Trial>, t: &Trial) {
    if t.f.is_finite() && best.as_ref().is_none_or(|b| t.f < b.f) {
        *best = Some(Trial { a: t.a, f: t.f, g: t.g.clone(), d: t.d });
    }
}

/// Where the bracketing phase of the strong Wolfe search ended.
enum Bracketing {
    /// A trial satisfying both conditions.
    Found(Trial),
    /// An interval `(lo, hi)` holding one, `lo` with sufficient decrease.
    Bracket(Trial, Trial),
    /// The evaluations ran out.
    Exhausted,
}

/// The three searches, each at most `max` evaluations; `Some` with the trial that satisfies
/// their conditions.
impl<E: FnMut(&[f64]) -> Result<(f64, Vec<f64>)>> Line<'_, E> {
    /// Backtracking: the first of `a = 1, 1/2, 1/4, ...` with sufficient decrease.
    fn backtracking(&mut self, max: usize) -> Result<Option<Trial>> {
        let mut a = 1.0;
        for _ in 0..max {
            let t = self.trial(a)?;
            if self.armijo(&t) {
                return Ok(Some(t));
            }
            a *= 0.5;
        }
        Ok(None)
    }

    /// Weak Wolfe: doubling until the loss stops decreasing enough, bisecting the bracket
    /// that gives until the slope has grown enough too.
    fn weak_wolfe(&mut self, max: usize) -> Result<Option<Trial>> {
        let (mut lo, mut hi, mut a) = (0.0, f64::INFINITY, 1.0);
        for _ in 0..max {
            let t = self.trial(a)?;
            if !self.armijo(&t) {
                hi = a;
            } else if t.d < C2 * self.d0 {
                lo = a;
            } else {
                return Ok(Some(t));
            }
            a = if hi.is_finite() { 0.5 * (lo + hi) } else { 2.0 * lo };
        }
        Ok(None)
    }

    /// Strong Wolfe: bracketing by doubling, then zooming in by cubic interpolation.
    fn strong_wolfe(&mut self, max: usize) -> Result<Option<Trial>> {
        let mut used = 0;
        match self.bracket(max, &mut used)? {
            Bracketing::Found(t) => Ok(Some(t)),
            Bracketing::Bracket(lo, hi) => self.zoom(lo, hi, max, &mut used),
            Bracketing::Exhausted => Ok(None),
        }
    }

    /// The bracketing phase of the strong Wolfe search (Nocedal and Wright, algorithm 3.5),
    /// counting its evaluations in `used`.
    fn bracket(&mut self, max: usize, used: &mut usize) -> Result<Bracketing> {
        let mut prev = Trial { a: 0.0, f: self.f0, g: Vec::new(), d: self.d0 };
        let mut a = 1.0;
        loop {
            if *used >= max {
                return Ok(Bracketing::Exhausted);
            }
            *used += 1;
            let t = self.trial(a)?;
            if !self.armijo(&t) || (*used > 1 && t.f >= prev.f) {
                return Ok(Bracketing::Bracket(prev, t));
            }
            if self.strong_curvature(&t) {
                return Ok(Bracketing::Found(t));
            }
            if t.d >= 0.0 {
                return Ok(Bracketing::Bracket(t, prev));
            }
            a *= 2.0;
            prev = t;
        }
    }

    /// The zoom phase of the strong Wolfe search (Nocedal and Wright, algorithm 3.6) in the
    /// bracket `(lo, hi)`, until `used` reaches `max`.
    fn zoom(&mut self, mut lo: Trial, mut hi: Trial, max: usize, used: &mut usize) -> Result<Option<Trial>> {
        while *used < max {
            *used += 1;
            let a = if lo.f.is_finite() && hi.f.is_finite() {
                cubic_min(lo.a, lo.f, lo.d, hi.a, hi.f, hi.d)
            } else {
                0.5 * (lo.a + hi.a)
            };
            let t = self.trial(a)?;
            if !self.armijo(&t) || t.f >= lo.f {
                hi = t;
            } else {
                if self.strong_curvature(&t) {
                    return Ok(Some(t));
                }
                if t.d * (hi.a - lo.a) >= 0.0 {
                    hi = lo;
                }
                lo = t;
            }
        }
        Ok(None)
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
