//! Dead-code elimination.

use crate::error::Result;
use crate::ir::{verify, Graph};

/// The graph without the nodes its outputs do not need. Every `Input` node is kept, so the
/// signature does not change; the order of the remaining nodes, their regions, and the order of
/// the outputs are kept, and `Graph::regions` is renumbered (a region whose differentiated node
/// or variables died loses them). A graph that does not [`verify`] is an `Err`, as for the
/// other passes.
pub fn dce(g: &Graph) -> Result<Graph> {
    verify(g)?;
    g.pruned()
}

/// `g` pruned like [`dce`], for a pass's result: built by the rewriter from a verified graph,
/// it is not verified again (except in debug builds, which check every pass).
pub(super) fn prune(g: Graph) -> Result<Graph> {
    let pruned = g.into_pruned()?;
    if cfg!(debug_assertions) {
        verify(&pruned)?;
    }
    Ok(pruned)
}
