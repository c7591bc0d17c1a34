//! Algebraic simplification: rewrites that give the same bits for every input, NaN, infinities
//! and signed zeros included (NaN payloads aside), and never change a node's dtype or shape.
//!
//! The rules, with why each is exact under the interpreter's semantics:
//!
//! - `x * 1`, `1 * x`, `x / 1` -> `x` (real dtypes): IEEE multiplication and division by one
//!   are exact for every value. Not for complex: `(a + ib) * (1 + 0i)` computes `a*1 - b*0`,
//!   which is NaN for `b = inf` and turns `-0` into `+0`.
//! - `x * -1`, `-1 * x`, `x / -1` -> `neg x` (real dtypes): exact sign flip.
//! - `x + (-0)`, `(-0) + x` -> `x` (real, or complex with both parts `-0`): `x + (-0) = x` for
//!   every `x`. Not `x + 0`: `-0 + 0` is `+0`.
//! - `x - 0` -> `x` (both parts `+0`): `x - 0 = x + (-0)`. Not `x - (-0)`.
//! - `(-0) - x` -> `neg x` (both parts `-0`): `-0 - x = -x` for every `x`, zeros included.
//! - `pow(x, 1)` -> `x` (real dtypes): the real kernel (`array/vmath/pow.rs`) returns `x` itself
//!   for `y = 1`: its error is below one ulp and `x` is representable, and the lanes it leaves
//!   to fdlibm's path (infinities, zeros, negative `x`) select `x` (NaN stays NaN).
//! - `neg(neg x)`, `conj(conj x)` -> `x`; `conj x`, `real x` -> `x` for real `x`.
//! - `cast` to the operand's dtype -> `x` (the kernel returns a copy).
//! - `reshape` to the operand's shape -> `x`; `reshape(reshape x)` -> one `reshape`.
//! - `broadcast` to the operand's shape -> `x`; `broadcast(broadcast x)` -> one `broadcast`.
//! - `permute` by the identity -> `x`; `permute(permute x)` -> the composed permutation.
//! - `slice` taking the whole array in order -> `x`; `slice(slice x)` -> the composed slice;
//!   `slice(pad x)` with the pad's own slices -> `x`.
//! - `slice(pad x)` with unit steps: a window inside the placement -> a slice of `x`; a window
//!   missing it on some axis -> a `+0` constant broadcast to the window; else the overlap's
//!   slice of `x` padded into the window. The pad's zeros are `+0` like the constant's, and
//!   elements of `x` are moved, never computed.
//! - `pad` into the operand's own shape at every position -> `x`; `pad(pad x)` -> one `pad`
//!   placing `x` where the outer pad puts the inner one's elements (zeros are zeros either way).
//! - `concat` of one operand -> that operand.
//! - Elementwise ops of equally placed pads, and `add`s of disjointly placed pads: see the
//!   `pads` module.
//! - `reduce_sum`, `reduce_max`, `reduce_min` over no axes -> `x` (the kernels fold nothing).
//! - `select` with a constant condition (all true or all false) -> that branch; `select(c, a, a)`
//!   -> `a`, broadcast to the result's shape when it is smaller (broadcast copies exactly).
//! - A small real `matmul` over a shared axis of length one (an outer product) -> `+0 + a * b`
//!   elementwise: see the `products` module.
//!
//! - `a + neg b` -> `a - b`, `neg a + b` -> `b - a`, `a - neg b` -> `a + b`: IEEE subtraction
//!   is addition of the negation, and addition commutes exactly (real and complex alike).
//! - `neg` moved out of products, quotients and `(-a) - a` where a consumer absorbs it or it
//!   meets another `neg`, when no work is added: see the `signs` module.
//! - An explicit `broadcast` operand of an elementwise op (`add`, `select`, `lt`, ...) is
//!   dropped when the op's own broadcasting still gives the result's shape: the elements are
//!   the same, and one node and one materialized array fewer.
//! - A constant operand of an elementwise op whose elements all have the same bits becomes a
//!   scalar constant with those bits, when the other operands still give the result's shape
//!   (the backend then sees an immediate instead of an array).
//! - `reduce_max` or `reduce_min` of every element of a real array of at least 2^18 -> the
//!   same over rows of 4,096, then over the rows' results (and the tail's): see the `extremes`
//!   module.
//! - `reduce_sum` of every element of an array of two or more axes, at least 2^21 elements and
//!   rows of at least 64 -> the sum over every axis but the first, then over the first (the
//!   order the interpreter adds in anyway): see the `sums` module.
//!
//! A constant operand counts when every element has the same bits, seen through `broadcast`
//! and `reshape` of a constant. Rules on `x` fire only when `x` has the node's exact dtype and
//! shape: `x + (-0)` where the constant broadcasts `x` to a larger shape stays.
//!
//! Deliberately left out, because they change results:
//! - `x * 0` -> `0` (NaN and infinities give NaN; `-x * 0` is `-0`).
//! - `pow(x, 2)` -> `x * x`: the real kernel's `pow` is not correctly rounded (within an ulp;
//!   where `x * x` is not a float it may give the other neighbour).
//! - `pow(x, 0.5)` -> `sqrt x`: they differ at `-0` and `-inf`; `pow(x, -1)` -> `recip x`,
//!   same rounding issue as `pow(x, 2)`.
//! - `reduce_sum` over axes of length 1 -> `reshape`: the kernel adds to a `+0` start, so a
//!   `-0` element sums to `+0`.
//! - `x - x` -> `0`, `x / x` -> `1`, `x + x` -> `2 * x` (NaN, infinities; the last is exact but
//!   gains nothing), `cast(cast x)` (rounding), `neg(a - b)` -> `b - a` (`a = b` gives `-0`
//!   against `+0`), reassociation of any kind.

use super::bits::first_element;
use super::dce::prune;
use super::extremes;
use super::pads;
use super::products;
use super::rewrite::Rewriter;
use super::signs::signs;
use super::sums;
use crate::array::{DType, Data};
use crate::error::Result;
use crate::ir::{
    broadcast_shapes, broadcasts_to, verify, AxisSlice, BinaryOp, Graph, LinalgOp, Node, NodeId, Op, Operands, UnaryOp,
};
use num_complex::Complex64;
use std::sync::Arc;

/// The graph with the rules of this module applied in one forward sweep (rules see the
/// already-simplified operands, so chains collapse), then the sign rules of the `signs` module
/// in another (they count consumers, so they need the first sweep's finished graph). The
/// result is pruned ([`dce`](super::dce)). `Err` when `g` does not [`verify`].
pub fn simplify(g: &Graph) -> Result<Graph> {
    verify(g)?;
    simplify_verified(g)?.map_or_else(|| g.pruned(), Ok)
}

/// [`simplify`] of a graph known to verify.
pub(super) fn simplify_verified(g: &Graph) -> Result<Option<Graph>> {
    let mut rw = Rewriter::new(g);
    for (id, n) in g.nodes.iter().enumerate() {
        let inputs = rw.mapped_inputs(id);
        match rule(&mut rw, n, &inputs)? {
            Some(new_id) => rw.set(id, new_id),
            None => {
                rw.copy(id);
            }
        }
    }
    let swept = rw.finish().map(prune).transpose()?;
    match signs(swept.as_ref().unwrap_or(g))? {
        Some(signed) => Ok(Some(signed)),
        None => Ok(swept),
    }
}

/// The one value every element of node `id` has (same bits), looking through `broadcast` and
/// `reshape` of a constant; `None` when it is not such a constant or has no elements.
fn splat(nodes: &[Node], id: NodeId) -> Option<Complex64> {
    match &nodes[id].op {
        Op::Constant(d) if d.is_splat() => d.get_c128(0),
        Op::Constant(_) => None,
        Op::Broadcast(_) | Op::Reshape(_) => splat(nodes, nodes[id].inputs[0]),
        _ => None,
    }
}

/// True when `v` has exactly the bits of `re` (and, for complex dtypes, of `im` too).
fn is(v: Option<Complex64>, dtype: DType, re: f64, im: f64) -> bool {
    v.is_some_and(|v| v.re.to_bits() == re.to_bits() && (!dtype.is_complex() || v.im.to_bits() == im.to_bits()))
}

/// True for `f32` and `f64`.
fn real(dtype: DType) -> bool {
    matches!(dtype, DType::F32 | DType::F64)
}

/// New node `x` when it has the dtype and shape of `n`.
fn same(rw: &Rewriter, x: NodeId, n: &Node) -> Option<NodeId> {
    let m = rw.node(x);
    (m.dtype == n.dtype && m.shape == n.shape).then_some(x)
}

/// `neg x` in place of `n`, when `x` has `n`'s dtype and shape.
fn neg(rw: &mut Rewriter, x: NodeId, n: &Node) -> Result<Option<NodeId>> {
    match same(rw, x, n) {
        Some(x) => rw.push(Op::Unary(UnaryOp::Neg), vec![x], n.region).map(Some),
        None => Ok(None),
    }
}

/// `x` in place of `n`, broadcast to `n`'s shape when it is smaller.
fn broadcast_to_node(rw: &mut Rewriter, x: NodeId, n: &Node) -> Result<Option<NodeId>> {
    if let Some(x) = same(rw, x, n) {
        return Ok(Some(x));
    }
    let m = rw.node(x);
    if m.dtype == n.dtype && broadcasts_to(&m.shape, &n.shape) {
        return rw.push(Op::Broadcast(n.shape.to_vec()), vec![x], n.region).map(Some);
    }
    Ok(None)
}

/// `op` on `x` in place of `n`, or `x` itself when it already has `n`'s dtype and shape.
fn push_or_same(rw: &mut Rewriter, op: Op, x: NodeId, n: &Node) -> Result<Option<NodeId>> {
    if let Some(x) = same(rw, x, n) {
        return Ok(Some(x));
    }
    rw.push(op, vec![x], n.region).map(Some)
}

/// The slice `outer` of the slice `inner`, per axis.
fn compose_slices(inner: &[AxisSlice], outer: &[AxisSlice]) -> Vec<AxisSlice> {
    inner
        .iter()
        .zip(outer)
        .map(|(i, o)| {
            if o.len == 0 {
                AxisSlice { start: 0, len: 0, step: 1 }
            } else {
                AxisSlice { start: i.index(o.start), len: o.len, step: i.step * o.step }
            }
        })
        .collect()
}

/// `slice(pad x)` with unit steps (pad of `x` placed at `placed`, then the window `window`),
/// as what the window sees: a slice of `x` when it lies inside the placement, zeros when it
/// misses it, else the overlap's slice of `x` padded into the window. Exact: the zeros a pad
/// adds are `+0`, and so are the zeros of the constant.
fn slice_of_pad(
    rw: &mut Rewriter,
    n: &Node,
    window: &[AxisSlice],
    placed: &[AxisSlice],
    x: NodeId,
) -> Result<Option<NodeId>> {
    if window.iter().chain(placed).any(|s| s.step != 1 || s.len == 0) {
        return Ok(None);
    }
    let mut take = Vec::with_capacity(window.len());
    let mut put = Vec::with_capacity(window.len());
    for (w, p) in window.iter().zip(placed) {
        let (lo, hi) = (w.start.max(p.start), (w.start + w.len).min(p.start + p.len));
        if lo >= hi {
            let zero = rw.scalar_constant(Data::zeros(n.dtype, &[]), n.region)?;
            return rw.push(Op::Broadcast(n.shape.to_vec()), vec![zero], n.region).map(Some);
        }
        take.push(AxisSlice { start: lo - p.start, len: hi - lo, step: 1 });
        put.push(AxisSlice { start: lo - w.start, len: hi - lo, step: 1 });
    }
    let xs = rw.node(x).shape.clone();
    let taken =
        if take.iter().zip(&xs).all(|(s, &d)| s.is_full(d)) { x } else { rw.push(Op::Slice(take), vec![x], n.region)? };
    push_or_same(rw, Op::Pad { shape: n.shape.to_vec(), slices: put }, taken, n)
}

fn binary_rule(rw: &mut Rewriter, b: BinaryOp, n: &Node, x: &[NodeId]) -> Result<Option<NodeId>> {
    let (a, c) = (x[0], x[1]);
    let (sa, sc) = (splat(rw.nodes(), a), splat(rw.nodes(), c));
    let d = n.dtype;
    let r = real(d);
    let one = |v| r && is(v, d, 1.0, 0.0);
    let minus_one = |v| r && is(v, d, -1.0, 0.0);
    let neg_zero = |v| is(v, d, -0.0, -0.0);
    let pos_zero = |v| is(v, d, 0.0, 0.0);
    Ok(match b {
        BinaryOp::Mul if one(sc) => same(rw, a, n),
        BinaryOp::Mul if one(sa) => same(rw, c, n),
        BinaryOp::Mul if minus_one(sc) => neg(rw, a, n)?,
        BinaryOp::Mul if minus_one(sa) => neg(rw, c, n)?,
        BinaryOp::Div if one(sc) => same(rw, a, n),
        BinaryOp::Div if minus_one(sc) => neg(rw, a, n)?,
        BinaryOp::Add if neg_zero(sc) => same(rw, a, n),
        BinaryOp::Add if neg_zero(sa) => same(rw, c, n),
        BinaryOp::Sub if pos_zero(sc) => same(rw, a, n),
        BinaryOp::Sub if neg_zero(sa) => neg(rw, c, n)?,
        BinaryOp::Pow if one(sc) => same(rw, a, n),
        BinaryOp::Add | BinaryOp::Sub => {
            let negated = |rw: &Rewriter, i: NodeId| match rw.node(i).op {
                Op::Unary(UnaryOp::Neg) => Some(rw.node(i).inputs[0]),
                _ => None,
            };
            let flipped = if b == BinaryOp::Add { BinaryOp::Sub } else { BinaryOp::Add };
            if let Some(c) = negated(rw, c) {
                Some(rw.push(Op::Binary(flipped), vec![a, c], n.region)?)
            } else if let (BinaryOp::Add, Some(a)) = (b, negated(rw, a)) {
                Some(rw.push(Op::Binary(BinaryOp::Sub), vec![c, a], n.region)?)
            } else {
                None
            }
        }
        _ => None,
    })
}

/// The splat constant behind new node `id` (a constant of one repeated value, maybe under
/// `broadcast` and `reshape`), when it has more than one element.
fn splat_source(nodes: &[Node], id: NodeId) -> Option<Arc<Data>> {
    let mut id = id;
    loop {
        match &nodes[id].op {
            Op::Constant(d) if d.numel() > 1 && splat(nodes, id).is_some() => return Some(d.clone()),
            Op::Broadcast(_) | Op::Reshape(_) if splat(nodes, id).is_some() => {
                let inner = nodes[id].inputs[0];
                if let Op::Constant(d) = &nodes[inner].op {
                    return Some(d.clone());
                }
                id = inner;
            }
            _ => return None,
        }
    }
}

/// A smaller stand-in for an operand of an elementwise node: a scalar constant (made only once
/// it is kept), or the operand of a broadcast.
enum Smaller {
    Scalar(Data),
    Operand(NodeId),
}

/// The operands of elementwise node `n` with explicit broadcasts dropped and splat constants
/// shrunk to scalars, where the result's shape stays the same.
fn shrink_operands(rw: &mut Rewriter, n: &Node, x: &[NodeId]) -> Result<Operands> {
    let mut x = Operands::from_slice(x);
    if !matches!(n.op, Op::Binary(_) | Op::Compare(_) | Op::Select) {
        return Ok(x);
    }
    // Splat constants first: a scalar immediate beats dropping a broadcast of a variable.
    for splats in [true, false] {
        for i in 0..x.len() {
            let m = rw.node(x[i]);
            if m.shape.is_empty() {
                continue;
            }
            let smaller = match (splats, splat_source(rw.nodes(), x[i])) {
                (true, Some(d)) => match first_element(&d) {
                    Some(scalar) => Smaller::Scalar(scalar),
                    None => continue,
                },
                (false, None) if matches!(m.op, Op::Broadcast(_)) => Smaller::Operand(m.inputs[0]),
                _ => continue,
            };
            let shape = |k: usize| match (&smaller, k == i) {
                (Smaller::Scalar(_), true) => &[][..],
                (Smaller::Operand(inner), true) => &rw.node(*inner).shape[..],
                (_, false) => &rw.node(x[k]).shape[..],
            };
            let broadcast = (0..x.len()).try_fold(Vec::new(), |acc, k| broadcast_shapes(&acc, shape(k)));
            if broadcast.as_deref() == Some(n.shape.as_slice()) {
                x[i] = match smaller {
                    Smaller::Operand(inner) => inner,
                    Smaller::Scalar(scalar) => rw.scalar_constant(scalar, n.region)?,
                };
            }
        }
    }
    Ok(x)
}

/// The replacement of node `n` (whose operands are the new nodes `x`), or `None` to copy it.
fn rule(rw: &mut Rewriter, n: &Node, x: &[NodeId]) -> Result<Option<NodeId>> {
    let shrunk = shrink_operands(rw, n, x)?;
    if let Some(r) = operand_rule(rw, n, &shrunk)? {
        return Ok(Some(r));
    }
    if shrunk[..] != *x {
        return rw.push(n.op.clone(), shrunk, n.region).map(Some);
    }
    Ok(None)
}

/// The rules that look at the operands of `n`.
fn operand_rule(rw: &mut Rewriter, n: &Node, x: &[NodeId]) -> Result<Option<NodeId>> {
    match &n.op {
        Op::Binary(b) => match binary_rule(rw, *b, n, x)? {
            Some(r) => Ok(Some(r)),
            None => match pads::elementwise_of_pads(rw, n, x)? {
                Some(r) => Ok(Some(r)),
                None => pads::add_of_disjoint_pads(rw, n, x),
            },
        },
        Op::Unary(u) => unary_rule(rw, *u, n, x),
        Op::Cast(d) if rw.node(x[0]).dtype == *d => Ok(same(rw, x[0], n)),
        Op::Reshape(shape) | Op::Broadcast(shape) => reshape_or_broadcast_rule(rw, shape, n, x[0]),
        Op::Permute(axes) => permute_rule(rw, axes, n, x[0]),
        Op::Slice(slices) => slice_rule(rw, slices, n, x[0]),
        Op::Pad { shape, slices } => pad_rule(rw, shape, slices, n, x[0]),
        Op::Concat(_) if x.len() == 1 => Ok(same(rw, x[0], n)),
        op if op.reduced_axes().is_some_and(|a| a.is_empty()) => Ok(same(rw, x[0], n)),
        Op::ReduceMax(_) | Op::ReduceMin(_) => extremes::by_rows(rw, n, x),
        Op::ReduceSum(_) => sums::by_rows(rw, n, x),
        // The graph the optimizer sees is differentiated already: only the value is left.
        Op::CustomVjp(_) => Ok(same(rw, x[0], n)),
        Op::Select => select_rule(rw, n, x),
        Op::MatMul => products::outer_product(rw, n, x),
        Op::Linalg(l) => solve_of_transpose(rw, *l, n, x),
        _ => Ok(None),
    }
}

/// A solve of a transposed matrix as the transposed solve of the matrix itself, which reads it
/// in place: `solve(p', b)` -> `solve(p, b, trans)`, and `linsolve(p', b)` of one triangle ->
/// the transposed solve of the other triangle of `p`. Exact: the kernel reads the same
/// elements in the same order either way.
fn solve_of_transpose(rw: &mut Rewriter, l: LinalgOp, n: &Node, x: &[NodeId]) -> Result<Option<NodeId>> {
    let inner = rw.node(x[0]);
    let Op::Permute(axes) = &inner.op else { return Ok(None) };
    let r = axes.len();
    let transpose = r >= 2 && axes[r - 2] == r - 1 && axes[r - 1] == r - 2 && (0..r - 2).all(|i| axes[i] == i);
    let op = match l {
        LinalgOp::Solve { trans } => LinalgOp::Solve { trans: !trans },
        LinalgOp::TriSolve { lower, trans, triangular_rhs } => {
            LinalgOp::TriSolve { lower: !lower, trans: !trans, triangular_rhs }
        }
        _ => return Ok(None),
    };
    if !transpose {
        return Ok(None);
    }
    let p = inner.inputs[0];
    rw.push(Op::Linalg(op), vec![p, x[1]], n.region).map(Some)
}

/// `neg(neg x)`, `conj(conj x)` -> `x`; `conj x`, `real x` -> `x` for real `x`; else the pad
/// rules.
fn unary_rule(rw: &mut Rewriter, u: UnaryOp, n: &Node, x: &[NodeId]) -> Result<Option<NodeId>> {
    let inner = rw.node(x[0]);
    match u {
        UnaryOp::Neg | UnaryOp::Conj if matches!(inner.op, Op::Unary(v) if v == u) => Ok(same(rw, inner.inputs[0], n)),
        UnaryOp::Conj | UnaryOp::Real if real(inner.dtype) => Ok(same(rw, x[0], n)),
        // The graph the optimizer sees is differentiated already: only the value is left.
        UnaryOp::StopGradient => Ok(same(rw, x[0], n)),
        _ => pads::elementwise_of_pads(rw, n, x),
    }
}

/// A `reshape` or `broadcast` (node `n`) of `x` to `shape`: `x` when it has that shape; one
/// step when `x` is the same kind of op.
fn reshape_or_broadcast_rule(rw: &mut Rewriter, shape: &[usize], n: &Node, x: NodeId) -> Result<Option<NodeId>> {
    let inner = rw.node(x);
    if inner.shape[..] == shape[..] {
        Ok(same(rw, x, n))
    } else if std::mem::discriminant(&inner.op) == std::mem::discriminant(&n.op) {
        // A reshape of a reshape, a broadcast of a broadcast: one step.
        let base = inner.inputs[0];
        push_or_same(rw, n.op.clone(), base, n)
    } else {
        Ok(None)
    }
}

/// `permute` (node `n`) of `x` by `axes`: `x` for the identity; one permutation of a
/// permutation.
fn permute_rule(rw: &mut Rewriter, axes: &[usize], n: &Node, x: NodeId) -> Result<Option<NodeId>> {
    let inner = rw.node(x);
    if axes.iter().enumerate().all(|(i, &a)| i == a) {
        Ok(same(rw, x, n))
    } else if let Op::Permute(first) = &inner.op {
        // The composition is the identity only when it maps every axis to itself; a
        // result of the same shape is not enough (a cube permuted in a cycle).
        let composed: Vec<usize> = axes.iter().map(|&a| first[a]).collect();
        let base = inner.inputs[0];
        if composed.iter().enumerate().all(|(i, &a)| i == a) {
            Ok(same(rw, base, n))
        } else {
            rw.push(Op::Permute(composed), vec![base], n.region).map(Some)
        }
    } else {
        Ok(None)
    }
}

/// `slice` (node `n`) of `x` by `slices`: `x` when it takes the whole array in order; one
/// slice of a slice; what a slice of a pad sees (see [`slice_of_pad`]).
fn slice_rule(rw: &mut Rewriter, slices: &[AxisSlice], n: &Node, x: NodeId) -> Result<Option<NodeId>> {
    let inner = rw.node(x);
    if slices.iter().zip(&inner.shape).all(|(s, &d)| s.is_full(d)) {
        return Ok(same(rw, x, n));
    }
    let base = inner.inputs.first().copied().unwrap_or(x);
    match &inner.op {
        Op::Slice(first) => {
            // Identity only when the composition takes every axis whole and in order;
            // a result of the same shape is not enough (a reversal keeps the shape).
            let composed = compose_slices(first, slices);
            if composed.iter().zip(&rw.node(base).shape).all(|(s, &d)| s.is_full(d)) {
                Ok(same(rw, base, n))
            } else {
                rw.push(Op::Slice(composed), vec![base], n.region).map(Some)
            }
        }
        Op::Pad { slices: placed, .. } if placed == slices => Ok(same(rw, base, n)),
        Op::Pad { slices: placed, .. } => {
            let placed = placed.clone();
            slice_of_pad(rw, n, slices, &placed, base)
        }
        _ => Ok(None),
    }
}

/// `pad` (node `n`) of `x` into `shape` at `slices`: `x` when it fills the whole result in
/// order; one pad of a pad.
fn pad_rule(rw: &mut Rewriter, shape: &[usize], slices: &[AxisSlice], n: &Node, x: NodeId) -> Result<Option<NodeId>> {
    let inner = rw.node(x);
    let full = inner.shape[..] == shape[..] && slices.iter().zip(shape).all(|(s, &d)| s.is_full(d));
    if full {
        Ok(same(rw, x, n))
    } else if let Op::Pad { slices: first, .. } = &inner.op {
        // The inner pad's elements land at the outer placement of their positions.
        let composed = compose_slices(slices, first);
        let base = inner.inputs[0];
        let op = Op::Pad { shape: shape.to_vec(), slices: composed };
        rw.push(op, vec![base], n.region).map(Some)
    } else {
        Ok(None)
    }
}

/// `select(c, a, b)` (node `n`): `a` when `a` and `b` are one node, or the branch a constant
/// condition picks, broadcast to the result's shape.
fn select_rule(rw: &mut Rewriter, n: &Node, x: &[NodeId]) -> Result<Option<NodeId>> {
    if x[1] == x[2] {
        return broadcast_to_node(rw, x[1], n);
    }
    match splat(rw.nodes(), x[0]) {
        Some(c) if c.re != 0.0 => broadcast_to_node(rw, x[1], n),
        Some(_) => broadcast_to_node(rw, x[2], n),
        None => Ok(None),
    }
}
