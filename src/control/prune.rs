//! A loop without its unused results: the carries nothing reads after the loop, which no
//! carry that is read, no stacked output that is read and no predicate depends on, and the
//! stacked outputs nothing reads, are dropped from the body (and from the node), so a
//! compiled loop does not compute them. The optimizer asks for this through
//! [`CallTarget::pruned`](crate::ir::CallTarget::pruned).

use super::target::{Kind, LoopRule, LoopTarget, Part};
use crate::error::{Error, Result};
use crate::ir::{Graph, NodeId, Op, Operands, Pruned};
use std::sync::Arc;

/// Which inputs of `g` (by input number, `inputs` of them) the nodes `roots` depend on.
fn inputs_read(g: &Graph, inputs: usize, roots: impl Iterator<Item = NodeId>) -> Vec<bool> {
    let mut seen = vec![false; g.nodes.len()];
    let mut stack: Vec<NodeId> = roots.collect();
    let mut read = vec![false; inputs];
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut seen[id], true) {
            continue;
        }
        if let Op::Input(k) = g.nodes[id].op {
            if let Some(r) = read.get_mut(k) {
                *r = true;
            }
        }
        stack.extend(g.nodes[id].inputs.iter().copied());
    }
    read
}

/// `g` with outputs `outputs` and only the inputs `keep` marks, renumbered in order (the
/// others must be dead). Regions are not kept (the body's dump shows no derivative markers).
fn select(g: &Graph, keep: &[bool], outputs: Vec<NodeId>) -> Result<Graph> {
    let mut h = g.clone();
    h.outputs = outputs;
    let h = h.into_pruned()?;
    let numbers: Vec<Option<usize>> =
        keep.iter().scan(0, |n, &k| Some(k.then(|| std::mem::replace(n, *n + 1)))).collect();
    let mut map = vec![usize::MAX; h.nodes.len()];
    let mut out =
        Graph { nodes: Vec::with_capacity(h.nodes.len()), outputs: Vec::new(), regions: vec![Default::default()] };
    for (id, node) in h.nodes.iter().enumerate() {
        let op = match node.op {
            Op::Input(k) => match numbers.get(k).copied().flatten() {
                Some(n) => Op::Input(n),
                None => continue,
            },
            ref op => op.clone(),
        };
        let inputs: Operands = node.inputs.iter().map(|&i| map[i]).collect();
        if inputs.contains(&usize::MAX) {
            return Err(Error::argument("prune", "internal: a dropped input is read"));
        }
        out.nodes.push(crate::ir::Node { op, inputs, region: 0, ..node.clone() });
        map[id] = out.nodes.len() - 1;
    }
    out.outputs = h.outputs.iter().map(|&o| map[o]).collect();
    Ok(out)
}

/// `t` computing only the `used` results and what they need, or `None` when nothing can go
/// (or `t` is not a plain scan or while loop).
pub(super) fn pruned(t: &LoopTarget, used: &[bool]) -> Result<Option<Pruned>> {
    let (nc, nx) = (t.carry, t.xs);
    // The stacked outputs: `ys`, then (a scan that keeps its carries) the carry each step
    // started from, one per carry, which stays as long as its carry does, then its residuals.
    let (ys, kept, saved) = match t.kind {
        Kind::Scan { ys, kept, saved, .. } => (ys, kept, saved),
        Kind::While { .. } => (0, false, 0),
        _ => return Ok(None),
    };
    let stacked = ys + if kept { nc } else { 0 } + saved;
    let body = &t.body.traced;
    let inputs = t.inputs.len();
    let mut need: Vec<bool> = used[..nc].to_vec();
    let mut ys_used: Vec<bool> = used[nc..nc + stacked].to_vec();
    if let (Some(p), Kind::While { .. }) = (&t.other, &t.kind) {
        let read = inputs_read(&p.traced, inputs, p.traced.outputs.iter().copied());
        need.iter_mut().zip(&read).for_each(|(n, r)| *n |= r);
    }
    loop {
        let roots = (0..nc).filter(|&k| need[k]).chain((0..stacked).filter(|&j| ys_used[j]).map(|j| nc + j));
        let read = inputs_read(body, inputs, roots.map(|o| body.outputs[o]));
        let before = need.clone();
        need.iter_mut().zip(&read).for_each(|(n, r)| *n |= r);
        if need == before {
            break;
        }
    }
    if kept {
        ys_used[ys..].iter_mut().zip(&need).for_each(|(u, n)| *u |= n);
    }
    if need.iter().all(|&n| n) && ys_used.iter().all(|&u| u) {
        return Ok(None);
    }
    let keep: Vec<bool> = need.iter().copied().chain(std::iter::repeat_n(true, inputs - nc)).collect();
    let new_nc = need.iter().filter(|&&n| n).count();
    let kept_outputs = (0..nc).filter(|&k| need[k]).chain((0..stacked).filter(|&j| ys_used[j]).map(|j| nc + j));
    let body =
        Part::looped(select(body, &keep, kept_outputs.clone().map(|o| body.outputs[o]).collect())?, new_nc + nx)?;
    let other = match (&t.other, &t.kind) {
        (Some(p), Kind::While { .. }) => {
            Some(Part::looped(select(&p.traced, &keep, p.traced.outputs.clone())?, new_nc)?)
        }
        _ => None,
    };
    let kind = match t.kind {
        Kind::Scan { length, reverse, .. } => {
            let count = |r: &[bool]| r.iter().filter(|&&u| u).count();
            Kind::Scan { length, reverse, ys: count(&ys_used[..ys]), kept, saved: count(&ys_used[stacked - saved..]) }
        }
        ref k => k.clone(),
    };
    let old_outputs: Vec<usize> = kept_outputs.collect();
    let operands: Vec<usize> = (0..inputs).filter(|&k| keep[k]).collect();
    let target = Arc::new_cyclic(|me| LoopTarget {
        name: t.name.clone(),
        kind,
        carry: new_nc,
        xs: nx,
        body,
        other,
        reverse_step: None,
        inputs: operands.iter().map(|&k| t.inputs[k].clone()).collect(),
        outputs: old_outputs.iter().map(|&o| t.outputs[o].clone()).collect(),
        backward: LoopRule::backward(me.clone(), t.options),
        options: t.options,
        drivers: Default::default(),
        hidden: Default::default(),
    });
    let mut outputs = vec![None; t.outputs.len()];
    for (new, &old) in old_outputs.iter().enumerate() {
        outputs[old] = Some(new);
    }
    Ok(Some(Pruned { target, operands, outputs }))
}
