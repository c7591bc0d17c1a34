//! Repeated structure in a long trace. An unrolled loop (a recurrent loss over many time steps,
//! and its gradient) is the same few kernels again and again on other buffers. A run of
//! kernels is cut into functions at the period it repeats with ([`cut`]), so the functions of
//! two stretches of steps are the same code on other buffers. Each function reads its buffers
//! through its own pointer table (`KernelEmitter::table`), so such functions have equal CLIF:
//! a function whose kernels have the structure of an earlier one ([`GroupKey`]) is not built
//! again, functions with equal CLIF ([`same_code`]) are compiled once, and each runs on its own
//! table. Compilation then grows with the distinct code, not with the number of steps.

use super::Plan;
use crate::array::DType;
use crate::ir::{Graph, NodeId, Op, Shape};
use cranelift_codegen::ir::Function;
use rustc_hash::FxHashMap;
use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};
use std::ops::Range;

/// About this many kernels go in one function (a long trace becomes a few functions of
/// straight-line loop nests rather than one function, and one call, per kernel).
pub(crate) const KERNELS_PER_FUNCTION: usize = 32;

/// The longest period looked for, in kernels.
const MAX_PERIOD: usize = 64;

/// How many kernels of a repeat are compared to choose between periods.
const COMPARED: usize = 4 * MAX_PERIOD;

/// A repeat is used when it covers at least this many kernels.
const MIN_REPEAT: usize = 16;

/// The operation, shape and dtype of the nodes of kernel `k`'s fused expression (the first
/// 64 met), and how the plan emits it: equal for the kernels of two steps of an unrolled loop.
/// It only chooses where functions are cut; [`same_code`] decides what is shared.
pub(crate) fn kernel_hash(g: &Graph, plan: &Plan, k: NodeId) -> u64 {
    let mut h = FxHasher::default();
    (plan.sibling[k].is_some(), plan.axis_sum[k].map(|(_, axis)| axis)).hash(&mut h);
    let mut stack: smallvec::SmallVec<[NodeId; 16]> = smallvec::smallvec![k];
    let mut met = 0;
    while let Some(n) = stack.pop() {
        let node = &g.nodes[n];
        std::mem::discriminant(&node.op).hash(&mut h);
        (&node.shape, node.dtype, plan.inline_const[n]).hash(&mut h);
        met += 1;
        if met == 64 {
            break;
        }
        if n == k || (plan.buffer[n].is_none() && !plan.inline_const[n]) {
            stack.extend_from_slice(&node.inputs);
        }
    }
    h.finish()
}

/// The period `p` (at most [`MAX_PERIOD`]) with which `h` repeats from position `i` over the
/// most kernels, and how many times (at least 2): `h[i..i + p]` equals each following block of
/// `p`. Covers of up to [`COMPARED`] kernels decide, the shortest period winning ties (so a
/// multiple of the period does not win).
fn repeat_at(h: &[u64], i: usize) -> Option<(usize, usize)> {
    let repeats = |p: usize, cap: usize| {
        let mut r = 1;
        while r < cap && i + (r + 1) * p <= h.len() && h[i + r * p..i + (r + 1) * p] == h[i..i + p] {
            r += 1;
        }
        r
    };
    let mut best: Option<(usize, usize)> = None;
    for p in 1..=MAX_PERIOD.min((h.len() - i) / 2) {
        if h[i] != h[i + p] {
            continue;
        }
        let r = repeats(p, COMPARED / p);
        if r >= 2 && best.is_none_or(|(bp, br)| p * r > bp * br) {
            best = Some((p, r));
        }
    }
    best.map(|(p, _)| (p, repeats(p, usize::MAX))).filter(|&(p, r)| p * r >= MIN_REPEAT)
}

/// Cuts a run of kernels (one structural hash each, [`kernel_hash`]) into functions of about
/// [`KERNELS_PER_FUNCTION`] kernels: a stretch that repeats with period `p` is cut every whole
/// number of periods, so its functions are alike; the rest is cut every
/// `KERNELS_PER_FUNCTION`. Linear in the run (each position is looked at with at most
/// [`MAX_PERIOD`] candidate periods of bounded checks).
pub(crate) fn cut(h: &[u64]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut plain = 0; // start of the kernels not yet cut that repeat nothing
    let mut i = 0;
    let flush = |out: &mut Vec<Range<usize>>, from: usize, to: usize| {
        let mut s = from;
        while s < to {
            let e = (s + KERNELS_PER_FUNCTION).min(to);
            out.push(s..e);
            s = e;
        }
    };
    while i < h.len() {
        match repeat_at(h, i) {
            Some((p, r)) => {
                flush(&mut out, plain, i);
                let per = ((KERNELS_PER_FUNCTION + p / 2) / p).max(1);
                let mut done = 0;
                while done < r {
                    let take = per.min(r - done);
                    out.push(i + done * p..i + (done + take) * p);
                    done += take;
                }
                i += r * p;
                plain = i;
            }
            None => i += 1,
        }
    }
    flush(&mut out, plain, h.len());
    out
}

/// One item of a [`GroupKey`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Item<'g> {
    /// A kernel root (or its sibling, or the sum in its loop nest): how the plan emits it,
    /// then its node.
    Kernel { sibling: bool, axis_sum: Option<usize> },
    /// A node the kernel computes in its loop nest: its op, shape, dtype, pricing (the emitter
    /// reads it at pads) and operand count; its operands follow.
    Fused { op: &'g Op, shape: Shape, dtype: DType, cost: usize, operands: usize },
    /// A fused node met before: its number in order of first meeting.
    Again(usize),
    /// A node read from a buffer: the buffer's number in order of first meeting (a kernel
    /// root's own buffer too), and the node's shape and dtype.
    Buffer { buffer: usize, shape: Shape, dtype: DType },
    /// A constant emitted as an immediate.
    Immediate { op: &'g Op, shape: Shape },
}

/// The structure of a function's kernels: everything the emitter reads from the graph and the
/// plan, with buffers and fused nodes numbered in the order met. Functions with equal keys are
/// emitted as the same CLIF, reading corresponding buffers ([`GroupKey::table_like`]), so only
/// the first is built. (Debug builds build every function and check that it is so.)
pub(crate) struct GroupKey<'g> {
    items: Vec<Item<'g>>,
    /// The slot of each buffer number.
    slots: Vec<usize>,
}

impl<'g> GroupKey<'g> {
    /// The key of the function that runs kernels `group`.
    pub(crate) fn of(g: &'g Graph, plan: &Plan, group: &[NodeId]) -> GroupKey<'g> {
        let mut key = GroupKey { items: Vec::new(), slots: Vec::new() };
        let mut buffer_of: FxHashMap<usize, usize> = FxHashMap::default();
        let mut fused: FxHashMap<NodeId, usize> = FxHashMap::default();
        let mut buffer = |key: &mut GroupKey<'g>, slot: usize| {
            *buffer_of.entry(slot).or_insert_with(|| {
                key.slots.push(slot);
                key.slots.len() - 1
            })
        };
        let mut stack: Vec<(NodeId, bool)> = Vec::new();
        for &root in group {
            // The kernel, the sibling written in its loop nest, and the sums over one axis
            // that either accumulates there: each with how the plan emits it.
            let mut roots: smallvec::SmallVec<[NodeId; 4]> = smallvec::SmallVec::new();
            for r in std::iter::once(root).chain(plan.sibling[root]) {
                let axis_sum = plan.axis_sum[r].map(|(_, axis)| axis);
                key.items.push(Item::Kernel { sibling: plan.sibling[r].is_some(), axis_sum });
                roots.push(r);
                roots.extend(plan.axis_sum[r].map(|(sum, _)| sum));
            }
            for r in roots {
                let node = &g.nodes[r];
                let own = plan.buffer[r].map(|s| buffer(&mut key, s));
                let (shape, dtype) = (Shape::from_slice(&node.shape), node.dtype);
                key.items.push(Item::Buffer { buffer: own.unwrap_or(usize::MAX), shape, dtype });
                // The root's expression, depth first, operands in order (an explicit stack).
                stack.push((r, true));
                while let Some((n, is_root)) = stack.pop() {
                    let node = &g.nodes[n];
                    if !is_root {
                        if let Some(s) = plan.buffer[n] {
                            let b = buffer(&mut key, s);
                            key.items.push(Item::Buffer {
                                buffer: b,
                                shape: Shape::from_slice(&node.shape),
                                dtype: node.dtype,
                            });
                            continue;
                        }
                        if plan.inline_const[n] {
                            key.items.push(Item::Immediate { op: &node.op, shape: Shape::from_slice(&node.shape) });
                            continue;
                        }
                        if let Some(&k) = fused.get(&n) {
                            key.items.push(Item::Again(k));
                            continue;
                        }
                    }
                    let number = fused.len();
                    fused.insert(n, number);
                    key.items.push(Item::Fused {
                        op: &node.op,
                        shape: Shape::from_slice(&node.shape),
                        dtype: node.dtype,
                        cost: plan.cost[n],
                        operands: node.inputs.len(),
                    });
                    stack.extend(node.inputs.iter().rev().map(|&i| (i, false)));
                }
            }
        }
        key
    }

    /// A hash of the key.
    pub(crate) fn hash(&self) -> u64 {
        let mut h = FxHasher::default();
        self.items.hash(&mut h);
        h.finish()
    }

    /// True when `self` and `other` describe the same code.
    pub(crate) fn same(&self, other: &GroupKey) -> bool {
        self.items == other.items
    }

    /// The pointer table of this key's function, given the table `built` that the function
    /// of `other` (an equal key) was built with: each entry's buffer number mapped to this
    /// key's slot. `None` when `built` holds a slot `other` did not meet.
    pub(crate) fn table_like(&self, other: &GroupKey, built: &[usize]) -> Option<Vec<usize>> {
        built.iter().map(|s| other.slots.iter().position(|o| o == s).map(|b| self.slots[b])).collect()
    }
}

/// For each of `funcs`, the index of the first of them with the same code ([`same_code`]).
pub(crate) fn first_with_same_code<'f>(funcs: impl Iterator<Item = &'f Function>) -> Vec<usize> {
    let funcs: Vec<&Function> = funcs.collect();
    let mut by_hash: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
    let mut first = Vec::with_capacity(funcs.len());
    for (i, f) in funcs.iter().enumerate() {
        let mut h = FxHasher::default();
        f.stencil.hash(&mut h);
        let alike = by_hash.entry(h.finish()).or_default();
        match alike.iter().find(|&&j| same_code(funcs[j], f)) {
            Some(&j) => first.push(j),
            None => {
                alike.push(i);
                first.push(i);
            }
        }
    }
    first
}

/// True when `a` and `b` compile to the same machine code: the same CLIF and the same
/// external functions.
pub(crate) fn same_code(a: &Function, b: &Function) -> bool {
    a.stencil == b.stencil && a.params == b.params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_periodic_run_is_cut_at_whole_periods() {
        // A prologue, 100 steps of a 7-kernel period, an epilogue.
        let mut h: Vec<u64> = vec![90, 91, 92];
        for _ in 0..100 {
            h.extend([1, 2, 3, 1, 4, 5, 6]);
        }
        h.extend([80, 81]);
        let cuts = cut(&h);
        assert_eq!(cuts.first().map(|r| r.start), Some(0));
        assert_eq!(cuts.last().map(|r| r.end), Some(h.len()));
        assert!(cuts.windows(2).all(|w| w[0].end == w[1].start));
        let periodic: Vec<_> = cuts.iter().filter(|r| r.start >= 3 && r.end <= 703).collect();
        // Groups of 5 periods (35 kernels), all the same sequence but the last.
        assert!(periodic.iter().all(|r| (r.end - r.start) % 7 == 0));
        let first = &h[periodic[0].clone()];
        let alike = periodic.iter().filter(|r| h[r.start..r.end] == *first).count();
        assert!(alike >= periodic.len() - 1, "{alike} of {}", periodic.len());
        assert!(alike >= 19);
    }

    #[test]
    fn a_run_without_repeats_is_cut_every_function_length() {
        let h: Vec<u64> = (0..100).collect();
        let cuts = cut(&h);
        assert_eq!(cuts, vec![0..32, 32..64, 64..96, 96..100]);
        assert!(cut(&[]).is_empty());
    }
}
