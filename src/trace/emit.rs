//! `emit`: the one way an operation is applied. It checks the op's type rule, computes the
//! value with the interpreter, and, when an operand belongs to the innermost trace, records a
//! node there (operands from outside the trace become constants).

use super::context::with_top;
use super::DlArray;
use crate::array::{DType, Data};
use crate::interp::eval_checked;
use crate::ir::{infer, Op};
use std::sync::Arc;

/// Applies `op` to `inputs`: a new array, traced when any operand is traced in the innermost
/// trace; an array carrying the error when an operand carries one or the op fails.
pub(crate) fn emit(op: Op, inputs: &[&DlArray]) -> DlArray {
    let mut datas: Vec<&Arc<Data>> = Vec::with_capacity(inputs.len());
    for a in inputs {
        match &a.value {
            Ok(d) => datas.push(d),
            Err(_) => return (*a).clone(),
        }
    }
    let types: Vec<(DType, &[usize])> = datas.iter().map(|d| (d.dtype(), d.shape())).collect();
    if let Err(e) = infer(&op, &types).and_then(|(d, s)| crate::interp::ensure_allocatable(op.name(), d, &s)) {
        return DlArray::failed(e);
    }
    let refs: Vec<&Data> = datas.iter().map(|d| &***d).collect();
    let value = match eval_checked(&op, &refs) {
        Ok(v) => Arc::new(v),
        Err(e) => return DlArray::failed(e),
    };
    let node = with_top(|t| {
        if !inputs.iter().any(|a| t.own(a.node).is_some()) {
            return None;
        }
        let ids = inputs
            .iter()
            .zip(&datas)
            .map(|(a, d)| {
                t.own(a.node).unwrap_or_else(|| t.record(Op::Constant((*d).clone()), vec![], (*d).clone()).id)
            })
            .collect();
        Some(t.record(op, ids, value.clone()))
    })
    .flatten();
    DlArray { value: Ok(value), node }
}
