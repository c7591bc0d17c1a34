//! Dead-code elimination.

use crate::ir::Graph;

/// The graph without the nodes its outputs do not need. Every `Input` node is kept, so the
/// signature does not change; the order of the remaining nodes, their regions, and the order of
/// the outputs are kept, and `Graph::regions` is renumbered (a region whose differentiated node
/// or variables died loses them).
pub fn dce(g: &Graph) -> Graph {
    g.pruned()
}
