//! The scalar kernels of the elementwise primitives as types: the rows of `primitives.rs`
//! generate one zero-sized type per primitive (in `op.rs`), implementing the trait of its kind,
//! and [`UnaryOp::visit`](super::UnaryOp::visit), [`BinaryOp::visit`](super::BinaryOp::visit)
//! and [`CmpOp::visit`](super::CmpOp::visit) hand that type to a visitor. The interpreter's
//! array kernels and the JIT's host trampolines are such visitors: they are generic over the
//! kernel type, so each is compiled per primitive with the kernel inlined, and neither reads the
//! rows itself.

use crate::array::{Num, RealNum};

/// A unary kernel `T -> T` for every numeric `T` (kind `same`).
pub trait SameUnary {
    /// The kernel.
    fn apply<T: Num>(x: T) -> T;
}

/// A unary kernel `T -> T::Real` (kind `to_real`: `abs`, `real`, `imag`).
pub trait ToRealUnary {
    /// The kernel.
    fn apply<T: Num>(x: T) -> T::Real;
}

/// A unary kernel on real operands only (kind `real`).
pub trait RealUnary {
    /// The kernel.
    fn apply<T: RealNum>(x: T) -> T;
}

/// What is done with a unary primitive's kernel, one method per kind.
pub trait UnaryVisitor {
    /// The result.
    type Output;
    /// With a kernel of kind `same`.
    fn same<K: SameUnary>(self) -> Self::Output;
    /// With a kernel of kind `to_real`.
    fn to_real<K: ToRealUnary>(self) -> Self::Output;
    /// With a kernel of kind `real`.
    fn real<K: RealUnary>(self) -> Self::Output;
}

/// A binary kernel `(T, T) -> T` for every numeric `T` (kind `same`).
pub trait SameBinary {
    /// The kernel.
    fn apply<T: Num>(x: T, y: T) -> T;
}

/// A binary kernel on real operands only (kind `real`).
pub trait RealBinary {
    /// The kernel.
    fn apply<T: RealNum>(x: T, y: T) -> T;
}

/// A binary kernel from two reals to a complex (kind `to_complex`).
pub trait ToComplexBinary {
    /// The kernel.
    fn apply<T: RealNum>(x: T, y: T) -> T::Complex;
}

/// What is done with a binary primitive's kernel, one method per kind.
pub trait BinaryVisitor {
    /// The result.
    type Output;
    /// With a kernel of kind `same`.
    fn same<K: SameBinary>(self) -> Self::Output;
    /// With a kernel of kind `real`.
    fn real<K: RealBinary>(self) -> Self::Output;
    /// With a kernel of kind `to_complex`.
    fn to_complex<K: ToComplexBinary>(self) -> Self::Output;
}

/// An ordering comparison (real operands, and logical ones).
pub trait OrderingCompare {
    /// The comparison.
    fn apply<T: PartialOrd>(x: &T, y: &T) -> bool;
}

/// An equality comparison (every dtype).
pub trait EqualityCompare {
    /// The comparison.
    fn apply<T: PartialEq>(x: &T, y: &T) -> bool;
}

/// What is done with a comparison's kernel, one method per kind.
pub trait CompareVisitor {
    /// The result.
    type Output;
    /// With an ordering comparison.
    fn ordering<K: OrderingCompare>(self) -> Self::Output;
    /// With an equality comparison.
    fn equality<K: EqualityCompare>(self) -> Self::Output;
}
