//! The compile driver: plans the graph, groups consecutive kernels into native functions,
//! emits and finalizes them in one `JITModule`, and describes the run as a list of steps
//! (function calls and GEMM calls) for the runtime.

use super::emitter::{chunk_signature, jerr, kernel_signature, KernelEmitter};
use super::gemm;
use super::host;
use super::parallel;
use super::plan::{self, Slot};
use super::product;
use super::runtime::{Compiled, ModuleBox, OutSrc, Step, PROTOTYPE_ELEMENTS};
use crate::array::{DType, Data};
use crate::error::{Error, Result};
use crate::ir::{verify, Graph, Op};
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{Function, Signature, UserFuncName};
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, ModuleReloc};
use rayon::prelude::*;
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

/// One generated function, built as CLIF and not yet compiled.
struct Built {
    id: FuncId,
    name: String,
    /// The comment lines that name the nodes it computes (for the dumps).
    header: String,
    /// The run step it fills in.
    step: usize,
    func: Function,
}

/// One function's machine code, ready to be defined in the module.
struct MachineCode {
    alignment: u64,
    bytes: Vec<u8>,
    relocs: Vec<ModuleReloc>,
    disasm: String,
}

/// Declares a function named `name` with signature `sig` and builds its CLIF with `emit`.
#[allow(clippy::too_many_arguments)]
fn build_function(
    g: &Graph,
    plan: &plan::Plan,
    module: &mut JITModule,
    fctx: &mut FunctionBuilderContext,
    imports: &mut HashMap<String, FuncId>,
    (name, header, sig): (String, String, Signature),
    step: usize,
    emit: &mut dyn FnMut(KernelEmitter<'_, '_>) -> Result<()>,
) -> Result<Built> {
    let id = module.declare_function(&name, Linkage::Local, &sig).map_err(jerr)?;
    let mut func = Function::with_name_signature(UserFuncName::user(0, id.as_u32()), sig);
    emit(KernelEmitter::new(g, plan, FunctionBuilder::new(&mut func, fctx), module, imports))?;
    Ok(Built { id, name, header, step, func })
}

/// Compiles one built function to machine code (on any thread: it touches no module state).
fn machine_code(isa: &dyn TargetIsa, func: Function, id: FuncId, text: bool) -> Result<MachineCode> {
    let mut ctx = Context::for_function(func);
    ctx.set_disasm(text);
    let code = ctx.compile(isa, &mut ControlPlane::default()).map_err(|e| jerr(format!("{:?}", e.inner)))?;
    let alignment = u64::from(code.buffer.alignment);
    let bytes = code.code_buffer().to_vec();
    let disasm = code.vcode.clone().unwrap_or_default();
    let relocs = code.buffer.relocs().to_vec();
    let relocs = relocs.iter().map(|r| ModuleReloc::from_mach_reloc(r, &ctx.func, id)).collect();
    Ok(MachineCode { alignment, bytes, relocs, disasm })
}

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
    let mut fctx = FunctionBuilderContext::new();
    let mut imports = HashMap::new();
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
        if matches!(node.op, Op::MatMul) && !product::is_inline_product(g, k) {
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
    // Every function's CLIF is built here, in order (host imports are declared in the
    // module as they are met); they are then compiled to machine code in parallel, and the
    // code is defined in the module in order.
    let mut built = Vec::new();
    let mut step = 0;
    for group in groups.iter().filter(|g| !g.is_empty()) {
        while !matches!(steps[step], Step::Kernel(_)) {
            step += 1;
        }
        let name = format!("kernels{}_n{}", built.len(), group[0]);
        let mut header = format!("; {name}:\n");
        for &k in group {
            header.push_str(&format!(";   %{k} = {} {:?}\n", g.nodes[k].op, g.nodes[k].shape));
        }
        let sig = kernel_signature(&module);
        let mut emit = |e: KernelEmitter<'_, '_>| e.emit_kernels(group);
        built.push(build_function(
            g,
            &plan,
            &mut module,
            &mut fctx,
            &mut imports,
            (name, header, sig),
            step,
            &mut emit,
        )?);
        step += 1;
    }
    for (s, k, split) in &chunked {
        let name = format!("chunks_n{k}");
        let header =
            format!("; {name} (run in chunks, {split:?}):\n;   %{k} = {} {:?}\n", g.nodes[*k].op, g.nodes[*k].shape);
        let sig = chunk_signature(&module);
        let mut emit = |e: KernelEmitter<'_, '_>| e.emit_chunk_function(*k, split);
        built.push(build_function(g, &plan, &mut module, &mut fctx, &mut imports, (name, header, sig), *s, &mut emit)?);
    }
    let isa = module.isa();
    let mut native_text = NativeText::default();
    let mut defined = Vec::new(); // (func id, step)
    let machine: Vec<(Built, Result<MachineCode>)> = built
        .into_par_iter()
        .map(|mut f| {
            if text {
                f.header.push_str(&f.func.display().to_string());
                f.header.push('\n');
            }
            let func = std::mem::replace(&mut f.func, Function::new());
            let code = machine_code(isa, func, f.id, text);
            (f, code)
        })
        .collect();
    for (f, code) in machine {
        let code = code.map_err(|e| jerr(format!("{}: {e}", f.name)))?;
        if text {
            native_text.clif.push_str(&f.header);
            native_text.disasm.push_str(&format!("; {}\n{}\n", f.name, code.disasm));
        }
        module.define_function_bytes(f.id, code.alignment, &code.bytes, &code.relocs).map_err(jerr)?;
        defined.push((f.id, f.step));
    }
    module.finalize_definitions().map_err(jerr)?;
    for (id, s) in defined {
        let addr = module.get_finalized_function(id) as usize;
        steps[s] = match &steps[s] {
            Step::Chunked { split, .. } => Step::Chunked { f: addr, split: split.clone() },
            _ => Step::Kernel(addr),
        };
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
    // (matrix products through GEMM, which may skip writing) start zeroed.
    let mut out_zeroed = vec![true; plan.out_allocs.len()];
    for &k in &plan.kernels {
        if let (Some(Slot::Output(j)), false) = (
            plan.buffer[k].map(|s| &plan.slots[s]),
            matches!(g.nodes[k].op, Op::MatMul) && !product::is_inline_product(g, k),
        ) {
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
        id: super::runtime::next_id(),
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
