//! Reverse mode through loops and branches, written as loops and branches: the gradient of a
//! scan is a scan keeping the carries, then a scan backwards over them running the body's VJP
//! (itself traced once, with `dlgradient` inside the body); the gradient of a branch is a branch
//! of the branches' VJPs; a while loop's is one node running the forward loop and then its
//! reverse steps, as many as the forward run took (differentiable again through
//! `while_tangent.rs`).

use super::branch::cond_arrays;
use super::build::{add_missing_inputs, types_of, LeafType};
use super::scan_rule::scan_vjp;
use super::step_vjp::{add_cotangent, as_variables, step_vjp};
use super::target::{Kind, LoopRule, LoopTarget, Part};
use super::LoopOptions;
use crate::array::{DType, Data};
use crate::autodiff::CallVjp;
use crate::custom::trees::zeros_like;
use crate::error::{Error, Result};
use crate::trace::{trace_body, DlArray};
use std::sync::Arc;

impl CallVjp for LoopRule {
    fn vjp(&self, output: usize, inputs: &[DlArray], ct: &DlArray) -> Result<Vec<DlArray>> {
        let target = self.target()?;
        let mut cts = vec![None; target.outputs.len()];
        cts[output] = Some(ct.clone());
        let wants = vec![true; inputs.len()];
        let grads = self.vjp_outputs(inputs, &cts, &wants).unwrap_or_else(|| Ok(vec![None; inputs.len()]))?;
        grads.into_iter().zip(inputs).map(|(g, x)| g.map_or_else(|| zeros_like(x), Ok)).collect()
    }

    fn vjp_outputs(
        &self,
        inputs: &[DlArray],
        cts: &[Option<DlArray>],
        wants: &[bool],
    ) -> Option<Result<Vec<Option<DlArray>>>> {
        Some(self.target().and_then(|t| {
            // Cotangents of a scan's kept carries (its last results, read by a first reverse sweep).
            let kept_given = match t.kind {
                Kind::Scan { kept: true, ys, .. } => cts.iter().skip(t.carry + ys).any(Option::is_some),
                _ => false,
            };
            let cts: Vec<DlArray> = t
                .outputs
                .iter()
                .zip(cts)
                .map(|((d, s), ct)| ct.clone().unwrap_or_else(|| DlArray::from_data(Arc::new(Data::zeros(*d, s)))))
                .collect();
            match t.kind {
                Kind::Scan { reverse, ys, .. } => scan_vjp(&t, (reverse, ys, kept_given), inputs, &cts, self.options()),
                Kind::Cond => cond_vjp(&t, inputs, &cts),
                Kind::While { max_iterations } => while_vjp(&t, max_iterations, inputs, &cts),
                Kind::WhileReverse { max_iterations } => {
                    super::while_tangent::while_reverse_vjp(&t, max_iterations, inputs, &cts, wants)
                }
            }
        }))
    }

    fn groups_outputs(&self) -> bool {
        true
    }
}

fn cond_vjp(t: &LoopTarget, inputs: &[DlArray], cts: &[DlArray]) -> Result<Vec<Option<DlArray>>> {
    let na = t.carry;
    let (pred, rest) = inputs.split_at(1);
    let (operands, captures) = rest.split_at(na);
    let other = t.other.as_ref().ok_or_else(|| Error::Gradient("internal: a branch without else".into()))?;
    let branch_vjp = |g: &crate::ir::Graph, args: Vec<DlArray>| -> Result<Vec<DlArray>> {
        let (ops, out_cts) = args.split_at(na);
        let run_args: Vec<DlArray> = ops.iter().cloned().chain(as_variables(captures)?).collect();
        step_vjp(g, &run_args, out_cts)
    };
    let all: Vec<DlArray> = operands.iter().chain(cts).cloned().collect();
    let name = format!("{} (reverse mode)", t.name);
    let grads =
        cond_arrays(&name, &pred[0], &all, |a| branch_vjp(&t.body.traced, a), |a| branch_vjp(&other.traced, a))?;
    Ok(std::iter::once(None).chain(grads.into_iter().map(Some)).collect())
}

fn while_vjp(
    t: &LoopTarget,
    max_iterations: Option<usize>,
    inputs: &[DlArray],
    cts: &[DlArray],
) -> Result<Vec<Option<DlArray>>> {
    let nc = t.carry;
    let (_, captures) = inputs.split_at(nc);
    let np = captures.len();
    let carry_types: Vec<LeafType> = t.outputs.clone();
    let capture_types = types_of(captures)?;
    let arguments: Vec<LeafType> =
        carry_types.iter().chain(&capture_types).chain(&carry_types).chain(&capture_types).cloned().collect();
    let body = &t.body.traced;
    let name = format!("{} (reverse mode)", t.name);
    let step = trace_body(&name, &arguments, Vec::new(), |args| {
        let (run_args, acc) = args.split_at(nc + np);
        let (carry_ct, capture_ct) = acc.split_at(nc);
        let g = step_vjp(body, run_args, carry_ct)?;
        let (g_carry, g_captures) = g.split_at(nc);
        let g_carry =
            g_carry.iter().zip(carry_ct).map(|(g, a)| if a.dtype() == DType::Bool { a.clone() } else { g.clone() });
        Ok(g_carry.chain(capture_ct.iter().zip(g_captures).map(|(a, g)| add_cotangent(a, g))).collect())
    })?;
    if !step.captures.is_empty() {
        return Err(Error::Gradient(format!("internal: {name}: the reverse step read values from outside")));
    }
    let mut step_graph = step.graph;
    add_missing_inputs(&mut step_graph, &arguments);
    let forward_inputs: Vec<LeafType> = carry_types.iter().chain(&capture_types).cloned().collect();
    let other = t.other.as_ref().ok_or_else(|| Error::Gradient("internal: a while loop without predicate".into()))?;
    let target = Arc::new_cyclic(|me| LoopTarget {
        name: name.clone(),
        kind: Kind::WhileReverse { max_iterations },
        carry: nc,
        xs: 0,
        body: Part::shared(&t.body),
        other: Some(Part::shared(other)),
        reverse_step: Part::new(step_graph).ok(),
        inputs: forward_inputs.iter().chain(&carry_types).cloned().collect(),
        outputs: forward_inputs.clone(),
        backward: LoopRule::backward(me.clone(), LoopOptions::default()),
        options: LoopOptions::default(),
        drivers: Default::default(),
        hidden: Default::default(),
    });
    if target.reverse_step.is_none() {
        return Err(Error::Gradient(format!("internal: {name}: the reverse step did not optimize")));
    }
    // The carries an eager run of the forward loop kept, for the reverse loop's run.
    if let Some(forward) = inputs.iter().map(|a| a.ready_data().cloned()).collect::<Option<Vec<_>>>() {
        t.hidden.move_carries(&forward, nc, &target.hidden);
    }
    let operands: Vec<DlArray> = inputs.iter().chain(&cts[..nc]).cloned().collect();
    let grads = super::build::record(target, &operands, None)?;
    Ok(grads.into_iter().map(Some).collect())
}
