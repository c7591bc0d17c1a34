//! The runtime: a compiled graph (`Compiled`), its per-call buffers (inputs, constants, the
//! reused arena of temporaries, freshly allocated outputs), the steps it runs, and the GEMM
//! calls for matrix products.

use super::buffers::OutBuf;
use super::parallel::{run_split, ChunkFn, Split};
use super::plan::Slot;
use crate::array::{standard, DType, Data, Element};
use crate::error::{Error, Result};
use crate::ir::Graph;
use crate::with_data;
use cranelift_jit::JITModule;
use std::sync::{Arc, Mutex};

type KernelFn = unsafe extern "C" fn(*const *mut u8);

/// Outputs of at least this many bytes are kept for reuse by the next run (a fresh large
/// allocation costs a page fault per 4 KiB page on its first write).
const RECYCLE_MIN: usize = 1 << 20;

/// An output's storage during a run: fresh, or the last run's, no longer shared.
enum Out {
    Fresh(OutBuf),
    Reused(Arc<Data>),
}

#[derive(Clone, Debug)]
pub(super) enum Step {
    /// A generated kernel (its entry address).
    Kernel(usize),
    /// A kernel's chunk function (its entry address), run in chunks on the thread pool.
    Chunked { f: usize, split: Split },
    /// `c = a @ b`, batched.
    MatMul { a: usize, b: usize, c: usize, dtype: DType, batch: usize, m: usize, k: usize, n: usize },
}

#[derive(Clone, Debug)]
pub(super) enum OutSrc {
    Input(usize),
    Const(Arc<Data>),
    Alloc(usize),
}

pub(super) struct ModuleBox(pub(super) JITModule);
// SAFETY: the module is only touched under the mutex (compilation, then `free_memory` on drop);
// the finalized code it owns is immutable and callable from any thread.
unsafe impl Send for ModuleBox {}

/// A graph compiled to native code. Cheap to run many times; `Send + Sync`.
pub struct Compiled {
    pub(super) module: Mutex<Option<ModuleBox>>,
    pub(super) steps: Vec<Step>,
    pub(super) slots: Vec<Slot>,
    pub(super) inputs: Vec<(DType, Vec<usize>)>,
    pub(super) out_allocs: Vec<(DType, Vec<usize>)>,
    /// Whether each output allocation must start zeroed (it is not written element by element
    /// by one generated kernel).
    pub(super) out_zeroed: Vec<bool>,
    pub(super) outputs: Vec<OutSrc>,
    pub(super) arena_words: usize,
    /// Arenas of finished runs, reused (a fresh large allocation costs page faults each call).
    pub(super) arenas: Mutex<Vec<Vec<u64>>>,
    /// The last run's large outputs, shared with the caller: when the caller has dropped its
    /// handle by the next run, that run writes into the same memory instead of faulting in
    /// fresh pages (see [`RECYCLE_MIN`]).
    pub(super) recycled: Mutex<Vec<Option<Arc<Data>>>>,
    /// The graph this was compiled from, to print its native code on request.
    pub(super) source: Option<Arc<Graph>>,
    /// The number of fused loop nests (kernels).
    pub(super) loops: usize,
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
            crate::interp::ensure_allocatable("run", *d, s)?;
        }
        // Only runs with large outputs touch the recycled buffers (small calls stay lock-free).
        let large = |(d, s): &(DType, Vec<usize>)| s.iter().product::<usize>() * d.size_of() >= RECYCLE_MIN;
        let recycling = self.out_allocs.iter().any(large);
        let mut recycled: Vec<Option<Arc<Data>>> = match recycling {
            true => self.recycled.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default(),
            false => Vec::new(),
        };
        let mut outs: Vec<Out> = self
            .out_allocs
            .iter()
            .zip(&self.out_zeroed)
            .enumerate()
            .map(|(j, ((d, s), &z))| match recycled.get_mut(j).and_then(Option::take) {
                // Written element by element again, so no need to clear it.
                Some(old) if !z && Arc::strong_count(&old) == 1 && Arc::weak_count(&old) == 0 => Ok(Out::Reused(old)),
                _ => OutBuf::new(*d, s.iter().product(), z).map(Out::Fresh),
            })
            .collect::<Result<_>>()?;
        let reused = self.arenas.lock().ok().and_then(|mut p| p.pop());
        let mut arena = match reused {
            Some(a) => a,
            None => zeroed_arena(self.arena_words)?,
        };
        let arena_ptr = arena.as_mut_ptr() as *mut u8;
        let mut out_ptrs: Vec<*mut u8> = outs
            .iter_mut()
            .map(|o| match o {
                Out::Fresh(b) => b.ptr(),
                Out::Reused(d) => Arc::get_mut(d).map(mut_ptr).unwrap_or(std::ptr::null_mut()),
            })
            .collect();
        if out_ptrs.iter().zip(&self.out_allocs).any(|(p, (_, s))| p.is_null() && s.iter().product::<usize>() > 0) {
            return Err(Error::argument("run", "an output buffer is missing"));
        }
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
                Step::Chunked { f, ref split } => {
                    // SAFETY: `f` is the finalized chunk function compiled for `split`; every
                    // buffer it touches is in `ptrs` with the size the plan computed.
                    unsafe {
                        let f: ChunkFn = std::mem::transmute::<usize, ChunkFn>(f);
                        run_split(f, split, ptrs.as_ptr());
                    }
                }
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
        let outs: Vec<Arc<Data>> = outs
            .into_iter()
            .zip(&self.out_allocs)
            .map(|(o, (_, s))| match o {
                // SAFETY: each output is zeroed, or is the buffer of one generated kernel,
                // which has just written every element of it.
                Out::Fresh(b) => unsafe { b.finish(s) }.map(Arc::new),
                Out::Reused(d) => Ok(d),
            })
            .collect::<Result<_>>()?;
        if recycling {
            if let Ok(mut r) = self.recycled.lock() {
                *r = outs.iter().zip(&self.out_allocs).map(|(o, a)| large(a).then(|| o.clone())).collect();
            }
        }
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
