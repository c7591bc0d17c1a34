//! A compiled entry's executable: the optimized graph and the backend that runs it.

use super::report::BuildReport;
use crate::array::Data;
use crate::error::Result;
use crate::interp;
use crate::ir::Graph;
use crate::jit;
use std::sync::Arc;
use std::time::Instant;

/// How a cached trace runs.
pub(crate) enum Backend {
    /// Native code from the Cranelift backend.
    Native(Box<jit::Compiled>),
    /// The reference interpreter: the fallback when native compilation fails (logged).
    Interpreter,
}

/// The executable of one cache entry.
pub(crate) struct Program {
    pub unoptimized: Graph,
    /// Shared with the native code, which prints it on request.
    pub optimized: Arc<Graph>,
    pub backend: Backend,
}

impl Program {
    /// Optimizes a traced graph and compiles it to native code; fills in the sizes and the
    /// optimize and compile times of `report`.
    pub fn build(traced: Graph, report: &mut BuildReport) -> Result<Program> {
        let unoptimized = traced.into_pruned()?;
        let started = Instant::now();
        let optimized = Arc::new(crate::opt::optimize_pruned(&unoptimized)?);
        let optimized_at = Instant::now();
        let backend = match jit::compile_optimized(&optimized) {
            Ok(native) => Backend::Native(Box::new(native)),
            Err(e) => {
                log::warn!("native compilation failed, the cached trace runs on the interpreter: {e}");
                Backend::Interpreter
            }
        };
        report.traced_nodes = unoptimized.nodes.len();
        report.optimized_nodes = optimized.nodes.len();
        report.kernels = match &backend {
            Backend::Native(native) => native.loop_count(),
            Backend::Interpreter => 0,
        };
        report.functions = match &backend {
            Backend::Native(native) => native.function_count(),
            Backend::Interpreter => 0,
        };
        report.optimize = optimized_at - started;
        report.compile = optimized_at.elapsed();
        Ok(Program { unoptimized, optimized, backend })
    }

    /// Runs the program on the call's input arrays.
    pub fn run(&self, inputs: &[&Arc<Data>]) -> Result<jit::Outputs> {
        match &self.backend {
            Backend::Native(native) => native.run_refs(inputs),
            Backend::Interpreter => {
                let owned: Vec<Arc<Data>> = inputs.iter().map(|d| (*d).clone()).collect();
                Ok(jit::Outputs::from_vec(interp::run(&self.optimized, &owned)?))
            }
        }
    }

    /// The backend's own debug text: Cranelift IR and machine code, if it has them.
    pub fn native_text(&self) -> Option<String> {
        match &self.backend {
            Backend::Native(native) => {
                let (clif, disasm) = native.native_texts();
                Some(if disasm.is_empty() { clif } else { format!("{clif}\n-- machine code --\n{disasm}") })
            }
            Backend::Interpreter => None,
        }
    }
}
