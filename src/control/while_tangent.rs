//! Derivatives of a while loop's reverse steps (the node reverse mode makes of it): forward
//! mode and every higher order through a while loop. The reverse steps are linear in the carry
//! cotangent they start from: they apply the transposed Jacobian of the whole loop. Their
//! derivative with respect to that cotangent is the Jacobian itself, applied to a direction: a
//! while loop carrying the carry and its tangent, with the same predicate, so it stops where the
//! forward loop stops (`dljvp` takes this path). Their derivative with respect to the loop's
//! starting carry and captures is the gradient of that tangent paired with the cotangent:
//! reverse mode through the tangent loop, itself a while loop with reverse steps of its own.

use super::build::types_of;
use super::replay::replay;
use super::step_vjp::{as_variables, pairing};
use super::target::LoopTarget;
use super::while_loop::while_named;
use super::LoopOptions;
use crate::array::DType;
use crate::autodiff::{dljvp, gradients, GradOptions};
use crate::custom::trees::zeros_like;
use crate::error::{Error, Result};
use crate::trace::{trace_body, DlArray};

/// The VJP of a while loop's reverse steps `t` (operands `[init.., captures.., carry ct..]`,
/// results `[init ct.., captures' ct..]`) for the cotangents `cts` of its results, for the
/// operands `wants` marks. With respect to the carry cotangent it is the loop's tangent along
/// `cts`; with respect to the starting carry and the captures, the gradient of that tangent's
/// pairing with the carry cotangent: reverse mode through the tangent loop, a while loop again,
/// so every order of derivative takes this same path.
pub(super) fn while_reverse_vjp(
    t: &LoopTarget,
    max_iterations: Option<usize>,
    inputs: &[DlArray],
    cts: &[DlArray],
    wants: &[bool],
) -> Result<Vec<Option<DlArray>>> {
    let nc = t.carry;
    let np = inputs.len() - 2 * nc;
    if inputs.iter().take(nc + np).any(|x| x.dtype().is_complex()) {
        return Err(Error::Gradient(format!(
            "{}: second derivatives and forward mode through a complex while_loop are not available",
            t.name
        )));
    }
    let (dir_init, dir_captures) = cts.split_at(nc);
    if !wants.iter().take(nc + np).any(|&w| w) {
        let (init, captures) = (&inputs[..nc], as_variables(&inputs[nc..nc + np])?);
        let tangent = while_jvp(t, max_iterations, (init, &captures), (dir_init, dir_captures))?;
        return Ok(std::iter::repeat_n(None, nc + np).chain(tangent.into_iter().map(Some)).collect());
    }
    // Traced as a body of its own, on fresh arguments, so that its gradient sees only the
    // paths through the tangent loop (the cotangents may be computed from the loop's results),
    // then applied here as ops.
    let operands: Vec<DlArray> = inputs.iter().chain(cts).cloned().collect();
    let name = format!("{} (second order)", t.name);
    let body = trace_body(&name, &types_of(&operands)?, Vec::new(), |args| {
        let (init, rest) = args.split_at(nc);
        let (captures, rest) = rest.split_at(np);
        let (carry_ct, directions) = rest.split_at(nc);
        let tangent = while_jvp(t, max_iterations, (init, captures), directions.split_at(nc))?;
        // Logical leaves have no cotangent (zeros, as reverse mode gives them).
        let all: Vec<&DlArray> = init.iter().chain(captures).collect();
        let vars: Vec<&DlArray> = all.iter().copied().filter(|v| v.dtype() != DType::Bool).collect();
        let mut grads = match pairing(&tangent, carry_ct).filter(|_| !vars.is_empty()) {
            Some(s) => {
                let options = GradOptions { enable_higher_derivatives: Some(true), ..GradOptions::default() };
                gradients(&s, &vars, &options)?
            }
            None => vars.iter().map(|v| zeros_like(v)).collect::<Result<_>>()?,
        }
        .into_iter();
        let mut results: Vec<DlArray> =
            all.iter()
                .map(|v| {
                    if v.dtype() == DType::Bool {
                        zeros_like(v)
                    } else {
                        grads.next().map_or_else(|| zeros_like(v), Ok)
                    }
                })
                .collect::<Result<_>>()?;
        results.extend(tangent);
        Ok(results)
    })?;
    let args: Vec<DlArray> = operands.into_iter().chain(body.captures).collect();
    Ok(replay(&body.graph, &args)?.into_iter().map(Some).collect())
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
