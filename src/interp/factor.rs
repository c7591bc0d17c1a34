//! One matrix of a linear-algebra primitive (`ir::LinalgOp`) on faer's routines: LU with
//! partial pivoting (solves, `inv`, `det`, `logdet`), Householder QR (least squares),
//! Cholesky, triangular solves and the symmetric eigendecomposition.
//!
//! Solves read their matrices where they lie, through strides (a transposed operand as a view,
//! a triangular one by its triangle only), and solve the right-hand sides in place in the
//! result: `linsolve(r', linsolve(r, y))` copies no matrix. The factorizations, which overwrite
//! their matrix, factor a copy in their own workspace ([`Workspace`]). faer picks its kernels by
//! shape and strides, never by address, so the bits depend only on the values and the layout:
//! the interpreter and compiled code, which both call [`one`] on row-major buffers, agree bit
//! for bit (a test below moves every operand and result through all alignments).
//!
//! Square solves and inverses of order at most [`SMALL`] (the 3x3 systems of a bundle
//! adjustment, by the ten thousand) skip faer's set-up, which costs more than their arithmetic:
//! the same algorithm, Gaussian elimination with partial pivoting (the first row of largest
//! magnitude as pivot, as faer's LU), written out on a stack array ([`small_solve`]).

use super::triangular;
use crate::error::{Error, Result};
use crate::ir::LinalgOp;
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::{cholesky, evd, householder, lu, qr, triangular_solve};
use faer::reborrow::ReborrowMut;
use faer::{Conj, Mat, MatMut, MatRef, Par};

pub(crate) use super::triangular::Scalar;

/// The memory one thread's kernels reuse from matrix to matrix of a batch.
pub(crate) struct Workspace<T: Scalar> {
    /// The factored matrix.
    f: Mat<T>,
    /// The right-hand sides, overwritten by the solution.
    rhs: Mat<T>,
    /// Row permutation and its inverse.
    perm: Vec<usize>,
    perm_inv: Vec<usize>,
    /// faer's scratch memory, and the request it was made for.
    mem: MemBuffer,
    mem_req: StackReq,
}

impl<T: Scalar> Workspace<T> {
    /// An empty workspace (it grows on first use).
    pub(crate) fn new() -> Self {
        Workspace {
            f: Mat::zeros(0, 0),
            rhs: Mat::zeros(0, 0),
            perm: Vec::new(),
            perm_inv: Vec::new(),
            mem: MemBuffer::new(StackReq::EMPTY),
            mem_req: StackReq::EMPTY,
        }
    }

    /// The scratch memory, grown to `req`.
    fn stack(&mut self, req: StackReq) -> &mut MemStack {
        if self.mem_req.or(req) != self.mem_req {
            self.mem_req = self.mem_req.or(req);
            self.mem = MemBuffer::new(self.mem_req);
        }
        MemStack::new(&mut self.mem)
    }
}

/// Square systems of at most this order are solved by [`small_solve`].
const SMALL: usize = 4;

/// `a \ b` for a square `a` of order at most [`SMALL`] by Gaussian elimination with partial
/// pivoting, into `out` (`[n, k]` row-major). A zero pivot gives the Inf/NaN of the division.
fn small_solve<T: Scalar>(a: MatRef<'_, T>, b: MatRef<'_, T>, out: &mut [T]) {
    let (n, k) = (a.nrows(), b.ncols());
    let mut m = [[T::zero(); SMALL]; SMALL];
    for i in 0..n {
        for j in 0..n {
            m[i][j] = a[(i, j)];
        }
        for j in 0..k {
            out[i * k + j] = b[(i, j)];
        }
    }
    let abs = num_traits::Float::abs;
    for c in 0..n {
        let mut p = c;
        for r in c + 1..n {
            if abs(m[r][c]) > abs(m[p][c]) {
                p = r;
            }
        }
        if p != c {
            m.swap(p, c);
            for j in 0..k {
                out.swap(p * k + j, c * k + j);
            }
        }
        let inv = T::one() / m[c][c];
        let pivot = m[c];
        for r in c + 1..n {
            let f = m[r][c] * inv;
            for (v, &p) in m[r].iter_mut().zip(&pivot).take(n).skip(c + 1) {
                *v = *v - f * p;
            }
            for j in 0..k {
                out[r * k + j] = out[r * k + j] - f * out[c * k + j];
            }
        }
    }
    for i in (0..n).rev() {
        for j in 0..k {
            let mut v = out[i * k + j];
            for q in i + 1..n {
                v = v - m[i][q] * out[q * k + j];
            }
            out[i * k + j] = v / m[i][i];
        }
    }
}

/// Resizes `m` to `rows x cols` (contents unspecified).
fn shape<T: Scalar>(m: &mut Mat<T>, rows: usize, cols: usize) {
    if m.nrows() != rows || m.ncols() != cols {
        m.resize_with(rows, cols, |_, _| T::zero());
    }
}

/// Computes `op` on one problem: `a` (and `b` for the solves) as views, into `out`, the
/// result's row-major elements. `par` parallelizes inside the matrix.
pub(crate) fn one<T: Scalar>(
    op: LinalgOp,
    a: MatRef<'_, T>,
    b: Option<MatRef<'_, T>>,
    out: &mut [T],
    ws: &mut Workspace<T>,
    par: Par,
) -> Result<()> {
    let need_b = || b.ok_or_else(|| Error::argument(op.name(), "missing right-hand side"));
    match op {
        LinalgOp::Solve { trans } => {
            let a = if trans { a.transpose() } else { a };
            if a.nrows() == a.ncols() && a.nrows() <= SMALL {
                small_solve(a, need_b()?, out);
                return Ok(());
            }
            if a.nrows() == a.ncols() {
                lu_solve(a, need_b()?, out, ws, par);
            } else {
                least_squares(a, need_b()?, ws, par);
                write_rhs(ws, a.ncols(), out);
            }
        }
        LinalgOp::TriSolve { lower, trans, triangular_rhs } => {
            triangular::tri_solve(a, need_b()?, (lower, trans, triangular_rhs), out, par)
        }
        LinalgOp::TriMatmul { a: pa, ta, b: pb, tb, out: po } => {
            triangular::tri_matmul((a, pa, ta), (need_b()?, pb, tb), po, out, par)
        }
        LinalgOp::Chol { lower } => chol(a, lower, out, ws, par)?,
        LinalgOp::Inv if a.nrows() <= SMALL => {
            let mut eye = [T::zero(); SMALL * SMALL];
            let n = a.nrows();
            for i in 0..n {
                eye[i * n + i] = T::one();
            }
            small_solve(a, MatRef::from_row_major_slice(&eye[..n * n], n, n), out);
        }
        LinalgOp::Inv => {
            let n = a.nrows();
            let mut x = MatMut::from_row_major_slice_mut(out, n, n);
            x.fill(T::zero());
            x.rb_mut().diagonal_mut().fill(T::one());
            lu_factor(a, ws, par);
            lu_apply(ws, x, par);
        }
        LinalgOp::Det | LinalgOp::LogDet => {
            let swaps = lu_factor(a, ws, par);
            let diag = ws.f.diagonal();
            let d = diag.column_vector();
            out[0] = if op == LinalgOp::Det {
                let sign = if swaps % 2 == 1 { -T::one() } else { T::one() };
                d.iter().fold(sign, |acc, &x| acc * x)
            } else {
                d.iter().fold(T::zero(), |acc, &x| acc + num_traits::Float::ln(num_traits::Float::abs(x)))
            };
        }
        LinalgOp::EigSym => eig_symmetric(a, out, ws, par),
    }
    Ok(())
}

/// Copies the first `rows` rows of the solution in `ws.rhs` into `out`, row-major.
fn write_rhs<T: Scalar>(ws: &Workspace<T>, rows: usize, out: &mut [T]) {
    let k = ws.rhs.ncols();
    for i in 0..rows {
        for j in 0..k {
            out[i * k + j] = ws.rhs[(i, j)];
        }
    }
}

/// LU with partial pivoting of the square `a` into `ws.f` and `ws.perm`; the number of row
/// transpositions.
fn lu_factor<T: Scalar>(a: MatRef<'_, T>, ws: &mut Workspace<T>, par: Par) -> usize {
    let n = a.nrows();
    shape(&mut ws.f, n, n);
    ws.f.copy_from(a);
    ws.perm.resize(n, 0);
    ws.perm_inv.resize(n, 0);
    let req = lu::partial_pivoting::factor::lu_in_place_scratch::<usize, T>(n, n, par, Default::default());
    let mut f = std::mem::replace(&mut ws.f, Mat::zeros(0, 0));
    let (mut perm, mut perm_inv) = (std::mem::take(&mut ws.perm), std::mem::take(&mut ws.perm_inv));
    let (info, _) = lu::partial_pivoting::factor::lu_in_place(
        f.as_mut(),
        &mut perm,
        &mut perm_inv,
        par,
        ws.stack(req),
        Default::default(),
    );
    (ws.f, ws.perm, ws.perm_inv) = (f, perm, perm_inv);
    info.transposition_count
}

/// Solves with the LU factor in `ws` for the right-hand sides in `x`, in place. A zero pivot
/// gives the Inf/NaN of the divisions by it.
fn lu_apply<T: Scalar>(ws: &mut Workspace<T>, x: MatMut<'_, T>, par: Par) {
    let n = ws.f.nrows();
    let req = lu::partial_pivoting::solve::solve_in_place_scratch::<usize, T>(n, x.ncols(), par);
    let f = std::mem::replace(&mut ws.f, Mat::zeros(0, 0));
    let (perm, perm_inv) = (std::mem::take(&mut ws.perm), std::mem::take(&mut ws.perm_inv));
    {
        // SAFETY: `perm` and `perm_inv` are the inverse permutations `lu_in_place` returned.
        let p = unsafe { faer::perm::PermRef::new_unchecked(&perm, &perm_inv, n) };
        lu::partial_pivoting::solve::solve_in_place(f.as_ref(), f.as_ref(), p, x, par, ws.stack(req));
    }
    (ws.f, ws.perm, ws.perm_inv) = (f, perm, perm_inv);
}

/// `a \ b` for a square `a` (LU with partial pivoting) into `out`, row-major: `b` is copied
/// there and solved in place.
fn lu_solve<T: Scalar>(a: MatRef<'_, T>, b: MatRef<'_, T>, out: &mut [T], ws: &mut Workspace<T>, par: Par) {
    lu_factor(a, ws, par);
    let mut x = MatMut::from_row_major_slice_mut(out, b.nrows(), b.ncols());
    x.copy_from(b);
    lu_apply(ws, x, par);
}

/// The least-squares solution of `a x = b` for a non-square `a` `[m, n]` (the minimum-norm
/// one when `m < n`) by Householder QR, into the first `n` rows of `ws.rhs`.
fn least_squares<T: Scalar>(a: MatRef<'_, T>, b: MatRef<'_, T>, ws: &mut Workspace<T>, par: Par) {
    let (m, n, k) = (a.nrows(), a.ncols(), b.ncols());
    // Factor the tall one of `a`, `a'`: `[p, q]` with `p > q`.
    let tall = if m > n { a } else { a.transpose() };
    let (p, q) = (tall.nrows(), tall.ncols());
    let mut basis = tall.to_owned();
    let bs = qr::no_pivoting::factor::recommended_blocksize::<T>(p, q);
    let mut coeff = Mat::<T>::zeros(bs, q);
    let req = StackReq::any_of(&[
        qr::no_pivoting::factor::qr_in_place_scratch::<T>(p, q, bs, par, Default::default()),
        householder::apply_block_householder_sequence_on_the_left_in_place_scratch::<T>(p, bs, k),
        householder::apply_block_householder_sequence_transpose_on_the_left_in_place_scratch::<T>(p, bs, k),
    ]);
    qr::no_pivoting::factor::qr_in_place(basis.as_mut(), coeff.as_mut(), par, ws.stack(req), Default::default());
    let mut r = Mat::<T>::zeros(q, q);
    r.copy_from_triangular_upper(basis.get(..q, ..q));
    for j in 0..q {
        basis[(j, j)] = T::one();
        for i in 0..j {
            basis[(i, j)] = T::zero();
        }
    }
    let mut rhs = Mat::<T>::zeros(p, k);
    if m > n {
        // x = R^-1 (Q' b)[..n]
        rhs.copy_from(b);
        householder::apply_block_householder_sequence_transpose_on_the_left_in_place_with_conj(
            basis.as_ref(),
            coeff.as_ref(),
            Conj::No,
            rhs.as_mut(),
            par,
            ws.stack(req),
        );
        triangular_solve::solve_upper_triangular_in_place(r.as_ref(), rhs.as_mut().subrows_mut(0, q), par);
    } else {
        // a' = Q R: x = Q [R'^-1 b; 0]
        rhs.as_mut().subrows_mut(0, q).copy_from(b);
        triangular_solve::solve_lower_triangular_in_place(r.as_ref().transpose(), rhs.as_mut().subrows_mut(0, q), par);
        householder::apply_block_householder_sequence_on_the_left_in_place_with_conj(
            basis.as_ref(),
            coeff.as_ref(),
            Conj::No,
            rhs.as_mut(),
            par,
            ws.stack(req),
        );
    }
    ws.rhs = rhs;
}

/// Cholesky factorizations of smaller order run on one thread: faer's parallel `llt` takes
/// 2x the time of its sequential one at order 500 on 2 cores, 1.08x at 1,000, and gains
/// nothing at 2,000.
const PARALLEL_CHOLESKY_ORDER: usize = 1536;

/// The Cholesky factor of `a` (lower `l`, `l l' = a`, from its lower triangle; or upper `r`,
/// `r' r = a`, from its upper triangle), into `out` with zeros in the other triangle.
fn chol<T: Scalar>(a: MatRef<'_, T>, lower: bool, out: &mut [T], ws: &mut Workspace<T>, par: Par) -> Result<()> {
    let n = a.nrows();
    let par = if n < PARALLEL_CHOLESKY_ORDER { Par::Seq } else { par };
    // Factored in place in `out`: the lower factor of the row-major `out` itself, or the upper
    // one as the lower factor of its transpose (the column-major view of the same buffer).
    let mut f = if lower {
        MatMut::from_row_major_slice_mut(out, n, n)
    } else {
        MatMut::from_column_major_slice_mut(out, n, n)
    };
    f.fill(T::zero());
    f.copy_from_triangular_lower(if lower { a } else { a.transpose() });
    let req = cholesky::llt::factor::cholesky_in_place_scratch::<T>(n, par, Default::default());
    let done = cholesky::llt::factor::cholesky_in_place(
        f.rb_mut(),
        Default::default(),
        par,
        ws.stack(req),
        Default::default(),
    );
    if done.is_err() {
        return Err(Error::argument(
            "chol",
            "the matrix is not positive definite (symmetric, with positive eigenvalues)",
        ));
    }
    // faer leaves its scratch in the strict upper triangle of `f`: the factor's zeros.
    for j in 1..n {
        f.rb_mut().col_mut(j).subrows_mut(0, j).fill(T::zero());
    }
    Ok(())
}

/// The eigendecomposition of the symmetric `a` (its lower triangle), packed into `out`
/// (`[n + 1, n]`: eigenvectors as columns, then the ascending eigenvalues), each eigenvector's
/// largest-magnitude component made positive.
fn eig_symmetric<T: Scalar>(a: MatRef<'_, T>, out: &mut [T], ws: &mut Workspace<T>, par: Par) {
    let n = a.nrows();
    shape(&mut ws.f, n, n);
    ws.f.copy_from_triangular_lower(a);
    shape(&mut ws.rhs, n, n);
    let mut values = faer::diag::Diag::<T>::zeros(n);
    let compute = evd::ComputeEigenvectors::Yes;
    let req = evd::self_adjoint_evd_scratch::<T>(n, compute, par, Default::default());
    let (f, mut u) = (std::mem::replace(&mut ws.f, Mat::zeros(0, 0)), std::mem::replace(&mut ws.rhs, Mat::zeros(0, 0)));
    let done =
        evd::self_adjoint_evd(f.as_ref(), values.as_mut(), Some(u.as_mut()), par, ws.stack(req), Default::default());
    if done.is_err() {
        values.as_mut().fill(T::nan());
        u.fill(T::nan());
    }
    for j in 0..n {
        let col = u.as_mut().col_mut(j);
        let mut best = 0;
        for i in 1..n {
            if num_traits::Float::abs(col[i]) > num_traits::Float::abs(col[best]) {
                best = i;
            }
        }
        if col[best] < T::zero() {
            for i in 0..n {
                u[(i, j)] = -u[(i, j)];
            }
        }
    }
    let mut out_m = MatMut::from_row_major_slice_mut(out, n + 1, n);
    out_m.rb_mut().subrows_mut(0, n).copy_from(&u);
    for j in 0..n {
        out_m[(n, j)] = values[j];
    }
    (ws.f, ws.rhs) = (f, u);
}

#[cfg(test)]
mod tests {
    use super::super::triangular::tests::values;
    use super::*;

    /// `op` on `a [n, n]` and `b [n, k]` with every operand and the result placed `shift`
    /// elements into its buffer: the result's bits.
    fn run_at(op: LinalgOp, a: &[f64], b: &[f64], n: usize, k: usize, shift: usize) -> Vec<u64> {
        let mut abuf = vec![0.0; a.len() + 8];
        abuf[shift..shift + a.len()].copy_from_slice(a);
        let mut bbuf = vec![0.0; b.len() + 8];
        bbuf[shift..shift + b.len()].copy_from_slice(b);
        let mut obuf = vec![0.0; n * k + 8];
        let am = MatRef::from_row_major_slice(&abuf[shift..shift + a.len()], n, n);
        let bm = MatRef::from_row_major_slice(&bbuf[shift..shift + b.len()], n, k);
        let mut ws = Workspace::new();
        one(op, am, Some(bm), &mut obuf[shift..shift + n * k], &mut ws, Par::Seq).unwrap();
        obuf[shift..shift + n * k].iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn cholesky_factors_hold_zeros_in_their_other_triangle() {
        for n in [3, 40, 200] {
            // Symmetric positive definite: a diagonal of n + 2 over off-diagonal values in [-1, 1).
            let v = values(n * n, 23, n, n as f64 + 2.0);
            let a: Vec<f64> = (0..n * n).map(|e| if e / n >= e % n { v[e] } else { v[(e % n) * n + e / n] }).collect();
            for lower in [true, false] {
                let mut out = vec![f64::NAN; n * n];
                let am = MatRef::from_row_major_slice(&a, n, n);
                one(LinalgOp::Chol { lower }, am, None, &mut out, &mut Workspace::new(), Par::Seq).unwrap();
                for i in 0..n {
                    for j in 0..n {
                        let outside = if lower { j > i } else { j < i };
                        if outside {
                            assert_eq!(out[i * n + j].to_bits(), 0, "n={n} lower={lower} ({i}, {j})");
                        }
                        // f f' (lower) or f' f (upper) gives a back.
                        let back: f64 =
                            (0..n)
                                .map(|k| {
                                    if lower {
                                        out[i * n + k] * out[j * n + k]
                                    } else {
                                        out[k * n + i] * out[k * n + j]
                                    }
                                })
                                .sum();
                        assert!((back - a[i * n + j]).abs() <= 1e-12 * n as f64, "n={n} lower={lower} ({i}, {j})");
                    }
                }
            }
        }
    }

    #[test]
    fn solves_give_the_same_bits_wherever_their_buffers_lie() {
        let solves = [
            LinalgOp::Solve { trans: false },
            LinalgOp::Solve { trans: true },
            LinalgOp::TriSolve { lower: true, trans: false, triangular_rhs: false },
            LinalgOp::TriSolve { lower: true, trans: true, triangular_rhs: false },
            LinalgOp::TriSolve { lower: false, trans: false, triangular_rhs: false },
            LinalgOp::TriSolve { lower: false, trans: true, triangular_rhs: false },
        ];
        for (n, k) in [(7, 1), (40, 3), (150, 1), (150, 70)] {
            let a = values(n * n, n as u64, n, n as f64);
            let b = values(n * k, 7 + k as u64, 0, 0.0);
            for op in solves {
                let want = run_at(op, &a, &b, n, k, 0);
                // A residual check first, so that what is compared is a solution.
                let x: Vec<f64> = want.iter().map(|&v| f64::from_bits(v)).collect();
                let (triangle, trans) = match op {
                    LinalgOp::Solve { trans } => (None, trans),
                    LinalgOp::TriSolve { lower, trans, .. } => (Some(lower), trans),
                    _ => unreachable!(),
                };
                let at = |i: usize, j: usize| {
                    let (r, c) = if trans { (j, i) } else { (i, j) };
                    match triangle {
                        Some(true) if c > r => 0.0,
                        Some(false) if c < r => 0.0,
                        _ => a[r * n + c],
                    }
                };
                for i in 0..n {
                    for j in 0..k {
                        let ax: f64 = (0..n).map(|q| at(i, q) * x[q * k + j]).sum();
                        let r = ax - b[i * k + j];
                        assert!(r.abs() < 1e-9, "{op:?} n={n} k={k}: residual {r}");
                    }
                }
                for shift in 1..8 {
                    assert_eq!(run_at(op, &a, &b, n, k, shift), want, "{op:?} n={n} k={k} shift={shift}");
                }
            }
        }
    }
}
