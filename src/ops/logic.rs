//! Logic on logical arrays: `and`, `or`, `not` (broadcasting as arithmetic), compositions of
//! `select` and comparisons, so no rule of their own (and no gradient: the results are logical).
//! A loop's predicate is often made of them.

use super::math::select;
use crate::array::DType;
use crate::error::Error;
use crate::ir::{CmpOp, Op};
use crate::trace::{emit, DlArray};

/// A logical scalar constant.
fn logical(v: bool) -> DlArray {
    DlArray::from(ndarray::arr0(v))
}

/// `None` when every operand is logical, else an array carrying the error that names `op`.
fn require_logical(op: &str, operands: &[&DlArray]) -> Option<DlArray> {
    if let Some(bad) = operands.iter().find(|a| !a.is_failed() && a.dtype() != DType::Bool) {
        let e = Error::dtype(op, &[bad.dtype()], "operands must be logical (compare first: x.gt(&y), ...)");
        return Some(DlArray::failed(e));
    }
    operands.iter().find(|a| a.is_failed()).map(|a| (*a).clone())
}

impl DlArray {
    /// Elementwise logical and of two logical arrays (broadcasting).
    #[track_caller]
    pub fn and(&self, other: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        require_logical("and", &[self, other]).unwrap_or_else(|| select(self, other, &logical(false)))
    }

    /// Elementwise logical or of two logical arrays (broadcasting).
    #[track_caller]
    pub fn or(&self, other: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        require_logical("or", &[self, other]).unwrap_or_else(|| select(self, &logical(true), other))
    }

    /// Elementwise logical not of a logical array.
    #[track_caller]
    #[allow(clippy::should_implement_trait)]
    pub fn not(&self) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        require_logical("not", &[self]).unwrap_or_else(|| emit(Op::Compare(CmpOp::Eq), &[self, &logical(false)]))
    }
}
