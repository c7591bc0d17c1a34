//! The buffers' slots: where each materialized node's memory comes from at run time (the
//! caller's input, a constant, a view into either, a fresh output, or the per-call arena of
//! temporaries), and the kernels in topological order.

use super::{numel, Facts, Slot};
use crate::array::DType;
use crate::ir::{AxisSlice, Graph, NodeId, Op};

/// The slots of the materialized nodes.
pub(super) struct Assigned {
    /// The slot of each node, if it is materialized.
    pub buffer: Vec<Option<usize>>,
    /// The slots.
    pub slots: Vec<Slot>,
    /// The computed materialized nodes, in topological order.
    pub kernels: Vec<NodeId>,
    /// Dtype and shape of each output allocation.
    pub out_allocs: Vec<(DType, Vec<usize>)>,
    /// Size of the temporary arena in bytes.
    pub arena_bytes: usize,
}

/// Bytes of a cache line: every temporary starts one (the arena's base does too,
/// `run/call.rs`).
const CACHE_LINE: usize = 64;

/// Gives each node that `mat` marks a slot: inputs and constants their own, a contiguous slice
/// of either a view of it, a graph output a fresh allocation, any other node a place in the
/// arena (at a multiple of [`CACHE_LINE`] bytes).
pub(super) fn assign(g: &Graph, facts: &Facts, mat: &[bool]) -> Assigned {
    let n = g.nodes.len();
    let mut a = Assigned {
        buffer: vec![None; n],
        slots: Vec::new(),
        kernels: Vec::new(),
        out_allocs: Vec::new(),
        arena_bytes: 0,
    };
    for (id, nd) in g.nodes.iter().enumerate() {
        if !facts.live[id] || !mat[id] {
            continue;
        }
        // A contiguous slice of an input or constant is read in place: (offset, slot read).
        let view = match &nd.op {
            Op::Slice(s) if !facts.is_output[id] => contiguous_offset(&g.nodes[nd.inputs[0]].shape, s)
                .zip(a.buffer[nd.inputs[0]])
                .filter(|&(_, of)| matches!(a.slots[of], Slot::Input(_) | Slot::Const(_))),
            _ => None,
        };
        let slot = match (&nd.op, view) {
            (Op::Input(k), _) => Slot::Input(*k),
            (Op::Constant(d), _) => Slot::Const(d.clone()),
            (_, Some((elements, of))) => Slot::View { of, offset: elements * nd.dtype.size_of() },
            _ => {
                a.kernels.push(id);
                if facts.is_output[id] {
                    a.out_allocs.push((nd.dtype, nd.shape.to_vec()));
                    Slot::Output(a.out_allocs.len() - 1)
                } else {
                    let off = a.arena_bytes;
                    a.arena_bytes = a
                        .arena_bytes
                        .saturating_add((numel(&nd.shape) * nd.dtype.size_of()).div_ceil(CACHE_LINE) * CACHE_LINE);
                    Slot::Temp(off)
                }
            }
        };
        a.buffer[id] = Some(a.slots.len());
        a.slots.push(slot);
    }
    a
}

/// The offset (in elements) of the first element of slice `s` of a row-major array of shape
/// `shape`, when the slice's elements are one contiguous run of the array in the same order
/// (some leading axes of one element, one axis taken in steps of 1, whole axes after it).
fn contiguous_offset(shape: &[usize], s: &[AxisSlice]) -> Option<usize> {
    if s.iter().any(|a| a.len == 0) {
        return None;
    }
    // The last axis not taken whole: the axes after it are whole, those before it must be
    // single elements, and it must go in steps of 1.
    let varying = s.iter().zip(shape).rposition(|(a, &n)| !a.is_full(n));
    let contiguous = varying.is_none_or(|j| (s[j].step == 1 || s[j].len == 1) && s[..j].iter().all(|a| a.len == 1));
    contiguous.then(|| s.iter().zip(shape).fold(0, |offset, (a, &n)| offset * n + a.start))
}
