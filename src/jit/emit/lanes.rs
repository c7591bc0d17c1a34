//! Lanes: how an index moves with the innermost loop variable `i`, and the static rules for how
//! a lane moves through each layout op (the same rules the expression walk in `expr.rs` follows
//! when it emits the index arithmetic), including the guards of pads and the parts of
//! concatenations over a span of `i`.

use crate::ir::{AxisSlice as Slice, Graph, NodeId};

/// How an index depends on the innermost loop variable `i` of the kernel being emitted (the
/// loop that vector code runs along and that pad and concat guards are split on).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Lane {
    /// The index does not depend on `i`.
    Fixed,
    /// Axis `axis` of a multi-index is `i + off` (`off` known, or `None`); the others do not
    /// depend on `i`.
    Axis(usize, Option<i64>),
    /// A linear index that is `i` plus something that does not depend on `i`.
    Flat,
    /// Depends on `i` in some other way (a gather): scalar code with guards only.
    Unknown,
}

/// A lane seen as the lane of a multi-index of `shape` (a linear index's `Flat` lane becomes
/// the last axis when every other axis has length 1). `Flat` only ever describes a linear index
/// and `Axis` a multi-index, so a lane says which kind of index it belongs to.
pub(crate) fn multi_lane(lane: Lane, shape: &[usize]) -> Lane {
    match lane {
        Lane::Flat => match shape.split_last() {
            None => Lane::Fixed,
            Some((_, lead)) if lead.iter().all(|&d| d == 1) => Lane::Axis(shape.len() - 1, None),
            Some(_) => Lane::Unknown,
        },
        other => other,
    }
}

/// A lane seen as the lane of a linear index into `shape`.
pub(crate) fn linear_lane(lane: Lane, shape: &[usize]) -> Lane {
    match lane {
        Lane::Axis(a, _) if shape[a + 1..].iter().all(|&d| d == 1) => Lane::Flat,
        Lane::Axis(..) => Lane::Unknown,
        other => other,
    }
}

/// The lane of an operand of shape `inp` broadcast to `out` (numpy rules).
pub(crate) fn bcast_lane(lane: Lane, out: &[usize], inp: &[usize]) -> Lane {
    if out == inp {
        return lane;
    }
    match multi_lane(lane, out) {
        Lane::Axis(a, off) => {
            let lead = out.len() - inp.len();
            if a < lead || (inp[a - lead] == 1 && out[a] != 1) {
                Lane::Fixed
            } else {
                Lane::Axis(a - lead, off)
            }
        }
        other => other,
    }
}

/// Whether a reshape from `inp` to `out` at `idx` keeps the last axis (it only regroups the
/// leading ones), so the innermost loop stays on the operand's last axis.
pub(crate) fn keeps_last_axis(lane: Lane, out: &[usize], inp: &[usize]) -> bool {
    matches!(lane, Lane::Axis(a, _) if a + 1 == out.len() && inp.last() == Some(&out[a]))
}

/// The lane of a slice's operand along axis `a` of the slice.
pub(crate) fn slice_lane(lane: Lane, slices: &[Slice], in_shape: &[usize]) -> Lane {
    match lane {
        Lane::Axis(a, off) => {
            let s = &slices[a];
            if s.is_full(in_shape[a]) {
                lane
            } else if s.len == 1 {
                Lane::Fixed
            } else if s.step == 1 {
                Lane::Axis(a, off.map(|o| o + s.start as i64))
            } else {
                Lane::Unknown
            }
        }
        other => other,
    }
}

/// What a pad's guard on the innermost loop's axis is over the current span.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Guard {
    /// Not on the innermost loop's axis (or no such axis): tested per element if needed, the
    /// same for every lane.
    Other,
    /// Every element of the span is inside the taken range: the operand's lane.
    Inside(Lane),
    /// Every element of the span is padding.
    Outside,
    /// Some lanes inside, some outside: tested per element, scalar code only.
    Mixed,
}

/// The guard of a pad (`slices` into `shape`) on the innermost loop's axis, and its cuts.
pub(crate) fn pad_guard(lane: Lane, slices: &[Slice], shape: &[usize], span: (i64, i64)) -> (Guard, [Option<i64>; 2]) {
    let Lane::Axis(a, off) = lane else { return (Guard::Other, [None, None]) };
    let s = &slices[a];
    if s.is_full(shape[a]) {
        return (Guard::Other, [None, None]);
    }
    let Some(off) = off.filter(|_| s.step == 1) else { return (Guard::Mixed, [None, None]) };
    // Inside for `i` in `[first, end)`.
    let first = s.start as i64 - off;
    let end = first + s.len as i64;
    let (lo, hi) = span;
    let guard = if lo >= first && hi <= end {
        Guard::Inside(Lane::Axis(a, Some(off - s.start as i64)))
    } else if hi <= first || lo >= end {
        Guard::Outside
    } else {
        Guard::Mixed
    };
    (guard, [Some(first), Some(end)])
}

/// Which part of a concatenation along `axis` (parts `(node, offset, len)`) covers the whole
/// span, if the innermost loop runs along `axis`; `Err` with the cuts otherwise.
pub(crate) fn concat_part(
    lane: Lane,
    axis: usize,
    parts: &[(NodeId, usize, usize)],
    span: (i64, i64),
) -> std::result::Result<Option<usize>, Vec<i64>> {
    let Lane::Axis(a, off) = lane else { return Ok(None) };
    if a != axis {
        return Ok(None);
    }
    let Some(off) = off else { return Err(Vec::new()) };
    let (lo, hi) = span;
    for (p, &(_, at, len)) in parts.iter().enumerate() {
        let first = at as i64 - off;
        if lo >= first && hi <= first + len as i64 {
            return Ok(Some(p));
        }
    }
    Err(parts.iter().map(|&(_, at, _)| at as i64 - off).collect())
}

/// The non-empty parts of concatenation `n` along `axis`: `(operand, offset, length)`.
pub(crate) fn concat_parts_of(g: &Graph, n: NodeId, axis: usize) -> Vec<(NodeId, usize, usize)> {
    let mut parts = Vec::new();
    let mut off = 0usize;
    for &i in &g.nodes[n].inputs {
        let len = g.nodes[i].shape[axis];
        if len > 0 {
            parts.push((i, off, len));
        }
        off += len;
    }
    parts
}

/// The lane of a permutation's operand (`axes[i]` is the operand axis of result axis `i`).
pub(crate) fn permute_lane(lane: Lane, shape: &[usize], axes: &[usize]) -> Lane {
    match multi_lane(lane, shape) {
        Lane::Axis(a, off) => Lane::Axis(axes[a], off),
        other => other,
    }
}
