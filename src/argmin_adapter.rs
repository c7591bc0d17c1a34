//! [argmin](https://argmin-rs.org) problems from accelerated functions (cargo feature `argmin`).
//!
//! [`ArgminProblem`] wraps a value-and-gradient function of one `f64` vector, usually an
//! [`AcceleratedFunction`] that returns `(y, dlgradient(&y, &x)?)`, and implements argmin's
//! [`CostFunction`], [`Gradient`] and [`Hessian`] over `Vec<f64>` (argmin-math's `vec`
//! backend), so argmin's gradient-based solvers run on native code (tests/argmin.rs runs L-BFGS
//! and, with a Hessian, the trust region method).
//!
//! argmin asks for the cost and for the gradient in separate calls, and its line searches ask
//! for both at the same point. The problem keeps the `(x, f, g)` of the last call of the fused
//! function, so a cost followed by a gradient (or a gradient followed by a cost) at the same
//! `x` costs one native call; [`ArgminProblem::calls`] and [`ArgminProblem::cache_hits`] count
//! them. The cache sits behind a `Mutex`, so the problem is `Send + Sync` and argmin's
//! `bulk_cost` / `bulk_gradient` (parallel with argmin's `rayon` feature) work too; evaluations
//! run outside the lock, concurrently.
//!
//! Errors of cranegrad (a shape error in the function, a gradient of the wrong shape, ...)
//! become argmin errors with the same message; `err.downcast_ref::<cranegrad::Error>()` gives
//! the original back.
//!
//! ```
//! use ::argmin::core::{CostFunction, Executor, Gradient};
//! use ::argmin::solver::linesearch::MoreThuenteLineSearch;
//! use ::argmin::solver::quasinewton::LBFGS;
//! use cranegrad::argmin::ArgminProblem;
//! use cranegrad::prelude::*;
//! use ndarray::s;
//!
//! // The extended Rosenbrock function with its gradient, compiled once.
//! let af = accelerate(|x: DlArray| {
//!     let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
//!     let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
//!     let g = dlgradient(&y, &x)?;
//!     Ok((y, g))
//! });
//! let problem = ArgminProblem::new(af);
//! assert_eq!(problem.cost(&vec![-1.0, 2.0]).unwrap(), 104.0);
//! assert_eq!(problem.gradient(&vec![-1.0, 2.0]).unwrap(), vec![396.0, 200.0]);
//! assert_eq!(problem.calls(), 1); // the gradient came from the cost's call
//!
//! let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7);
//! let result = Executor::new(problem, solver)
//!     .configure(|state| state.param(vec![-1.2; 10]).max_iters(500))
//!     .run()
//!     .unwrap();
//! let x = result.state.best_param.unwrap();
//! assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-4));
//! ```

use crate::array::DType;
use crate::error::Error;
use crate::trace::DlArray;
use crate::AcceleratedFunction;
use ::argmin::core::{ArgminError, CostFunction, Gradient, Hessian};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// A value-and-gradient function of one vector: `x [n] -> (y [], dy/dx [n])`.
type ValueGradFn = dyn Fn(DlArray) -> crate::Result<(DlArray, DlArray)> + Send + Sync;
/// A Hessian function of one vector: `x [n] -> H [n, n]`.
type HessianFn = dyn Fn(DlArray) -> crate::Result<DlArray> + Send + Sync;

/// The point, value and gradient of the last call of the fused function.
struct Point {
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
}

/// An argmin problem over `Vec<f64>` whose cost and gradient come from one fused
/// value-and-gradient call (see the [module documentation](self)).
pub struct ArgminProblem {
    value_and_gradient: Box<ValueGradFn>,
    hessian: Option<Box<HessianFn>>,
    last: Mutex<Option<Point>>,
    calls: AtomicU64,
    hits: AtomicU64,
    hessian_calls: AtomicU64,
}

impl fmt::Debug for ArgminProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArgminProblem")
            .field("calls", &self.calls())
            .field("cache_hits", &self.cache_hits())
            .field("hessian", &self.hessian.is_some())
            .field("hessian_calls", &self.hessian_calls())
            .finish()
    }
}

/// A cranegrad error as an argmin error (an `anyhow::Error` that displays the same message and
/// downcasts to [`Error`]).
fn to_argmin(e: Error) -> ::argmin::core::Error {
    ::argmin::core::Error::from(e)
}

/// The elements of a real floating-point array as `f64`, row-major.
fn f64_values(what: &str, a: &DlArray) -> crate::Result<Vec<f64>> {
    let a = match a.dtype() {
        DType::F64 => a.clone(),
        DType::F32 => a.cast(DType::F64),
        other => {
            return Err(Error::Argument {
                op: "ArgminProblem".into(),
                detail: format!("the {what} is {other}; return a real f64 or f32 array"),
            })
        }
    };
    let data = a.extractdata::<f64>()?;
    Ok(match data.as_slice() {
        Some(s) => s.to_vec(),
        None => data.iter().copied().collect(),
    })
}

fn lock(m: &Mutex<Option<Point>>) -> MutexGuard<'_, Option<Point>> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether two points are the same bits (so a cached gradient is exactly the one asked for).
fn same_point(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(u, v)| u.to_bits() == v.to_bits())
}

impl ArgminProblem {
    /// The problem of an accelerated function `x [n] -> (y, dlgradient(&y, &x)?)` with `y` a
    /// real scalar (f64 or f32). Clones of an accelerated function share its cache and
    /// statistics: pass `af.clone()` to keep reading `af.hit_rate()`.
    pub fn new(af: AcceleratedFunction<DlArray, (DlArray, DlArray)>) -> Self {
        Self::from_fn(move |x| af.call(x))
    }

    /// The problem of any value-and-gradient function with [`new`](Self::new)'s contract (an
    /// accelerated function wrapped in a closure that counts or logs, `dlfeval` for an
    /// un-accelerated comparison, ...).
    pub fn from_fn<F>(value_and_gradient: F) -> Self
    where
        F: Fn(DlArray) -> crate::Result<(DlArray, DlArray)> + Send + Sync + 'static,
    {
        ArgminProblem {
            value_and_gradient: Box::new(value_and_gradient),
            hessian: None,
            last: Mutex::new(None),
            calls: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            hessian_calls: AtomicU64::new(0),
        }
    }

    /// Adds an accelerated Hessian function `x [n] -> H [n, n]`, for argmin's solvers that
    /// take a Hessian as a matrix (trust region with Steihaug or Cauchy point, Newton-CG).
    /// argmin-math's `vec` backend has no matrix inverse, so argmin's plain Newton method and
    /// dogleg do not apply.
    pub fn with_hessian(self, hessian: AcceleratedFunction<DlArray, DlArray>) -> Self {
        self.with_hessian_fn(move |x| hessian.call(x))
    }

    /// [`with_hessian`](Self::with_hessian) from any function with its contract.
    pub fn with_hessian_fn<F>(mut self, hessian: F) -> Self
    where
        F: Fn(DlArray) -> crate::Result<DlArray> + Send + Sync + 'static,
    {
        self.hessian = Some(Box::new(hessian));
        self
    }

    /// The value and gradient at `x`: from the last call when `x` is that call's point (same
    /// bits), else from one new call of the function.
    pub fn value_and_gradient(&self, x: &[f64]) -> crate::Result<(f64, Vec<f64>)> {
        if let Some(p) = lock(&self.last).as_ref() {
            if same_point(&p.x, x) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok((p.f, p.g.clone()));
            }
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let input = DlArray::from(ndarray::Array1::from_vec(x.to_vec()));
        let (y, g) = (self.value_and_gradient)(input)?;
        if y.numel() != 1 {
            return Err(Error::Argument {
                op: "ArgminProblem".into(),
                detail: format!("the value has shape {:?}; return a scalar", y.shape()),
            });
        }
        if g.shape() != [x.len()] {
            return Err(Error::Argument {
                op: "ArgminProblem".into(),
                detail: format!("the gradient has shape {:?}, the parameters [{}]", g.shape(), x.len()),
            });
        }
        let f = f64_values("value", &y)?[0];
        let g = f64_values("gradient", &g)?;
        *lock(&self.last) = Some(Point { x: x.to_vec(), f, g: g.clone() });
        Ok((f, g))
    }

    /// The Hessian at `x` as rows, from the function given to
    /// [`with_hessian`](Self::with_hessian); an `Err` when there is none.
    pub fn hessian_rows(&self, x: &[f64]) -> crate::Result<Vec<Vec<f64>>> {
        let Some(hessian) = &self.hessian else {
            return Err(Error::Argument {
                op: "ArgminProblem".into(),
                detail: "no Hessian function: add one with with_hessian".into(),
            });
        };
        self.hessian_calls.fetch_add(1, Ordering::Relaxed);
        let n = x.len();
        let h = hessian(DlArray::from(ndarray::Array1::from_vec(x.to_vec())))?;
        if h.shape() != [n, n] {
            return Err(Error::Argument {
                op: "ArgminProblem".into(),
                detail: format!("the Hessian has shape {:?}, expected [{n}, {n}]", h.shape()),
            });
        }
        let values = f64_values("Hessian", &h)?;
        Ok(values.chunks(n.max(1)).map(<[f64]>::to_vec).collect())
    }

    /// How many times the value-and-gradient function ran (for an accelerated function: native
    /// calls, plus the first, traced one).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// How many costs and gradients came from the last call instead of a new one.
    pub fn cache_hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// How many times the Hessian function ran.
    pub fn hessian_calls(&self) -> u64 {
        self.hessian_calls.load(Ordering::Relaxed)
    }

    /// Sets the three counters to zero and forgets the last point.
    pub fn reset(&self) {
        self.calls.store(0, Ordering::Relaxed);
        self.hits.store(0, Ordering::Relaxed);
        self.hessian_calls.store(0, Ordering::Relaxed);
        *lock(&self.last) = None;
    }
}

impl CostFunction for ArgminProblem {
    type Param = Vec<f64>;
    type Output = f64;

    /// The value at `param`, from one fused call (or the last one, at the same point).
    fn cost(&self, param: &Vec<f64>) -> Result<f64, ::argmin::core::Error> {
        self.value_and_gradient(param).map(|(f, _)| f).map_err(to_argmin)
    }
}

impl Gradient for ArgminProblem {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    /// The gradient at `param`, from one fused call (or the last one, at the same point).
    fn gradient(&self, param: &Vec<f64>) -> Result<Vec<f64>, ::argmin::core::Error> {
        self.value_and_gradient(param).map(|(_, g)| g).map_err(to_argmin)
    }
}

impl Hessian for ArgminProblem {
    type Param = Vec<f64>;
    type Hessian = Vec<Vec<f64>>;

    /// The Hessian at `param` as rows; an argmin `NotImplemented` error when the problem has
    /// no Hessian function.
    fn hessian(&self, param: &Vec<f64>) -> Result<Vec<Vec<f64>>, ::argmin::core::Error> {
        if self.hessian.is_none() {
            return Err(ArgminError::NotImplemented {
                text: "ArgminProblem: no Hessian function: add one with with_hessian".into(),
            }
            .into());
        }
        self.hessian_rows(param).map_err(to_argmin)
    }
}
