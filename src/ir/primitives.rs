//! The elementwise primitives, each declared exactly once.
//!
//! Each list below is an "X macro": it hands its rows to a callback macro. Only `op.rs` reads
//! the rows (`define_elementwise_op!` for the unary and binary lists, `define_compare_op!` for
//! the comparisons): it generates the `UnaryOp`, `BinaryOp` and `CmpOp` enums with their `ALL`
//! arrays, names, domains and lowerings, the JIT's exhaustive subsets of `Inline` rows, and one
//! kernel type per primitive (`kernels.rs`). The interpreter's array kernels and the JIT's host
//! trampolines are generic over those kernel types, so neither reads a row. A row reads:
//!
//! ```text
//! Variant "ir name" kind(scalar kernel) real: lowering, complex: lowering;
//! ```
//!
//! - `kind`: `same` (`T -> T` for every numeric `T`, a method of `array::Num`), `to_real`
//!   (`T -> T::Real`, a method of `Num`), `real` (real operands only, a method of
//!   `array::RealNum`), and for binary rows `to_complex` (two reals to a complex).
//! - `lowering`, for real and for complex operands: `Inline` (the JIT emits the instructions:
//!   `jit/lower.rs` must have an arm for it), `Host` (a call to the scalar kernel, through a
//!   trampoline generated in `jit/host.rs`), `Polynomial` (real operands only: the JIT emits the
//!   `array/vmath` algorithm the scalar kernel runs, `jit/emit/vmath.rs` must have an arm for
//!   it), `Undefined` (the type rule refuses the dtype).
//!
//! Adding an elementwise primitive is: its row here, its scalar kernel (a `Num`/`RealNum`
//! method), its VJP rule (`autodiff/vjp.rs`, an exhaustive match: a compile error until it is
//! written) and, for `Inline`, its arm in the JIT's lowering (the guard test
//! `tests/primitives.rs` names any row the JIT cannot lower). See `docs/ARCHITECTURE.md`.

/// The unary elementwise primitives: `unary_primitives!(callback)`.
macro_rules! unary_primitives {
    ($callback:ident) => {
        $callback! {
            /// `-x`.
            Neg "neg" same(negative) real: Inline, complex: Inline;
            /// `e^x`.
            Exp "exp" same(exp) real: Polynomial, complex: Host;
            /// `ln x` (principal branch for complex).
            Log "log" same(ln) real: Polynomial, complex: Host;
            /// `sin x` (real: within 1 ulp, huge arguments reduced exactly).
            Sin "sin" same(sin) real: Polynomial, complex: Host;
            /// `cos x` (real: within 1 ulp, huge arguments reduced exactly).
            Cos "cos" same(cos) real: Polynomial, complex: Host;
            /// `tan x` (real: within 2 ulp, huge arguments reduced exactly).
            Tan "tan" same(tan) real: Polynomial, complex: Host;
            /// `tanh x` (real: within 2 ulp).
            Tanh "tanh" same(tanh) real: Polynomial, complex: Host;
            /// `sqrt x`.
            Sqrt "sqrt" same(sqrt) real: Inline, complex: Host;
            /// `|x|`; real result for complex input.
            Abs "abs" to_real(abs) real: Inline, complex: Host;
            /// `x / |x|`, 0 at 0.
            Sign "sign" same(sign) real: Inline, complex: Host;
            /// `1 / x`.
            Recip "recip" same(recip) real: Inline, complex: Host;
            /// Real part; real result.
            Real "real" to_real(re) real: Inline, complex: Inline;
            /// Imaginary part; real result.
            Imag "imag" to_real(im) real: Inline, complex: Inline;
            /// Complex conjugate.
            Conj "conj" same(conj) real: Inline, complex: Inline;
            /// Error function (real only; within 2 ulp).
            Erf "erf" real(erf) real: Polynomial, complex: Undefined;
            /// Round toward -inf (real only; zero gradient).
            Floor "floor" real(floor) real: Inline, complex: Undefined;
            /// Round toward +inf (real only; zero gradient).
            Ceil "ceil" real(ceil) real: Inline, complex: Undefined;
            /// Round half away from zero, as MATLAB's `round` (real only; zero gradient).
            Round "round" real(round) real: Host, complex: Undefined;
            /// `ln(1 + x)`, accurate near 0.
            Log1p "log1p" same(ln_1p) real: Polynomial, complex: Host;
            /// `e^x - 1`, accurate near 0 (real: within 2 ulp).
            Expm1 "expm1" same(exp_m1) real: Polynomial, complex: Host;
            /// Inverse sine (real: within 1 ulp).
            Asin "asin" same(asin) real: Polynomial, complex: Host;
            /// Inverse cosine (real: within 1 ulp).
            Acos "acos" same(acos) real: Polynomial, complex: Host;
            /// Inverse tangent (real: within 1 ulp).
            Atan "atan" same(atan) real: Polynomial, complex: Host;
            /// Inverse hyperbolic sine (real: within 2 ulp).
            Asinh "asinh" same(asinh) real: Polynomial, complex: Host;
            /// Inverse hyperbolic cosine (real: within 2 ulp).
            Acosh "acosh" same(acosh) real: Polynomial, complex: Host;
            /// Inverse hyperbolic tangent (real: within 2 ulp).
            Atanh "atanh" same(atanh) real: Polynomial, complex: Host;
            /// The same value, with every derivative through it zero (`stop_gradient`).
            StopGradient "stop_gradient" same(identity) real: Inline, complex: Inline;
        }
    };
}

/// The binary elementwise primitives (numpy broadcasting, equal dtypes):
/// `binary_primitives!(callback)`.
macro_rules! binary_primitives {
    ($callback:ident) => {
        $callback! {
            /// `a + b`.
            Add "add" same(plus) real: Inline, complex: Inline;
            /// `a - b`.
            Sub "sub" same(minus) real: Inline, complex: Inline;
            /// `a * b`.
            Mul "mul" same(times) real: Inline, complex: Inline;
            /// `a / b`.
            Div "div" same(over) real: Inline, complex: Host;
            /// `a ^ b` (real: within 1 ulp, `f32` evaluated in `f64`; special values as C99's `pow`).
            Pow "pow" same(pow) real: Polynomial, complex: Host;
            /// The larger, ignoring NaN (MATLAB); real only.
            Max "max" real(maximum) real: Inline, complex: Undefined;
            /// The smaller, ignoring NaN (MATLAB); real only.
            Min "min" real(minimum) real: Inline, complex: Undefined;
            /// `a + i b` from two reals.
            Complex "complex" to_complex(complex) real: Inline, complex: Undefined;
            /// Four-quadrant inverse tangent of `a / b` (real only; within 2 ulp).
            Atan2 "atan2" real(atan2) real: Polynomial, complex: Undefined;
        }
    };
}

/// The elementwise comparisons (logical result): `compare_primitives!(callback)`. `ordering`
/// rows are defined for real operands only; `equality` rows for every dtype.
macro_rules! compare_primitives {
    ($callback:ident) => {
        $callback! {
            /// `a < b`.
            Lt "lt" ordering(lt);
            /// `a <= b`.
            Le "le" ordering(le);
            /// `a > b`.
            Gt "gt" ordering(gt);
            /// `a >= b`.
            Ge "ge" ordering(ge);
            /// `a == b`.
            Eq "eq" equality(eq);
            /// `a != b`.
            Ne "ne" equality(ne);
        }
    };
}

pub(crate) use {binary_primitives, compare_primitives, unary_primitives};

/// How the JIT computes a primitive for one kind of operand (see the module docs).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Lowering {
    /// Instructions emitted inline by the JIT.
    Inline,
    /// A call to the scalar kernel through a host trampoline.
    Host,
    /// Not defined for this kind of operand (the type rule refuses it).
    Undefined,
    /// Instructions emitted inline by the JIT: a range reduction and a polynomial, the
    /// algorithm of `array/vmath` (which the interpreter's scalar kernel runs too), on scalars
    /// and on vector lanes alike.
    Polynomial,
}
