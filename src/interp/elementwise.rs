//! Kernels of the elementwise primitives: unary, binary, compare, select, cast.

use crate::array::{Data, Element, Num, RealNum};
use crate::error::{Error, Result};
use crate::ir::{broadcast_shapes, BinaryOp, CmpOp, UnaryOp};
use ndarray::{ArrayD, IxDyn, Zip};

/// `f` applied to `x` and `y` broadcast together (numpy rules).
pub(crate) fn zip2<A: Copy, B: Copy, C>(x: &ArrayD<A>, y: &ArrayD<B>, f: impl Fn(A, B) -> C) -> Result<ArrayD<C>> {
    if x.shape() == y.shape() {
        if let (Some(xs), Some(ys)) = (x.as_slice(), y.as_slice()) {
            let v: Vec<C> = xs.iter().zip(ys).map(|(&a, &b)| f(a, b)).collect();
            return ArrayD::from_shape_vec(IxDyn(x.shape()), v).map_err(|e| Error::argument("zip", e.to_string()));
        }
    }
    let shape = broadcast_shapes(x.shape(), y.shape())
        .ok_or_else(|| Error::shape("elementwise", &[x.shape(), y.shape()], "they do not broadcast"))?;
    let xb = x.broadcast(IxDyn(&shape)).ok_or_else(|| Error::shape("broadcast", &[x.shape(), &shape], ""))?;
    let yb = y.broadcast(IxDyn(&shape)).ok_or_else(|| Error::shape("broadcast", &[y.shape(), &shape], ""))?;
    Ok(Zip::from(&xb).and(&yb).map_collect(|&a, &b| f(a, b)))
}

fn unary_num<T: Num>(u: UnaryOp, a: &ArrayD<T>) -> Result<Data> {
    let real = <T::Real as Element>::into_data;
    Ok(match u {
        UnaryOp::Neg => T::into_data(a.mapv(|v| -v)),
        UnaryOp::Exp => T::into_data(a.mapv(Num::exp)),
        UnaryOp::Log => T::into_data(a.mapv(Num::ln)),
        UnaryOp::Sin => T::into_data(a.mapv(Num::sin)),
        UnaryOp::Cos => T::into_data(a.mapv(Num::cos)),
        UnaryOp::Tanh => T::into_data(a.mapv(Num::tanh)),
        UnaryOp::Sqrt => T::into_data(a.mapv(Num::sqrt)),
        UnaryOp::Sign => T::into_data(a.mapv(Num::sign)),
        UnaryOp::Recip => T::into_data(a.mapv(|v| T::one() / v)),
        UnaryOp::Conj => T::into_data(a.mapv(Num::conj)),
        UnaryOp::Log1p => T::into_data(a.mapv(Num::ln_1p)),
        UnaryOp::Expm1 => T::into_data(a.mapv(Num::exp_m1)),
        UnaryOp::Asin => T::into_data(a.mapv(Num::asin)),
        UnaryOp::Acos => T::into_data(a.mapv(Num::acos)),
        UnaryOp::Atan => T::into_data(a.mapv(Num::atan)),
        UnaryOp::Asinh => T::into_data(a.mapv(Num::asinh)),
        UnaryOp::Acosh => T::into_data(a.mapv(Num::acosh)),
        UnaryOp::Atanh => T::into_data(a.mapv(Num::atanh)),
        UnaryOp::Abs => real(a.mapv(Num::abs)),
        UnaryOp::Real => real(a.mapv(Num::re)),
        UnaryOp::Imag => real(a.mapv(Num::im)),
        UnaryOp::Erf | UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round => {
            return Err(Error::dtype(u.name(), &[T::DTYPE], "defined for real operands only"))
        }
    })
}

fn unary_real<T: RealNum>(u: UnaryOp, a: &ArrayD<T>) -> Result<Data> {
    match u {
        UnaryOp::Erf => Ok(T::into_data(a.mapv(RealNum::erf))),
        UnaryOp::Floor => Ok(T::into_data(a.mapv(RealNum::floor))),
        UnaryOp::Ceil => Ok(T::into_data(a.mapv(RealNum::ceil))),
        UnaryOp::Round => Ok(T::into_data(a.mapv(RealNum::round))),
        _ => unary_num(u, a),
    }
}

/// `u` applied to every element.
pub(crate) fn unary(u: UnaryOp, a: &Data) -> Result<Data> {
    match a {
        Data::F32(a) => unary_real(u, a),
        Data::F64(a) => unary_real(u, a),
        Data::C64(a) => unary_num(u, a),
        Data::C128(a) => unary_num(u, a),
        Data::Bool(_) => Err(Error::dtype(u.name(), &[a.dtype()], "needs a numeric operand")),
    }
}

fn binary_num<T: Num>(b: BinaryOp, x: &ArrayD<T>, y: &ArrayD<T>) -> Result<Data> {
    let out = match b {
        BinaryOp::Add => zip2(x, y, |a, b| a + b)?,
        BinaryOp::Sub => zip2(x, y, |a, b| a - b)?,
        BinaryOp::Mul => zip2(x, y, |a, b| a * b)?,
        BinaryOp::Div => zip2(x, y, |a, b| a / b)?,
        BinaryOp::Pow => zip2(x, y, Num::pow)?,
        BinaryOp::Max | BinaryOp::Min | BinaryOp::Complex | BinaryOp::Atan2 => {
            return Err(Error::dtype(b.name(), &[T::DTYPE], "defined for real operands only"))
        }
    };
    Ok(T::into_data(out))
}

fn binary_real<T: RealNum>(b: BinaryOp, x: &ArrayD<T>, y: &ArrayD<T>) -> Result<Data> {
    Ok(match b {
        BinaryOp::Max => T::into_data(zip2(x, y, RealNum::maximum)?),
        BinaryOp::Min => T::into_data(zip2(x, y, RealNum::minimum)?),
        BinaryOp::Complex => <T::Complex as Element>::into_data(zip2(x, y, T::complex)?),
        BinaryOp::Atan2 => T::into_data(zip2(x, y, RealNum::atan2)?),
        _ => return binary_num(b, x, y),
    })
}

/// `b` applied elementwise with broadcasting; both operands must have one dtype.
pub(crate) fn binary(b: BinaryOp, x: &Data, y: &Data) -> Result<Data> {
    let mismatch = || Error::dtype(b.name(), &[x.dtype(), y.dtype()], "operands must have one dtype");
    match (x, y) {
        (Data::F32(x), Data::F32(y)) => binary_real(b, x, y),
        (Data::F64(x), Data::F64(y)) => binary_real(b, x, y),
        (Data::C64(x), Data::C64(y)) => binary_num(b, x, y),
        (Data::C128(x), Data::C128(y)) => binary_num(b, x, y),
        (Data::Bool(_), Data::Bool(_)) => Err(Error::dtype(b.name(), &[x.dtype()], "needs numeric operands")),
        _ => Err(mismatch()),
    }
}

fn compare_ord<T: Element + PartialOrd>(c: CmpOp, x: &ArrayD<T>, y: &ArrayD<T>) -> Result<ArrayD<bool>> {
    match c {
        CmpOp::Lt => zip2(x, y, |a, b| a < b),
        CmpOp::Le => zip2(x, y, |a, b| a <= b),
        CmpOp::Gt => zip2(x, y, |a, b| a > b),
        CmpOp::Ge => zip2(x, y, |a, b| a >= b),
        CmpOp::Eq => zip2(x, y, |a, b| a == b),
        CmpOp::Ne => zip2(x, y, |a, b| a != b),
    }
}

fn compare_eq<T: Element>(c: CmpOp, x: &ArrayD<T>, y: &ArrayD<T>) -> Result<ArrayD<bool>> {
    match c {
        CmpOp::Eq => zip2(x, y, |a, b| a == b),
        CmpOp::Ne => zip2(x, y, |a, b| a != b),
        _ => Err(Error::dtype(c.name(), &[T::DTYPE], "ordering is defined for real operands only")),
    }
}

/// Elementwise comparison with broadcasting; logical result.
pub(crate) fn compare(c: CmpOp, x: &Data, y: &Data) -> Result<Data> {
    let out = match (x, y) {
        (Data::Bool(x), Data::Bool(y)) => compare_ord(c, x, y)?,
        (Data::F32(x), Data::F32(y)) => compare_ord(c, x, y)?,
        (Data::F64(x), Data::F64(y)) => compare_ord(c, x, y)?,
        (Data::C64(x), Data::C64(y)) => compare_eq(c, x, y)?,
        (Data::C128(x), Data::C128(y)) => compare_eq(c, x, y)?,
        _ => return Err(Error::dtype(c.name(), &[x.dtype(), y.dtype()], "operands must have one dtype")),
    };
    Ok(Data::Bool(out))
}

/// `a` where `cond`, else `b`, all three broadcast together.
pub(crate) fn select(cond: &Data, a: &Data, b: &Data) -> Result<Data> {
    let Data::Bool(c) = cond else {
        return Err(Error::dtype("select", &[cond.dtype()], "the condition must be logical"));
    };
    fn pick<T: Element>(c: &ArrayD<bool>, a: &ArrayD<T>, b: &ArrayD<T>) -> Result<Data> {
        let ab = zip2(a, b, |x, y| (x, y))?;
        Ok(T::into_data(zip2(c, &ab, |c, (x, y)| if c { x } else { y })?))
    }
    match (a, b) {
        (Data::Bool(a), Data::Bool(b)) => pick(c, a, b),
        (Data::F32(a), Data::F32(b)) => pick(c, a, b),
        (Data::F64(a), Data::F64(b)) => pick(c, a, b),
        (Data::C64(a), Data::C64(b)) => pick(c, a, b),
        (Data::C128(a), Data::C128(b)) => pick(c, a, b),
        _ => Err(Error::dtype("select", &[a.dtype(), b.dtype()], "the branches must have one dtype")),
    }
}
