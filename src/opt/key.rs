//! Structural identity of ops: a hashable key per op (`Op` has no `PartialEq`, and constants
//! must compare by bits, not by `==`, so that `-0.0` and `0.0` or two NaNs stay apart or
//! together exactly as their bits say).

use crate::array::{DType, Data, Element};
use crate::ir::{AxisSlice, BinaryOp, CmpOp, Op, UnaryOp};
use ndarray::ArrayD;
use std::sync::Arc;

/// Constants with at most this many elements are compared by value; larger ones by identity.
pub(crate) const MAX_CONSTANT_COMPARED_BY_VALUE: usize = 64;

/// What identifies a constant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ConstKey {
    /// dtype, shape, and the bits of every element (row-major; complex as re then im).
    Value(DType, Vec<usize>, Vec<u64>),
    /// The address of a large constant's shared storage.
    Shared(usize),
}

/// The hashable identity of an op: two nodes with equal keys and equal operands compute the
/// same value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum OpKey {
    /// `Op::Input(k)`.
    Input(usize),
    /// `Op::Constant`.
    Constant(ConstKey),
    /// `Op::Unary`.
    Unary(UnaryOp),
    /// `Op::Binary`.
    Binary(BinaryOp),
    /// `Op::Compare`.
    Compare(CmpOp),
    /// `Op::Select`.
    Select,
    /// `Op::Cast`.
    Cast(DType),
    /// `Op::Broadcast`.
    Broadcast(Vec<usize>),
    /// `Op::Reshape`.
    Reshape(Vec<usize>),
    /// `Op::Permute`.
    Permute(Vec<usize>),
    /// `Op::Slice`.
    Slice(Vec<AxisSlice>),
    /// `Op::Pad`.
    Pad(Vec<usize>, Vec<AxisSlice>),
    /// `Op::Concat`.
    Concat(usize),
    /// `Op::ReduceSum`, axes sorted (the sum does not depend on their order).
    ReduceSum(Vec<usize>),
    /// `Op::ReduceMax`, axes sorted.
    ReduceMax(Vec<usize>),
    /// `Op::ReduceMin`, axes sorted.
    ReduceMin(Vec<usize>),
    /// `Op::MatMul`.
    MatMul,
    /// `Op::Call`: the callee's identity and the output index.
    Call(usize, usize),
}

/// The bits of every element of `d`, row-major (complex elements give two words, re then im).
pub(crate) fn element_bits(d: &Data) -> Vec<u64> {
    match d {
        Data::Bool(a) => a.iter().map(|&v| v as u64).collect(),
        Data::F32(a) => a.iter().map(|v| v.to_bits() as u64).collect(),
        Data::F64(a) => a.iter().map(|v| v.to_bits()).collect(),
        Data::C64(a) => a.iter().flat_map(|v| [v.re.to_bits() as u64, v.im.to_bits() as u64]).collect(),
        Data::C128(a) => a.iter().flat_map(|v| [v.re.to_bits(), v.im.to_bits()]).collect(),
    }
}

/// The identity of a constant: by value when small, by storage otherwise.
pub(crate) fn constant_key(d: &Arc<Data>) -> ConstKey {
    if d.numel() <= MAX_CONSTANT_COMPARED_BY_VALUE {
        ConstKey::Value(d.dtype(), d.shape().to_vec(), element_bits(d))
    } else {
        ConstKey::Shared(Arc::as_ptr(d) as usize)
    }
}

fn sorted(axes: &[usize]) -> Vec<usize> {
    let mut v = axes.to_vec();
    v.sort_unstable();
    v
}

/// The key of `op`.
pub(crate) fn op_key(op: &Op) -> OpKey {
    match op {
        Op::Input(k) => OpKey::Input(*k),
        Op::Constant(d) => OpKey::Constant(constant_key(d)),
        Op::Unary(u) => OpKey::Unary(*u),
        Op::Binary(b) => OpKey::Binary(*b),
        Op::Compare(c) => OpKey::Compare(*c),
        Op::Select => OpKey::Select,
        Op::Cast(d) => OpKey::Cast(*d),
        Op::Broadcast(s) => OpKey::Broadcast(s.clone()),
        Op::Reshape(s) => OpKey::Reshape(s.clone()),
        Op::Permute(a) => OpKey::Permute(a.clone()),
        Op::Slice(s) => OpKey::Slice(s.clone()),
        Op::Pad { shape, slices } => OpKey::Pad(shape.clone(), slices.clone()),
        Op::Concat(a) => OpKey::Concat(*a),
        Op::ReduceSum(a) => OpKey::ReduceSum(sorted(a)),
        Op::ReduceMax(a) => OpKey::ReduceMax(sorted(a)),
        Op::ReduceMin(a) => OpKey::ReduceMin(sorted(a)),
        Op::MatMul => OpKey::MatMul,
        Op::Call(c) => OpKey::Call(Arc::as_ptr(&c.target) as *const () as usize, c.output),
    }
}

/// True when swapping the two operands of `op` gives the same bits (NaN payloads aside):
/// IEEE addition and multiplication commute exactly, and so does complex `+`/`*` (each
/// component is a commutative sum of commutative products); `==` and `!=` too. Not `max`/`min`
/// (`max(-0, +0)` may return either zero) nor anything else.
pub(crate) fn commutes(op: &Op) -> bool {
    matches!(op, Op::Binary(BinaryOp::Add | BinaryOp::Mul) | Op::Compare(CmpOp::Eq | CmpOp::Ne))
}

/// A scalar holding the first element of `d`, bits unchanged (`None` when `d` is empty).
pub(crate) fn first_element(d: &Data) -> Option<Data> {
    fn first<T: Element>(a: &ArrayD<T>) -> Option<Data> {
        a.iter().next().map(|&v| T::into_data(ndarray::arr0(v).into_dyn()))
    }
    crate::with_data!(d, a => first(a))
}

/// The one element of `d` as a scalar, when every element has the same bits (and there is at
/// least one).
pub(crate) fn splat_scalar(d: &Data) -> Option<Data> {
    let words = if d.dtype().is_complex() { 2 } else { 1 };
    let bits = element_bits(d);
    let first = bits.get(..words)?;
    if bits.chunks(words).all(|c| c == first) {
        first_element(d)
    } else {
        None
    }
}
