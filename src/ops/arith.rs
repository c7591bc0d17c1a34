//! The operators `+ - * /` and unary `-` between every pair of `DlArray`, `&DlArray`, `f64` and
//! `Complex64` (scalars on either side), with numpy broadcasting and MATLAB type promotion.

use crate::array::{promote, Data};
use crate::ir::{BinaryOp, Op, UnaryOp};
use crate::trace::{emit, DlArray};
use num_complex::Complex64;
use std::ops::{Add, Div, Mul, Neg, Sub};
use std::sync::Arc;

/// An untraced constant scalar.
pub(crate) fn constant_f64(v: f64) -> DlArray {
    DlArray::from_data(Arc::new(Data::F64(ndarray::arr0(v).into_dyn())))
}

/// An untraced constant complex scalar.
pub(crate) fn constant_c128(v: Complex64) -> DlArray {
    DlArray::from_data(Arc::new(Data::C128(ndarray::arr0(v).into_dyn())))
}

/// `op(a, b)` after casting both to their MATLAB-promoted type.
pub(crate) fn binary(op: BinaryOp, a: &DlArray, b: &DlArray) -> DlArray {
    let t = promote(a.dtype(), b.dtype());
    emit(Op::Binary(op), &[&a.cast(t), &b.cast(t)])
}

/// Something that can stand on either side of an operator.
pub trait Operand {
    /// As an array (scalars become untraced constants).
    fn operand(&self) -> DlArray;
}

impl Operand for DlArray {
    fn operand(&self) -> DlArray {
        self.clone()
    }
}
impl Operand for &DlArray {
    fn operand(&self) -> DlArray {
        (*self).clone()
    }
}
impl Operand for f64 {
    fn operand(&self) -> DlArray {
        constant_f64(*self)
    }
}
impl Operand for Complex64 {
    fn operand(&self) -> DlArray {
        constant_c128(*self)
    }
}

macro_rules! operator {
    ($Trait:ident, $method:ident, $op:expr; $($lhs:ty, $rhs:ty);* $(;)?) => {$(
        impl $Trait<$rhs> for $lhs {
            type Output = DlArray;
            #[track_caller]
            fn $method(self, rhs: $rhs) -> DlArray {
                let _origin = crate::trace::current_origin::user_call();
                binary($op, &self.operand(), &rhs.operand())
            }
        }
    )*};
}

macro_rules! operators {
    ($($Trait:ident, $method:ident, $op:expr);* $(;)?) => {$(
        operator!($Trait, $method, $op;
            DlArray, DlArray; DlArray, &DlArray; &DlArray, DlArray; &DlArray, &DlArray;
            DlArray, f64; &DlArray, f64; f64, DlArray; f64, &DlArray;
            DlArray, Complex64; &DlArray, Complex64; Complex64, DlArray; Complex64, &DlArray);
    )*};
}

operators!(
    Add, add, BinaryOp::Add;
    Sub, sub, BinaryOp::Sub;
    Mul, mul, BinaryOp::Mul;
    Div, div, BinaryOp::Div;
);

impl Neg for &DlArray {
    type Output = DlArray;
    #[track_caller]
    fn neg(self) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        emit(Op::Unary(UnaryOp::Neg), &[&self.cast(self.dtype().arithmetic())])
    }
}

impl Neg for DlArray {
    type Output = DlArray;
    #[track_caller]
    fn neg(self) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        -&self
    }
}
