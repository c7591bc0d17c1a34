//! A compiled entry's executable: the optimized graph and the backend that runs it.

use crate::array::Data;
use crate::error::Result;
use crate::interp;
use crate::ir::Graph;
use std::sync::Arc;

/// How a cached trace runs.
pub(crate) enum Backend {
    /// The reference interpreter (used when native compilation is unavailable).
    Interpreter,
}

/// The executable of one cache entry.
pub(crate) struct Program {
    pub unoptimized: Graph,
    pub optimized: Graph,
    pub backend: Backend,
}

impl Program {
    /// Optimizes and compiles a traced graph.
    pub fn build(traced: Graph) -> Result<Program> {
        let unoptimized = traced.pruned();
        let optimized = crate::opt::optimize(&unoptimized)?;
        Ok(Program { unoptimized, optimized, backend: Backend::Interpreter })
    }

    /// Runs the program on the call's input arrays.
    pub fn run(&self, inputs: &[Arc<Data>]) -> Result<Vec<Arc<Data>>> {
        match &self.backend {
            Backend::Interpreter => interp::run(&self.optimized, inputs),
        }
    }

    /// The backend's own debug text (Cranelift IR), if it has one.
    pub fn native_text(&self) -> Option<String> {
        match &self.backend {
            Backend::Interpreter => None,
        }
    }
}
