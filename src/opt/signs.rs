//! Sign rules: a `neg` moved out of a product or quotient, or out of `(-a) - a`, to where a
//! consumer absorbs it (`c + neg m` -> `c - m`) or it meets another `neg`. Reverse mode leaves
//! such negs inside the second pass of a second-order gradient (W4).
//!
//! The rules, each exact for every input (signed zeros, infinities and NaN included, NaN
//! payloads aside), in one forward sweep that sees the operands' rewritten forms:
//!
//! - `neg(neg z)` -> `z`: negation is an exact sign flip.
//! - `(-a) * (-b)` -> `a * b`, `(-a) / (-b)` -> `a / b` (real dtypes): the sign of a product or
//!   quotient is the exclusive or of the operands' signs (NaN aside), and its magnitude does not
//!   depend on them (round to nearest is symmetric).
//! - `(-a) * b` -> `-(a * b)`, `a * (-b)` -> `-(a * b)`, and the same for `/` (real dtypes), by
//!   the same argument. Not for complex: `re((-a) b) = (-ar) br - (-ai) bi` has an exact zero
//!   where `-(ar br - ai bi)` has `-0`.
//! - `(-a) - a` -> `-(a + a)` (the same node `a` on both sides): `(-a) - a` is `(-a) + (-a)`,
//!   which rounds as `-(a + a)`; the two differ only where the sum is an exact zero, and
//!   `a + a` is zero only for `a = ±0`, where both give `∓0`. Componentwise, so complex too.
//!   Not `(-a) - b` for another `b`: `(-1) - (-1)` is `+0`, `-(1 + (-1))` is `-0`.
//! - `c + (-m)` -> `c - m`, `(-m) + c` -> `c - m`, `c - (-m)` -> `c + m`, `(-a) - (-b)` ->
//!   `b - a`: IEEE subtraction is addition of the negation, and addition commutes exactly.
//!
//! None adds work. The rules that push a new `neg` (`(-a) * b`, `(-a) - a`) fire only when the
//! operand `neg` has no other consumer in the swept graph (no other operand slot, not an output)
//! and, for a product, has the result's shape: the operand `neg` dies, so two nodes of the
//! result's size replace two. The others replace one node by one (or none), and may leave a
//! `neg` without consumers. Use counts of the swept graph hold for the rewritten one: a `neg` in
//! the new graph is always a node built for one old node (a copy, or a rule's result; the
//! `neg(neg z)` rule maps to `z`, never a `neg`), used only where that old node's consumers use
//! it, slot for slot.

use super::dce::dce;
use super::rewrite::Rewriter;
use crate::array::DType;
use crate::error::Result;
use crate::ir::{BinaryOp, Graph, Node, NodeId, Op, UnaryOp};

/// The graph with the sign rules (see the module documentation) applied in one forward sweep,
/// pruned ([`dce`]). `g` must verify (the caller checks).
pub(super) fn signs(g: &Graph) -> Result<Graph> {
    let mut uses = vec![0usize; g.nodes.len()];
    for &i in g.nodes.iter().flat_map(|n| &n.inputs).chain(&g.outputs) {
        uses[i] += 1;
    }
    let mut rw = Rewriter::new(g);
    for (id, n) in g.nodes.iter().enumerate() {
        let x = rw.mapped_inputs(id);
        let sole = |k: usize| uses[n.inputs[k]] == 1;
        match rule(&mut rw, n, &x, sole)? {
            Some(new_id) => rw.set(id, new_id),
            None => {
                rw.copy(id);
            }
        }
    }
    dce(&rw.finish())
}

/// The operand of new node `i` when it is a `neg`.
fn negated(rw: &Rewriter, i: NodeId) -> Option<NodeId> {
    let m = rw.node(i);
    (m.op == Op::Unary(UnaryOp::Neg)).then(|| m.inputs[0])
}

/// The replacement of old node `n` (whose operands are the new nodes `x`; `sole(k)` when its
/// operand `k` has no other consumer), or `None` to copy it.
fn rule(rw: &mut Rewriter, n: &Node, x: &[NodeId], sole: impl Fn(usize) -> bool) -> Result<Option<NodeId>> {
    if n.dtype == DType::Bool {
        return Ok(None);
    }
    let real = matches!(n.dtype, DType::F32 | DType::F64);
    let binary = |rw: &mut Rewriter, b: BinaryOp, inputs: Vec<NodeId>| rw.push(Op::Binary(b), inputs, n.region);
    let negate = |rw: &mut Rewriter, i: NodeId| rw.push(Op::Unary(UnaryOp::Neg), vec![i], n.region).map(Some);
    let full = |rw: &Rewriter, i: NodeId| rw.node(i).shape == n.shape;
    match n.op {
        Op::Unary(UnaryOp::Neg) => Ok(negated(rw, x[0])),
        Op::Binary(b @ (BinaryOp::Mul | BinaryOp::Div)) if real => match (negated(rw, x[0]), negated(rw, x[1])) {
            (Some(a), Some(c)) => binary(rw, b, vec![a, c]).map(Some),
            (Some(a), None) if sole(0) && full(rw, x[0]) => {
                let m = binary(rw, b, vec![a, x[1]])?;
                negate(rw, m)
            }
            (None, Some(c)) if sole(1) && full(rw, x[1]) => {
                let m = binary(rw, b, vec![x[0], c])?;
                negate(rw, m)
            }
            _ => Ok(None),
        },
        Op::Binary(BinaryOp::Add) => match (negated(rw, x[0]), negated(rw, x[1])) {
            (_, Some(m)) => binary(rw, BinaryOp::Sub, vec![x[0], m]).map(Some),
            (Some(m), None) => binary(rw, BinaryOp::Sub, vec![x[1], m]).map(Some),
            (None, None) => Ok(None),
        },
        Op::Binary(BinaryOp::Sub) => match (negated(rw, x[0]), negated(rw, x[1])) {
            (Some(a), Some(c)) => binary(rw, BinaryOp::Sub, vec![c, a]).map(Some),
            (None, Some(m)) => binary(rw, BinaryOp::Add, vec![x[0], m]).map(Some),
            (Some(a), None) if a == x[1] && sole(0) => {
                let s = binary(rw, BinaryOp::Add, vec![a, a])?;
                negate(rw, s)
            }
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}
