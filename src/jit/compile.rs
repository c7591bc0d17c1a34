//! The compile driver: plans the graph, groups consecutive kernels into native functions,
//! emits and finalizes them in one `JITModule`, and describes the run as a list of steps
//! (function calls and GEMM calls) for the runtime.

use super::emitter::{chunk_signature, jerr, kernel_signature, KernelEmitter};
use super::gemm;
use super::host;
use super::parallel;
use super::plan::{self, Slot};
use super::runtime::{Compiled, ModuleBox, OutSrc, Step, PROTOTYPE_ELEMENTS};
use crate::array::{DType, Data};
use crate::error::{Error, Result};
use crate::ir::{verify, Graph, Op};
use cranelift_codegen::ir::UserFuncName;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

fn isa() -> Result<OwnedTargetIsa> {
    static ISA: OnceLock<std::result::Result<OwnedTargetIsa, String>> = OnceLock::new();
    ISA.get_or_init(|| {
        let mut fb = settings::builder();
        let set = |fb: &mut settings::Builder, k: &str, v: &str| fb.set(k, v).map_err(|e| e.to_string());
        set(&mut fb, "opt_level", "speed")?;
        set(&mut fb, "enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" })?;
        set(&mut fb, "use_colocated_libcalls", "false")?;
        set(&mut fb, "is_pic", "false")?;
        let ib = cranelift_native::builder().map_err(|e| e.to_string())?;
        ib.finish(settings::Flags::new(fb)).map_err(|e| e.to_string())
    })
    .clone()
    .map_err(Error::Jit)
}

/// Consecutive kernels emitted into one native function, at most: a long unrolled trace of
/// small fused groups becomes a few functions of straight-line loop nests instead of one
/// function (and one call) per group, which keeps compilation about linear in the graph.
const KERNELS_PER_FUNCTION: usize = 32;

/// Compiles a verified graph with static shapes.
pub fn compile(g: &Graph) -> Result<Compiled> {
    compile_shared(&Arc::new(g.clone()))
}

/// [`compile`] for a graph the caller keeps too: the compiled code shares it (to print its
/// native code on request) instead of holding a copy.
pub fn compile_shared(g: &Arc<Graph>) -> Result<Compiled> {
    let mut compiled = compile_with(g, false)?.0;
    compiled.source = Some(g.clone());
    Ok(compiled)
}

/// The CLIF and machine-code text of each generated function.
#[derive(Default)]
pub(super) struct NativeText {
    pub(super) clif: String,
    pub(super) disasm: String,
}

/// Compiles `g`; with `text`, also prints every function's CLIF and machine code (costly, so
/// only done when a dump asks for it).
pub(super) fn compile_with(g: &Graph, text: bool) -> Result<(Compiled, NativeText)> {
    verify(g)?;
    if g.nodes.iter().any(|n| matches!(n.op, Op::Call(_))) {
        return Err(jerr(
            "call nodes only appear in eager traces (accelerated traces inline nested calls); they are not lowered"
                .to_string(),
        ));
    }
    let plan = plan::plan(g)?;
    if plan.arena_bytes > isize::MAX as usize {
        return Err(jerr(format!("the temporaries need {} bytes, more than an allocation can hold", plan.arena_bytes)));
    }
    let mut jb = JITBuilder::with_isa(isa()?, cranelift_module::default_libcall_names());
    for f in host::all() {
        jb.symbol(f.name.clone(), f.addr as *const u8);
    }
    let mut module = JITModule::new(jb);
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let mut imports = HashMap::new();
    let mut native_text = NativeText::default();
    let mut pending = Vec::new(); // (step index, func id)
    let mut steps = Vec::new();
    let mut loops = 0;
    let slot_of = |n: usize| plan.buffer[n].ok_or_else(|| jerr(format!("%{n} has no buffer")));
    // Runs of consecutive kernels, split at matrix products (a GEMM call between them).
    let mut groups: Vec<Vec<crate::ir::NodeId>> = vec![Vec::new()];
    let mut chunked = Vec::new(); // (step index, kernel, split)
    for &k in &plan.kernels {
        let node = &g.nodes[k];
        // Emitted in its sibling sum's loop nest.
        if plan.absorbed[k] || node.shape.iter().product::<usize>() == 0 {
            continue;
        }
        if let Op::MatMul = node.op {
            let (a, b) = (node.inputs[0], node.inputs[1]);
            let sa = &g.nodes[a].shape;
            let r = sa.len();
            let ((sa_slot, ta), (sb_slot, tb)) = (gemm::operand(g, &plan, a)?, gemm::operand(g, &plan, b)?);
            groups.push(Vec::new());
            steps.push(Step::MatMul {
                a: sa_slot,
                b: sb_slot,
                c: slot_of(k)?,
                product: gemm::Product {
                    dtype: node.dtype,
                    batch: sa[..r - 2].iter().product(),
                    m: sa[r - 2],
                    k: sa[r - 1],
                    n: node.shape[r - 1],
                    ta,
                    tb,
                },
            });
            continue;
        }
        if let Some(split) = parallel::split(g, &plan, k) {
            // Its own function, run in chunks on the thread pool.
            groups.push(Vec::new());
            chunked.push((steps.len(), k, split.clone()));
            steps.push(Step::Chunked { f: 0, split });
            loops += 1;
            continue;
        }
        let group = groups.last_mut().expect("one group");
        if group.is_empty() {
            steps.push(Step::Kernel(0));
        }
        group.push(k);
        loops += 1;
        if group.len() == KERNELS_PER_FUNCTION {
            groups.push(Vec::new());
        }
    }
    let mut step = 0;
    for group in groups.iter().filter(|g| !g.is_empty()) {
        while !matches!(steps[step], Step::Kernel(_)) {
            step += 1;
        }
        let sig = kernel_signature(&module);
        let name = format!("kernels{}_n{}", pending.len(), group[0]);
        let id = module.declare_function(&name, Linkage::Local, &sig).map_err(jerr)?;
        ctx.func.signature = sig;
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        {
            let b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            KernelEmitter::new(g, &plan, b, &mut module, &mut imports).emit_kernels(group)?;
        }
        if text {
            native_text.clif.push_str(&format!("; {name}:\n"));
            for &k in group {
                let node = &g.nodes[k];
                native_text.clif.push_str(&format!(";   %{k} = {} {:?}\n", node.op, node.shape));
            }
            native_text.clif.push_str(&ctx.func.display().to_string());
            native_text.clif.push('\n');
            ctx.set_disasm(true);
        }
        module.define_function(id, &mut ctx).map_err(|e| jerr(format!("{e:?}")))?;
        if let Some(v) = ctx.compiled_code().and_then(|code| code.vcode.as_ref()) {
            native_text.disasm.push_str(&format!("; {name}\n{v}\n"));
        }
        module.clear_context(&mut ctx);
        pending.push((step, id));
        step += 1;
    }
    let mut pending_chunks = Vec::new();
    for (s, k, split) in chunked {
        let sig = chunk_signature(&module);
        let name = format!("chunks_n{k}");
        let id = module.declare_function(&name, Linkage::Local, &sig).map_err(jerr)?;
        ctx.func.signature = sig;
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        {
            let b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            KernelEmitter::new(g, &plan, b, &mut module, &mut imports).emit_chunk_function(k, &split)?;
        }
        if text {
            let node = &g.nodes[k];
            native_text.clif.push_str(&format!("; {name} (run in chunks, {split:?}):\n"));
            native_text.clif.push_str(&format!(";   %{k} = {} {:?}\n", node.op, node.shape));
            native_text.clif.push_str(&ctx.func.display().to_string());
            native_text.clif.push('\n');
            ctx.set_disasm(true);
        }
        module.define_function(id, &mut ctx).map_err(|e| jerr(format!("{e:?}")))?;
        if let Some(v) = ctx.compiled_code().and_then(|code| code.vcode.as_ref()) {
            native_text.disasm.push_str(&format!("; {name}\n{v}\n"));
        }
        module.clear_context(&mut ctx);
        pending_chunks.push((s, id, split));
    }
    module.finalize_definitions().map_err(jerr)?;
    for &(s, id) in &pending {
        steps[s] = Step::Kernel(module.get_finalized_function(id) as usize);
    }
    for (s, id, split) in pending_chunks {
        steps[s] = Step::Chunked { f: module.get_finalized_function(id) as usize, split };
    }
    let mut inputs = vec![(DType::F64, vec![]); g.num_inputs()];
    for id in g.inputs() {
        if let Op::Input(k) = g.nodes[id].op {
            inputs[k] = (g.nodes[id].dtype, g.nodes[id].shape.clone());
        }
    }
    let outputs = g
        .outputs
        .iter()
        .map(|&o| match &g.nodes[o].op {
            Op::Input(k) => Ok(OutSrc::Input(*k)),
            Op::Constant(d) => Ok(OutSrc::Const(d.clone())),
            _ => match plan.buffer[o].map(|s| &plan.slots[s]) {
                Some(Slot::Output(j)) => Ok(OutSrc::Alloc(*j)),
                _ => Err(jerr(format!("output %{o} has no output buffer"))),
            },
        })
        .collect::<Result<Vec<_>>>()?;
    // Outputs written element by element by their kernel start uninitialized; the others
    // (matrix products, whose GEMM may skip writing) start zeroed.
    let mut out_zeroed = vec![true; plan.out_allocs.len()];
    for &k in &plan.kernels {
        if let (Some(Slot::Output(j)), false) =
            (plan.buffer[k].map(|s| &plan.slots[s]), matches!(g.nodes[k].op, Op::MatMul))
        {
            out_zeroed[*j] = false;
        }
    }
    let compiled = Compiled {
        module: Mutex::new(Some(ModuleBox(module))),
        loops,
        steps,
        slots: plan.slots.clone(),
        inputs,
        out_prototypes: plan
            .out_allocs
            .iter()
            .map(|(d, s)| (s.iter().product::<usize>() <= PROTOTYPE_ELEMENTS).then(|| Data::zeros(*d, s)))
            .collect(),
        out_allocs: plan.out_allocs.clone(),
        out_zeroed,
        outputs,
        arena_words: plan.arena_bytes / 8,
        arenas: Mutex::new(Vec::new()),
        recycled: Mutex::new(Vec::new()),
        source: None,
    };
    Ok((compiled, native_text))
}

/// The native-code dumps: made on request by compiling the graph again with printing on.
impl Compiled {
    /// The Cranelift IR and the machine code of every generated function, from one compile of
    /// the graph with printing on.
    pub fn native_texts(&self) -> (String, String) {
        let text = self.native_text();
        (text.clif, text.disasm)
    }

    /// The text of the generated code, made by compiling the graph again with printing on.
    fn native_text(&self) -> NativeText {
        let text = self.source.as_deref().map(|g| compile_with(g, true));
        match text {
            Some(Ok((_, text))) => text,
            Some(Err(e)) => {
                NativeText { clif: format!("; cannot print the native code: {e}\n"), disasm: String::new() }
            }
            None => NativeText::default(),
        }
    }

    /// The Cranelift IR of every generated function (each function runs several fused loop
    /// nests in a row; a comment lists the nodes they compute).
    pub fn clif_text(&self) -> String {
        self.native_text().clif
    }

    /// The machine code of every generated function, as text (empty if unsupported).
    pub fn disassembly(&self) -> String {
        self.native_text().disasm
    }
}
