//! The Cranelift backend: compiles any verified graph with static shapes to native code that
//! agrees with the interpreter.
//!
//! [`compile`] plans fusion ([`plan`]): elementwise chains with their broadcasts, slices
//! (offset loads), pads (guarded loads), concats and reshapes become one loop nest; a reduction
//! absorbs its elementwise producer; nodes used several times, graph outputs and matrix product
//! operands get buffers. Each kernel is one Cranelift function `fn(bufs: *const *mut u8)`;
//! matrix products call `matrixmultiply`'s GEMM from the runtime. Transcendentals call
//! `extern "C"` Rust functions (the table in `host.rs`), so the results are the interpreter's
//! bit for bit.
//!
//! ```
//! use cranegrad::ir::{Graph, Op, UnaryOp};
//! use cranegrad::array::Data;
//! use cranegrad::DType;
//! use std::sync::Arc;
//! let mut g = Graph::new();
//! let x = g.input(0, DType::F64, &[3]);
//! let y = g.push(Op::Unary(UnaryOp::Exp), vec![x], 0).unwrap();
//! g.outputs = vec![y];
//! let c = cranegrad::jit::compile(&g).unwrap();
//! let x0 = Arc::new(Data::new(ndarray::arr1(&[0.0, 1.0, 2.0]).into_dyn()));
//! let out = c.run(&[x0.clone()]).unwrap();
//! assert_eq!(out, cranegrad::interp::run(&g, &[x0]).unwrap());
//! ```

mod codegen;
mod host;
mod plan;

use crate::array::{standard, DType, Data, Element};
use crate::error::{Error, Result};
use crate::ir::{verify, Graph, Op};
use crate::with_data;
use codegen::{jerr, kernel_signature, Kc};
use cranelift_codegen::ir::UserFuncName;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module};
use plan::Slot;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

type KernelFn = unsafe extern "C" fn(*const *mut u8);

#[derive(Clone, Debug)]
enum Step {
    /// A generated kernel (its entry address).
    Kernel(usize),
    /// `c = a @ b`, batched.
    MatMul { a: usize, b: usize, c: usize, dtype: DType, batch: usize, m: usize, k: usize, n: usize },
}

#[derive(Clone, Debug)]
enum OutSrc {
    Input(usize),
    Const(Arc<Data>),
    Alloc(usize),
}

struct ModuleBox(JITModule);
// SAFETY: the module is only touched under the mutex (compilation, then `free_memory` on drop);
// the finalized code it owns is immutable and callable from any thread.
unsafe impl Send for ModuleBox {}

/// A graph compiled to native code. Cheap to run many times; `Send + Sync`.
pub struct Compiled {
    module: Mutex<Option<ModuleBox>>,
    steps: Vec<Step>,
    slots: Vec<Slot>,
    inputs: Vec<(DType, Vec<usize>)>,
    out_allocs: Vec<(DType, Vec<usize>)>,
    outputs: Vec<OutSrc>,
    arena_words: usize,
    /// Arenas of finished runs, reused (a fresh large allocation costs page faults each call).
    arenas: Mutex<Vec<Vec<u64>>>,
    /// The graph this was compiled from, to print its native code on request.
    source: Option<Arc<Graph>>,
    loops: usize,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled").field("kernels", &self.loops).field("steps", &self.steps.len()).finish()
    }
}

impl Drop for Compiled {
    fn drop(&mut self) {
        let m = match self.module.get_mut() {
            Ok(m) => m.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some(ModuleBox(m)) = m {
            // SAFETY: no function pointer into this module outlives `self`.
            unsafe { m.free_memory() };
        }
    }
}

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
    let mut compiled = compile_with(g, false)?.0;
    compiled.source = Some(Arc::new(g.clone()));
    Ok(compiled)
}

/// The CLIF and machine-code text of each generated function.
#[derive(Default)]
struct NativeText {
    clif: String,
    disasm: String,
}

/// Compiles `g`; with `text`, also prints every function's CLIF and machine code (costly, so
/// only done when a dump asks for it).
fn compile_with(g: &Graph, text: bool) -> Result<(Compiled, NativeText)> {
    verify(g)?;
    if g.nodes.iter().any(|n| matches!(n.op, Op::Call(_))) {
        return Err(jerr(
            "call nodes only appear in eager traces (accelerated traces inline nested calls); they are not lowered"
                .to_string(),
        ));
    }
    let plan = plan::plan(g);
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
    for &k in &plan.kernels {
        let node = &g.nodes[k];
        if node.shape.iter().product::<usize>() == 0 {
            continue;
        }
        if let Op::MatMul = node.op {
            let (a, b) = (node.inputs[0], node.inputs[1]);
            let sa = &g.nodes[a].shape;
            let r = sa.len();
            groups.push(Vec::new());
            steps.push(Step::MatMul {
                a: slot_of(a)?,
                b: slot_of(b)?,
                c: slot_of(k)?,
                dtype: node.dtype,
                batch: sa[..r - 2].iter().product(),
                m: sa[r - 2],
                k: sa[r - 1],
                n: node.shape[r - 1],
            });
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
            Kc::new(g, &plan, b, &mut module, &mut imports).emit_kernels(group)?;
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
    module.finalize_definitions().map_err(jerr)?;
    for &(s, id) in &pending {
        steps[s] = Step::Kernel(module.get_finalized_function(id) as usize);
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
    let compiled = Compiled {
        module: Mutex::new(Some(ModuleBox(module))),
        loops,
        steps,
        slots: plan.slots.clone(),
        inputs,
        out_allocs: plan.out_allocs.clone(),
        outputs,
        arena_words: plan.arena_bytes / 8,
        arenas: Mutex::new(Vec::new()),
        source: None,
    };
    Ok((compiled, native_text))
}

/// A zeroed arena of `words` 8-byte words, or an `Err` when the allocator refuses it.
fn zeroed_arena(words: usize) -> Result<Vec<u64>> {
    let mut arena = Vec::new();
    arena.try_reserve_exact(words).map_err(|_| {
        Error::argument("run", format!("cannot allocate the {} bytes of temporaries: out of memory", words * 8))
    })?;
    arena.resize(words, 0);
    Ok(arena)
}

fn const_ptr(d: &Data) -> *mut u8 {
    with_data!(d, a => a.as_ptr() as *mut u8)
}

fn mut_ptr(d: &mut Data) -> *mut u8 {
    with_data!(d, a => a.as_mut_ptr() as *mut u8)
}

fn contiguous(d: &Arc<Data>) -> Arc<Data> {
    let ok = with_data!(&**d, a => a.is_standard_layout());
    if ok {
        d.clone()
    } else {
        Arc::new(with_data!(&**d, a => Element::into_data(standard(a.clone()))))
    }
}

impl Compiled {
    /// Runs the compiled graph. Each input must have the dtype and shape of the graph's input
    /// node (as for [`interp::run`](crate::interp::run)); violations are `Err`.
    pub fn run(&self, inputs: &[Arc<Data>]) -> Result<Vec<Arc<Data>>> {
        if inputs.len() < self.inputs.len() {
            return Err(Error::argument(
                "run",
                format!("the graph needs {} inputs, got {}", self.inputs.len(), inputs.len()),
            ));
        }
        for (k, (d, s)) in self.inputs.iter().enumerate() {
            let v = &inputs[k];
            if v.dtype() != *d || v.shape() != s.as_slice() {
                return Err(Error::argument(
                    "run",
                    format!("input {k} must be {d}{s:?}, got {}{:?}", v.dtype(), v.shape()),
                ));
            }
        }
        let ins: Vec<Arc<Data>> = inputs[..self.inputs.len()].iter().map(contiguous).collect();
        for (d, s) in &self.out_allocs {
            crate::interp::ensure_allocatable(&Op::Broadcast(s.clone()), *d, s)?;
        }
        let mut outs: Vec<Data> = self.out_allocs.iter().map(|(d, s)| Data::zeros(*d, s)).collect();
        let reused = self.arenas.lock().ok().and_then(|mut p| p.pop());
        let mut arena = match reused {
            Some(a) => a,
            None => zeroed_arena(self.arena_words)?,
        };
        let arena_ptr = arena.as_mut_ptr() as *mut u8;
        let mut out_ptrs: Vec<*mut u8> = outs.iter_mut().map(mut_ptr).collect();
        let ptrs: Vec<*mut u8> = self
            .slots
            .iter()
            .map(|s| match s {
                Slot::Input(k) => const_ptr(&ins[*k]),
                Slot::Const(d) => const_ptr(d),
                // SAFETY: offsets are within the arena by construction.
                Slot::Temp(off) => unsafe { arena_ptr.add(*off) },
                Slot::Output(j) => out_ptrs[*j],
            })
            .collect();
        for step in &self.steps {
            match *step {
                Step::Kernel(f) => {
                    // SAFETY: `f` is a finalized kernel of this module; every buffer it touches
                    // is in `ptrs` with the size the plan computed.
                    unsafe {
                        let f: KernelFn = std::mem::transmute::<usize, KernelFn>(f);
                        f(ptrs.as_ptr());
                    }
                }
                // SAFETY: the plan gave `a`, `b`, `c` buffers of `batch` row-major `[m, k]`,
                // `[k, n]` and `[m, n]` matrices of `dtype`, and `c` aliases neither operand.
                Step::MatMul { a, b, c, dtype, batch, m, k, n } => unsafe {
                    gemm(dtype, batch, m, k, n, ptrs[a], ptrs[b], ptrs[c]);
                },
            }
        }
        out_ptrs.clear();
        if let Ok(mut p) = self.arenas.lock() {
            if p.len() < 4 {
                p.push(arena);
            }
        }
        let outs: Vec<Arc<Data>> = outs.into_iter().map(Arc::new).collect();
        Ok(self
            .outputs
            .iter()
            .map(|o| match o {
                OutSrc::Input(k) => inputs[*k].clone(),
                OutSrc::Const(d) => d.clone(),
                OutSrc::Alloc(j) => outs[*j].clone(),
            })
            .collect())
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

    /// The number of fused loops (generated kernels).
    pub fn loop_count(&self) -> usize {
        self.loops
    }
}

/// `c = a @ b` over `batch` row-major `[m, k] x [k, n]` matrices, with matrixmultiply (as
/// ndarray's `general_mat_mul`, so the results match the interpreter).
///
/// # Safety
/// `a`, `b` and `c` must point at `batch` contiguous row-major matrices of `dtype` of shapes
/// `[m, k]`, `[k, n]` and `[m, n]`, with `c` writable and aliasing neither operand.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm(dtype: DType, batch: usize, m: usize, k: usize, n: usize, a: *mut u8, b: *mut u8, c: *mut u8) {
    let (rsa, rsb, rsc) = (k as isize, n as isize, n as isize);
    let sz = dtype.size_of();
    for i in 0..batch {
        let (ap, bp, cp) = (a.add(i * m * k * sz), b.add(i * k * n * sz), c.add(i * m * n * sz));
        match dtype {
            DType::F32 => matrixmultiply::sgemm(m, k, n, 1.0, ap as _, rsa, 1, bp as _, rsb, 1, 0.0, cp as _, rsc, 1),
            DType::F64 => matrixmultiply::dgemm(m, k, n, 1.0, ap as _, rsa, 1, bp as _, rsb, 1, 0.0, cp as _, rsc, 1),
            DType::C64 => matrixmultiply::cgemm(
                matrixmultiply::CGemmOption::Standard,
                matrixmultiply::CGemmOption::Standard,
                m,
                k,
                n,
                [1.0, 0.0],
                ap as _,
                rsa,
                1,
                bp as _,
                rsb,
                1,
                [0.0, 0.0],
                cp as _,
                rsc,
                1,
            ),
            DType::C128 => matrixmultiply::zgemm(
                matrixmultiply::CGemmOption::Standard,
                matrixmultiply::CGemmOption::Standard,
                m,
                k,
                n,
                [1.0, 0.0],
                ap as _,
                rsa,
                1,
                bp as _,
                rsb,
                1,
                [0.0, 0.0],
                cp as _,
                rsc,
                1,
            ),
            DType::Bool => {}
        }
    }
}
