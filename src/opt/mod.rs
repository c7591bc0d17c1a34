//! Graph optimization passes: dead-code elimination, common-subexpression elimination,
//! constant folding, exact algebraic simplification and calls without their unused outputs (a
//! loop's unused carries), and [`optimize`], which runs them to a fixed point.
//!
//! Every pass keeps the graph's signature (every `Input` node stays, with its index) and the
//! order of its outputs (an output may become a constant or the same node as another output),
//! keeps each surviving node's region and renumbers `Graph::regions`, and returns a graph that
//! computes the same outputs, bit for bit, under [`interp::run`](crate::interp::run) (NaN
//! payloads aside). Loop fusion is not done here: it belongs to the JIT.

mod bits;
mod calls;
mod cse;
mod dce;
mod extremes;
mod fold;
mod pads;
mod products;
mod rewrite;
mod signs;
mod simplify;
mod sums;

pub use cse::cse;
pub use dce::dce;
pub use fold::{fold_constants, MAX_FOLDED_ELEMENTS};
pub use simplify::simplify;

use crate::error::Result;
use crate::ir::{verify, Graph};
use std::borrow::Cow;

/// At most this many rounds of all passes.
const MAX_ROUNDS: usize = 10;

/// `g` optimized: [`dce`], [`cse`], [`fold_constants`] and [`simplify`] in turn, repeated until
/// a round leaves the node count unchanged (at most 10 rounds). `g` is verified first and the
/// result after ([`verify`]); an `Err` means `g` was malformed (or a pass has a bug).
///
/// ```
/// use cranegrad::prelude::*;
/// let g = cranegrad::trace_graph(|x: DlArray| Ok((-(-&x)) * 1.0), DlArray::scalar(3.0)).unwrap();
/// let o = cranegrad::internals::opt::optimize(&g).unwrap();
/// assert_eq!(o.nodes.len(), 1); // just the input
/// ```
pub fn optimize(g: &Graph) -> Result<Graph> {
    verify(g)?;
    rounds(Cow::Owned(g.pruned()?))
}

/// [`optimize`] of a pruned graph known to verify (a trace, which is built through the type
/// rules): not verified first, except in debug builds, and not copied until a pass changes it.
pub(crate) fn optimize_pruned(g: &Graph) -> Result<Graph> {
    if cfg!(debug_assertions) {
        verify(g)?;
    }
    rounds(Cow::Borrowed(g))
}

/// The rounds of [`optimize`] on a pruned, verified graph, and the final check.
fn rounds(g: Cow<'_, Graph>) -> Result<Graph> {
    let result = rounds_reusing_buffers(g);
    rewrite::release_spare();
    result
}

/// [`rounds`], each replaced graph's node buffer reused by the next pass that writes.
fn rounds_reusing_buffers(mut g: Cow<'_, Graph>) -> Result<Graph> {
    let replace = |g: &mut Cow<'_, Graph>, new: Graph| {
        if let Cow::Owned(old) = std::mem::replace(g, Cow::Owned(new)) {
            rewrite::recycle(old);
        }
    };
    for _ in 0..MAX_ROUNDS {
        let before = g.nodes.len();
        // The passes' own checks of their input are skipped: each result is built from a
        // verified graph (debug builds verify every one), and the last is verified below.
        // A pass with nothing to do returns `None` and writes nothing (CSE's usual state from
        // the second round on).
        if let Some(merged) = cse::cse_verified(&g)? {
            replace(&mut g, merged);
        }
        if let Some(folded) = fold::fold_constants_verified(&g)? {
            replace(&mut g, folded);
        }
        if let Some(simplified) = simplify::simplify_verified(&g)? {
            replace(&mut g, simplified);
        }
        if let Some(pruned) = calls::prune_call_outputs(&g)? {
            replace(&mut g, pruned);
        }
        if g.nodes.len() == before {
            break;
        }
    }
    verify(&g)?;
    Ok(g.into_owned())
}
