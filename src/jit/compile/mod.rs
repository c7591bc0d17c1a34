//! The compile driver: plans the graph, groups consecutive kernels into native functions,
//! emits and finalizes them in one `JITModule`, and describes the run as a list of steps
//! (function calls and GEMM calls) for the runtime.

use super::emit::{chunk_signature, jerr, kernel_signature, KernelEmitter};
use super::limits::PROTOTYPE_ELEMENTS;
use super::plan::products::{is_inline_product, matmul_operand};
use super::plan::{self, repeats, split, Slot};
use super::run::runtime::{Compiled, ModuleBox, OutSrc, Step};
use super::run::{gemm, host};
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
use rustc_hash::FxHashMap as HashMap;
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

/// One generated function, built as CLIF and not yet compiled.
struct Built {
    name: String,
    /// The comment lines that name the nodes it computes (for the dumps).
    header: String,
    /// The run step it fills in.
    step: usize,
    func: Function,
    /// Its pointer table: the slot of each entry.
    table: Vec<usize>,
}

/// A function not built because an earlier one has its structure: it runs that one's code.
struct Alike {
    name: String,
    header: String,
    step: usize,
    /// The built function whose code it runs.
    first: usize,
    /// Its pointer table: the slot of each entry.
    table: Vec<usize>,
}

/// One function's machine code, ready to be defined in the module.
struct MachineCode {
    alignment: u64,
    bytes: Vec<u8>,
    relocs: Vec<ModuleReloc>,
    disasm: String,
}

/// Builds the CLIF of a function with signature `sig` with `emit` (named later, once it is
/// known to be new code).
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
    let mut func = Function::with_name_signature(UserFuncName::default(), sig);
    let mut table = Vec::new();
    emit(KernelEmitter::new(g, plan, FunctionBuilder::new(&mut func, fctx), module, imports, &mut table))?;
    Ok(Built { name, header, step, func, table })
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

/// The CLIF and machine-code text of each generated function.
#[derive(Default)]
pub(crate) struct NativeText {
    pub(crate) clif: String,
    pub(crate) disasm: String,
}

/// Compiles a verified `g`; with `text`, also prints every function's CLIF and machine code
/// (costly, so only done when a dump asks for it).
pub(crate) fn compile_with(g: &Graph, text: bool) -> Result<(Compiled, NativeText)> {
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
    let mut imports = HashMap::default();
    let mut steps = Vec::new();
    // The slot of each entry of the run's pointer table: each function's own table, and the
    // operands of each GEMM call, one after the other.
    let mut table: Vec<usize> = Vec::new();
    let mut loops = 0;
    let slot_of = |n: usize| plan.buffer[n].ok_or_else(|| jerr(format!("%{n} has no buffer")));
    // Runs of consecutive kernels (split at GEMM calls and chunked kernels) are cut into
    // functions (`repeats::cut`): (step, kernels).
    let mut groups: Vec<(usize, Vec<crate::ir::NodeId>)> = Vec::new();
    let mut run: Vec<crate::ir::NodeId> = Vec::new();
    let flush = |run: &mut Vec<crate::ir::NodeId>, steps: &mut Vec<Step>, groups: &mut Vec<_>| {
        let hashes: Vec<u64> = run.iter().map(|&k| repeats::kernel_hash(g, &plan, k)).collect();
        for range in repeats::cut(&hashes) {
            groups.push((steps.len(), run[range].to_vec()));
            steps.push(Step::Kernel { f: 0, table: 0 });
        }
        run.clear();
    };
    let mut chunked = Vec::new(); // (step index, kernel, split)
    for &k in &plan.kernels {
        let node = &g.nodes[k];
        // Emitted in its sibling sum's loop nest.
        if plan.absorbed[k] || node.shape.iter().product::<usize>() == 0 {
            continue;
        }
        if matches!(node.op, Op::MatMul) && !is_inline_product(g, k) {
            flush(&mut run, &mut steps, &mut groups);
            let (a, b) = (node.inputs[0], node.inputs[1]);
            let sa = &g.nodes[a].shape;
            let r = sa.len();
            let ((sa_slot, ta), (sb_slot, tb)) = (matmul_operand(g, &plan, a)?, matmul_operand(g, &plan, b)?);
            steps.push(Step::MatMul {
                operands: table.len(),
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
            table.extend([sa_slot, sb_slot, slot_of(k)?]);
            continue;
        }
        if let Some(split) = split::split(g, &plan, k) {
            // Its own function, run in chunks on the thread pool.
            flush(&mut run, &mut steps, &mut groups);
            chunked.push((steps.len(), k, split.clone()));
            steps.push(Step::Chunked { f: 0, table: 0, split });
            loops += 1;
            continue;
        }
        run.push(k);
        loops += 1;
    }
    flush(&mut run, &mut steps, &mut groups);
    // Every function's CLIF is built here, in order (host imports are declared in the
    // module as they are met).
    // A function whose kernels have the structure of one built before (`repeats::GroupKey`)
    // is not built again: it runs that function's code on its own table. Debug builds build
    // it anyway and check that the code is the same.
    let mut built: Vec<Built> = Vec::new();
    let mut keys: Vec<repeats::GroupKey> = Vec::new(); // of built[i], for the kernel functions
    let mut by_key: HashMap<u64, Vec<usize>> = HashMap::default();
    let mut alike: Vec<Alike> = Vec::new();
    for (i, (step, group)) in groups.iter().enumerate() {
        let name = format!("kernels{i}_n{}", group[0]);
        // The dump's comment naming the function's kernels (only printed with `text`).
        let mut header = String::new();
        if text {
            header = format!("; {name}:\n");
            for &k in group {
                header.push_str(&format!(";   %{k} = {} {:?}\n", g.nodes[k].op, g.nodes[k].shape));
            }
        }
        let key = repeats::GroupKey::of(g, &plan, group);
        let hash = key.hash();
        let first = by_key.get(&hash).and_then(|c| c.iter().copied().find(|&j| keys[j].same(&key)));
        let reuse = first.and_then(|j| key.table_like(&keys[j], &built[j].table).map(|table| (j, table)));
        if let (Some((j, table)), false) = (&reuse, cfg!(debug_assertions)) {
            alike.push(Alike { name, header, step: *step, first: *j, table: table.clone() });
            continue;
        }
        let sig = kernel_signature(&module);
        let mut emit = |e: KernelEmitter<'_, '_>| e.emit_kernels(group);
        let f = build_function(g, &plan, &mut module, &mut fctx, &mut imports, (name, header, sig), *step, &mut emit)?;
        if let Some((j, table)) = &reuse {
            if !repeats::same_code(&f.func, &built[*j].func) || f.table != *table {
                return Err(jerr(format!(
                    "internal: {} has the structure of {} but not its code",
                    f.name, built[*j].name
                )));
            }
        }
        by_key.entry(hash).or_default().push(built.len());
        keys.push(key);
        built.push(f);
    }
    for (s, k, split) in &chunked {
        let name = format!("chunks_n{k}");
        let header =
            format!("; {name} (run in chunks, {split:?}):\n;   %{k} = {} {:?}\n", g.nodes[*k].op, g.nodes[*k].shape);
        let sig = chunk_signature(&module);
        let mut emit = |e: KernelEmitter<'_, '_>| e.emit_chunk_function(*k, split);
        built.push(build_function(g, &plan, &mut module, &mut fctx, &mut imports, (name, header, sig), *s, &mut emit)?);
    }
    // Functions with the same code are compiled once: `code[i]` is the first built function
    // with built[i]'s code.
    let code = repeats::first_with_same_code(built.iter().map(|f| &f.func));
    let mut ids = HashMap::default(); // first built function -> its id in the module
    for (i, f) in built.iter_mut().enumerate() {
        if code[i] == i {
            let id = module.declare_function(&f.name, Linkage::Local, &f.func.signature).map_err(jerr)?;
            f.func.name = UserFuncName::user(0, id.as_u32());
            ids.insert(i, id);
        }
    }
    // The distinct functions are compiled to machine code in parallel and defined in the
    // module in order.
    let isa = module.isa();
    let mut native_text = NativeText::default();
    let distinct: Vec<(usize, FuncId, Function, String)> = built
        .iter_mut()
        .enumerate()
        .filter_map(|(i, f)| {
            let id = *ids.get(&i)?;
            let mut text_header = String::new();
            if text {
                text_header = f.func.display().to_string();
            }
            Some((i, id, std::mem::replace(&mut f.func, Function::new()), text_header))
        })
        .collect();
    let machine: Vec<(usize, FuncId, String, Result<MachineCode>)> =
        distinct.into_par_iter().map(|(i, id, func, clif)| (i, id, clif, machine_code(isa, func, id, text))).collect();
    let mut disasm = HashMap::default();
    for (i, id, clif, code) in machine {
        let code = code.map_err(|e| jerr(format!("{}: {e}", built[i].name)))?;
        if text {
            disasm.insert(i, (clif, code.disasm.clone()));
        }
        module.define_function_bytes(id, code.alignment, &code.bytes, &code.relocs).map_err(jerr)?;
    }
    module.finalize_definitions().map_err(jerr)?;
    // Every function in step order: (built index if built, name, header, step, the built
    // function whose code it runs, its table).
    let runs = built.iter().enumerate().map(|(i, f)| (Some(i), &f.name, &f.header, f.step, code[i], &f.table));
    let alike_runs = alike.iter().map(|a| (None, &a.name, &a.header, a.step, code[a.first], &a.table));
    let mut all: Vec<_> = runs.chain(alike_runs).collect();
    all.sort_by_key(|&(_, _, _, step, _, _)| step);
    for (i, name, header, step, first, own_table) in all {
        let addr = module.get_finalized_function(ids[&first]) as usize;
        let at = table.len();
        table.extend(own_table);
        steps[step] = match &steps[step] {
            Step::Chunked { split, .. } => Step::Chunked { f: addr, table: at, split: split.clone() },
            _ => Step::Kernel { f: addr, table: at },
        };
        if text {
            native_text.clif.push_str(header);
            match i.and_then(|i| disasm.get(&i)) {
                Some((clif, machine)) => {
                    native_text.clif.push_str(clif);
                    native_text.clif.push('\n');
                    native_text.disasm.push_str(&format!("; {name}\n{machine}\n"));
                }
                None => {
                    let same = format!("; the code of {}, on its own buffers\n", built[first].name);
                    native_text.clif.push_str(&same);
                    native_text.disasm.push_str(&format!("; {name}\n{same}"));
                }
            }
        }
    }
    let functions = ids.len();
    let entries = super::run::runtime::entries(&plan.slots, &table)?;
    let mut inputs = vec![(DType::F64, vec![]); g.num_inputs()];
    for id in g.inputs() {
        if let Op::Input(k) = g.nodes[id].op {
            inputs[k] = (g.nodes[id].dtype, g.nodes[id].shape.to_vec());
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
        if let (Some(Slot::Output(j)), false) =
            (plan.buffer[k].map(|s| &plan.slots[s]), matches!(g.nodes[k].op, Op::MatMul) && !is_inline_product(g, k))
        {
            out_zeroed[*j] = false;
        }
    }
    let compiled = Compiled {
        module: Mutex::new(Some(ModuleBox(module))),
        loops,
        functions,
        steps,
        per_call: entries.per_call,
        table: entries.table,
        constants: entries.constants,
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
        id: super::run::runtime::next_id(),
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
