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
//! - `(-a) - a` -> `-(a + a)` and `(-a) + (-a)` -> `-(a + a)` (the same node `a` on both
//!   sides): `(-a) - a` is `(-a) + (-a)`, which rounds as `-(a + a)`; the two differ only where the sum is an exact zero, and
//!   `a + a` is zero only for `a = ±0`, where both give `∓0`. Componentwise, so complex too.
//!   Not `(-a) - b` for another `b`: `(-1) - (-1)` is `+0`, `-(1 + (-1))` is `-0`.
//! - `c + (-m)` -> `c - m`, `(-m) + c` -> `c - m`, `c - (-m)` -> `c + m`, `(-a) - (-b)` ->
//!   `b - a`: IEEE subtraction is addition of the negation, and addition commutes exactly.
//!
//! None adds work. The rules that push a new `neg` (`(-a) * b`, `(-a) - a`, `(-a) + (-a)`)
//! fire only when the operand `neg` has no other consumer in the swept graph (no other operand
//! slot, not an output) and has the result's shape, so that two nodes of the result's size
//! replace two; and only when every consumer of the result absorbs a `neg` (`c + r`, `c - r`,
//! `neg r`) or passes it on to consumers that do (`r * c`, `r / c`, `r + r` where these rules
//! move it; not an output), so that the move is not made for nothing. The others replace one node by one (or
//! none), and may leave a `neg` without consumers. Use counts of the swept graph hold for the
//! rewritten one: a `neg` in the new graph is always a node built for one old node (a copy, or
//! a rule's result; the `neg(neg z)` rule maps to `z`, never a `neg`), used only where that old
//! node's consumers use it, slot for slot.

use super::dce::prune;
use super::rewrite::Rewriter;
use crate::array::DType;
use crate::error::Result;
use crate::ir::{BinaryOp, Graph, Node, NodeId, Op, UnaryOp};

/// The graph with the sign rules (see the module documentation) applied in one forward sweep,
/// pruned ([`dce`](super::dce)); `None` when no rule fires (the graph would be `g`). `g` must verify (the
/// caller checks).
pub(super) fn signs(g: &Graph) -> Result<Option<Graph>> {
    let mut uses = vec![0usize; g.nodes.len()];
    for &i in g.nodes.iter().flat_map(|n| &n.inputs).chain(&g.outputs) {
        uses[i] += 1;
    }
    // Whether every consumer of a node absorbs a `neg` in its place (`c + neg m`, `c - neg m`,
    // `neg(neg m)`), or passes it on to consumers that do (a product or quotient, or
    // `neg m + neg m`, that the rules move it out of); an output does not. Consumers come
    // later in `g`, so a backward walk sees theirs first.
    let mut absorbs = vec![true; g.nodes.len()];
    for &o in &g.outputs {
        absorbs[o] = false;
    }
    for (id, n) in g.nodes.iter().enumerate().rev() {
        let distinct = n.inputs.len() == 2 && n.inputs[0] != n.inputs[1];
        let real = matches!(n.dtype, DType::F32 | DType::F64);
        for (k, &i) in n.inputs.iter().enumerate() {
            let passes = absorbs[id] && g.nodes[i].shape == n.shape;
            absorbs[i] &= match n.op {
                Op::Unary(UnaryOp::Neg) => true,
                Op::Binary(BinaryOp::Add) if distinct => true,
                Op::Binary(BinaryOp::Sub) => distinct && k == 1,
                Op::Binary(BinaryOp::Add) => passes && uses[i] == 2,
                Op::Binary(BinaryOp::Mul | BinaryOp::Div) => passes && real && distinct && uses[i] == 1,
                _ => false,
            };
        }
    }
    // Until a rule fires the sweep copies, so the first rule to fire fires on `g` itself: where
    // none would, there is nothing to sweep.
    let fires_in_g = g
        .nodes
        .iter()
        .enumerate()
        .any(|(id, n)| plan(|i| &g.nodes[i], n, &n.inputs, |k| uses[n.inputs[k]], absorbs[id]).is_some());
    if !fires_in_g {
        return Ok(None);
    }
    let mut rw = Rewriter::new(g);
    for (id, n) in g.nodes.iter().enumerate() {
        let x = rw.mapped_inputs(id);
        match plan(|i| rw.node(i), n, &x, |k| uses[n.inputs[k]], absorbs[id]) {
            Some(p) => {
                let new_id = apply(&mut rw, p, n.region)?;
                rw.set(id, new_id);
            }
            None => {
                rw.copy(id);
            }
        }
    }
    rw.finish().map(prune).transpose()
}

/// What a rule makes of a node.
enum Plan {
    /// An existing node of the new graph.
    Alias(NodeId),
    /// A new binary node on new operands.
    Binary(BinaryOp, NodeId, NodeId),
    /// The negation of a new binary node on new operands.
    Negated(BinaryOp, NodeId, NodeId),
}

/// The nodes `plan` stands for, pushed in `region`; the new node for the old one.
fn apply(rw: &mut Rewriter, p: Plan, region: u32) -> Result<NodeId> {
    match p {
        Plan::Alias(z) => Ok(z),
        Plan::Binary(b, u, v) => rw.push(Op::Binary(b), vec![u, v], region),
        Plan::Negated(b, u, v) => {
            let m = rw.push(Op::Binary(b), vec![u, v], region)?;
            rw.push(Op::Unary(UnaryOp::Neg), vec![m], region)
        }
    }
}

/// The rule for old node `n` whose operands are the nodes `x` (`node` looks them up), or `None`
/// to copy it. `uses(k)`: the operand slots and outputs using operand `k` of `n`; `absorbed`:
/// every consumer of `n` absorbs a `neg` or passes it on (a `neg` is moved out only then, so
/// that a move is not made for nothing).
fn plan<'a>(
    node: impl Fn(NodeId) -> &'a Node,
    n: &Node,
    x: &[NodeId],
    uses: impl Fn(usize) -> usize,
    absorbed: bool,
) -> Option<Plan> {
    if n.dtype == DType::Bool {
        return None;
    }
    let negated = |i: NodeId| {
        let m = node(i);
        (m.op == Op::Unary(UnaryOp::Neg)).then(|| m.inputs[0])
    };
    let real = matches!(n.dtype, DType::F32 | DType::F64);
    // Operand `k`, a `neg` of the result's shape, dies when `n` stops using it.
    let slots = |k: usize| n.inputs.iter().filter(|&&i| i == n.inputs[k]).count();
    let movable = |k: usize| absorbed && uses(k) == slots(k) && node(x[k]).shape == n.shape;
    match n.op {
        Op::Unary(UnaryOp::Neg) => negated(x[0]).map(Plan::Alias),
        Op::Binary(b @ (BinaryOp::Mul | BinaryOp::Div)) if real => match (negated(x[0]), negated(x[1])) {
            (Some(a), Some(c)) => Some(Plan::Binary(b, a, c)),
            (Some(a), None) if movable(0) => Some(Plan::Negated(b, a, x[1])),
            (None, Some(c)) if movable(1) => Some(Plan::Negated(b, x[0], c)),
            _ => None,
        },
        Op::Binary(BinaryOp::Add) => match (negated(x[0]), negated(x[1])) {
            (Some(a), Some(_)) if x[0] == x[1] && movable(0) => Some(Plan::Negated(BinaryOp::Add, a, a)),
            (_, Some(m)) => Some(Plan::Binary(BinaryOp::Sub, x[0], m)),
            (Some(m), None) => Some(Plan::Binary(BinaryOp::Sub, x[1], m)),
            (None, None) => None,
        },
        Op::Binary(BinaryOp::Sub) => match (negated(x[0]), negated(x[1])) {
            (Some(a), Some(c)) => Some(Plan::Binary(BinaryOp::Sub, c, a)),
            (None, Some(m)) => Some(Plan::Binary(BinaryOp::Add, x[0], m)),
            (Some(a), None) if a == x[1] && movable(0) => Some(Plan::Negated(BinaryOp::Add, a, a)),
            _ => None,
        },
        _ => None,
    }
}
