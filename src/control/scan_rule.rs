//! Reverse mode through a scan (and so a `fori_loop`): a scan keeping the carries a step starts
//! from, then a scan backwards over them running the body's VJP. With `checkpoint_every: Some(k)`
//! only every `k`-th carry is kept and each chunk of `k` steps is run again, keeping its carries,
//! just before its reverse steps.

use super::replay::replay;
use super::scan::scan_arrays;
use super::step_vjp::{add_cotangent, as_variables, step_vjp};
use super::target::{Kind, LoopTarget};
use super::LoopOptions;
use crate::array::DType;
use crate::custom::trees::zeros_like;
use crate::error::Result;
use crate::ir::{Call, CallTarget, Graph, Op};
use crate::trace::{emit, DlArray};
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
    let (last, x_cts) = match chunk {
        None => {
            let kept = match t.kind {
                Kind::Scan { kept: true, .. } => kept_by_the_loop(t, ys, inputs)?,
                _ => sweep.kept(carry, xs)?,
            };
            let kept_cts = if kept_given { &cts[nc + ys..] } else { &[] };
            sweep.backwards(&init, xs, &kept, (&cts[nc..nc + ys], kept_cts))?
        }
        Some(k) => sweep.checkpointed(k, &init, carry, xs, &cts[nc..nc + ys])?,
    };
    let (carry_ct, capture_ct) = last.split_at(nc);
    Ok(carry_ct.iter().chain(&x_cts).chain(capture_ct).cloned().map(Some).collect())
}

/// The carries the loop `t` itself stacks for reverse mode (its last results): nodes of the
/// same call on the same operands, so a compiled program computes them in the loop's own run.
fn kept_by_the_loop(t: &Arc<LoopTarget>, ys: usize, inputs: &[DlArray]) -> Result<Vec<DlArray>> {
    let target: Arc<dyn CallTarget> = t.clone();
    let operands: Vec<&DlArray> = inputs.iter().collect();
    (0..t.carry)
        .map(|k| {
            let kept = emit(Op::Call(Call { target: target.clone(), output: t.carry + ys + k }), &operands);
            kept.check().map(|_| kept)
        })
        .collect()
}

/// The steps between kept carries: `k`, or, when `k` does not divide the trip count, its
/// largest divisor below `k` (chunks all have one length, so a chunk is a scan of its own).
fn chunk_length(length: usize, k: usize) -> usize {
    (1..=k.min(length)).rev().find(|d| length % d == 0).unwrap_or(1)
}

/// What the reverse scans of one scan share.
struct Sweep<'a> {
    name: &'a str,
    body: &'a Graph,
    nc: usize,
    nx: usize,
    captures: &'a [DlArray],
    reverse: bool,
}

impl Sweep<'_> {
    /// The carry each step starts from, stacked.
    fn kept(&self, carry: &[DlArray], xs: &[DlArray]) -> Result<Vec<DlArray>> {
        let name = format!("{} (carries kept for reverse mode)", self.name);
        let (_, kept) = scan_arrays(&name, (carry, xs), self.reverse, LoopOptions::default(), false, |c, x| {
            let args: Vec<DlArray> = c.iter().chain(&x).chain(self.captures).cloned().collect();
            let out = replay(self.body, &args)?;
            Ok((out[..self.nc].to_vec(), c))
        })?;
        Ok(kept)
    }

    /// The reverse steps over `xs` and the `kept` carries from the accumulated cotangents
    /// `init` (the carry's, then the captures'): the last accumulators and the `xs` cotangents.
    /// `kept_cts`: cotangents of the kept carries themselves (empty when none were read), each
    /// step's added to the cotangent of the carry it started from.
    fn backwards(
        &self,
        init: &[DlArray],
        xs: &[DlArray],
        kept: &[DlArray],
        (y_cts, kept_cts): (&[DlArray], &[DlArray]),
    ) -> Result<(Vec<DlArray>, Vec<DlArray>)> {
        let (nc, nx, ny) = (self.nc, self.nx, y_cts.len());
        let rows: Vec<DlArray> = xs.iter().chain(kept).chain(y_cts).chain(kept_cts).cloned().collect();
        let name = format!("{} (reverse mode)", self.name);
        scan_arrays(&name, (init, &rows), !self.reverse, LoopOptions::default(), false, |acc, rows| {
            let (carry_ct, capture_ct) = acc.split_at(nc);
            let (x, rest) = rows.split_at(nx);
            let (c, rest) = rest.split_at(nc);
            let (y_ct, c_ct) = rest.split_at(ny);
            let args: Vec<DlArray> = c.iter().chain(x).cloned().chain(as_variables(self.captures)?).collect();
            let out_cts: Vec<DlArray> = carry_ct.iter().chain(y_ct).cloned().collect();
            let g = step_vjp(self.body, &args, &out_cts)?;
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

    /// [`backwards`](Self::backwards) keeping only the carry each chunk of `k` steps starts
    /// from: each chunk's steps run again, keeping their carries, just before its reverse steps.
    fn checkpointed(
        &self,
        k: usize,
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
        let name = format!("{} (reverse mode, chunks of {k})", self.name);
        let (last, x_ct_chunks) =
            scan_arrays(&name, (init, &rows), !self.reverse, LoopOptions::default(), false, |acc, rows| {
                let (x, rest) = rows.split_at(nx);
                let (start, y_ct) = rest.split_at(nc);
                let kept = self.kept(start, x)?;
                self.backwards(&acc, x, &kept, (y_ct, &[]))
            })?;
        let x_cts = x_ct_chunks.iter().zip(xs).map(|(g, x)| g.reshape(x.shape())).collect();
        Ok((last, x_cts))
    }
}
