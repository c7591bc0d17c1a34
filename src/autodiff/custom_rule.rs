//! The derivative rule of a `custom_vjp` node: the IR's op carries it opaquely; this layer
//! defines its type and applies it.

use crate::error::{Error, Result};
use crate::ir::CustomVjp;
use crate::trace::DlArray;
use std::sync::Arc;

/// A user's derivative rule: the cotangents of a function's inputs.
pub(crate) trait CustomRule: Send + Sync {
    /// The cotangents of `inputs` for the cotangent `ct` of output `output` (the other outputs'
    /// cotangents zero), given every input and every output.
    fn vjp(&self, output: usize, inputs: &[DlArray], outputs: &[DlArray], ct: &DlArray) -> Result<Vec<DlArray>>;
}

/// What a custom node's `rule` holds.
pub(crate) struct CustomRuleBox(pub Arc<dyn CustomRule>);

/// The cotangents of a custom node's operands (its outputs', the first `1 + outputs`, none:
/// reverse mode does not go through the forward's ops).
pub(crate) fn custom_vjp(c: &CustomVjp, x: &[DlArray], ct: &DlArray) -> Result<Vec<Option<DlArray>>> {
    let rule = c
        .rule
        .downcast_ref::<CustomRuleBox>()
        .ok_or_else(|| Error::Gradient(format!("internal: custom_vjp {} has no rule", c.name)))?;
    let (outputs, inputs) = x[1..].split_at(c.outputs);
    let cts = rule.0.vjp(c.output, inputs, outputs, ct)?;
    Ok(vec![None; 1 + c.outputs].into_iter().chain(cts.into_iter().map(Some)).collect())
}
