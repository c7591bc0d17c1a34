//! The triangular kernels of the linear-algebra primitives: solves with a triangle (a full
//! right-hand side cut into column chunks run side by side, or a triangular one solved on
//! halves at a third of the work) and products that read and write only triangles (faer's).
//! Every split is decided by the shapes alone, so the bits do not depend on the number of
//! threads; the interpreter and compiled code both come here through `factor::one`.

use crate::array::Element;
use crate::ir::Part;
use faer::linalg::triangular_solve;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{MatMut, MatRef, Par};

/// The real element types the kernels run on (`f32`, `f64`).
pub(crate) trait Scalar: faer::traits::RealField + num_traits::Float + Element + Send + Sync {}
impl Scalar for f32 {}
impl Scalar for f64 {}

/// `t \ b` (or `t' \ b`) for the triangle `t` of `a`, into `out`, row-major: `b` is copied
/// there and solved in place, and `a` is read where it lies, through strides (its transpose
/// too), only its triangle. A `triangular_rhs` (square) is read as the triangle of `op(t)`
/// only, and so is the solution, zero elsewhere, at a third of the work
/// ([`solve_triangular_rhs`]).
pub(super) fn tri_solve<T: Scalar>(
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    (lower, trans, triangular_rhs): (bool, bool, bool),
    out: &mut [T],
    par: Par,
) {
    // The triangle of `op(a)` that the solve reads: op(tril(a)) is lower unless transposed.
    let view = if trans { a.transpose() } else { a };
    let lower = lower != trans;
    let mut x = MatMut::from_row_major_slice_mut(out, b.nrows(), b.ncols());
    if !triangular_rhs {
        x.copy_from(b);
        return solve_in_place(view, lower, x, par);
    }
    x.fill(T::zero());
    if lower {
        x.copy_from_triangular_lower(b);
    } else {
        x.copy_from_triangular_upper(b);
    }
    solve_triangular_rhs(view, lower, x.rb_mut(), par);
    // The leaves solved the other triangle's zeros into zeros of either sign: it is +0.
    for i in 0..b.nrows() {
        for j in 0..b.ncols() {
            if (lower && j > i) || (!lower && j < i) {
                x[(i, j)] = T::zero();
            }
        }
    }
}

/// Right-hand-side columns solved together, on one thread: wider right-hand sides are cut
/// into chunks of this many columns, whatever the number of threads, so the bits do not
/// depend on it (faer's own threads gain nothing on a triangular solve on 2 cores; chunks
/// on both cores take 0.6x the time at order 500).
const SOLVE_COLUMNS: usize = 128;

/// `x <- op(t) \ x` in place for the lower (`lower`) or upper triangle of the view `t`, by
/// chunks of [`SOLVE_COLUMNS`] columns, run on rayon's pool when `par` is parallel.
fn solve_in_place<T: Scalar>(t: MatRef<'_, T>, lower: bool, x: MatMut<'_, T>, par: Par) {
    let k = x.ncols();
    if k <= SOLVE_COLUMNS {
        if lower {
            triangular_solve::solve_lower_triangular_in_place(t, x, Par::Seq);
        } else {
            triangular_solve::solve_upper_triangular_in_place(t, x, Par::Seq);
        }
        return;
    }
    let (left, right) = x.split_at_col_mut(k.div_ceil(SOLVE_COLUMNS) / 2 * SOLVE_COLUMNS);
    join(par, || solve_in_place(t, lower, left, par), || solve_in_place(t, lower, right, par));
}

/// `f()` and `g()`, side by side on rayon's pool when `par` is parallel.
fn join(par: Par, f: impl FnOnce() + Send, g: impl FnOnce() + Send) {
    if matches!(par, Par::Seq) {
        f();
        g();
    } else {
        rayon::join(f, g);
    }
}

/// Below this order, [`solve_triangular_rhs`] solves a triangular right-hand side as a full
/// one.
const TRIANGULAR_RHS_LEAF: usize = 64;

/// `x <- t \ x` in place for a triangular `x` of the triangle of `t` (lower when `lower`),
/// recursively on halves. For a lower one, `[l11 0; l21 l22] [x11 0; x21 x22] = [p11 0; p21
/// p22]`: `x11` and `x22` are the same problem again, side by side, and `x21` solves
/// `l22 x21 = p21 - l21 x11` (a product with a triangle, then a full right-hand side); the
/// upper case is its mirror. The halves are cut by order alone: the bits do not depend on the
/// number of threads.
fn solve_triangular_rhs<T: Scalar>(t: MatRef<'_, T>, lower: bool, x: MatMut<'_, T>, par: Par) {
    use faer::linalg::matmul::triangular::BlockStructure;
    let n = t.nrows();
    if n <= TRIANGULAR_RHS_LEAF {
        return solve_in_place(t, lower, x, Par::Seq);
    }
    let h = n / 2;
    let (t11, t12, t21, t22) = t.split_at(h, h);
    let (x11, x12, x21, x22) = x.split_at_mut(h, h);
    // Lower: x21 needs x11 first, x22 is independent; upper: x12 needs x22, x11 is not.
    let ((t_first, t_off, t_second), (x_first, x_off, x_second), structure) = if lower {
        ((t11, t21, t22), (x11, x21, x22), BlockStructure::TriangularLower)
    } else {
        ((t22, t12, t11), (x22, x12, x11), BlockStructure::TriangularUpper)
    };
    let dependent = move || {
        let (mut x_first, mut x_off) = (x_first, x_off);
        solve_triangular_rhs(t_first, lower, x_first.rb_mut(), par);
        subtract_product(x_off.rb_mut(), t_off, x_first.rb(), structure, par);
        solve_in_place(t_second, lower, x_off, par);
    };
    join(par, dependent, || solve_triangular_rhs(t_second, lower, x_second, par));
}

/// `x <- x - t y` for a full `t` and a triangular `y` (of the given structure).
fn subtract_product<T: Scalar>(
    x: MatMut<'_, T>,
    t: MatRef<'_, T>,
    y: MatRef<'_, T>,
    y_structure: faer::linalg::matmul::triangular::BlockStructure,
    par: Par,
) {
    use faer::linalg::matmul::triangular::{matmul, BlockStructure};
    let minus_one = T::zero() - T::one();
    matmul(
        x,
        BlockStructure::Rectangular,
        faer::Accum::Add,
        t,
        BlockStructure::Rectangular,
        y,
        y_structure,
        minus_one,
        par,
    );
}

/// `out_part(op(a_part(a)) @ op(b_part(b)))` into `out`, row-major, zero outside `out_part`:
/// faer's triangular product, which reads only the given parts of the operands (where they
/// lie, transposes as views) and computes only the given part of the result. Its recursion
/// splits by size alone, so the bits do not depend on the number of threads.
pub(super) fn tri_matmul<T: Scalar>(
    (a, pa, ta): (MatRef<'_, T>, Part, bool),
    (b, pb, tb): (MatRef<'_, T>, Part, bool),
    po: Part,
    out: &mut [T],
    par: Par,
) {
    use faer::linalg::matmul::triangular::{matmul, BlockStructure};
    // The structure of op(part(x)): a transposed lower triangle is an upper one.
    let structure = |p: Part, t: bool| match if t { p.transposed() } else { p } {
        Part::Full => BlockStructure::Rectangular,
        Part::Lower => BlockStructure::TriangularLower,
        Part::Upper => BlockStructure::TriangularUpper,
    };
    let (lhs, rhs) = (if ta { a.transpose() } else { a }, if tb { b.transpose() } else { b });
    let mut dst = MatMut::from_row_major_slice_mut(out, lhs.nrows(), rhs.ncols());
    dst.fill(T::zero());
    matmul(
        dst,
        structure(po, false),
        faer::Accum::Replace,
        lhs,
        structure(pa, ta),
        rhs,
        structure(pb, tb),
        T::one(),
        par,
    );
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::ir::LinalgOp;

    /// `op` (a triangular solve or product) on row-major `a` and `b` into `out`.
    fn one(op: LinalgOp, a: MatRef<'_, f64>, b: Option<MatRef<'_, f64>>, out: &mut [f64], par: Par) {
        let b = b.expect("a right-hand side");
        match op {
            LinalgOp::TriSolve { lower, trans, triangular_rhs } => {
                tri_solve(a, b, (lower, trans, triangular_rhs), out, par)
            }
            LinalgOp::TriMatmul { a: pa, ta, b: pb, tb, out: po } => tri_matmul((a, pa, ta), (b, pb, tb), po, out, par),
            _ => unreachable!("not a triangular kernel"),
        }
    }

    /// `len` reproducible values in `[-1, 1)`, plus `diag` on every `n + 1`-th (a diagonal).
    pub(in crate::interp) fn values(len: usize, seed: u64, n: usize, diag: f64) -> Vec<f64> {
        let mut s = seed;
        (0..len)
            .map(|i| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let v = (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                if n > 0 && i % (n + 1) == 0 {
                    v + diag
                } else {
                    v
                }
            })
            .collect()
    }

    #[test]
    fn a_triangular_right_hand_side_gives_the_full_solve_of_its_triangle() {
        for n in [3, 64, 65, 150] {
            let a = values(n * n, 17 + n as u64, n, n as f64);
            let b = values(n * n, 19 + n as u64, 0, 0.0);
            for (lower, trans) in [(true, false), (true, true), (false, false), (false, true)] {
                // The triangle of op(t), which b is read as and the solution is.
                let tri = Part::from_lower(lower != trans);
                let masked: Vec<f64> = (0..n * n).map(|e| if tri.holds(e / n, e % n) { b[e] } else { 0.0 }).collect();
                let hidden: Vec<f64> =
                    (0..n * n).map(|e| if tri.holds(e / n, e % n) { b[e] } else { f64::NAN }).collect();
                let solve = |triangular_rhs: bool, rhs: &[f64]| {
                    let mut out = vec![f64::NAN; n * n];
                    let op = LinalgOp::TriSolve { lower, trans, triangular_rhs };
                    let (am, bm) = (MatRef::from_row_major_slice(&a, n, n), MatRef::from_row_major_slice(rhs, n, n));
                    one(op, am, Some(bm), &mut out, Par::Seq);
                    out
                };
                let (want, got) = (solve(false, &masked), solve(true, &hidden));
                for e in 0..n * n {
                    if tri.holds(e / n, e % n) {
                        assert!(
                            (got[e] - want[e]).abs() <= 1e-13 * want[e].abs().max(1.0),
                            "n={n} {e}: {} vs {}",
                            got[e],
                            want[e]
                        );
                    } else {
                        assert_eq!(got[e].to_bits(), 0, "n={n} {e}: the other triangle is +0");
                    }
                }
            }
        }
    }

    /// The bits of `op` on the row-major `[n, n]` matrices `a` and `b` with parallelism `par`.
    fn bits(op: LinalgOp, (a, b): (&[f64], &[f64]), n: usize, par: Par) -> Vec<u64> {
        let mut out = vec![0.0; n * n];
        one(op, MatRef::from_row_major_slice(a, n, n), Some(MatRef::from_row_major_slice(b, n, n)), &mut out, par);
        out.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn triangular_kernels_give_the_same_bits_on_any_number_of_threads() {
        // Wide enough to be cut into column chunks, deep enough to recurse on halves, large
        // enough for faer to split a product among threads.
        let n = 300;
        let (a, b) = (values(n * n, 29, n, n as f64), values(n * n, 31, 0, 0.0));
        let solves = [(true, true, true), (false, false, true), (true, false, false), (false, true, false)]
            .map(|(lower, trans, triangular_rhs)| LinalgOp::TriSolve { lower, trans, triangular_rhs });
        let products = [
            (Part::Lower, true, Part::Lower, false, Part::Lower),
            (Part::Upper, false, Part::Upper, true, Part::Lower),
            (Part::Full, false, Part::Lower, true, Part::Full),
        ]
        .map(|(a, ta, b, tb, out)| LinalgOp::TriMatmul { a, ta, b, tb, out });
        for op in solves.into_iter().chain(products) {
            assert_eq!(bits(op, (&a, &b), n, Par::Seq), bits(op, (&a, &b), n, Par::rayon(3)), "{op:?}");
        }
    }

    #[test]
    fn triangular_products_read_and_write_only_their_parts() {
        let parts = [Part::Full, Part::Lower, Part::Upper];
        for n in [5, 37, 90] {
            let (a, b) = (values(n * n, 3 + n as u64, 0, 0.0), values(n * n, 5 + n as u64, 0, 0.0));
            for (pa, pb, po) in parts.iter().flat_map(|&x| parts.iter().flat_map(move |&y| parts.map(|z| (x, y, z)))) {
                for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                    let op = LinalgOp::TriMatmul { a: pa, ta, b: pb, tb, out: po };
                    // What lies outside the parts read is NaN: reading it would show.
                    let hide = |x: &[f64], p: Part| -> Vec<f64> {
                        (0..n * n).map(|e| if p.holds(e / n, e % n) { x[e] } else { f64::NAN }).collect()
                    };
                    let (ah, bh) = (hide(&a, pa), hide(&b, pb));
                    let at = |x: &[f64], p: Part, t: bool, i: usize, j: usize| {
                        let (r, c) = if t { (j, i) } else { (i, j) };
                        if p.holds(r, c) {
                            x[r * n + c]
                        } else {
                            0.0
                        }
                    };
                    let seq = bits(op, (&ah, &bh), n, Par::Seq);
                    for (e, got) in seq.iter().map(|&v| f64::from_bits(v)).enumerate() {
                        let (i, j) = (e / n, e % n);
                        let want: f64 = if po.holds(i, j) {
                            (0..n).map(|k| at(&a, pa, ta, i, k) * at(&b, pb, tb, k, j)).sum()
                        } else {
                            0.0
                        };
                        assert!((got - want).abs() <= 1e-12 * n as f64, "{op:?} n={n} ({i}, {j}): {got} vs {want}");
                    }
                    assert_eq!(bits(op, (&ah, &bh), n, Par::rayon(3)), seq, "{op:?} n={n}");
                }
            }
        }
    }
}
