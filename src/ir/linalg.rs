//! The linear-algebra primitives: factorizations and solves of real matrices, batched over
//! leading axes. One variant of [`Op`](super::Op) (`Op::Linalg`) holds one of these; their
//! type rule is in `infer.rs`, their kernels in `interp/factor.rs`, their rules in
//! `autodiff/vjp.rs` and `autodiff/linalg_rules.rs`.

/// One linear-algebra primitive. Every one reads `[.., m, n]` matrices (the leading axes
/// index independent problems, equal across operands) of a real dtype.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum LinalgOp {
    /// `solve(a, b)`: `a \ b` for `a [.., m, n]`, `b [.., m, k]` (`a' \ b` when `trans`): LU
    /// with partial pivoting for a square `a`, least squares by QR otherwise (the minimum-norm
    /// solution of an underdetermined system).
    Solve {
        /// Solve with the transpose of `a`, read in place.
        trans: bool,
    },
    /// A triangular solve `t \ b` (`t' \ b` when `trans`) that reads only the lower (or upper)
    /// triangle of the square `a`, diagonal included.
    TriSolve {
        /// The triangle read: lower when set, upper otherwise.
        lower: bool,
        /// Solve with the transpose of the triangle.
        trans: bool,
    },
    /// The Cholesky factor of a symmetric positive definite `a`: upper `r` with `r' r = a`
    /// reading the upper triangle, or lower `l` with `l l' = a` reading the lower one. A matrix
    /// that is not positive definite is an error of the run.
    Chol {
        /// The lower factor (else the upper).
        lower: bool,
    },
    /// The inverse of a square matrix (LU with partial pivoting).
    Inv,
    /// The determinant `[.., n, n] -> [..]` (LU with partial pivoting).
    Det,
    /// `log(abs(det(a)))` `[.., n, n] -> [..]`, summed from the LU factor's diagonal.
    LogDet,
    /// The eigendecomposition of a symmetric `a` (its lower triangle is read), packed as one
    /// array `[.., n + 1, n]`: rows `0..n` hold the orthonormal eigenvectors as columns, row `n`
    /// the eigenvalues in ascending order. Each eigenvector's component of largest magnitude
    /// (the first of them at ties) is positive.
    EigSym,
}

impl LinalgOp {
    /// The name used in the IR (and in error messages: the user-facing call).
    pub fn name(self) -> &'static str {
        match self {
            LinalgOp::Solve { .. } => "mldivide",
            LinalgOp::TriSolve { .. } => "linsolve",
            LinalgOp::Chol { .. } => "chol",
            LinalgOp::Inv => "inv",
            LinalgOp::Det => "det",
            LinalgOp::LogDet => "logdet",
            LinalgOp::EigSym => "eig_symmetric",
        }
    }

    /// The number of operands: two for the solves, one otherwise.
    pub fn arity(self) -> usize {
        match self {
            LinalgOp::Solve { .. } | LinalgOp::TriSolve { .. } => 2,
            LinalgOp::Chol { .. } | LinalgOp::Inv | LinalgOp::Det | LinalgOp::LogDet | LinalgOp::EigSym => 1,
        }
    }

    /// The attributes printed in the IR text.
    pub fn attributes(self) -> String {
        let side = |lower: bool| if lower { "lower" } else { "upper" };
        match self {
            LinalgOp::Solve { trans } => if trans { "trans" } else { "" }.to_string(),
            LinalgOp::TriSolve { lower, trans } => format!("{}{}", side(lower), if trans { " trans" } else { "" }),
            LinalgOp::Chol { lower } => side(lower).to_string(),
            LinalgOp::Inv | LinalgOp::Det | LinalgOp::LogDet | LinalgOp::EigSym => String::new(),
        }
    }
}
