//! Forward mode through a while loop. A while loop's reverse steps (the node reverse mode
//! makes of it) are linear in the carry cotangent they start from: they apply the transposed
//! Jacobian of the whole loop. Their derivative with respect to that cotangent is the Jacobian
//! itself, applied to a direction: a while loop carrying the carry and its tangent, with the
//! same predicate, so it stops where the forward loop stops. `dljvp` through a while loop takes
//! this path (its second sweep differentiates only with respect to the cotangent). The
//! derivative of the reverse steps with respect to the loop's starting carry or its captures
//! (second derivatives, `dlhvp`) is an `Err` that says so.

use super::replay::replay;
use super::step_vjp::as_variables;
use super::target::LoopTarget;
use super::while_loop::while_named;
use super::LoopOptions;
use crate::array::DType;
use crate::autodiff::dljvp;
use crate::custom::trees::zeros_like;
use crate::error::{Error, Result};
use crate::trace::DlArray;

/// The VJP of a while loop's reverse steps `t` (operands `[init.., captures.., carry ct..]`,
/// results `[init ct.., captures' ct..]`) for the cotangents `cts` of its results, where only
/// the carry cotangent operands are `wants`ed.
pub(super) fn while_reverse_vjp(
    t: &LoopTarget,
    max_iterations: Option<usize>,
    inputs: &[DlArray],
    cts: &[DlArray],
    wants: &[bool],
) -> Result<Vec<Option<DlArray>>> {
    let nc = t.carry;
    let np = inputs.len() - 2 * nc;
    if wants.iter().take(nc + np).any(|&w| w) {
        return Err(Error::Gradient(format!(
            "{}: second derivatives through a while_loop (with respect to its starting carry or the values \
             its body reads) are not available; forward mode (dljvp) through it is, and a fori_loop or \
             scan with the same steps has them all",
            t.name
        )));
    }
    if inputs.iter().take(nc + np).any(|x| x.dtype().is_complex()) {
        return Err(Error::Gradient(format!("{}: forward mode through a complex while_loop is not available", t.name)));
    }
    let (init, captures) = (&inputs[..nc], &inputs[nc..nc + np]);
    let (dir_init, dir_captures) = cts.split_at(nc);
    let tangent = while_jvp(t, max_iterations, (init, captures), (dir_init, dir_captures))?;
    Ok(std::iter::repeat_n(None, nc + np).chain(tangent.into_iter().map(Some)).collect())
}

/// The tangent of the while loop `t`'s last carry at `(init, captures)` along the direction
/// `(dir_init, dir_captures)`: the loop run again, carrying each leaf's tangent beside it (a
/// logical leaf's "tangent" passes through as it is, as its cotangent does in reverse mode).
fn while_jvp(
    t: &LoopTarget,
    max_iterations: Option<usize>,
    (init, captures): (&[DlArray], &[DlArray]),
    (dir_init, dir_captures): (&[DlArray], &[DlArray]),
) -> Result<Vec<DlArray>> {
    let nc = t.carry;
    let predicate =
        &t.other.as_ref().ok_or_else(|| Error::Gradient("internal: a while loop without predicate".into()))?.traced;
    let body = &t.body.traced;
    let captures = as_variables(captures)?;
    let with_captures = |carry: &[DlArray]| -> Vec<DlArray> { carry.iter().chain(&captures).cloned().collect() };
    let start: Vec<DlArray> = init.iter().chain(dir_init).cloned().collect();
    let name = format!("{} (forward mode)", t.name);
    let options = LoopOptions { max_iterations, checkpoint_every: None };
    let last = while_named(
        name,
        start,
        |c: &Vec<DlArray>| {
            let mut verdict = replay(predicate, &with_captures(&c[..nc]))?;
            verdict.pop().ok_or_else(|| Error::Gradient("internal: a predicate without result".into()))
        },
        |c: Vec<DlArray>| {
            let (carry, tangent) = c.split_at(nc);
            let args = with_captures(carry);
            let outputs = replay(body, &args)?;
            // The differentiable arguments and their directions (logical ones have none).
            let (xs, vs): (Vec<DlArray>, Vec<DlArray>) = args
                .iter()
                .zip(tangent.iter().chain(dir_captures))
                .filter(|(x, _)| x.dtype() != DType::Bool)
                .map(|(x, v)| (x.clone(), v.clone()))
                .unzip();
            let mut next = outputs.clone();
            for (o, tangent) in outputs.iter().zip(tangent) {
                next.push(match o.dtype() {
                    DType::Bool => tangent.clone(),
                    _ if xs.is_empty() => zeros_like(o)?,
                    _ => dljvp(o, &xs, &vs)?,
                });
            }
            Ok(next)
        },
        options,
    )?;
    Ok(last[nc..].to_vec())
}
