//! The compile driver: plans the graph, groups consecutive kernels into native functions,
//! emits and finalizes them in one `JITModule`, and describes the run as a list of steps
//! (function calls and GEMM calls) for the runtime. One phase a file: the steps
//! (`steps.rs`), the functions' CLIF (`functions.rs`), machine code (`machine.rs`), the
//! assembled program (`program.rs`), and the text dumps (`texts.rs`).

mod functions;
mod machine;
mod program;
mod row_group_steps;
mod steps;
mod texts;

use super::emit::jerr;
use super::plan;
use super::run::runtime::Compiled;
use crate::error::Result;
use crate::ir::{verify, Graph};
pub(crate) use machine::new_module;
use std::sync::Arc;
pub(crate) use texts::NativeText;

/// Compiles a verified graph with static shapes.
pub fn compile(g: &Graph) -> Result<Compiled> {
    compile_shared(&Arc::new(g.clone()))
}

/// [`compile`] for a graph the caller keeps too: the compiled code shares it (to print its
/// native code on request) instead of holding a copy.
pub fn compile_shared(g: &Arc<Graph>) -> Result<Compiled> {
    verify(g)?;
    compile_optimized(g)
}

/// [`compile_shared`] of a graph that [`optimize`](crate::opt::optimize) has just verified:
/// not verified again, except in debug builds.
pub(crate) fn compile_optimized(g: &Arc<Graph>) -> Result<Compiled> {
    if cfg!(debug_assertions) {
        verify(g)?;
    }
    let mut compiled = compile_with(g, false)?.0;
    compiled.source = Some(g.clone());
    Ok(compiled)
}

/// Compiles a verified `g`; with `text`, also prints every function's CLIF and machine code
/// (costly, so only done when a dump asks for it).
pub(crate) fn compile_with(g: &Graph, text: bool) -> Result<(Compiled, NativeText)> {
    let plan = plan::plan(g)?;
    if plan.arena_bytes > isize::MAX as usize {
        return Err(jerr(format!("the temporaries need {} bytes, more than an allocation can hold", plan.arena_bytes)));
    }
    let mut module = machine::new_module()?;
    let mut schedule = steps::schedule(g, &plan)?;
    let mut functions = functions::build(g, &plan, &mut module, &schedule, text)?;
    let defined = machine::define(&mut module, &mut functions.built, text)?;
    let native_text = texts::link(&module, &functions, &defined, &mut schedule, text);
    schedule.merge_row_groups()?;
    let compiled = program::assemble(g, &plan, module, schedule, defined.ids.len())?;
    Ok((compiled, native_text))
}
