//! Elementwise methods: the unary functions, powers, complex parts, comparisons, selection,
//! elementwise extremes and casts. Logical inputs compute in double, as MATLAB does.

use super::arith::{binary, constant_f64};
use crate::array::{promote, DType};
use crate::ir::{BinaryOp, CmpOp, Op, UnaryOp};
use crate::trace::{emit, DlArray};

/// `op` on `x` cast to its arithmetic type (logical becomes double).
pub(crate) fn unary(op: UnaryOp, x: &DlArray) -> DlArray {
    emit(Op::Unary(op), &[&x.cast(x.dtype().arithmetic())])
}

fn compare(op: CmpOp, a: &DlArray, b: &DlArray) -> DlArray {
    let t = if a.dtype() == b.dtype() { a.dtype() } else { promote(a.dtype(), b.dtype()) };
    emit(Op::Compare(op), &[&a.cast(t), &b.cast(t)])
}

/// The same values, with every derivative through them zero (JAX's `stop_gradient`): a
/// gradient, a Jacobian-vector product or a Hessian-vector product sees `x` as a constant.
/// A logical array carries no gradient and is returned as it is.
#[track_caller]
pub fn stop_gradient(x: &DlArray) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    if x.dtype() == DType::Bool {
        return x.clone();
    }
    emit(Op::Unary(UnaryOp::StopGradient), &[x])
}

impl DlArray {
    /// [`stop_gradient`] as a method.
    #[track_caller]
    pub fn stop_gradient(&self) -> DlArray {
        stop_gradient(self)
    }
}

/// `a` where `cond` is true, else `b`; all three broadcast together and `a`, `b` are promoted
/// to one type.
#[track_caller]
pub fn select(cond: &DlArray, a: &DlArray, b: &DlArray) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    let t = if a.dtype() == b.dtype() { a.dtype() } else { promote(a.dtype(), b.dtype()) };
    emit(Op::Select, &[&cond.cast(DType::Bool), &a.cast(t), &b.cast(t)])
}

macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident;)*) => {
        impl DlArray {
            $($(#[$doc])* #[track_caller] pub fn $name(&self) -> DlArray {
                let _origin = crate::trace::current_origin::user_call();
                unary(UnaryOp::$op, self)
            })*
        }
    };
}

unary_methods! {
    /// `e^x`.
    exp => Exp;
    /// Natural logarithm (principal branch for complex; NaN for negative reals, as a real
    /// type cannot hold MATLAB's complex result).
    log => Log;
    /// Sine.
    sin => Sin;
    /// Cosine.
    cos => Cos;
    /// Tangent.
    tan => Tan;
    /// Hyperbolic tangent.
    tanh => Tanh;
    /// Square root (principal branch for complex; NaN for negative reals).
    sqrt => Sqrt;
    /// Magnitude (a real array for complex input).
    abs => Abs;
    /// `x / |x|`, 0 at 0 (zero gradient for reals).
    sign => Sign;
    /// `1 / x`.
    recip => Recip;
    /// Error function (real input).
    erf => Erf;
    /// Real part (a real array).
    real => Real;
    /// Imaginary part (a real array; zeros for real input).
    imag => Imag;
    /// Complex conjugate.
    conj => Conj;
    /// Round toward -inf (real input; zero gradient).
    floor => Floor;
    /// Round toward +inf (real input; zero gradient).
    ceil => Ceil;
    /// Round half away from zero, as MATLAB (real input; zero gradient).
    round => Round;
    /// `ln(1 + x)`, accurate near 0.
    log1p => Log1p;
    /// `e^x - 1`, accurate near 0.
    expm1 => Expm1;
    /// Inverse sine.
    asin => Asin;
    /// Inverse cosine.
    acos => Acos;
    /// Inverse tangent.
    atan => Atan;
    /// Inverse hyperbolic sine.
    asinh => Asinh;
    /// Inverse hyperbolic cosine.
    acosh => Acosh;
    /// Inverse hyperbolic tangent.
    atanh => Atanh;
}

impl DlArray {
    /// `x * x`.
    #[track_caller]
    pub fn square(&self) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        let x = self.cast(self.dtype().arithmetic());
        emit(Op::Binary(BinaryOp::Mul), &[&x, &x])
    }

    /// The logistic function `1 / (1 + e^-x)`, computed as `0.5 tanh(x / 2) + 0.5` so that
    /// neither it nor its derivatives overflow.
    #[track_caller]
    pub fn sigmoid(&self) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        0.5 * (self * 0.5).tanh() + 0.5
    }

    /// `max(x, 0)`, with gradient 0 at 0 (as MATLAB's `relu`).
    #[track_caller]
    pub fn relu(&self) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        let x = self.cast(self.dtype().arithmetic());
        select(&x.gt(&constant_f64(0.0)), &x, &constant_f64(0.0))
    }

    /// `x ^ p` for a constant exponent.
    #[track_caller]
    pub fn powf(&self, p: f64) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        binary(BinaryOp::Pow, self, &constant_f64(p))
    }

    /// `x ^ p` elementwise, with broadcasting.
    #[track_caller]
    pub fn pow(&self, p: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        binary(BinaryOp::Pow, self, p)
    }

    /// The larger of `self` and `other` elementwise, ignoring NaN (MATLAB's `max(A, B)`); real
    /// types only. At ties the gradient goes to `self`.
    #[track_caller]
    pub fn maximum(&self, other: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        binary(BinaryOp::Max, self, other)
    }

    /// The smaller of `self` and `other` elementwise, ignoring NaN; real types only.
    #[track_caller]
    pub fn minimum(&self, other: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        binary(BinaryOp::Min, self, other)
    }

    /// Four-quadrant inverse tangent of `self / x` elementwise (MATLAB's `atan2(Y, X)`).
    #[track_caller]
    pub fn atan2(&self, x: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        binary(BinaryOp::Atan2, self, x)
    }

    /// `re + i im` from two real arrays (broadcast).
    #[track_caller]
    pub fn complex(re: &DlArray, im: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        binary(BinaryOp::Complex, re, im)
    }

    /// Elementwise `self < other` (logical).
    #[track_caller]
    pub fn lt(&self, other: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        compare(CmpOp::Lt, self, other)
    }

    /// Elementwise `self <= other` (logical).
    #[track_caller]
    pub fn le(&self, other: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        compare(CmpOp::Le, self, other)
    }

    /// Elementwise `self > other` (logical).
    #[track_caller]
    pub fn gt(&self, other: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        compare(CmpOp::Gt, self, other)
    }

    /// Elementwise `self >= other` (logical).
    #[track_caller]
    pub fn ge(&self, other: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        compare(CmpOp::Ge, self, other)
    }

    /// Elementwise `self == other` (logical).
    #[track_caller]
    pub fn eq_elem(&self, other: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        compare(CmpOp::Eq, self, other)
    }

    /// Elementwise `self != other` (logical).
    #[track_caller]
    pub fn ne_elem(&self, other: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        compare(CmpOp::Ne, self, other)
    }

    /// Conversion to `dtype`; differentiable between numeric types (a complex-to-real cast
    /// keeps the real part).
    #[track_caller]
    pub fn cast(&self, dtype: DType) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        if self.dtype() == dtype || self.is_failed() {
            self.clone()
        } else {
            emit(Op::Cast(dtype), &[self])
        }
    }
}
