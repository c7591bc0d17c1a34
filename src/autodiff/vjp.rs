//! The VJP table: one rule per primitive, written with the same ops, so a gradient is new nodes
//! in the same trace (and can be differentiated again).
//!
//! Complex convention (the seed's): for real `y` and `x = a + ib` the cotangent of `x` is
//! `dy/da + i dy/db`. For a holomorphic primitive `f`, the cotangent flowing to `x` is the
//! outgoing one times `conj(f'(x))`.

use crate::array::DType;
use crate::error::Result;
use crate::ir::{AxisSlice, BinaryOp, Op, UnaryOp};
use crate::ops::{constant_f64, select};
use crate::trace::{emit, DlArray};

/// `conj(x)` for complex `x`, `x` itself for real.
fn conj(x: &DlArray) -> DlArray {
    if x.dtype().is_complex() {
        x.conj()
    } else {
        x.clone()
    }
}

/// A zero of `like`'s dtype that broadcasts against it.
fn zero(like: &DlArray) -> DlArray {
    constant_f64(0.0).cast(like.dtype())
}

/// The matrix transpose of the last two axes.
fn swap_last(x: &DlArray) -> DlArray {
    let n = x.ndim();
    let mut axes: Vec<usize> = (0..n).collect();
    axes.swap(n - 2, n - 1);
    x.permute(&axes)
}

/// `ct` of a reduction's output, reshaped to keep the reduced axes as 1 and broadcast back to
/// the operand's shape.
fn unreduce(ct: &DlArray, axes: &[usize], shape: &[usize]) -> DlArray {
    let kept: Vec<usize> = (0..shape.len()).map(|i| if axes.contains(&i) { 1 } else { shape[i] }).collect();
    ct.reshape(&kept).broadcast_to(shape)
}

/// The cotangents of a node's operands, given its operands `x`, its value `y` and its
/// cotangent `ct`. `wants[i]` says whether operand `i` needs one; `None` means zero.
pub(crate) fn vjp(op: &Op, x: &[DlArray], y: &DlArray, ct: &DlArray, wants: &[bool]) -> Result<Vec<Option<DlArray>>> {
    let one = |g: DlArray| Ok(vec![Some(g)]);
    // One arm per variant and no wildcard: a new op does not compile without its rule.
    match op {
        Op::Input(_) | Op::Constant(_) | Op::Compare(_) => Ok(vec![None; x.len()]),
        Op::Unary(u) => Ok(vec![unary_vjp(*u, &x[0], y, ct)]),
        Op::Binary(b) => Ok(binary_vjp(*b, x, y, ct, wants)),
        Op::Select => {
            let c = &x[0];
            let ga = wants[1].then(|| select(c, ct, &zero(ct)));
            let gb = wants[2].then(|| select(c, &zero(ct), ct));
            Ok(vec![None, sum_to_operand(ga, &x[1]), sum_to_operand(gb, &x[2])])
        }
        Op::Cast(_) => {
            if x[0].dtype() == DType::Bool {
                Ok(vec![None])
            } else {
                one(ct.cast(x[0].dtype()))
            }
        }
        Op::Broadcast(_) => one(ct.sum_to_shape(x[0].shape())),
        Op::Reshape(_) => one(ct.reshape(x[0].shape())),
        Op::Permute(axes) => one(permute_vjp(axes, ct)),
        Op::Slice(slices) => one(emit(Op::Pad { shape: x[0].shape().to_vec(), slices: slices.clone() }, &[ct])),
        Op::Pad { slices, .. } => one(emit(Op::Slice(slices.clone()), &[ct])),
        Op::Concat(axis) => Ok(concat_vjp(*axis, x, ct, wants)),
        Op::ReduceSum(axes) => one(unreduce(ct, axes, x[0].shape())),
        Op::ReduceMax(axes) | Op::ReduceMin(axes) => one(extremum_vjp(axes, &x[0], y, ct)),
        Op::Call(c) => {
            Ok(super::call_rule::call_vjp(c, x, ct)?.into_iter().zip(wants).map(|(g, &w)| w.then_some(g)).collect())
        }
        Op::CustomVjp(c) => Ok(super::custom_rule::custom_vjp(c, x, ct)?
            .into_iter()
            .zip(wants)
            .map(|(g, &w)| g.filter(|_| w))
            .collect()),
        Op::Linalg(l) => super::linalg_rules::linalg_vjp(*l, x, y, ct, wants),
        Op::MatMul => {
            let (a, b) = (&x[0], &x[1]);
            Ok(vec![
                wants[0].then(|| ct.matmul(&conj(&swap_last(b)))),
                wants[1].then(|| conj(&swap_last(a)).matmul(ct)),
            ])
        }
    }
}

/// `g` summed down to the shape of `operand` (undoing a broadcast of the forward op).
fn sum_to_operand(g: Option<DlArray>, operand: &DlArray) -> Option<DlArray> {
    g.map(|g| g.sum_to_shape(operand.shape()))
}

/// The cotangent of the operand `a` of a unary function with value `y`; `None` where the
/// derivative is zero (the rounding functions, and `sign` and `imag` of a real operand).
fn unary_vjp(u: UnaryOp, a: &DlArray, y: &DlArray, ct: &DlArray) -> Option<DlArray> {
    Some(match u {
        UnaryOp::Neg => -ct,
        UnaryOp::Exp => ct * conj(y),
        UnaryOp::Log => ct / conj(a),
        UnaryOp::Sin => ct * conj(&a.cos()),
        UnaryOp::Cos => -(ct * conj(&a.sin())),
        UnaryOp::Tan => ct * conj(&(1.0 + y.square())),
        UnaryOp::Tanh => ct * conj(&(1.0 - y.square())),
        UnaryOp::Sqrt => ct * 0.5 / conj(y),
        UnaryOp::Abs => ct * a.sign(),
        // sign(z) = z / |z| moves with the angle of a complex z: for the cotangent
        // convention, the rule is i sign(z) imag(ct conj(sign(z))) / |z|.
        UnaryOp::Sign if a.dtype().is_complex() => {
            let turn = (ct * conj(y)).imag();
            DlArray::complex(&zero(&turn), &turn) * y / a.abs()
        }
        UnaryOp::Sign => return None,
        UnaryOp::Recip => -(ct * conj(&y.square())),
        UnaryOp::Real => ct.cast(a.dtype()),
        UnaryOp::Imag if a.dtype().is_complex() => DlArray::complex(&zero(ct), ct),
        UnaryOp::Imag => return None,
        UnaryOp::Conj => conj(ct),
        UnaryOp::Erf => ct * (2.0 / std::f64::consts::PI.sqrt()) * (-a.square()).exp(),
        UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round | UnaryOp::StopGradient => return None,
        UnaryOp::Log1p => ct / conj(&(a + 1.0)),
        UnaryOp::Expm1 => ct * conj(&(y + 1.0)),
        UnaryOp::Asin => ct / conj(&(1.0 - a.square()).sqrt()),
        UnaryOp::Acos => -(ct / conj(&(1.0 - a.square()).sqrt())),
        UnaryOp::Atan => ct / conj(&(1.0 + a.square())),
        UnaryOp::Asinh => ct / conj(&(a.square() + 1.0).sqrt()),
        UnaryOp::Acosh => ct / conj(&((a - 1.0).sqrt() * (a + 1.0).sqrt())),
        UnaryOp::Atanh => ct / conj(&(1.0 - a.square())),
    })
}

/// The cotangents of the operands `x = [a, c]` of a binary function with value `y`, each
/// summed down to its operand's shape (the function broadcasts them).
fn binary_vjp(b: BinaryOp, x: &[DlArray], y: &DlArray, ct: &DlArray, wants: &[bool]) -> Vec<Option<DlArray>> {
    let (a, c) = (&x[0], &x[1]);
    let (ga, gc) = match b {
        BinaryOp::Add => (wants[0].then(|| ct.clone()), wants[1].then(|| ct.clone())),
        BinaryOp::Sub => (wants[0].then(|| ct.clone()), wants[1].then(|| -ct)),
        BinaryOp::Mul => (wants[0].then(|| ct * conj(c)), wants[1].then(|| ct * conj(a))),
        BinaryOp::Div => (wants[0].then(|| ct / conj(c)), wants[1].then(|| -(ct * conj(&(y / c))))),
        BinaryOp::Pow => {
            (wants[0].then(|| ct * conj(&(c * a.pow(&(c - 1.0))))), wants[1].then(|| ct * conj(&(a.log() * y))))
        }
        BinaryOp::Max | BinaryOp::Min => {
            // To `a` where it was chosen: at ties, and where `c` is an ignored NaN.
            let first = a.eq_elem(y);
            (wants[0].then(|| select(&first, ct, &zero(ct))), wants[1].then(|| select(&first, &zero(ct), ct)))
        }
        BinaryOp::Complex => (wants[0].then(|| ct.real()), wants[1].then(|| ct.imag())),
        BinaryOp::Atan2 => {
            let r2 = a.square() + c.square();
            (wants[0].then(|| ct * c / &r2), wants[1].then(|| -(ct * a / &r2)))
        }
    };
    vec![sum_to_operand(ga, a), sum_to_operand(gc, c)]
}

/// The cotangent of a permutation's operand: `ct` permuted by the inverse of `axes`.
fn permute_vjp(axes: &[usize], ct: &DlArray) -> DlArray {
    let mut inverse = vec![0; axes.len()];
    for (i, &a) in axes.iter().enumerate() {
        inverse[a] = i;
    }
    ct.permute(&inverse)
}

/// The cotangents of the operands `x` of a concatenation along `axis`: each one's slice of
/// `ct`.
fn concat_vjp(axis: usize, x: &[DlArray], ct: &DlArray, wants: &[bool]) -> Vec<Option<DlArray>> {
    let mut offset = 0;
    let mut out = Vec::with_capacity(x.len());
    for (i, part) in x.iter().enumerate() {
        let n = part.shape()[axis];
        if wants[i] {
            let mut slices: Vec<AxisSlice> = ct.shape().iter().map(|&d| AxisSlice::full(d)).collect();
            slices[axis] = AxisSlice { start: offset, len: n, step: 1 };
            out.push(Some(emit(Op::Slice(slices), &[ct])));
        } else {
            out.push(None);
        }
        offset += n;
    }
    out
}

/// The cotangent of the operand `a` of a maximum or minimum over `axes` with value `y`: `ct`
/// shared equally among the elements that attain it.
fn extremum_vjp(axes: &[usize], a: &DlArray, y: &DlArray, ct: &DlArray) -> DlArray {
    let hit = a.eq_elem(&unreduce(y, axes, a.shape())).cast(a.dtype());
    let count = unreduce(&hit.sum_axes(axes, false), axes, a.shape());
    unreduce(ct, axes, a.shape()) * hit / count
}
