//! Linear algebra (API section 8): MATLAB's `mldivide`, `mrdivide`, `chol`, `linsolve`, `inv`,
//! `det`, plus `logdet` and `eig_symmetric`, as methods and free functions. Each applies one
//! `Op::Linalg` primitive (batched over leading axes, which broadcast as `matmul`'s do), with
//! layout ops around it.

use crate::array::{promote, Data};
use crate::error::{Error, Result};
use crate::ir::{broadcast_shapes, AxisSlice, LinalgOp, Op, Shape};
use crate::trace::{emit, DlArray};
use std::sync::Arc;

/// Which triangular factor [`chol_with`] returns.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Triangle {
    /// Upper `r` with `r' r = a`, from `a`'s upper triangle (MATLAB's default).
    #[default]
    Upper,
    /// Lower `l` with `l l' = a`, from `a`'s lower triangle.
    Lower,
}

/// MATLAB `linsolve`'s options (`Default`: all false).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LinsolveOptions {
    /// `a` is upper triangular: only its upper triangle is read.
    pub ut: bool,
    /// `a` is lower triangular: only its lower triangle is read.
    pub lt: bool,
    /// Solve `a' x = b` (the transpose is read in place, never copied).
    pub transa: bool,
}

/// The matrix transpose of the last two axes.
pub(crate) fn swap_last(x: &DlArray) -> DlArray {
    let n = x.ndim();
    if n < 2 {
        return x.clone();
    }
    let mut axes: Vec<usize> = (0..n).collect();
    axes.swap(n - 2, n - 1);
    x.permute(&axes)
}

/// An untraced constant `[n, n]` matrix of `like`'s dtype with entries `f(i, j)`.
pub(crate) fn constant_matrix(n: usize, like: &DlArray, f: impl Fn(usize, usize) -> f64) -> DlArray {
    let m = ndarray::Array2::from_shape_fn((n, n), |(i, j)| f(i, j)).into_dyn();
    DlArray::from_data(Arc::new(Data::F64(m))).cast(like.dtype())
}

/// The first error among `arrays`, as an array carrying it.
fn first_failed(arrays: &[&DlArray]) -> Option<DlArray> {
    arrays.iter().find(|a| a.is_failed()).map(|a| (*a).clone())
}

/// A single-operand primitive on a real `[.., n, n]` array.
fn unary(op: LinalgOp, a: &DlArray) -> DlArray {
    if a.is_failed() {
        return a.clone();
    }
    emit(Op::Linalg(op), &[a])
}

/// `op(a, b)` for a solve: one dtype, `b` a column when it is a vector, the leading axes
/// broadcast; `call` names the user's call in errors.
fn solve(op: LinalgOp, a: &DlArray, b: &DlArray, call: &str) -> DlArray {
    if let Some(f) = first_failed(&[a, b]) {
        return f;
    }
    let t = promote(a.dtype(), b.dtype());
    let (a, mut b) = (a.cast(t), b.cast(t));
    let vector = b.ndim() == 1;
    if a.ndim() < 2 || b.ndim() == 0 {
        return DlArray::failed(Error::shape(
            call,
            &[a.shape(), b.shape()],
            "needs a matrix a [.., m, n] and b [.., m, k]",
        ));
    }
    if vector {
        b = b.reshape(&[b.numel(), 1]);
    }
    let (ra, rb) = (a.ndim(), b.ndim());
    let Some(batch) = broadcast_shapes(&a.shape()[..ra - 2], &b.shape()[..rb - 2]) else {
        return DlArray::failed(Error::shape(call, &[a.shape(), b.shape()], "the batch axes do not broadcast"));
    };
    let mut sa = Shape::from_slice(&batch);
    sa.extend_from_slice(&a.shape()[ra - 2..]);
    let mut sb = Shape::from_slice(&batch);
    sb.extend_from_slice(&b.shape()[rb - 2..]);
    let rows = if matches!(op, LinalgOp::Solve { trans: true } | LinalgOp::TriSolve { trans: true, .. }) {
        sa[sa.len() - 1]
    } else {
        sa[sa.len() - 2]
    };
    if sb[sb.len() - 2] != rows {
        return DlArray::failed(Error::shape(
            call,
            &[a.shape(), b.shape()],
            "a and b must have the same number of rows",
        ));
    }
    let out = emit(Op::Linalg(op), &[&a.broadcast_to(&sa), &b.broadcast_to(&sb)]);
    if vector && !out.is_failed() {
        let mut shape = out.shape().to_vec();
        shape.pop();
        return out.reshape(&shape);
    }
    out
}

impl DlArray {
    /// MATLAB `a \ b` ([`mldivide`]).
    #[track_caller]
    pub fn mldivide(&self, b: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        solve(LinalgOp::Solve { trans: false }, self, b, "mldivide")
    }

    /// MATLAB `b / a` with `self` as `b` ([`mrdivide`]).
    #[track_caller]
    pub fn mrdivide(&self, a: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        if let Some(f) = first_failed(&[self, a]) {
            return f;
        }
        let fits = self.ndim() >= 1 && a.ndim() >= 2 && self.shape().last() == a.shape().last();
        if !fits {
            return DlArray::failed(Error::shape(
                "mrdivide",
                &[self.shape(), a.shape()],
                "needs b [.., p, n] and a [.., m, n] (as many columns)",
            ));
        }
        let b = if self.ndim() == 1 { self.reshape(&[1, self.numel()]) } else { self.clone() };
        let x = swap_last(&solve(LinalgOp::Solve { trans: true }, a, &swap_last(&b), "mrdivide"));
        if self.ndim() == 1 && !x.is_failed() {
            return x.reshape(&[x.numel()]);
        }
        x
    }

    /// MATLAB `chol`: the upper factor `r` with `r' r = self` ([`chol`]).
    #[track_caller]
    pub fn chol(&self) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        unary(LinalgOp::Chol { lower: false }, self)
    }

    /// MATLAB `chol(a, 'lower')` with [`Triangle::Lower`] ([`chol_with`]).
    #[track_caller]
    pub fn chol_with(&self, triangle: Triangle) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        unary(LinalgOp::Chol { lower: triangle == Triangle::Lower }, self)
    }

    /// MATLAB `linsolve(a, b, opts)` with `self` as `a` ([`linsolve`]).
    #[track_caller]
    pub fn linsolve(&self, b: &DlArray, opts: LinsolveOptions) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        let op = match (opts.ut, opts.lt) {
            (true, true) => {
                return DlArray::failed(Error::argument("linsolve", "the options ut and lt exclude each other"))
            }
            (false, false) => LinalgOp::Solve { trans: opts.transa },
            (_, lower) => LinalgOp::TriSolve { lower, trans: opts.transa, triangular_rhs: false },
        };
        solve(op, self, b, "linsolve")
    }

    /// MATLAB `inv` ([`inv`]).
    #[track_caller]
    pub fn inv(&self) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        unary(LinalgOp::Inv, self)
    }

    /// MATLAB `det` ([`det`]).
    #[track_caller]
    pub fn det(&self) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        unary(LinalgOp::Det, self)
    }

    /// `log(abs(det(self)))` without overflow ([`logdet`]).
    #[track_caller]
    pub fn logdet(&self) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        unary(LinalgOp::LogDet, self)
    }

    /// The eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix
    /// ([`eig_symmetric`]).
    #[track_caller]
    pub fn eig_symmetric(&self) -> Result<(DlArray, DlArray)> {
        let _origin = crate::trace::current_origin::user_call();
        let packed = unary(LinalgOp::EigSym, self);
        packed.check()?;
        let shape = packed.shape().to_vec();
        let r = shape.len();
        let n = shape[r - 1];
        let mut rows: Vec<AxisSlice> = shape.iter().map(|&d| AxisSlice::full(d)).collect();
        rows[r - 2] = AxisSlice { start: 0, len: n, step: 1 };
        let vectors = emit(Op::Slice(rows.clone()), &[&packed]);
        rows[r - 2] = AxisSlice { start: n, len: 1, step: 1 };
        let mut value_shape = shape[..r - 2].to_vec();
        value_shape.push(n);
        let values = emit(Op::Slice(rows), &[&packed]).reshape(&value_shape);
        values.check()?;
        vectors.check()?;
        Ok((values, vectors))
    }
}

/// MATLAB `a \ b`: the solution of `a x = b` for square `a` (LU with partial pivoting; an
/// exactly singular `a` gives Inf/NaN, as MATLAB), the least-squares solution for a
/// non-square `a` (Householder QR; the minimum-norm one when `a` is wide). `b` may be a vector.
/// Batched over leading axes, which broadcast.
#[track_caller]
pub fn mldivide(a: &DlArray, b: &DlArray) -> DlArray {
    a.mldivide(b)
}

/// MATLAB `b / a`, the solution of `x a = b`: `(a' \ b')'`, with `a` read transposed in place.
#[track_caller]
pub fn mrdivide(b: &DlArray, a: &DlArray) -> DlArray {
    b.mrdivide(a)
}

/// MATLAB `chol(a)`: the upper Cholesky factor `r` (`r' r = a`) of a symmetric positive
/// definite `a`, which reads only `a`'s upper triangle. A matrix that is not positive definite
/// makes the result an error naming `chol` and its line (also inside compiled code).
#[track_caller]
pub fn chol(a: &DlArray) -> DlArray {
    a.chol()
}

/// MATLAB `chol(a, triangle)`: [`Triangle::Lower`] gives `l` with `l l' = a` from `a`'s lower
/// triangle.
#[track_caller]
pub fn chol_with(a: &DlArray, triangle: Triangle) -> DlArray {
    a.chol_with(triangle)
}

/// MATLAB `linsolve(a, b, opts)`: with `ut` or `lt` a triangular solve that reads only that
/// triangle of `a`; `transa` solves `a' x = b`; with neither triangle option, as [`mldivide`].
#[track_caller]
pub fn linsolve(a: &DlArray, b: &DlArray, opts: LinsolveOptions) -> DlArray {
    a.linsolve(b, opts)
}

/// MATLAB `inv(a)` (LU with partial pivoting; a singular `a` gives Inf/NaN).
#[track_caller]
pub fn inv(a: &DlArray) -> DlArray {
    a.inv()
}

/// MATLAB `det(a)`: `[.., n, n] -> [..]`.
#[track_caller]
pub fn det(a: &DlArray) -> DlArray {
    a.det()
}

/// `log(abs(det(a)))` from the LU factor's diagonal (no overflow), as numpy's `slogdet`'s
/// second output: `[.., n, n] -> [..]`.
#[track_caller]
pub fn logdet(a: &DlArray) -> DlArray {
    a.logdet()
}

/// The eigendecomposition of a symmetric `a` (its lower triangle is read): eigenvalues
/// ascending `[.., n]` and orthonormal eigenvectors as columns `[.., n, n]`, each eigenvector's
/// component of largest magnitude positive. Derivatives hold where the eigenvalues are
/// distinct (they divide by their differences).
#[track_caller]
pub fn eig_symmetric(a: &DlArray) -> Result<(DlArray, DlArray)> {
    a.eig_symmetric()
}
