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

    /// Cotangents of `inputs` for the cotangents of every output at once (`None`: zero), when
    /// the rule has that form (a loop: one reverse loop for all its results, not one per
    /// result); only the inputs that `wants` marks need theirs. `None` by default: the sweep
    /// calls [`vjp`](Self::vjp) per output.
    fn vjp_outputs(
        &self,
        _inputs: &[DlArray],
        _cts: &[Option<DlArray>],
        _wants: &[bool],
    ) -> Option<Result<Vec<Option<DlArray>>>> {
        None
    }

    /// True when [`vjp_outputs`](Self::vjp_outputs) is the rule's form.
    fn groups_outputs(&self) -> bool {
        false
    }
}

/// The cotangents of a call's inputs for the cotangents of all its outputs (`cts[k]` of
/// output `k`), for a rule that [groups its outputs](CallVjp::groups_outputs); only the inputs
/// that `wants` marks need theirs.
pub(crate) fn call_vjp_outputs(
    c: &Call,
    inputs: &[DlArray],
    cts: &[Option<DlArray>],
    wants: &[bool],
) -> Result<Vec<Option<DlArray>>> {
    let rule = c
        .target
        .backward_rule()
        .downcast_ref::<CallBackward>()
        .ok_or_else(|| Error::Gradient(format!("internal: call {} has no backward rule", c.target.name())))?;
    rule.0
        .vjp_outputs(inputs, cts, wants)
        .unwrap_or_else(|| Err(Error::Gradient(format!("internal: call {} has no grouped rule", c.target.name()))))
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

/// True when the call's rule takes the cotangents of every output at once.
pub(crate) fn takes_all_outputs(c: &Call) -> bool {
    c.target.backward_rule().downcast_ref::<CallBackward>().is_some_and(|r| r.0.groups_outputs())
}
