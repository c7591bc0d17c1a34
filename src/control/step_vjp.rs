//! The VJP of one application of a body, written with ops: the gradient of the pairing of its
//! outputs with their cotangents, taken inside the body of the reverse loop (so it is traced
//! there, and differentiable again).

use super::replay::replay;
use crate::array::DType;
use crate::autodiff::{gradients, GradOptions};
use crate::custom::trees::zeros_like;
use crate::error::Result;
use crate::trace::DlArray;

/// `sum <ct_k, out_k>` over the outputs that can carry a gradient (a real scalar), or `None`.
pub(super) fn pairing(outputs: &[DlArray], cts: &[DlArray]) -> Option<DlArray> {
    let mut acc: Option<DlArray> = None;
    for (o, c) in outputs.iter().zip(cts).filter(|(o, _)| o.dtype() != DType::Bool) {
        let term = if o.dtype().is_complex() { (o * c.conj()).real().sum_all() } else { (o * c).sum_all() };
        acc = Some(match acc {
            Some(a) => a + term,
            None => term,
        });
    }
    acc
}

/// The VJP of one application of a body: the cotangents of `args` for the outputs' `cts`
/// (zeros for logical arguments and where nothing depends on an argument).
pub(super) fn step_vjp(body: &crate::ir::Graph, args: &[DlArray], cts: &[DlArray]) -> Result<Vec<DlArray>> {
    vjp_of(&replay(body, args)?, args, cts)
}

/// The cotangents of `args` for the `cts` of `outputs` (computed from `args` in the current
/// trace), as [`step_vjp`] takes them.
pub(super) fn vjp_of(outputs: &[DlArray], args: &[DlArray], cts: &[DlArray]) -> Result<Vec<DlArray>> {
    let Some(y) = pairing(outputs, cts) else {
        return args.iter().map(zeros_like).collect();
    };
    let vars: Vec<&DlArray> = args.iter().collect();
    let options = GradOptions { enable_higher_derivatives: Some(true), ..GradOptions::default() };
    gradients(&y, &vars, &options)
}

/// The arrays of an enclosing trace a reverse step differentiates with respect to, as they
/// are used inside the step's body: traced ones are captured there; an untraced one (the sweep
/// hands values without nodes when no higher derivatives are asked for) becomes a constant
/// node of the body, so it can still be a variable there.
pub(super) fn as_variables(captures: &[DlArray]) -> Result<Vec<DlArray>> {
    captures
        .iter()
        .map(|c| match c.node {
            Some(_) => Ok(c.clone()),
            None => Ok(DlArray::from_data_traced((**c.data()?).clone())),
        })
        .collect()
}

/// `acc + g`, except for logical leaves (no cotangent: `acc` as it is).
pub(super) fn add_cotangent(acc: &DlArray, g: &DlArray) -> DlArray {
    if acc.dtype() == DType::Bool {
        acc.clone()
    } else {
        acc + g
    }
}
