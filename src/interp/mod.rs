//! The interpreter: one kernel per primitive on `ndarray`. It is the reference semantics every
//! other backend is checked against, and the engine of eager evaluation.

mod batch;
mod elementwise;
mod factor;
mod layout;
mod linalg;
pub(crate) use batch::{run_slices, Dims};
pub(crate) use factor::Scalar as LinalgScalar;
pub(crate) use linalg::is_small_product;
mod blocked_sum;
mod reduce;
mod triangular;

pub(crate) use blocked_sum::{combine_groups, SUM_ACCUMULATORS, SUM_BLOCK};

use crate::array::Data;
use crate::error::{Error, Result};
use crate::ir::{Graph, Op};
use std::sync::Arc;

/// Applies one primitive to operand values; operands that break the op's type rule are an
/// `Err`.
pub fn eval(op: &Op, inputs: &[&Data]) -> Result<Data> {
    let types: smallvec::SmallVec<[(crate::DType, &[usize]); 4]> =
        inputs.iter().map(|d| (d.dtype(), d.shape())).collect();
    let (dtype, shape) = crate::ir::infer(op, &types)?;
    ensure_allocatable(op.name(), dtype, &shape)?;
    eval_checked(op, inputs)
}

/// Results at least this large are allocated only after a fallible reservation succeeds.
const PROBE_BYTES: usize = 64 << 20;

/// Checks that a result of `dtype` and `shape` can be allocated: a large one whose memory the
/// allocator refuses is an `Err` naming the op and the shape, where an infallible allocation
/// would abort the process.
pub(crate) fn ensure_allocatable(op: &str, dtype: crate::DType, shape: &[usize]) -> Result<()> {
    let bytes = shape.iter().try_fold(dtype.size_of(), |acc, &d| acc.checked_mul(d));
    match bytes {
        Some(b) if b < PROBE_BYTES => Ok(()),
        Some(b) if Vec::<u8>::new().try_reserve_exact(b).is_ok() => Ok(()),
        _ => Err(Error::shape(op, &[shape], format!("cannot allocate the result ({dtype:?}{shape:?}): out of memory"))),
    }
}

/// [`eval`] for operands already checked against the op's type rule.
pub(crate) fn eval_checked(op: &Op, inputs: &[&Data]) -> Result<Data> {
    let arg = |i: usize| -> Result<&Data> {
        inputs.get(i).copied().ok_or_else(|| Error::argument(op.name(), "missing operand"))
    };
    match op {
        Op::Input(k) => Err(Error::argument("input", format!("input {k} has no value outside a graph run"))),
        Op::Constant(d) => Ok((**d).clone()),
        Op::Unary(u) => elementwise::unary(*u, arg(0)?),
        Op::Binary(b) => elementwise::binary(*b, arg(0)?, arg(1)?),
        Op::Compare(c) => elementwise::compare(*c, arg(0)?, arg(1)?),
        Op::Select => elementwise::select(arg(0)?, arg(1)?, arg(2)?),
        Op::Cast(d) => Ok(arg(0)?.cast(*d)),
        Op::Broadcast(shape) => layout::broadcast(arg(0)?, shape),
        Op::Reshape(shape) => arg(0)?.reshaped(shape),
        Op::Permute(axes) => Ok(layout::permute(arg(0)?, axes)),
        Op::Slice(slices) => Ok(layout::slice(arg(0)?, slices)),
        Op::Pad { shape, slices } => Ok(layout::pad(arg(0)?, shape, slices)),
        Op::Concat(axis) => layout::concat(inputs, *axis),
        Op::ReduceSum(axes) => reduce::reduce_sum(arg(0)?, axes),
        Op::ReduceMax(axes) => reduce::reduce_extreme(arg(0)?, axes, true),
        Op::ReduceMin(axes) => reduce::reduce_extreme(arg(0)?, axes, false),
        Op::MatMul => linalg::matmul(arg(0)?, arg(1)?),
        Op::Linalg(l) => batch::eval(*l, inputs),
        Op::CustomVjp(_) => Ok(arg(0)?.clone()),
        Op::Call(c) => {
            let owned: Vec<Arc<Data>> = inputs.iter().map(|d| Arc::new((*d).clone())).collect();
            let outputs = c.target.run(&owned)?;
            let out = outputs.get(c.output).ok_or_else(|| Error::argument("call", "missing output"))?;
            Ok((**out).clone())
        }
    }
}

/// Runs a whole graph on input values and returns its outputs. The graph must verify, and each
/// input must have the dtype and shape its `Input` node records; otherwise an `Err`.
pub fn run(g: &Graph, inputs: &[Arc<Data>]) -> Result<Vec<Arc<Data>>> {
    crate::ir::verify(g)?;
    let mut values: Vec<Option<Arc<Data>>> = vec![None; g.nodes.len()];
    // Outputs of multi-output calls computed with an earlier sibling.
    let mut pending: Vec<Option<Arc<Data>>> = vec![None; g.nodes.len()];
    let live = g.live()?;
    // The last node reading each value: intermediate values are released after it, so a run
    // holds only what later nodes still need (outputs are kept to the end).
    let mut last_use = vec![0usize; g.nodes.len()];
    for (id, n) in g.nodes.iter().enumerate().filter(|&(id, _)| live[id]) {
        for &i in &n.inputs {
            last_use[i] = id;
        }
    }
    for &o in &g.outputs {
        last_use[o] = usize::MAX;
    }
    for (id, n) in g.nodes.iter().enumerate() {
        if !live[id] {
            continue;
        }
        let v = match &n.op {
            Op::Input(k) => {
                let v = inputs.get(*k).ok_or_else(|| {
                    Error::argument("run", format!("the graph needs input {k}, got {} inputs", inputs.len()))
                })?;
                if v.dtype() != n.dtype || v.shape() != n.shape.as_slice() {
                    return Err(Error::argument(
                        "run",
                        format!("input {k} must be {}{:?}, got {}{:?}", n.dtype, n.shape, v.dtype(), v.shape()),
                    ));
                }
                v.clone()
            }
            Op::Constant(d) => d.clone(),
            Op::Call(_) if pending[id].is_some() => pending[id].take().expect("sibling computed"),
            Op::Call(c) => {
                // Every output of the call at once, kept for its sibling nodes.
                let args: Vec<Arc<Data>> =
                    n.inputs.iter().map(|&i| values[i].clone().expect("operand computed")).collect();
                let outputs = c.target.run(&args)?;
                for sibling in g.call_siblings(id, &n.inputs) {
                    if let Op::Call(s) = &g.nodes[sibling].op {
                        pending[sibling] = outputs.get(s.output).cloned();
                    }
                }
                pending[id].take().ok_or_else(|| Error::argument("call", "missing output"))?
            }
            op => {
                ensure_allocatable(op.name(), n.dtype, &n.shape)?;
                let args: Vec<&Data> =
                    n.inputs.iter().map(|&i| values[i].as_deref().expect("operand computed")).collect();
                Arc::new(eval_checked(op, &args)?)
            }
        };
        values[id] = Some(v);
        for &i in &n.inputs {
            if last_use[i] == id {
                values[i] = None;
            }
        }
    }
    g.outputs.iter().map(|&o| values[o].clone().ok_or_else(|| Error::argument("run", "output not computed"))).collect()
}
