//! Machine code: the target, the module, and the distinct functions compiled in parallel and
//! defined in the module in order (functions with the same code are compiled once).

use super::functions::Built;
use crate::error::{Error, Result};
use crate::jit::emit::jerr;
use crate::jit::plan::repeats;
use crate::jit::run::host;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{Function, UserFuncName};
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, ModuleReloc};
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;
use std::sync::OnceLock;

/// The host's target, with the flags every compile uses (built once).
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

/// A module for one program, with the host trampolines' symbols.
pub(crate) fn new_module() -> Result<JITModule> {
    let mut jb = JITBuilder::with_isa(isa()?, cranelift_module::default_libcall_names());
    for f in host::all() {
        jb.symbol(f.name.clone(), f.addr as *const u8);
    }
    Ok(JITModule::new(jb))
}

/// One function's machine code, ready to be defined in the module.
struct MachineCode {
    alignment: u64,
    bytes: Vec<u8>,
    relocs: Vec<ModuleReloc>,
    disasm: String,
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

/// The functions defined in a module.
pub(super) struct Defined {
    /// `code[i]`: the first built function with `built[i]`'s code.
    pub code: Vec<usize>,
    /// First built function -> its id in the module.
    pub ids: HashMap<usize, FuncId>,
    /// With text: built function -> its CLIF and machine code.
    pub disasm: HashMap<usize, (String, String)>,
}

/// Declares the distinct functions of `built`, compiles them to machine code in parallel,
/// defines them in the module in order and finalizes it. The built functions' CLIF is taken.
pub(super) fn define(module: &mut JITModule, built: &mut [Built], text: bool) -> Result<Defined> {
    let code = repeats::first_with_same_code(built.iter().map(|f| &f.func));
    let mut ids = HashMap::default();
    for (i, f) in built.iter_mut().enumerate() {
        if code[i] == i {
            let id = module.declare_function(&f.name, Linkage::Local, &f.func.signature).map_err(jerr)?;
            f.func.name = UserFuncName::user(0, id.as_u32());
            ids.insert(i, id);
        }
    }
    let isa = module.isa();
    let distinct: Vec<(usize, FuncId, Function, String)> = built
        .iter_mut()
        .enumerate()
        .filter_map(|(i, f)| {
            let id = *ids.get(&i)?;
            let clif = if text { f.func.display().to_string() } else { String::new() };
            Some((i, id, std::mem::replace(&mut f.func, Function::new()), clif))
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
    Ok(Defined { code, ids, disasm })
}
