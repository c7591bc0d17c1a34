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
        /// `b` is square and only its triangle of the system's shape (lower when `t` or `t'` is
        /// lower) is read: the solution is that triangle too, zero elsewhere, at a third of
        /// the cost of a full right-hand side (the rule of `chol` emits it).
        triangular_rhs: bool,
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
    /// A product of square matrices that reads and writes only the given parts:
    /// `out_part(op_a(a_part(a)) @ op_b(b_part(b)))`, where `op` transposes when its flag is set
    /// and every entry outside `out`'s part is zero. The rules of `chol` and of this product
    /// itself emit it: a triangle times a triangle costs a sixth of the full product.
    TriMatmul {
        /// The part of `a` read (before its transpose).
        a: Part,
        /// Multiply by the transpose of `a`.
        ta: bool,
        /// The part of `b` read (before its transpose).
        b: Part,
        /// Multiply by the transpose of `b`.
        tb: bool,
        /// The part of the result computed; the rest is zero.
        out: Part,
    },
    /// The eigendecomposition of a symmetric `a` (its lower triangle is read), packed as one
    /// array `[.., n + 1, n]`: rows `0..n` hold the orthonormal eigenvectors as columns, row `n`
    /// the eigenvalues in ascending order. Each eigenvector's component of largest magnitude
    /// (the first of them at ties) is positive.
    EigSym,
}

/// The part of a square matrix that [`LinalgOp::TriMatmul`] reads or writes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// Every entry.
    Full,
    /// The lower triangle, diagonal included.
    Lower,
    /// The upper triangle, diagonal included.
    Upper,
}

impl Part {
    /// The part that holds the transposes of this part's entries.
    pub fn transposed(self) -> Part {
        match self {
            Part::Full => Part::Full,
            Part::Lower => Part::Upper,
            Part::Upper => Part::Lower,
        }
    }

    /// The lower triangle when `lower`, else the upper one.
    pub fn from_lower(lower: bool) -> Part {
        if lower {
            Part::Lower
        } else {
            Part::Upper
        }
    }

    /// Whether entry `(i, j)` lies in this part.
    pub fn holds(self, i: usize, j: usize) -> bool {
        match self {
            Part::Full => true,
            Part::Lower => j <= i,
            Part::Upper => j >= i,
        }
    }

    /// The name printed in the IR text.
    fn name(self) -> &'static str {
        match self {
            Part::Full => "full",
            Part::Lower => "lower",
            Part::Upper => "upper",
        }
    }
}

impl LinalgOp {
    /// The name used in the IR (and in error messages: the user-facing call).
    pub fn name(self) -> &'static str {
        match self {
            LinalgOp::Solve { .. } => "mldivide",
            LinalgOp::TriSolve { .. } => "linsolve",
            LinalgOp::Chol { .. } => "chol",
            LinalgOp::Inv => "inv",
            LinalgOp::TriMatmul { .. } => "trimatmul",
            LinalgOp::Det => "det",
            LinalgOp::LogDet => "logdet",
            LinalgOp::EigSym => "eig_symmetric",
        }
    }

    /// The number of operands: two for the solves and the product, one otherwise.
    pub fn arity(self) -> usize {
        match self {
            LinalgOp::Solve { .. } | LinalgOp::TriSolve { .. } | LinalgOp::TriMatmul { .. } => 2,
            LinalgOp::Chol { .. } | LinalgOp::Inv | LinalgOp::Det | LinalgOp::LogDet | LinalgOp::EigSym => 1,
        }
    }

    /// The attributes printed in the IR text.
    pub fn attributes(self) -> String {
        let side = |lower: bool| if lower { "lower" } else { "upper" };
        match self {
            LinalgOp::Solve { trans } => if trans { "trans" } else { "" }.to_string(),
            LinalgOp::TriSolve { lower, trans, triangular_rhs } => format!(
                "{}{}{}",
                side(lower),
                if trans { " trans" } else { "" },
                if triangular_rhs { " triangular_rhs" } else { "" }
            ),
            LinalgOp::Chol { lower } => side(lower).to_string(),
            LinalgOp::TriMatmul { a, ta, b, tb, out } => {
                let t = |t: bool| if t { "'" } else { "" };
                format!("{}{} {}{} -> {}", a.name(), t(ta), b.name(), t(tb), out.name())
            }
            LinalgOp::Inv | LinalgOp::Det | LinalgOp::LogDet | LinalgOp::EigSym => String::new(),
        }
    }
}
