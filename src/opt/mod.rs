//! Graph optimization passes: dead-code elimination, common-subexpression elimination,
//! constant folding and exact algebraic simplification, and [`optimize`], which runs them to a
//! fixed point.
//!
//! Every pass keeps the graph's signature (every `Input` node stays, with its index) and the
//! order of its outputs (an output may become a constant or the same node as another output),
//! keeps each surviving node's region and renumbers `Graph::regions`, and returns a graph that
//! computes the same outputs, bit for bit, under [`interp::run`](crate::interp::run) (NaN
//! payloads aside). Loop fusion is not done here: it belongs to the JIT.

mod bits;
mod cse;
mod dce;
mod fold;
mod pads;
mod products;
mod rewrite;
mod signs;
mod simplify;

pub use cse::cse;
pub use dce::dce;
pub use fold::{fold_constants, MAX_FOLDED_ELEMENTS};
pub use simplify::simplify;

use crate::error::Result;
use crate::ir::{verify, Graph};

/// At most this many rounds of all passes.
const MAX_ROUNDS: usize = 10;

/// `g` optimized: [`dce`], [`cse`], [`fold_constants`] and [`simplify`] in turn, repeated until
/// a round leaves the node count unchanged (at most 10 rounds). `g` is verified first and the
/// result after ([`verify`]); an `Err` means `g` was malformed (or a pass has a bug).
///
/// ```
/// use cranegrad::prelude::*;
/// let g = cranegrad::trace_graph(|x: DlArray| Ok((-(-&x)) * 1.0), DlArray::scalar(3.0)).unwrap();
/// let o = cranegrad::opt::optimize(&g).unwrap();
/// assert_eq!(o.nodes.len(), 1); // just the input
/// ```
pub fn optimize(g: &Graph) -> Result<Graph> {
    verify(g)?;
    let mut g = dce(g)?;
    for _ in 0..MAX_ROUNDS {
        let before = g.nodes.len();
        // The passes' own checks of their input are skipped: each result is built from a
        // verified graph (debug builds verify every one), and the last is verified below.
        // A graph with nothing to merge (the usual state from the second round on) is not
        // rebuilt by CSE: it is already pruned.
        if cse::has_duplicates(&g) {
            g = cse::cse_verified(&g)?;
        }
        g = simplify::simplify_verified(&fold::fold_constants_verified(&g)?)?;
        if g.nodes.len() == before {
            break;
        }
    }
    verify(&g)?;
    Ok(g)
}
