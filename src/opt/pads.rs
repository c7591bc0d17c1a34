//! Simplification rules for the `pad`s reverse mode creates (the cotangent of a `slice` is a
//! `pad` of the slice's cotangent, and the cotangents of several slices of one array are added).
//!
//! - An elementwise op whose operands are `pad`s with one placement (and scalar constants) ->
//!   the op on the pads' operands, padded once, when the op maps the pads' zeros to `+0`
//!   (checked by evaluating it, with the interpreter, on `+0` and the constants). Exact: inside
//!   the placement each element is the same computation on the same elements; outside it the
//!   original computes `f(+0, c)`, whose bits are those of `+0`, the pad's zero. `neg(pad a)`
//!   (`-0`) and `mul(pad a, -2)` (`-0`), `exp(pad a)` (`1`) stay.
//! - An `add` of `pad`s whose placements are pairwise disjoint (through the result of this
//!   rule on its operands, so a chain of pads assembles) -> one assembled array (a `concat` of
//!   the pads' operands along the one axis where the placements differ, `+0` filling the gaps,
//!   padded when it does not cover the result) plus a scalar `+0`. Exact: in the original, an element inside one
//!   placement is `v` added to the other pads' `+0` (and to sums of `+0`, which are `+0`), in
//!   some order; `v + (+0)` is `v` except that `-0` becomes `+0` (and a NaN stays a NaN), and
//!   adding `+0` again changes nothing, so the element is `v + (+0)` whatever the number of
//!   pads. An element in no placement is `+0` in both. The `+ 0` is needed: the bare assembled
//!   array would keep a `-0` that the original turns into `+0`. The assembled form costs the
//!   backend one add per element however many pads there were (the chain of `k` pads costs
//!   `k - 1`); it is built only while the `concat` has at most 4 parts (gaps included), which
//!   the backend fuses into the consumer's loop as it does pads (a longer one gets a buffer).
//!
//! Not done: overlapping placements (W2's `pad(d, [1:n]) + pad(e, [0:n-1])`): an element in the
//! overlap is a real sum, so the best exact form is the same three pieces the backend already
//! splits the loop into. `sub` of pads: `+0 - v` is not `-v` at `v = +0`.

use super::rewrite::Rewriter;
use crate::array::Data;
use crate::error::Result;
use crate::interp;
use crate::ir::{AxisSlice, BinaryOp, Node, NodeId, Op};
use smallvec::SmallVec;

/// The most pieces the walk over one `add`'s operands collects.
const MAX_PIECES: usize = 64;

/// The most nodes the walk over one `add`'s operands visits (operands shared by nested
/// `concat`s would make the walk larger than the graph).
const MAX_VISITS: usize = 256;

/// The most parts (pieces and gaps) of an assembled `concat`: the backend fuses a `concat` of
/// up to 4 parts into its consumer's loop, as it does pads, but writes a longer one into a
/// buffer of its own (`INLINE_CONCAT_PARTS` in `jit/plan.rs`), which would add a pass over
/// memory that the chain of pads did not have.
const MAX_PARTS: usize = 4;

/// True when `d` is `dtype`'s `+0` (every element, every part, bit for bit).
fn is_pos_zero(d: &Data) -> bool {
    let mut zero = true;
    d.for_each_bits(|b| zero &= b == 0);
    d.numel() > 0 && zero
}

/// `f(pad a, pad b, c)` -> `pad(f(a, b, c))` for pads of one placement filling `n`'s shape and
/// scalar constants `c`, when `f(+0, +0, c)` is `+0` bit for bit.
pub(super) fn elementwise_of_pads(rw: &mut Rewriter, n: &Node, x: &[NodeId]) -> Result<Option<NodeId>> {
    if !matches!(n.op, Op::Unary(_) | Op::Binary(_)) || !x.iter().any(|&i| matches!(rw.node(i).op, Op::Pad { .. })) {
        return Ok(None);
    }
    let mut placement: Option<&[AxisSlice]> = None;
    let mut inner = Vec::with_capacity(x.len());
    let mut at_zero = Vec::with_capacity(x.len());
    for &i in x {
        let m = rw.node(i);
        match &m.op {
            Op::Pad { shape, slices }
                if shape[..] == n.shape[..] && placement.is_none_or(|p| p == slices.as_slice()) =>
            {
                placement = Some(slices);
                inner.push(m.inputs[0]);
                at_zero.push(Data::zeros(m.dtype, &[]));
            }
            Op::Constant(d) if d.shape().is_empty() => {
                inner.push(i);
                at_zero.push((**d).clone());
            }
            _ => return Ok(None),
        }
    }
    let Some(slices) = placement.map(<[AxisSlice]>::to_vec) else { return Ok(None) };
    let refs: Vec<&Data> = at_zero.iter().collect();
    match interp::eval(&n.op, &refs) {
        Ok(v) if v.dtype() == n.dtype && is_pos_zero(&v) => {}
        _ => return Ok(None),
    }
    let computed = rw.push(n.op.clone(), inner, n.region)?;
    rw.push(Op::Pad { shape: n.shape.to_vec(), slices }, vec![computed], n.region).map(Some)
}

/// A box: `(start, len)` per axis.
type Boxes = SmallVec<[(usize, usize); 2]>;

/// A piece of an assembled array: `value` occupies the box `at` (`(start, len)` per axis) and
/// the array is `+0` outside the pieces.
struct Piece {
    value: NodeId,
    at: Boxes,
}

/// True when new node `id` is `+0` everywhere (a constant, maybe broadcast).
fn is_zero_fill(rw: &Rewriter, id: NodeId) -> bool {
    match &rw.node(id).op {
        Op::Constant(d) => is_pos_zero(d),
        Op::Broadcast(_) => is_zero_fill(rw, rw.node(id).inputs[0]),
        _ => false,
    }
}

/// Collects into `out` the pieces of new node `id`, which occupies the box `at` of the result:
/// through pads of unit steps, `concat`s and `y + (+0)`, down to `+0` fills (no piece) and other
/// nodes (one piece each). The values need not be normalized (`-0` kept): the caller adds `+0`
/// once. `false` when a node does not have its box's shape, there are more than [`MAX_PIECES`]
/// pieces, or `budget` (nodes visited) runs out.
///
/// Another `add` is one piece, not walked: the sweep visits operands first, so an `add` of
/// disjoint pads below has already been assembled (into `y + (+0)`), and one that was not
/// (overlapping pieces, boxes differing on two axes, more than [`MAX_PARTS`] parts) cannot be
/// assembled with more pieces either (adding a piece never removes a part). Walking it would
/// cost a walk down every long sum (a gradient accumulating 100,000 pads) at each of its adds.
fn collect(
    rw: &Rewriter,
    id: NodeId,
    at: &[(usize, usize)],
    out: &mut SmallVec<[Piece; 4]>,
    budget: &mut usize,
) -> bool {
    let m = rw.node(id);
    if m.shape.len() != at.len() || m.shape.iter().zip(at).any(|(&d, &(_, l))| d != l) || out.len() > MAX_PIECES {
        return false;
    }
    let Some(left) = budget.checked_sub(1) else { return false };
    *budget = left;
    if is_zero_fill(rw, id) || m.shape.contains(&0) {
        return true;
    }
    let zero = |i: NodeId| matches!(&rw.node(i).op, Op::Constant(d) if d.shape().is_empty() && is_pos_zero(d));
    match &m.op {
        Op::Pad { slices, .. } if slices.iter().all(|s| s.step == 1) => {
            let inner: Boxes = slices.iter().zip(at).map(|(s, &(o, _))| (o + s.start, s.len)).collect();
            collect(rw, m.inputs[0], &inner, out, budget)
        }
        Op::Concat(axis) => {
            let mut offset = at[*axis].0;
            m.inputs.iter().all(|&part| {
                let mut inner = Boxes::from_slice(at);
                inner[*axis] = (offset, rw.node(part).shape[*axis]);
                offset += inner[*axis].1;
                collect(rw, part, &inner, out, budget)
            })
        }
        // `y + (+0)`: the pieces of `y`, normalized here and again by the caller's `+ 0`.
        Op::Binary(BinaryOp::Add) if zero(m.inputs[1]) => collect(rw, m.inputs[0], at, out, budget),
        Op::Binary(BinaryOp::Add) if zero(m.inputs[0]) => collect(rw, m.inputs[1], at, out, budget),
        _ => {
            out.push(Piece { value: id, at: Boxes::from_slice(at) });
            true
        }
    }
}

/// True when new node `id` is a pad, a `concat` or `y + (+0)`: an `add` with such an operand is
/// worth walking (the inner `add`s of a chain of pads were assembled first, the sweep being in
/// order), and long sums of other terms (gradient accumulations) are not walked at all.
fn assembles(rw: &Rewriter, id: NodeId) -> bool {
    let m = rw.node(id);
    let zero = |i: NodeId| matches!(&rw.node(i).op, Op::Constant(d) if d.shape().is_empty() && is_pos_zero(d));
    match m.op {
        Op::Pad { .. } | Op::Concat(_) => true,
        Op::Binary(BinaryOp::Add) => zero(m.inputs[0]) || zero(m.inputs[1]),
        _ => false,
    }
}

/// `add` of pads with pairwise disjoint placements (see the module documentation) -> one
/// assembled array plus `+0`.
pub(super) fn add_of_disjoint_pads(rw: &mut Rewriter, n: &Node, x: &[NodeId]) -> Result<Option<NodeId>> {
    if n.op != Op::Binary(BinaryOp::Add) || n.shape.is_empty() || !x.iter().any(|&i| assembles(rw, i)) {
        return Ok(None);
    }
    let mut pieces: SmallVec<[Piece; 4]> = SmallVec::new();
    let full: Boxes = n.shape.iter().map(|&d| (0, d)).collect();
    let mut budget = MAX_VISITS;
    if !x.iter().all(|&i| collect(rw, i, &full, &mut pieces, &mut budget))
        || pieces.len() < 2
        || pieces.len() > MAX_PIECES
    {
        return Ok(None);
    }
    // The one axis where the boxes differ; on every other axis they must agree.
    let rank = n.shape.len();
    let differing: Vec<usize> = (0..rank).filter(|&k| pieces.iter().any(|p| p.at[k] != pieces[0].at[k])).collect();
    let axis = match differing.as_slice() {
        [k] => *k,
        _ => return Ok(None),
    };
    // The boxes agree on every other axis: they are disjoint when their intervals on `axis` are.
    pieces.sort_by_key(|p| p.at[axis].0);
    if pieces.windows(2).any(|w| w[0].at[axis].0 + w[0].at[axis].1 > w[1].at[axis].0) {
        return Ok(None);
    }
    let gaps = pieces.windows(2).filter(|w| w[0].at[axis].0 + w[0].at[axis].1 < w[1].at[axis].0).count();
    if pieces.len() + gaps > MAX_PARTS {
        return Ok(None);
    }
    let mut parts = Vec::with_capacity(2 * pieces.len());
    let mut end = pieces[0].at[axis].0;
    for p in &pieces {
        let (start, len) = p.at[axis];
        if start > end {
            let mut gap: Vec<usize> = p.at.iter().map(|&(_, l)| l).collect();
            gap[axis] = start - end;
            let zero = rw.scalar_constant(Data::zeros(n.dtype, &[]), n.region)?;
            parts.push(rw.push(Op::Broadcast(gap), vec![zero], n.region)?);
        }
        parts.push(p.value);
        end = start + len;
    }
    let assembled = if parts.len() == 1 { parts[0] } else { rw.push(Op::Concat(axis), parts, n.region)? };
    let mut at = pieces[0].at.clone();
    at[axis] = (pieces[0].at[axis].0, end - pieces[0].at[axis].0);
    let covers = at.iter().zip(&n.shape).all(|(&(s, l), &d)| s == 0 && l == d);
    let placed = if covers {
        assembled
    } else {
        let slices = at.iter().map(|&(start, len)| AxisSlice { start, len, step: 1 }).collect();
        rw.push(Op::Pad { shape: n.shape.to_vec(), slices }, vec![assembled], n.region)?
    };
    let zero = rw.scalar_constant(Data::zeros(n.dtype, &[]), n.region)?;
    rw.push(Op::Binary(BinaryOp::Add), vec![placed, zero], n.region).map(Some)
}
