//! A body graph applied again as operations: each node through `emit`, in the current trace,
//! so what a derivative rule builds from a body is recorded (and differentiable) like any other
//! computation. Nodes keep their origins.

use crate::error::{Error, Result};
use crate::ir::{Graph, Op};
use crate::trace::{current_origin, emit, emit_outputs, DlArray};

/// The outputs of `g` on `args` (one per input of `g`, by input number).
pub(crate) fn replay(g: &Graph, args: &[DlArray]) -> Result<Vec<DlArray>> {
    let mut values: Vec<Option<DlArray>> = vec![None; g.nodes.len()];
    for (id, node) in g.nodes.iter().enumerate() {
        if values[id].is_some() {
            continue;
        }
        let _origin = current_origin::scoped(node.origin);
        let operands: Vec<&DlArray> = node
            .inputs
            .iter()
            .map(|&i| values[i].as_ref().ok_or_else(|| Error::argument("replay", "internal: operand order")))
            .collect::<Result<_>>()?;
        let value = match &node.op {
            Op::Input(k) => {
                args.get(*k).cloned().ok_or_else(|| Error::argument("replay", format!("internal: no argument {k}")))?
            }
            Op::Constant(d) => DlArray::from_data(d.clone()),
            Op::Call(_) => {
                let siblings = g.call_siblings(id, &node.inputs);
                let ops: Vec<Op> = siblings.iter().map(|&s| g.nodes[s].op.clone()).collect();
                // Each sibling's output number: a group may hold some of the call's outputs only.
                let numbers: Vec<usize> =
                    ops.iter().filter_map(|op| if let Op::Call(c) = op { Some(c.output) } else { None }).collect();
                let Op::Call(c) = &node.op else { unreachable!() };
                let target = c.target.clone();
                let outputs = emit_outputs(ops, &operands, |datas| {
                    let all = target.run(datas)?;
                    numbers
                        .iter()
                        .map(|&k| all.get(k).cloned().ok_or_else(|| Error::argument("replay", "internal: no output")))
                        .collect()
                })?;
                for (&s, out) in siblings.iter().zip(outputs) {
                    values[s] = Some(out);
                }
                continue;
            }
            op => emit(op.clone(), &operands),
        };
        value.check()?;
        values[id] = Some(value);
    }
    g.outputs
        .iter()
        .map(|&o| values[o].clone().ok_or_else(|| Error::argument("replay", "internal: output not computed")))
        .collect()
}
