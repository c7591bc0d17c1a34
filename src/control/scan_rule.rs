//! Reverse mode through a scan (and so a `fori_loop`): a scan keeping the carries a step starts
//! from, then a scan backwards over them running the body's VJP. The forward loop also stacks
//! the residuals of its body's VJP (`residuals.rs`), and the reverse steps read them rather than
//! run the body again. With `checkpoint_every: Some(k)` only every `k`-th carry is kept (the
//! forward loop stacks no residuals) and each chunk of `k` steps is run again, keeping its
//! carries and its residuals, just before its reverse steps.

use super::replay::replay;
use super::residuals::{reverse_step, with_residuals, Layout};
use super::scan::scan_arrays;
use super::step_vjp::{add_cotangent, as_variables, vjp_of};
use super::target::{Kind, LoopTarget};
use super::LoopOptions;
use crate::array::DType;
use crate::custom::trees::zeros_like;
use crate::error::{Error, Result};
use crate::ir::{Call, CallTarget, Graph, Op};
use crate::trace::{emit_outputs, DlArray};
use std::ops::Range;
use std::sync::Arc;

pub(super) fn scan_vjp(
    t: &Arc<LoopTarget>,
    (reverse, ys, kept_given): (bool, usize, bool),
    inputs: &[DlArray],
    cts: &[DlArray],
    options: LoopOptions,
) -> Result<Vec<Option<DlArray>>> {
    let (nc, nx) = (t.carry, t.xs);
    let (carry, rest) = inputs.split_at(nc);
    let (xs, captures) = rest.split_at(nx);
    let sweep = Sweep { name: &t.name, body: &t.body.traced, nc, nx, captures, reverse };
    let init: Vec<DlArray> =
        cts[..nc].iter().cloned().chain(captures.iter().map(zeros_like).collect::<Result<Vec<_>>>()?).collect();
    let length = xs.first().map(|x| x.shape()[0]).unwrap_or(0);
    let chunk = options.checkpoint_every.map(|k| chunk_length(length, k)).filter(|&k| k > 1 && k < length);
    let (y_cts, hidden_cts) = cts[nc..].split_at(ys);
    let (last, x_cts) = match (chunk, &t.kind) {
        (None, &Kind::Scan { kept: true, saved, .. }) => {
            let layout = Layout { carry: nc, xs: nx, ys, kept: nc };
            let step = match saved {
                0 => None,
                // A second sweep's cotangents of the residuals: the body again, paired with them.
                _ if kept_given => None,
                _ => reverse_step(&t.name, sweep.body, layout, saved)
                    .inspect_err(|e| log::warn!("{}: reverse mode runs the body again: {e}", t.name))
                    .ok(),
            };
            let (kept_cts, residual_cts) = if kept_given { hidden_cts.split_at(nc) } else { (&[][..], &[][..]) };
            // The kept carries and (for a step that reads them) the residuals, together.
            let read = if step.is_some() { saved } else { 0 };
            let mut kept = by_the_loop(t, inputs, nc + ys..layout.first_residual() + read)?;
            let residuals = kept.split_off(nc);
            match step {
                Some(step) => sweep.backwards(&init, xs, &kept, (y_cts, kept_cts), (Step::Saved(&step), &residuals))?,
                None => {
                    let replayed = Step::Replay { residuals_at: layout.first_residual() };
                    sweep.backwards(&init, xs, &kept, (y_cts, kept_cts), (replayed, residual_cts))?
                }
            }
        }
        (None, _) => {
            let (kept, _) = sweep.kept(carry, xs, 0..0)?;
            sweep.backwards(&init, xs, &kept, (y_cts, &[]), (Step::Replay { residuals_at: usize::MAX }, &[]))?
        }
        (Some(k), kind) => {
            let kept = if matches!(kind, Kind::Scan { kept: true, .. }) { nc } else { 0 };
            let layout = Layout { carry: nc, xs: nx, ys, kept };
            sweep.checkpointed(k, layout, &init, carry, xs, y_cts)?
        }
    };
    let (carry_ct, capture_ct) = last.split_at(nc);
    Ok(carry_ct.iter().chain(&x_cts).chain(capture_ct).cloned().map(Some).collect())
}

/// The results `outputs` the loop `t` itself stacks for reverse mode (the kept carries, the
/// residuals): nodes of the same call on the same operands, so a compiled program computes them
/// in the loop's own run, and the interpreter takes them from the eager run that computed the
/// visible results (`hidden_results.rs`), or runs the loop once for all of them.
fn by_the_loop(t: &Arc<LoopTarget>, inputs: &[DlArray], outputs: Range<usize>) -> Result<Vec<DlArray>> {
    let target: Arc<dyn CallTarget> = t.clone();
    let operands: Vec<&DlArray> = inputs.iter().collect();
    let ops = outputs.clone().map(|output| Op::Call(Call { target: target.clone(), output })).collect();
    emit_outputs(ops, &operands, |datas| match t.hidden.take(datas, outputs.clone()) {
        Some(kept) => Ok(kept),
        None => {
            let mut all = t.execute(datas, false, None)?;
            all.truncate(outputs.end);
            Ok(all.split_off(outputs.start))
        }
    })
}

/// What a reverse step runs.
#[derive(Clone, Copy)]
enum Step<'a> {
    /// The body again, and its VJP; extra rows: cotangents of the body's results from
    /// `residuals_at` on (a second sweep's cotangents of the residuals), paired with them too.
    Replay { residuals_at: usize },
    /// The VJP reading the residuals ([`reverse_step`]); extra rows: the residuals.
    Saved(&'a Graph),
}

/// The steps between kept carries: `k`, or, when `k` does not divide the trip count, its
/// largest divisor below `k` (chunks all have one length, so a chunk is a scan of its own).
fn chunk_length(length: usize, k: usize) -> usize {
    (1..=k.min(length)).rev().find(|d| length % d == 0).unwrap_or(1)
}

/// What the reverse scans of one scan share.
#[derive(Clone, Copy)]
struct Sweep<'a> {
    name: &'a str,
    body: &'a Graph,
    nc: usize,
    nx: usize,
    captures: &'a [DlArray],
    reverse: bool,
}

impl Sweep<'_> {
    /// The carry each step starts from, stacked, and the body's results `residuals`, stacked.
    fn kept(&self, carry: &[DlArray], xs: &[DlArray], residuals: Range<usize>) -> Result<(Vec<DlArray>, Vec<DlArray>)> {
        let name = format!("{} (carries kept for reverse mode)", self.name);
        let (_, mut kept) = scan_arrays(&name, (carry, xs), self.reverse, LoopOptions::default(), false, |c, x| {
            let args: Vec<DlArray> = c.iter().chain(&x).chain(self.captures).cloned().collect();
            let out = replay(self.body, &args)?;
            let saved = out.get(residuals.clone()).ok_or_else(|| Error::Gradient("internal: no residuals".into()))?;
            Ok((out[..self.nc].to_vec(), c.into_iter().chain(saved.iter().cloned()).collect()))
        })?;
        let residuals = kept.split_off(self.nc);
        Ok((kept, residuals))
    }

    /// The reverse steps over `xs` and the `kept` carries from the accumulated cotangents
    /// `init` (the carry's, then the captures'): the last accumulators and the `xs` cotangents.
    /// `kept_cts`: cotangents of the kept carries themselves (empty when none were read), each
    /// step's added to the cotangent of the carry it started from. `extra`: more rows, as `step`
    /// reads them.
    fn backwards(
        &self,
        init: &[DlArray],
        xs: &[DlArray],
        kept: &[DlArray],
        (y_cts, kept_cts): (&[DlArray], &[DlArray]),
        (step, extra): (Step, &[DlArray]),
    ) -> Result<(Vec<DlArray>, Vec<DlArray>)> {
        let (nc, nx, ny, nk) = (self.nc, self.nx, y_cts.len(), kept_cts.len());
        let rows: Vec<DlArray> = xs.iter().chain(kept).chain(y_cts).chain(kept_cts).chain(extra).cloned().collect();
        let name = format!("{} (reverse mode)", self.name);
        scan_arrays(&name, (init, &rows), !self.reverse, LoopOptions::default(), false, |acc, rows| {
            let (carry_ct, capture_ct) = acc.split_at(nc);
            let (x, rest) = rows.split_at(nx);
            let (c, rest) = rest.split_at(nc);
            let (y_ct, rest) = rest.split_at(ny);
            let (c_ct, extra) = rest.split_at(nk);
            let args: Vec<DlArray> = c.iter().chain(x).cloned().chain(as_variables(self.captures)?).collect();
            let out_cts: Vec<DlArray> = carry_ct.iter().chain(y_ct).cloned().collect();
            let g = self.step_vjp(step, &args, &out_cts, extra)?;
            let (g_carry, rest) = g.split_at(nc);
            let (g_x, g_captures) = rest.split_at(nx);
            let g_carry = g_carry.iter().zip(carry_ct).enumerate().map(|(k, (g, a))| match c_ct.get(k) {
                _ if a.dtype() == DType::Bool => a.clone(),
                Some(direct) => g + direct,
                None => g.clone(),
            });
            let captured = capture_ct.iter().zip(g_captures).map(|(a, g)| add_cotangent(a, g));
            Ok((g_carry.chain(captured).collect(), g_x.to_vec()))
        })
    }

    /// The cotangents of one step's `args` for the `cts` of its carry and `ys`, as `step`
    /// computes them from `args` and the `extra` rows.
    fn step_vjp(&self, step: Step, args: &[DlArray], cts: &[DlArray], extra: &[DlArray]) -> Result<Vec<DlArray>> {
        match step {
            Step::Saved(graph) => {
                let all: Vec<DlArray> = args.iter().chain(cts).chain(extra).cloned().collect();
                replay(graph, &all)
            }
            Step::Replay { residuals_at } => {
                let outputs = replay(self.body, args)?;
                let residuals = outputs.get(residuals_at..).unwrap_or(&[]);
                let paired: Vec<DlArray> = outputs[..cts.len()].iter().chain(residuals).cloned().collect();
                let cts: Vec<DlArray> = cts.iter().chain(extra).cloned().collect();
                vjp_of(&paired, args, &cts)
            }
        }
    }

    /// [`backwards`](Self::backwards) keeping only the carry each chunk of `k` steps starts
    /// from: each chunk's steps run again, keeping their carries and the residuals of the body
    /// (its results as `layout` says, none saved), just before its reverse steps.
    fn checkpointed(
        &self,
        k: usize,
        layout: Layout,
        init: &[DlArray],
        carry: &[DlArray],
        xs: &[DlArray],
        y_cts: &[DlArray],
    ) -> Result<(Vec<DlArray>, Vec<DlArray>)> {
        let chunked = |a: &DlArray| {
            let shape = a.shape();
            let dims: Vec<usize> = [shape[0] / k, k].into_iter().chain(shape[1..].iter().copied()).collect();
            a.reshape(&dims)
        };
        let xs_chunks: Vec<DlArray> = xs.iter().map(chunked).collect();
        let y_ct_chunks: Vec<DlArray> = y_cts.iter().map(chunked).collect();
        let name = format!("{} (every {k}-th carry kept for reverse mode)", self.name);
        let (_, starts) =
            scan_arrays(&name, (carry, &xs_chunks), self.reverse, LoopOptions::default(), false, |c, x| {
                let inner = format!("{} (a chunk of {k} steps)", self.name);
                let (last, _) = scan_arrays(&inner, (&c, &x), self.reverse, LoopOptions::default(), false, |c, x| {
                    let args: Vec<DlArray> = c.iter().chain(&x).chain(self.captures).cloned().collect();
                    Ok((replay(self.body, &args)?[..self.nc].to_vec(), Vec::new()))
                })?;
                Ok((last, c))
            })?;
        let rows: Vec<DlArray> = xs_chunks.iter().chain(&starts).chain(&y_ct_chunks).cloned().collect();
        let (nc, nx) = (self.nc, self.nx);
        let planned = self.with_residuals(layout);
        let name = format!("{} (reverse mode, chunks of {k})", self.name);
        let (last, x_ct_chunks) =
            scan_arrays(&name, (init, &rows), !self.reverse, LoopOptions::default(), false, |acc, rows| {
                let (x, rest) = rows.split_at(nx);
                let (start, y_ct) = rest.split_at(nc);
                match &planned {
                    Some((body, step, saved)) => {
                        let sweep = Sweep { body, ..*self };
                        let (kept, residuals) = sweep.kept(start, x, saved.clone())?;
                        sweep.backwards(&acc, x, &kept, (y_ct, &[]), (Step::Saved(step), &residuals))
                    }
                    None => {
                        let (kept, _) = self.kept(start, x, 0..0)?;
                        let replayed = Step::Replay { residuals_at: usize::MAX };
                        self.backwards(&acc, x, &kept, (y_ct, &[]), (replayed, &[]))
                    }
                }
            })?;
        let x_cts = x_ct_chunks.iter().zip(xs).map(|(g, x)| g.reshape(x.shape())).collect();
        Ok((last, x_cts))
    }

    /// The body with the residuals of its VJP as extra results, the reverse step reading them,
    /// and where they are; `None` when it has none, or they cannot be traced (logged).
    fn with_residuals(&self, layout: Layout) -> Option<(Graph, Graph, Range<usize>)> {
        let planned = with_residuals(self.name, self.body, layout).and_then(|p| {
            p.map(|(body, saved)| {
                let step = reverse_step(self.name, &body, layout, saved)?;
                Ok((body, step, layout.first_residual()..layout.first_residual() + saved))
            })
            .transpose()
        });
        planned.inspect_err(|e| log::warn!("{}: reverse mode runs each chunk twice: {e}", self.name)).ok().flatten()
    }
}
