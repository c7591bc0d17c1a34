//! The backward rule of a call node: the IR's call target carries it opaquely; this layer
//! defines its type and applies it.

use crate::error::{Error, Result};
use crate::ir::Call;
use crate::trace::DlArray;
use std::sync::Arc;

/// The VJP of a call target: the cotangents of its inputs given the cotangent of one output.
pub(crate) trait CallVjp: Send + Sync {
    /// Cotangents of `inputs` for the cotangent `ct` of output `output`.
    fn vjp(&self, output: usize, inputs: &[DlArray], ct: &DlArray) -> Result<Vec<DlArray>>;
}

/// What a call target's `backward_rule` holds.
pub(crate) struct CallBackward(pub Arc<dyn CallVjp>);

/// The cotangents of a call node's inputs.
pub(crate) fn call_vjp(c: &Call, inputs: &[DlArray], ct: &DlArray) -> Result<Vec<DlArray>> {
    let rule = c
        .target
        .backward_rule()
        .downcast_ref::<CallBackward>()
        .ok_or_else(|| Error::Gradient(format!("internal: call {} has no backward rule", c.target.name())))?;
    rule.0.vjp(c.output, inputs, ct)
}
