//! `emit`: the one way an operation is applied. It checks the op's type rule and, when an
//! operand belongs to the innermost trace, records a node there (operands from outside the
//! trace become constants). The value is computed now with the interpreter, except in a lazy
//! trace, where it is computed only if something asks for it.

use super::context::{with_top, NodeRef};
use super::{DlArray, Value};
use crate::array::{DType, Data};
use crate::error::{Error, Result};
use crate::interp::eval_checked;
use crate::ir::{infer, Op, Operands, Shape};
use smallvec::SmallVec;
use std::sync::Arc;

/// Applies `op` to `inputs`: a new array, traced when any operand is traced in the innermost
/// trace; an array carrying the error when an operand carries one or the op fails.
pub(crate) fn emit(op: Op, inputs: &[&DlArray]) -> DlArray {
    let mut types: SmallVec<[(DType, &[usize]); 3]> = SmallVec::with_capacity(inputs.len());
    for a in inputs {
        match a.dtype_and_shape() {
            Some(t) => types.push(t),
            None => return (*a).clone(),
        }
    }
    let (dtype, shape) = match infer(&op, &types) {
        Ok(t) => t,
        Err(e) => return DlArray::failed(e),
    };
    if let Err(e) = crate::interp::ensure_allocatable(op.name(), dtype, &shape) {
        return DlArray::failed(e);
    }
    if with_top(|t| t.lazy && inputs.iter().any(|a| t.resolves(a))).unwrap_or(false) {
        return record_lazy(op, inputs, dtype, shape);
    }
    let mut datas: SmallVec<[&Arc<Data>; 3]> = SmallVec::with_capacity(inputs.len());
    for a in inputs {
        match a.data() {
            Ok(d) => datas.push(d),
            Err(e) => return DlArray::failed(e),
        }
    }
    let refs: SmallVec<[&Data; 3]> = datas.iter().map(|d| &***d).collect();
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
    DlArray { value: Ok(Value::Ready(value)), node }
}

/// Applies an op of several outputs (`ops[i]` makes output `i`) to `inputs`: in a lazy trace
/// one pending node per output; otherwise `run` computes every output once, recorded as one
/// node each when an operand is traced in the innermost trace, plain arrays when none is.
pub(crate) fn emit_outputs(
    ops: Vec<Op>,
    inputs: &[&DlArray],
    run: impl FnOnce(&[Arc<Data>]) -> Result<Vec<Arc<Data>>>,
) -> Result<Vec<DlArray>> {
    if with_top(|t| t.lazy && inputs.iter().any(|a| t.resolves(a))).unwrap_or(false) {
        // An operand with a value and no node here becomes one constant node, which every
        // output's node reads (so the outputs stay one call on the same operands).
        let resolved: Vec<bool> = with_top(|t| inputs.iter().map(|a| t.resolves(a)).collect()).unwrap_or_default();
        let shared: Vec<DlArray> = inputs
            .iter()
            .zip(resolved)
            .map(|(a, r)| {
                if r {
                    return Ok((*a).clone());
                }
                let d = a.data()?.clone();
                let node = with_top(|t| t.record(Op::Constant(d.clone()), vec![], d.clone()));
                Ok(DlArray { value: Ok(Value::Ready(d)), node })
            })
            .collect::<Result<_>>()?;
        let shared: Vec<&DlArray> = shared.iter().collect();
        return ops
            .into_iter()
            .map(|op| {
                let a = emit(op, &shared);
                a.check().map(|_| a)
            })
            .collect();
    }
    let datas: Vec<Arc<Data>> = inputs.iter().map(|a| a.data().cloned()).collect::<Result<_>>()?;
    let values = run(&datas)?;
    let nodes = with_top(|t| {
        if !inputs.iter().any(|a| t.own(a.node).is_some()) {
            return Vec::new();
        }
        let ids: Vec<usize> = inputs
            .iter()
            .zip(&datas)
            .map(|(a, d)| t.own(a.node).unwrap_or_else(|| t.record(Op::Constant(d.clone()), vec![], d.clone()).id))
            .collect();
        ops.into_iter().zip(&values).map(|(op, v)| t.record(op, ids.clone(), v.clone())).collect()
    })
    .unwrap_or_default();
    let mut nodes = nodes.into_iter();
    Ok(values.into_iter().map(|v| DlArray { value: Ok(Value::Ready(v)), node: nodes.next() }).collect())
}

/// Records `op` in the innermost (lazy) trace without computing it. Operands from outside the
/// trace become constants, so their data is needed (and computed first if pending).
fn record_lazy(op: Op, inputs: &[&DlArray], dtype: DType, shape: Shape) -> DlArray {
    let resolves: SmallVec<[bool; 3]> =
        with_top(|t| inputs.iter().map(|a| t.resolves(a)).collect()).unwrap_or_default();
    let mut constants: SmallVec<[Option<Arc<Data>>; 3]> = SmallVec::with_capacity(inputs.len());
    for (a, &resolves) in inputs.iter().zip(&resolves) {
        constants.push(if resolves {
            None
        } else {
            match a.data() {
                Ok(d) => Some(d.clone()),
                Err(e) => return DlArray::failed(e),
            }
        });
    }
    let node = with_top(|t| -> Result<NodeRef> {
        let mut ids = Operands::with_capacity(inputs.len());
        for (a, c) in inputs.iter().zip(constants) {
            ids.push(match (t.own_or_capture(a), c) {
                (Some(id), _) => id,
                (None, Some(d)) => t.record(Op::Constant(d.clone()), vec![], d).id,
                (None, None) => return Err(Error::argument(op.name(), "internal: an operand of another trace")),
            });
        }
        Ok(t.record_lazy(op, ids, dtype, Shape::from_slice(&shape)))
    });
    match node {
        Some(Ok(at)) => DlArray { value: Ok(Value::pending(dtype, shape, at)), node: Some(at) },
        Some(Err(e)) => DlArray::failed(e),
        None => DlArray::failed(Error::argument("trace", "the trace ended while recording")),
    }
}
