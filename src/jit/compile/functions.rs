//! Every function's CLIF, built in step order (host imports are declared in the module as
//! they are met). A function whose kernels have the structure of one built before
//! (`repeats::GroupKey`) is not built again: it runs that function's code on its own table.
//! Debug builds build it anyway and check that the code is the same.

use super::steps::Schedule;
use crate::error::Result;
use crate::ir::Graph;
use crate::jit::emit::{chunk_signature, jerr, kernel_signature, KernelEmitter};
use crate::jit::plan::{repeats, Plan};
use cranelift_codegen::ir::{Function, Signature, UserFuncName};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::FuncId;
use rustc_hash::FxHashMap as HashMap;

/// One generated function, built as CLIF and not yet compiled.
pub(super) struct Built {
    pub name: String,
    /// The comment lines that name the nodes it computes (for the dumps).
    pub header: String,
    /// The run step it fills in.
    pub step: usize,
    pub func: Function,
    /// Its pointer table: the slot of each entry.
    pub table: Vec<usize>,
}

/// A function not built because an earlier one has its structure: it runs that one's code.
pub(super) struct Alike {
    pub name: String,
    pub header: String,
    pub step: usize,
    /// The built function whose code it runs.
    pub first: usize,
    /// Its pointer table: the slot of each entry.
    pub table: Vec<usize>,
}

/// The functions of a run: those built, and those that run a built one's code.
pub(super) struct Functions {
    pub built: Vec<Built>,
    pub alike: Vec<Alike>,
}

/// What building a function needs besides its emitter.
struct Builder<'m> {
    module: &'m mut JITModule,
    fctx: FunctionBuilderContext,
    imports: HashMap<String, FuncId>,
}

/// Builds the CLIF of a function with signature `sig` with `emit` (named later, once it is
/// known to be new code).
fn build_function(
    g: &Graph,
    plan: &Plan,
    b: &mut Builder<'_>,
    (name, header, sig): (String, String, Signature),
    step: usize,
    emit: &mut dyn FnMut(KernelEmitter<'_, '_>) -> Result<()>,
) -> Result<Built> {
    let mut func = Function::with_name_signature(UserFuncName::default(), sig);
    let mut table = Vec::new();
    let builder = FunctionBuilder::new(&mut func, &mut b.fctx);
    emit(KernelEmitter::new(g, plan, builder, b.module, &mut b.imports, &mut table))?;
    Ok(Built { name, header, step, func, table })
}

/// The comment naming the kernels of function `name` in the dumps (only made with `text`).
fn header(g: &Graph, name: &str, group: &[usize], text: bool) -> String {
    let mut header = String::new();
    if text {
        header = format!("; {name}:\n");
        for &k in group {
            header.push_str(&format!(";   %{k} = {} {:?}\n", g.nodes[k].op, g.nodes[k].shape));
        }
    }
    header
}

/// Builds the CLIF of every function of `schedule`: the kernel functions (those with the
/// structure of an earlier one only in debug builds, as a check), then the chunk functions.
pub(super) fn build(
    g: &Graph,
    plan: &Plan,
    module: &mut JITModule,
    schedule: &Schedule,
    text: bool,
) -> Result<Functions> {
    let mut b = Builder { module, fctx: FunctionBuilderContext::new(), imports: HashMap::default() };
    let mut fs = Functions { built: Vec::new(), alike: Vec::new() };
    let mut keys: Vec<repeats::GroupKey> = Vec::new(); // of built[i], for the kernel functions
    let mut by_key: HashMap<u64, Vec<usize>> = HashMap::default();
    for (i, (step, group)) in schedule.groups.iter().enumerate() {
        let name = format!("kernels{i}_n{}", group[0]);
        let header = header(g, &name, group, text);
        let key = repeats::GroupKey::of(g, plan, group);
        let hash = key.hash();
        let first = by_key.get(&hash).and_then(|c| c.iter().copied().find(|&j| keys[j].same(&key)));
        let reuse = first.and_then(|j| key.table_like(&keys[j], &fs.built[j].table).map(|table| (j, table)));
        if let (Some((j, table)), false) = (&reuse, cfg!(debug_assertions)) {
            fs.alike.push(Alike { name, header, step: *step, first: *j, table: table.clone() });
            continue;
        }
        let sig = kernel_signature(b.module);
        let mut emit = |e: KernelEmitter<'_, '_>| e.emit_kernels(group);
        let f = build_function(g, plan, &mut b, (name, header, sig), *step, &mut emit)?;
        if let Some((j, table)) = &reuse {
            if !repeats::same_code(&f.func, &fs.built[*j].func) || f.table != *table {
                let first = &fs.built[*j].name;
                return Err(jerr(format!("internal: {} has the structure of {first} but not its code", f.name)));
            }
        }
        by_key.entry(hash).or_default().push(fs.built.len());
        keys.push(key);
        fs.built.push(f);
    }
    for (s, k, split) in &schedule.chunked {
        let name = format!("chunks_n{k}");
        let node = &g.nodes[*k];
        let header = format!("; {name} (run in chunks, {split:?}):\n;   %{k} = {} {:?}\n", node.op, node.shape);
        let sig = chunk_signature(b.module);
        let mut emit = |e: KernelEmitter<'_, '_>| e.emit_chunk_function(*k, split);
        fs.built.push(build_function(g, plan, &mut b, (name, header, sig), *s, &mut emit)?);
    }
    Ok(fs)
}
