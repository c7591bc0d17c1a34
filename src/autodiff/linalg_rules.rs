//! The VJP rules of the linear-algebra primitives (`Op::Linalg`), written with the same
//! user-facing ops (solves, products, transposes, constant masks), so their derivatives are
//! differentiable again and forward mode comes by transposition.
//!
//! Conventions: a rule of a primitive that reads one triangle of a symmetric operand (`chol`,
//! `eig_symmetric`) returns the symmetric cotangent (the one of `(a + a') / 2`), as JAX does;
//! `eig_symmetric`'s rule divides by the differences of the eigenvalues and holds only where
//! they are distinct.

use crate::error::Result;
use crate::ir::{AxisSlice, LinalgOp, Op};
use crate::ops::{constant_matrix, swap_last};
use crate::trace::{emit, DlArray};

/// `op(a, b)` as a primitive node.
fn lin(op: LinalgOp, a: &DlArray, b: &DlArray) -> DlArray {
    emit(Op::Linalg(op), &[a, b])
}

/// `x [..]` as `[.., 1, 1]`.
fn as_matrix(x: &DlArray) -> DlArray {
    let mut shape = x.shape().to_vec();
    shape.extend([1, 1]);
    x.reshape(&shape)
}

/// `(x + x') / 2`.
fn symmetrize(x: &DlArray) -> DlArray {
    (x + swap_last(x)) * 0.5
}

/// The order of the square matrices of `a [.., n, n]`.
fn order(a: &DlArray) -> usize {
    a.shape()[a.ndim() - 1]
}

/// The cotangents of the operands `x` of `op` with value `y` and cotangent `ct`.
pub(crate) fn linalg_vjp(
    op: LinalgOp,
    x: &[DlArray],
    y: &DlArray,
    ct: &DlArray,
    wants: &[bool],
) -> Result<Vec<Option<DlArray>>> {
    let a = &x[0];
    Ok(match op {
        LinalgOp::Solve { trans } => solve_vjp(trans, a, &x[1], y, ct, wants),
        LinalgOp::TriSolve { lower, trans } => {
            let gb = lin(LinalgOp::TriSolve { lower, trans: !trans }, a, ct);
            let n = order(a);
            let mask = constant_matrix(n, a, |i, j| f64::from(u8::from(if lower { j <= i } else { j >= i })));
            let ga = wants[0].then(|| {
                let g = if trans { -y.matmul(&swap_last(&gb)) } else { -gb.matmul(&swap_last(y)) };
                g * mask
            });
            vec![ga, wants[1].then_some(gb)]
        }
        LinalgOp::Chol { lower } => vec![Some(chol_vjp(lower, y, ct))],
        LinalgOp::Inv => {
            let yt = swap_last(y);
            vec![Some(-(yt.matmul(ct).matmul(&yt)))]
        }
        LinalgOp::Det => {
            let inv_t = swap_last(&emit(Op::Linalg(LinalgOp::Inv), &[a]));
            vec![Some(as_matrix(&(ct * y)) * inv_t)]
        }
        LinalgOp::LogDet => {
            let inv_t = swap_last(&emit(Op::Linalg(LinalgOp::Inv), &[a]));
            vec![Some(as_matrix(ct) * inv_t)]
        }
        LinalgOp::EigSym => vec![Some(eig_vjp(y, ct))],
    })
}

/// The rule of `solve(a, b)` (`a' \ b` when `trans`) with value `x`: for a square matrix
/// `gb = a' \ g`, `ga = -gb x'`; for a tall one (least squares) `z = (a'a) \ g`, `gb = a z`,
/// `ga = r z' - gb x'` with the residual `r = b - a x`; for a wide one (minimum norm)
/// `w = (a a') \ b`, `u = (a a') \ (a g)`, `gb = u`, `ga = w (g - a'u)' - u x'`. The rules of
/// the transposed solve are the transposes.
fn solve_vjp(trans: bool, a: &DlArray, b: &DlArray, x: &DlArray, g: &DlArray, wants: &[bool]) -> Vec<Option<DlArray>> {
    let r = a.ndim();
    let (m, n) = if trans { (a.shape()[r - 1], a.shape()[r - 2]) } else { (a.shape()[r - 2], a.shape()[r - 1]) };
    let (gb, ga) = if m == n {
        let gb = lin(LinalgOp::Solve { trans: !trans }, a, g);
        let ga = wants[0].then(|| if trans { -x.matmul(&swap_last(&gb)) } else { -gb.matmul(&swap_last(x)) });
        (gb, ga)
    } else {
        let ae = if trans { swap_last(a) } else { a.clone() };
        let aet = swap_last(&ae);
        let square = LinalgOp::Solve { trans: false };
        let (gb, ga_eff) = if m > n {
            let z = lin(square, &aet.matmul(&ae), g);
            let gb = ae.matmul(&z);
            let resid = b - ae.matmul(x);
            let ga = resid.matmul(&swap_last(&z)) - gb.matmul(&swap_last(x));
            (gb, ga)
        } else {
            let gram = ae.matmul(&aet);
            let w = lin(square, &gram, b);
            let u = lin(square, &gram, &ae.matmul(g));
            let ga = w.matmul(&swap_last(&(g - aet.matmul(&u)))) - u.matmul(&swap_last(x));
            (u, ga)
        };
        (gb, wants[0].then(|| if trans { swap_last(&ga_eff) } else { ga_eff }))
    };
    vec![ga, wants[1].then_some(gb)]
}

/// `l^-1 rhs` (or `l^-T rhs` when `transposed`) for the lower factor `l` of a Cholesky value
/// `f` stored lower (or upper, `l = f'`), by one triangular solve reading `f` in place.
fn factor_solve(f: &DlArray, stored_lower: bool, transposed: bool, rhs: &DlArray) -> DlArray {
    lin(LinalgOp::TriSolve { lower: stored_lower, trans: transposed == stored_lower }, f, rhs)
}

/// The rule of `chol` (Murray 2016, as JAX's): with `l` the lower factor and `gl` its
/// cotangent, `p = phi(l' gl)` (the lower triangle, the diagonal halved), `s = l^-T p l^-1`,
/// and the cotangent of `a` is `(s + s') / 2`.
fn chol_vjp(lower: bool, f: &DlArray, ct: &DlArray) -> DlArray {
    let n = order(f);
    // l' gl: for an upper value r = l', that is r ct'.
    let product = if lower { swap_last(f).matmul(ct) } else { f.matmul(&swap_last(ct)) };
    let phi = constant_matrix(n, f, |i, j| match i.cmp(&j) {
        std::cmp::Ordering::Greater => 1.0,
        std::cmp::Ordering::Equal => 0.5,
        std::cmp::Ordering::Less => 0.0,
    });
    let p = product * phi;
    let left = factor_solve(f, lower, true, &p);
    let s = swap_last(&factor_solve(f, lower, true, &swap_last(&left)));
    symmetrize(&s)
}

/// The rule of the packed eigendecomposition `y = [v; l']` with cotangent `[gv; gl']`:
/// `ga = v (diag(gl) + f * (v' gv)) v'` with `f[i, j] = 1 / (l[j] - l[i])` off the diagonal
/// and 0 on it (distinct eigenvalues), symmetrized.
fn eig_vjp(y: &DlArray, ct: &DlArray) -> DlArray {
    let shape = y.shape().to_vec();
    let r = shape.len();
    let n = shape[r - 1];
    let rows = |start: usize, len: usize, x: &DlArray| {
        let mut s: Vec<AxisSlice> = shape.iter().map(|&d| AxisSlice::full(d)).collect();
        s[r - 2] = AxisSlice { start, len, step: 1 };
        emit(Op::Slice(s), &[x])
    };
    let (v, l) = (rows(0, n, y), rows(n, 1, y));
    let (gv, gl) = (rows(0, n, ct), rows(n, 1, ct));
    let eye = constant_matrix(n, y, |i, j| f64::from(u8::from(i == j)));
    let off = constant_matrix(n, y, |i, j| f64::from(u8::from(i != j)));
    // l is [.., 1, n]: l[j] - l[i] is l - l' (broadcast), kept away from 0 on the diagonal.
    let f = off / (&l - swap_last(&l) + &eye);
    let inner = gl * &eye + f * swap_last(&v).matmul(&gv);
    symmetrize(&v.matmul(&inner).matmul(&swap_last(&v)))
}
