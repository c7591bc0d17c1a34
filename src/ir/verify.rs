//! The verifier: operands precede users, every type rule holds, outputs exist.

use super::{infer, Graph, Op};
use crate::array::DType;
use crate::error::{Error, Result};
use smallvec::SmallVec;

/// Checks that `g` is well formed: topological order, every node's recorded dtype and shape
/// match its type rule, inputs are numbered without gaps, outputs are in range.
pub fn verify(g: &Graph) -> Result<()> {
    let bad = |msg: String| Err(Error::argument("verify", msg));
    let mut seen_inputs = vec![];
    for (id, n) in g.nodes.iter().enumerate() {
        if let Some(&i) = n.inputs.iter().find(|&&i| i >= id) {
            return bad(format!("%{id} uses %{i}, which does not precede it"));
        }
        if let Op::Input(k) = n.op {
            seen_inputs.push(k);
            continue;
        }
        let mut types: SmallVec<[(DType, &[usize]); 4]> = SmallVec::new();
        for &i in &n.inputs {
            types.push((g.nodes[i].dtype, g.nodes[i].shape.as_slice()));
        }
        let (dtype, shape) = infer(&n.op, &types)?;
        if dtype != n.dtype || shape[..] != n.shape[..] {
            return bad(format!(
                "%{id} = {} records {}{:?} but its rule gives {dtype}{shape:?}",
                n.op, n.dtype, n.shape
            ));
        }
        if n.region as usize >= g.regions.len().max(1) {
            return bad(format!("%{id} names region {} of {}", n.region, g.regions.len()));
        }
    }
    seen_inputs.sort();
    if seen_inputs.iter().enumerate().any(|(i, &k)| i != k) {
        return bad(format!("inputs must be numbered 0.. once each, found {seen_inputs:?}"));
    }
    if let Some(&o) = g.outputs.iter().find(|&&o| o >= g.nodes.len()) {
        return bad(format!("output %{o} does not exist"));
    }
    Ok(())
}
