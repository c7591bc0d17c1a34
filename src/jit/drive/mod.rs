//! Native loop drivers: a loop or branch whose bodies compiled becomes one more native
//! function that runs all of it: the iterations (the carry in frame buffers swapped as block
//! parameters, a scan's rows read and stacked results written at their offsets), a while
//! loop's predicate read as a byte on every iteration (or compared in line when it is one
//! comparison of two scalars), a branch's choice, the bodies' kernel
//! functions called directly, and a loop nested in a body called through its own driver with
//! a child frame: a loop inside a loop is one native program, with no Rust between the
//! iterations. Steps that are not kernels (GEMM, chunked kernels, factorizations, external
//! functions) are called through the runtime's `step_on_host`. A failing step, or a while
//! loop running past `max_iterations`, makes the driver return a status that is not 0, with
//! its `Err` waiting for the caller (`run/driver.rs`).
//!
//! `emitter.rs` holds the function being built, `program.rs` one run of a compiled program
//! inside it, `loops.rs` the control flow of each kind, `verdict.rs` a predicate compared in
//! line.

mod emitter;
mod loops;
mod program;
mod verdict;

use crate::array::DType;
use crate::error::Result;
use crate::ir::Graph;
use crate::jit::compile::new_module;
use crate::jit::emit::jerr;
use crate::jit::run::driver::Driver;
use crate::jit::run::runtime::{Compiled, ModuleBox};
use cranelift_codegen::ir::{Function, UserFuncName};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{Linkage, Module};
use emitter::{signature, DriverEmitter};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What kind of control flow a driver runs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LoopKind {
    /// `length` steps over the rows of the `xs` operands (from the last when `reverse`).
    Scan { length: usize, reverse: bool },
    /// While the predicate holds, at most `max_iterations` steps.
    While { max_iterations: Option<usize> },
    /// A while loop run forward keeping its carries, then its reverse steps.
    WhileReverse { max_iterations: Option<usize> },
    /// A while loop that also keeps its carries and step count in its frame, for the reverse
    /// steps of a [`ReverseAfter`](Self::ReverseAfter) driver run after it.
    WhileKeeping { max_iterations: Option<usize> },
    /// The reverse steps of a while loop over the carries a `WhileKeeping` driver kept: its
    /// frame's words come after the results in the io array, its step count in word `steps`,
    /// its store of carries from word `kept`.
    ReverseAfter { steps: usize, kept: usize },
    /// A branch on operand 0.
    Cond,
}

/// A compiled body, with the program computing its hoisted invariants from the captures.
pub(crate) struct PartCode<'a> {
    pub program: &'a Compiled,
    /// The graph `program` was compiled from.
    pub graph: &'a Graph,
    pub invariants: Option<&'a Compiled>,
}

/// A loop or branch to drive: its kind, operands, results and compiled bodies. The operands
/// are `[carry.., xs.., captures..]` (a branch: `[predicate, operands..]`; reverse steps:
/// `[carry.., captures.., carry cotangents..]`).
pub(crate) struct LoopSpec<'a> {
    pub name: &'a str,
    pub kind: LoopKind,
    pub carry: usize,
    pub xs: usize,
    pub inputs: &'a [(DType, Vec<usize>)],
    pub outputs: &'a [(DType, Vec<usize>)],
    /// The results the caller reads (the others are written to the frame's own buffers).
    pub wanted: &'a [bool],
    /// The body (a branch: `then`); `None` for reverse steps after a kept run, which run no
    /// body.
    pub body: Option<PartCode<'a>>,
    /// The predicate of a while loop; a branch's `else`.
    pub other: Option<PartCode<'a>>,
    /// The reverse step of reverse steps.
    pub reverse_step: Option<PartCode<'a>>,
}

impl<'a> LoopSpec<'a> {
    /// The body (a branch: `then`).
    fn body(&self) -> Result<&PartCode<'a>> {
        self.body.as_ref().ok_or_else(|| jerr(format!("internal: {}: a driver without its body", self.name)))
    }

    /// The number of captures among the operands.
    fn captures(&self) -> usize {
        match self.kind {
            LoopKind::WhileReverse { .. } | LoopKind::ReverseAfter { .. } => self.inputs.len() - 2 * self.carry,
            _ => self.inputs.len() - self.carry - self.xs,
        }
    }
}

/// The number of loop drivers compiled in this process so far (each loop or branch compiles
/// one per set of results its callers read).
pub fn drivers_compiled() -> usize {
    COMPILED.load(Ordering::Relaxed)
}

static COMPILED: AtomicUsize = AtomicUsize::new(0);

/// The native driver of `spec`.
pub(crate) fn compile_driver(spec: &LoopSpec<'_>) -> Result<Arc<Driver>> {
    if spec.wanted.len() != spec.outputs.len() {
        return Err(jerr(format!("internal: {} wanted flags for {} results", spec.wanted.len(), spec.outputs.len())));
    }
    let mut module = new_module()?;
    let ptr = module.target_config().pointer_type();
    let call_conv = module.target_config().default_call_conv;
    let sig = signature(call_conv, ptr, 2, true);
    let id = module.declare_function("loop_driver", Linkage::Local, &sig).map_err(jerr)?;
    let mut func = Function::with_name_signature(UserFuncName::user(0, id.as_u32()), sig);
    let mut fctx = FunctionBuilderContext::new();
    let name = spec.name.to_string();
    let mut e = DriverEmitter::new(
        FunctionBuilder::new(&mut func, &mut fctx),
        call_conv,
        ptr,
        (name.as_ptr() as usize, name.len()),
    );
    let mut kept = None;
    match spec.kind {
        LoopKind::Scan { length, reverse } => e.scan(spec, length, reverse)?,
        LoopKind::While { max_iterations } => {
            let (_, last, _) = e.while_loop(spec, max_iterations, false)?;
            e.carry_out(spec, &last);
            e.return_ok();
        }
        LoopKind::WhileReverse { max_iterations } => e.while_reverse(spec, max_iterations)?,
        LoopKind::WhileKeeping { max_iterations } => kept = Some(e.while_keeping(spec, max_iterations)?),
        LoopKind::ReverseAfter { steps, kept } => e.reverse_after(spec, steps, kept)?,
        LoopKind::Cond => e.branch(spec)?,
    }
    let extra = usize::from(matches!(spec.kind, LoopKind::ReverseAfter { .. }));
    let frame = e.finish(module.target_config());
    let clif = func.display().to_string();
    let mut ctx = cranelift_codegen::Context::for_function(func);
    module.define_function(id, &mut ctx).map_err(|e| jerr(format!("{}: {e:?}", spec.name)))?;
    module.finalize_definitions().map_err(jerr)?;
    let entry = module.get_finalized_function(id) as usize;
    COMPILED.fetch_add(1, Ordering::Relaxed);
    let io = (spec.inputs.len() + extra, spec.outputs.len());
    Ok(Arc::new(Driver::new((ModuleBox(module), entry), frame, (name, clif), io).keeping(kept)))
}
