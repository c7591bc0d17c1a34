//! The VJP rules of the linear-algebra primitives (`Op::Linalg`), written with the same
//! user-facing ops (solves, products, transposes, constant masks), so their derivatives are
//! differentiable again and forward mode comes by transposition.
//!
//! Conventions: a rule of a primitive that reads one triangle of a symmetric operand (`chol`,
//! `eig_symmetric`) returns the symmetric cotangent (the one of `(a + a') / 2`), as JAX does;
//! `eig_symmetric`'s rule divides by the differences of the eigenvalues and holds only where
//! they are distinct. The rule of the triangular product (`trimatmul`) is two triangular
//! products, so every order of derivative stays in the family.

use crate::error::Result;
use crate::ir::{AxisSlice, LinalgOp, Op, Part};
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
        LinalgOp::TriSolve { lower, trans, triangular_rhs } => {
            let n = order(a);
            let triangle = |lower: bool| {
                let part = Part::from_lower(lower);
                constant_matrix(n, a, move |i, j| f64::from(u8::from(part.holds(i, j))))
            };
            let gb = lin(LinalgOp::TriSolve { lower, trans: !trans, triangular_rhs: false }, a, ct);
            let ga = wants[0].then(|| {
                let g = if trans { -y.matmul(&swap_last(&gb)) } else { -gb.matmul(&swap_last(y)) };
                g * triangle(lower)
            });
            // With a triangular right-hand side only that triangle (of op(t)) of b is read. The
            // other triangle of the cotangent needs no mask: op(t)^-T is of the other shape, so
            // it reaches neither that triangle of gb nor the triangle of t in ga.
            let gb = if triangular_rhs { gb * triangle(lower != trans) } else { gb };
            vec![ga, wants[1].then_some(gb)]
        }
        LinalgOp::Chol { lower } => vec![Some(chol_vjp(lower, y, ct))],
        LinalgOp::TriMatmul { a: pa, ta, b: pb, tb, out: po } => {
            let b = &x[1];
            let ga = wants[0].then(|| {
                let op = |a: (Part, bool), b: (Part, bool)| tri_matmul(a, b, pa);
                if ta {
                    lin(op((pb, tb), (po, true)), b, ct)
                } else {
                    lin(op((po, false), (pb, !tb)), ct, b)
                }
            });
            let gb = wants[1].then(|| {
                let op = |a: (Part, bool), b: (Part, bool)| tri_matmul(a, b, pb);
                if tb {
                    lin(op((po, true), (pa, ta)), ct, a)
                } else {
                    lin(op((pa, !ta), (po, false)), a, ct)
                }
            });
            vec![ga, gb]
        }
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

/// The triangular product reading `a` and `b` by (part, transposed) and writing `out`.
fn tri_matmul((a, ta): (Part, bool), (b, tb): (Part, bool), out: Part) -> LinalgOp {
    LinalgOp::TriMatmul { a, ta, b, tb, out }
}

/// `l^-1 rhs` (or `l^-T rhs` when `transposed`) for the lower factor `l` of a Cholesky value
/// `f` stored lower (or upper, `l = f'`), by one triangular solve reading `f` in place; a
/// `triangular_rhs` is read as the triangle of `l^-1` (lower) or `l^-T` (upper) only.
fn factor_solve(f: &DlArray, stored_lower: bool, transposed: bool, triangular_rhs: bool, rhs: &DlArray) -> DlArray {
    lin(LinalgOp::TriSolve { lower: stored_lower, trans: transposed == stored_lower, triangular_rhs }, f, rhs)
}

/// The rule of `chol` (Murray 2016, as JAX's): with `l` the lower factor and `gl` its
/// cotangent, `p = phi(l' gl)` (the lower triangle, the diagonal halved), `s = l^-T p l^-1`,
/// and the cotangent of `a` is `(s + s') / 2`. Triangles are kept where they are: `p'`
/// (upper) is one triangular product (a sixth of the multiply-adds of the full `l' gl`), and
/// `(p l^-1)' = l^-T p'` is upper too, a solve with a triangular right-hand side (a third of
/// the work); only `s = l^-T (p l^-1)` is a full solve.
fn chol_vjp(lower: bool, f: &DlArray, ct: &DlArray) -> DlArray {
    let n = order(f);
    // p' = (l' gl)' = gl' l, which reads only the lower triangle of gl; for an upper value
    // r = l' (so gl = ct'), it is ct r', reading the upper triangle of ct.
    let product_t = if lower {
        lin(tri_matmul((Part::Lower, true), (Part::Lower, false), Part::Upper), ct, f)
    } else {
        lin(tri_matmul((Part::Upper, false), (Part::Upper, true), Part::Upper), ct, f)
    };
    let phi_t = constant_matrix(n, f, |i, j| match i.cmp(&j) {
        std::cmp::Ordering::Less => 1.0,
        std::cmp::Ordering::Equal => 0.5,
        std::cmp::Ordering::Greater => 0.0,
    });
    let p_t = product_t * phi_t;
    let m_t = factor_solve(f, lower, true, true, &p_t);
    let s = factor_solve(f, lower, true, false, &swap_last(&m_t));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{dlfeval, dlgradient};

    /// `n * n` reproducible values in `[-1, 1)`.
    fn matrix(n: usize, seed: u64) -> DlArray {
        let mut s = seed;
        let v: Vec<f64> = (0..n * n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect();
        DlArray::from(ndarray::Array2::from_shape_vec((n, n), v).expect("shape").into_dyn())
    }

    #[test]
    fn the_rule_of_a_solve_with_a_triangular_right_hand_side_matches_finite_differences() {
        let n = 5;
        let eye = DlArray::from(ndarray::Array2::<f64>::eye(n).into_dyn());
        let a = matrix(n, 6) + &eye * 4.0;
        let (b, ct, da, db) = (matrix(n, 7), matrix(n, 8), matrix(n, 9), matrix(n, 10));
        for (lower, trans) in [(true, false), (true, true), (false, false), (false, true)] {
            let op = LinalgOp::TriSolve { lower, trans, triangular_rhs: true };
            let value = |a: &DlArray, b: &DlArray| {
                dlfeval(|(a, b): (DlArray, DlArray)| Ok((lin(op, &a, &b) * &ct).sum_all()), (a.clone(), b.clone()))
                    .unwrap()
                    .to_scalar::<f64>()
                    .unwrap()
            };
            let (ga, gb) = dlfeval(
                |(a, b): (DlArray, DlArray)| dlgradient(&(lin(op, &a, &b) * &ct).sum_all(), (&a, &b)),
                (a.clone(), b.clone()),
            )
            .unwrap();
            let dot = |x: &DlArray, y: &DlArray| (x * y).sum_all().to_scalar::<f64>().unwrap();
            // Linear in b: the adjoint identity holds to rounding.
            let (lhs, rhs) = (value(&a, &db), dot(&gb, &db));
            assert!((lhs - rhs).abs() <= 1e-12 * lhs.abs().max(1.0), "{op:?} b: {lhs} vs {rhs}");
            // In a: central differences.
            let h = 1e-6;
            let fd = (value(&(&a + &da * h), &b) - value(&(&a - &da * h), &b)) / (2.0 * h);
            let rhs = dot(&ga, &da);
            assert!((fd - rhs).abs() <= 1e-7 * rhs.abs().max(1.0), "{op:?} a: {fd} vs {rhs}");
        }
    }

    #[test]
    fn the_triangular_product_rule_is_its_adjoint() {
        // The product is bilinear, so its derivative along (da, db) is f(da, b) + f(a, db)
        // exactly, and the rule must satisfy <ct, f(da, b) + f(a, db)> = <ga, da> + <gb, db>.
        let parts = [Part::Full, Part::Lower, Part::Upper];
        let n = 6;
        let (a, b, ct, da, db) = (matrix(n, 1), matrix(n, 2), matrix(n, 3), matrix(n, 4), matrix(n, 5));
        for (pa, pb, po) in parts.iter().flat_map(|&x| parts.iter().flat_map(move |&y| parts.map(|z| (x, y, z)))) {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let op = LinalgOp::TriMatmul { a: pa, ta, b: pb, tb, out: po };
                let (lhs, rhs) = dlfeval(
                    |(a, b): (DlArray, DlArray)| {
                        let y = lin(op, &a, &b);
                        let (ga, gb) = dlgradient(&(y * &ct).sum_all(), (&a, &b))?;
                        let lhs = ((lin(op, &da, &b) + lin(op, &a, &db)) * &ct).sum_all();
                        Ok((lhs, (ga * &da).sum_all() + (gb * &db).sum_all()))
                    },
                    (a.clone(), b.clone()),
                )
                .unwrap();
                let (lhs, rhs) = (lhs.to_scalar::<f64>().unwrap(), rhs.to_scalar::<f64>().unwrap());
                assert!((lhs - rhs).abs() <= 1e-12 * lhs.abs().max(1.0), "{op:?}: {lhs} vs {rhs}");
            }
        }
    }
}
