//! Element arithmetic shared by the interpreter and the JIT's host functions: one trait over the
//! four numeric types, so each kernel is written once.

use super::{vmath, Element};
use num_complex::{Complex, Complex32, Complex64};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A numeric element: `f32`, `f64`, `Complex32`, `Complex64`.
pub trait Num:
    Element + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
    /// The real type of the same precision.
    type Real: RealNum;
    /// Additive identity.
    fn zero() -> Self;
    /// Multiplicative identity.
    fn one() -> Self;
    /// `e^x`.
    fn exp(self) -> Self;
    /// Natural logarithm (principal branch for complex).
    fn ln(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Tangent.
    fn tan(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// `ln(1 + x)`.
    fn ln_1p(self) -> Self;
    /// `e^x - 1`.
    fn exp_m1(self) -> Self;
    /// Inverse sine.
    fn asin(self) -> Self;
    /// Inverse cosine.
    fn acos(self) -> Self;
    /// Inverse tangent.
    fn atan(self) -> Self;
    /// Inverse hyperbolic sine.
    fn asinh(self) -> Self;
    /// Inverse hyperbolic cosine.
    fn acosh(self) -> Self;
    /// Inverse hyperbolic tangent.
    fn atanh(self) -> Self;
    /// Square root (principal branch for complex).
    fn sqrt(self) -> Self;
    /// `x / |x|`, 0 at 0.
    fn sign(self) -> Self;
    /// `self ^ p`.
    fn pow(self, p: Self) -> Self;
    /// Magnitude.
    fn abs(self) -> Self::Real;
    /// Real part.
    fn re(self) -> Self::Real;
    /// Imaginary part (0 for real types).
    fn im(self) -> Self::Real;
    /// Complex conjugate (identity for real types).
    fn conj(self) -> Self;
    /// `x` itself (the kernel of `stop_gradient`).
    fn identity(self) -> Self {
        self
    }
    /// `-x`.
    fn negative(self) -> Self {
        -self
    }
    /// `1 / x`.
    fn recip(self) -> Self {
        Self::one() / self
    }
    /// `x + y`.
    fn plus(self, y: Self) -> Self {
        self + y
    }
    /// `x - y`.
    fn minus(self, y: Self) -> Self {
        self - y
    }
    /// `x * y`.
    fn times(self, y: Self) -> Self {
        self * y
    }
    /// `x / y`.
    fn over(self, y: Self) -> Self {
        self / y
    }
}

/// A real numeric element: `f32`, `f64`.
pub trait RealNum: Num<Real = Self> + PartialOrd {
    /// The complex type of the same precision.
    type Complex: Num<Real = Self>;
    /// Error function.
    fn erf(self) -> Self;
    /// Round toward -inf.
    fn floor(self) -> Self;
    /// Round toward +inf.
    fn ceil(self) -> Self;
    /// Round half away from zero.
    fn round(self) -> Self;
    /// Four-quadrant inverse tangent of `self / o`.
    fn atan2(self, o: Self) -> Self;
    /// `re + i im`.
    fn complex(re: Self, im: Self) -> Self::Complex;
    /// The larger of the two, ignoring a NaN as MATLAB's `max` does; `+0` of `+0` and `-0` in
    /// either order (IEEE 754-2019's `maximumNumber`), so a maximum of many elements does not
    /// depend on their order.
    fn maximum(self, o: Self) -> Self;
    /// The smaller of the two, ignoring a NaN as MATLAB's `min` does; `-0` of `+0` and `-0` in
    /// either order (`minimumNumber`).
    fn minimum(self, o: Self) -> Self;
}

// The transcendentals are `#[inline(always)]`: the interpreter's loops over arrays inline them
// into code compiled for the CPU's features (`cpu.rs`), where `Lanes::mul_add` is one instruction.
macro_rules! real {
    ($t:ty) => {
        impl Num for $t {
            type Real = $t;
            fn zero() -> Self {
                0.0
            }
            fn one() -> Self {
                1.0
            }
            #[inline(always)]
            fn exp(self) -> Self {
                vmath::exp(&mut vmath::Scalar::<$t>::default(), self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                vmath::ln(&mut vmath::Scalar::<$t>::default(), self)
            }
            #[inline(always)]
            fn sin(self) -> Self {
                vmath::sin(&mut vmath::Scalar::<$t>::default(), self)
            }
            #[inline(always)]
            fn cos(self) -> Self {
                vmath::cos(&mut vmath::Scalar::<$t>::default(), self)
            }
            #[inline(always)]
            fn tan(self) -> Self {
                vmath::tan(&mut vmath::Scalar::<$t>::default(), self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                vmath::tanh(&mut vmath::Scalar::<$t>::default(), self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                vmath::ln_1p(&mut vmath::Scalar::<$t>::default(), self)
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                vmath::expm1(&mut vmath::Scalar::<$t>::default(), self)
            }
            #[inline(always)]
            fn asin(self) -> Self {
                vmath::asin(&mut vmath::Scalar::<$t>::default(), self)
            }
            #[inline(always)]
            fn acos(self) -> Self {
                vmath::acos(&mut vmath::Scalar::<$t>::default(), self)
            }
            #[inline(always)]
            fn atan(self) -> Self {
                vmath::atan(&mut vmath::Scalar::<$t>::default(), self)
            }
            #[inline(always)]
            fn asinh(self) -> Self {
                vmath::asinh(&mut vmath::Scalar::<$t>::default(), self)
            }
            #[inline(always)]
            fn acosh(self) -> Self {
                vmath::acosh(&mut vmath::Scalar::<$t>::default(), self)
            }
            #[inline(always)]
            fn atanh(self) -> Self {
                vmath::atanh(&mut vmath::Scalar::<$t>::default(), self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn sign(self) -> Self {
                if self > 0.0 {
                    1.0
                } else if self < 0.0 {
                    -1.0
                } else {
                    self * 0.0
                }
            }
            #[inline(always)]
            fn pow(self, p: Self) -> Self {
                // `f32` in `f64`, rounded once more (exact widening, one narrowing).
                vmath::pow(&mut vmath::Scalar::<f64>::default(), self as f64, p as f64) as $t
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn re(self) -> Self {
                self
            }
            fn im(self) -> Self {
                0.0
            }
            fn conj(self) -> Self {
                self
            }
        }
        impl RealNum for $t {
            type Complex = Complex<$t>;
            #[inline(always)]
            fn erf(self) -> Self {
                vmath::erf(&mut vmath::Scalar::<$t>::default(), self)
            }
            fn floor(self) -> Self {
                <$t>::floor(self)
            }
            fn ceil(self) -> Self {
                <$t>::ceil(self)
            }
            fn round(self) -> Self {
                <$t>::round(self)
            }
            #[inline(always)]
            fn atan2(self, o: Self) -> Self {
                vmath::atan2(&mut vmath::Scalar::<$t>::default(), self, o)
            }
            fn complex(re: Self, im: Self) -> Complex<$t> {
                Complex::new(re, im)
            }
            fn maximum(self, o: Self) -> Self {
                if self.is_nan() {
                    o
                } else if o.is_nan() || self > o {
                    self
                } else if o > self {
                    o
                } else {
                    // Equal: +0 over -0, whatever the order (the and of the bits).
                    <$t>::from_bits(self.to_bits() & o.to_bits())
                }
            }
            fn minimum(self, o: Self) -> Self {
                if self.is_nan() {
                    o
                } else if o.is_nan() || self < o {
                    self
                } else if o < self {
                    o
                } else {
                    // Equal: -0 over +0, whatever the order (the or of the bits).
                    <$t>::from_bits(self.to_bits() | o.to_bits())
                }
            }
        }
    };
}

real!(f32);
real!(f64);

macro_rules! complex {
    ($t:ty, $r:ty) => {
        impl Num for $t {
            type Real = $r;
            fn zero() -> Self {
                <$t>::new(0.0, 0.0)
            }
            fn one() -> Self {
                <$t>::new(1.0, 0.0)
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            fn tan(self) -> Self {
                <$t>::tan(self)
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn ln_1p(self) -> Self {
                <$t>::ln(Self::one() + self)
            }
            fn exp_m1(self) -> Self {
                <$t>::exp(self) - Self::one()
            }
            fn asin(self) -> Self {
                <$t>::asin(self)
            }
            fn acos(self) -> Self {
                <$t>::acos(self)
            }
            fn atan(self) -> Self {
                <$t>::atan(self)
            }
            fn asinh(self) -> Self {
                <$t>::asinh(self)
            }
            fn acosh(self) -> Self {
                <$t>::acosh(self)
            }
            fn atanh(self) -> Self {
                <$t>::atanh(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn sign(self) -> Self {
                let n = self.norm();
                if n == 0.0 {
                    self
                } else {
                    self / n
                }
            }
            fn pow(self, p: Self) -> Self {
                if p.im == 0.0 && self.im == 0.0 && self.re >= 0.0 {
                    <$t>::new(self.re.powf(p.re), 0.0)
                } else if self.re == 0.0 && self.im == 0.0 {
                    if p.re > 0.0 {
                        Self::zero()
                    } else if p.re == 0.0 && p.im == 0.0 {
                        Self::one()
                    } else {
                        <$t>::new(<$r>::INFINITY, 0.0)
                    }
                } else {
                    <$t>::powc(self, p)
                }
            }
            fn abs(self) -> $r {
                self.norm()
            }
            fn re(self) -> $r {
                self.re
            }
            fn im(self) -> $r {
                self.im
            }
            fn conj(self) -> Self {
                <$t>::conj(&self)
            }
        }
    };
}

complex!(Complex32, f32);
complex!(Complex64, f64);
