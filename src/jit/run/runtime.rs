//! The runtime: a compiled graph (`Compiled`), its per-call buffers (inputs, constants, the
//! reused arena of temporaries, freshly allocated outputs) and the steps it runs (kernels, and
//! matrix products in `gemm.rs`).

use super::buffers::OutBuf;
use super::gemm::{matmul, Product};
use super::pool::{run_split, ChunkFn};
use crate::array::{standard, DType, Data, Element};
use crate::error::{Error, Result};
use crate::ir::Graph;
use crate::jit::plan::split::Split;
use crate::jit::plan::Slot;
use crate::with_data;
use cranelift_jit::JITModule;
use smallvec::SmallVec;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

type KernelFn = unsafe extern "C" fn(*const *mut u8);

/// The outputs of one run (inline for up to four: a hit allocates only the arrays).
pub type Outputs = SmallVec<[Arc<Data>; 4]>;

/// Outputs of at least this many bytes are kept for reuse by the next run (a fresh large
/// allocation costs a page fault per 4 KiB page on its first write).
const RECYCLE_MIN: usize = 1 << 20;

#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// A generated function (its entry address), called with its pointer table: the run's
    /// table from entry `table` on.
    Kernel { f: usize, table: usize },
    /// A kernel's chunk function (its entry address and table), run in chunks on the thread
    /// pool.
    Chunked { f: usize, table: usize, split: Split },
    /// `c = op(a) @ op(b)`, batched (`jit/gemm.rs`); the pointers of `a`, `b`, `c` are the
    /// run's table entries from `operands` on.
    MatMul { operands: usize, product: Product },
}

/// Where one entry of a run's pointer table points, resolved from its slot at compile time so
/// that filling the table is one pass of additions.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Entry {
    /// The arena of temporaries, at this byte offset.
    Arena(usize),
    /// Input `k`, at this byte offset (a view of a slice of it).
    Input(usize, usize),
    /// Output `j`.
    Output(usize),
    /// Constant `k` of [`Compiled::constants`], at this byte offset.
    Const(usize, usize),
}

/// The pointer-table entries of `table` (slots of `slots`) and the constants they read.
pub(crate) struct Entries {
    pub(crate) table: Vec<Entry>,
    pub(crate) constants: Vec<Arc<Data>>,
    /// The entries that point into inputs or outputs ([`Compiled::per_call`]).
    pub(crate) per_call: Vec<usize>,
}

/// The [`Entries`] of `table`, a slot of `slots` per entry.
pub(crate) fn entries(slots: &[Slot], table: &[usize]) -> Result<Entries> {
    let mut constants: Vec<Arc<Data>> = Vec::new();
    let mut index_of: rustc_hash::FxHashMap<*const Data, usize> = Default::default();
    let mut entry = |slot: &Slot, offset: usize| match slot {
        Slot::Temp(off) => Ok(Entry::Arena(off + offset)),
        Slot::Input(k) => Ok(Entry::Input(*k, offset)),
        Slot::Output(j) if offset == 0 => Ok(Entry::Output(*j)),
        Slot::Const(d) => {
            let k = *index_of.entry(Arc::as_ptr(d)).or_insert_with(|| {
                constants.push(d.clone());
                constants.len() - 1
            });
            Ok(Entry::Const(k, offset))
        }
        _ => Err(Error::Jit(format!("a view at {offset} bytes into slot {slot:?}"))),
    };
    let entries = table
        .iter()
        .map(|&s| match slots.get(s) {
            Some(Slot::View { of, offset }) => entry(&slots[*of], *offset),
            Some(slot) => entry(slot, 0),
            None => Err(Error::Jit(format!("slot {s} does not exist"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let per_call = (0..entries.len()).filter(|&i| matches!(entries[i], Entry::Input(..) | Entry::Output(_))).collect();
    Ok(Entries { table: entries, constants, per_call })
}

#[derive(Clone, Debug)]
pub(crate) enum OutSrc {
    Input(usize),
    Const(Arc<Data>),
    Alloc(usize),
}

pub(crate) struct ModuleBox(pub(crate) JITModule);
// SAFETY: the module is only touched under the mutex (compilation, then `free_memory` on drop);
// the finalized code it owns is immutable and callable from any thread.
unsafe impl Send for ModuleBox {}

/// A graph compiled to native code. Cheap to run many times; `Send + Sync`.
pub struct Compiled {
    pub(crate) module: Mutex<Option<ModuleBox>>,
    pub(crate) steps: Vec<Step>,
    /// The constant arrays the pointer table reads ([`Entry::Const`]).
    pub(crate) constants: Vec<Arc<Data>>,
    /// Where each entry of a run's pointer table points (`Step` says which entries each step
    /// reads).
    pub(crate) table: Vec<Entry>,
    /// The entries of `table` that point into inputs or outputs: the only ones a run refills
    /// when this thread's table was last filled by this graph with the same arena.
    pub(crate) per_call: Vec<usize>,
    pub(crate) inputs: Vec<(DType, Vec<usize>)>,
    pub(crate) out_allocs: Vec<(DType, Vec<usize>)>,
    /// Whether each output allocation must start zeroed (it is not written element by element
    /// by one generated kernel).
    pub(crate) out_zeroed: Vec<bool>,
    pub(crate) outputs: Vec<OutSrc>,
    pub(crate) arena_words: usize,
    /// Arenas of finished runs, reused (a fresh large allocation costs page faults each call).
    pub(crate) arenas: Mutex<Vec<Vec<u64>>>,
    /// Per allocated output: a zeroed copy to clone, when it is small.
    pub(crate) out_prototypes: Vec<Option<Data>>,
    /// The last run's large outputs, shared with the caller: when the caller has dropped its
    /// handle by the next run, that run writes into the same memory instead of faulting in
    /// fresh pages (see [`RECYCLE_MIN`]).
    pub(crate) recycled: Mutex<Vec<Option<Arc<Data>>>>,
    /// The graph this was compiled from, to print its native code on request.
    pub(crate) source: Option<Arc<Graph>>,
    /// The number of fused loop nests (kernels).
    pub(crate) loops: usize,
    /// The number of distinct native functions compiled (functions with the same code share
    /// it, `repeats.rs`).
    pub(crate) functions: usize,
    /// A number no other compiled graph of this process has: it keys the per-thread store of
    /// small outputs ([`SMALL_OUTPUTS`]).
    pub(crate) id: u64,
}

/// A fresh [`Compiled::id`].
pub(crate) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
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

/// A zeroed arena of `words` 8-byte words, or an `Err` when the allocator refuses it. Probed
/// fallibly first, then allocated zeroed (fresh pages cost nothing until a kernel writes them;
/// an explicit fill would touch every page before the first kernel runs).
fn zeroed_arena(words: usize) -> Result<Vec<u64>> {
    if Vec::<u64>::new().try_reserve_exact(words).is_err() {
        return Err(Error::argument(
            "run",
            format!("cannot allocate the {} bytes of temporaries: out of memory", words.saturating_mul(8)),
        ));
    }
    Ok(vec![0u64; words])
}

fn const_ptr(d: &Data) -> *mut u8 {
    with_data!(d, a => a.as_ptr() as *mut u8)
}

fn mut_ptr(d: &mut Data) -> *mut u8 {
    with_data!(d, a => a.as_mut_ptr() as *mut u8)
}

/// An owned standard-layout copy of `d` (inputs are read in place when already standard).
fn standard_copy(d: &Data) -> Arc<Data> {
    Arc::new(with_data!(d, a => Element::into_data(standard(a.clone()))))
}

/// Arenas of at most this many words live in a per-thread scratch buffer shared by every
/// compiled graph (no lock, no allocation per call); larger ones in the graph's own pool.
const THREAD_ARENA_WORDS: usize = 1 << 16;

thread_local! {
    /// This thread's buffer pointer table (taken while a graph runs, so nesting is safe), with
    /// the [`Compiled::id`] and arena address it was last filled for.
    static POINTERS: std::cell::Cell<(u64, usize, Vec<*mut u8>)> = const { std::cell::Cell::new((0, 0, Vec::new())) };
    /// This thread's arena for small graphs (taken while a graph runs).
    static SMALL_ARENA: std::cell::Cell<Vec<u64>> = const { std::cell::Cell::new(Vec::new()) };
    /// The small outputs of this thread's last run, with the [`Compiled::id`] of the graph
    /// that made them: when that graph runs next on this thread and the caller has dropped an
    /// output, the run writes into it again instead of allocating (taken while a graph runs).
    static SMALL_OUTPUTS: std::cell::Cell<(u64, SmallOutputs)> = std::cell::Cell::new((0, SmallVec::new()));
}

/// The small outputs a run keeps for the next (`None` for the large ones).
type SmallOutputs = SmallVec<[Option<Arc<Data>>; 4]>;

/// True when `a` is held by nothing but the caller: it can be written in place.
fn exclusive(a: &Arc<Data>) -> bool {
    Arc::strong_count(a) == 1 && Arc::weak_count(a) == 0
}

impl Compiled {
    /// Runs the compiled graph. Each input must have the dtype and shape of the graph's input
    /// node (as for [`interp::run`](crate::interp::run)); violations are `Err`.
    pub fn run(&self, inputs: &[Arc<Data>]) -> Result<Vec<Arc<Data>>> {
        let refs: SmallVec<[&Arc<Data>; 8]> = inputs.iter().collect();
        Ok(self.run_refs(&refs)?.into_vec())
    }

    /// [`run`](Self::run) on borrowed inputs. This allocates only the outputs: pointer tables
    /// and small arenas are per-thread scratch, and small outputs that this thread's previous
    /// run of this graph returned and the caller has dropped are written again in place.
    pub fn run_refs(&self, inputs: &[&Arc<Data>]) -> Result<Outputs> {
        if inputs.len() < self.inputs.len() {
            return Err(Error::argument(
                "run",
                format!("the graph needs {} inputs, got {}", self.inputs.len(), inputs.len()),
            ));
        }
        for (k, (d, s)) in self.inputs.iter().enumerate() {
            let v = inputs[k];
            if v.dtype() != *d || v.shape() != s.as_slice() {
                return Err(Error::argument(
                    "run",
                    format!("input {k} must be {d}{s:?}, got {}{:?}", v.dtype(), v.shape()),
                ));
            }
        }
        // Inputs not in standard layout are copied; the copies live until the kernels finish.
        let mut copies: Vec<Arc<Data>> = Vec::new();
        let mut in_ptrs: SmallVec<[*mut u8; 8]> = SmallVec::new();
        for v in &inputs[..self.inputs.len()] {
            if with_data!(&***v, a => a.is_standard_layout()) {
                in_ptrs.push(const_ptr(v));
            } else {
                let copy = standard_copy(v);
                in_ptrs.push(const_ptr(&copy));
                copies.push(copy);
            }
        }
        // Small outputs are written again into this thread's last outputs of this graph when
        // the caller has let them go, else clone their zeroed prototype; large ones reuse the
        // last run's buffer when the caller has let it go (only runs with large outputs touch
        // that lock).
        let large = |(d, s): &(DType, Vec<usize>)| s.iter().product::<usize>() * d.size_of() >= RECYCLE_MIN;
        let recycling = self.out_allocs.iter().any(large);
        let mut recycled: Vec<Option<Arc<Data>>> = match recycling {
            true => self.recycled.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default(),
            false => Vec::new(),
        };
        // `allocated[j]` holds output `j` once it is an array; fresh buffers become arrays
        // after the kernels ran. (No per-output enum is built or moved: this is the hit path.)
        let mut allocated: SmallVec<[Option<Arc<Data>>; 4]> = SmallVec::with_capacity(self.out_allocs.len());
        let mut fresh: SmallVec<[(usize, OutBuf); 2]> = SmallVec::new();
        let mut out_ptrs: SmallVec<[*mut u8; 4]> = SmallVec::with_capacity(self.out_allocs.len());
        let (kept_id, mut kept) = SMALL_OUTPUTS.with(|k| k.take());
        if kept_id != self.id {
            kept.clear();
        }
        for (j, ((d, s), &zeroed)) in self.out_allocs.iter().zip(&self.out_zeroed).enumerate() {
            let prototype = self.out_prototypes.get(j).and_then(|p| p.as_ref());
            let reuse = match prototype {
                Some(_) => kept.get_mut(j).and_then(Option::take).filter(exclusive),
                // Written element by element again, so no need to clear it.
                None => recycled.get_mut(j).and_then(Option::take).filter(|old| !zeroed && exclusive(old)),
            };
            let mut array = match (prototype, reuse) {
                (Some(_), Some(mut old)) => {
                    if zeroed {
                        if let Some(d) = Arc::get_mut(&mut old) {
                            with_data!(d, a => a.fill(Default::default()));
                        }
                    }
                    old
                }
                (Some(zeros), None) => Arc::new(zeros.clone()),
                (None, Some(old)) => old,
                (None, None) => {
                    crate::interp::ensure_allocatable("run", *d, s)?;
                    let mut buffer = OutBuf::new(*d, s.iter().product(), zeroed)?;
                    out_ptrs.push(buffer.ptr());
                    fresh.push((j, buffer));
                    allocated.push(None);
                    continue;
                }
            };
            out_ptrs.push(
                Arc::get_mut(&mut array).map(mut_ptr).ok_or_else(|| Error::Jit("an output buffer is shared".into()))?,
            );
            allocated.push(Some(array));
        }
        let small = self.arena_words <= THREAD_ARENA_WORDS;
        let mut arena = if small {
            SMALL_ARENA.with(|a| a.take())
        } else {
            self.arenas.lock().ok().and_then(|mut p| p.pop()).unwrap_or_default()
        };
        if arena.len() < self.arena_words {
            arena = zeroed_arena(self.arena_words.max(if small { 1024 } else { 0 }))?;
        }
        let arena_ptr = arena.as_mut_ptr() as *mut u8;
        let (filled_for, filled_arena, mut ptrs) = POINTERS.with(|p| p.take());
        let pointer = |e: Entry| match e {
            Entry::Arena(off) => arena_ptr.wrapping_add(off),
            Entry::Input(k, off) => in_ptrs[k].wrapping_add(off),
            Entry::Output(j) => out_ptrs[j],
            Entry::Const(k, off) => const_ptr(&self.constants[k]).wrapping_add(off),
        };
        if filled_for == self.id && filled_arena == arena_ptr as usize && ptrs.len() == self.table.len() {
            // This graph's last run on this thread filled the table with this arena: the
            // arena and constant entries are still right.
            for &i in &self.per_call {
                ptrs[i] = pointer(self.table[i]);
            }
        } else {
            ptrs.clear();
            ptrs.extend(self.table.iter().map(|&e| pointer(e)));
        }
        for step in &self.steps {
            match *step {
                Step::Chunked { f, table, ref split } => {
                    // SAFETY: `f` is the finalized chunk function compiled for `split`; every
                    // buffer it touches is in its table (from entry `table` of `ptrs`) with the
                    // size the plan computed.
                    unsafe {
                        let f: ChunkFn = std::mem::transmute::<usize, ChunkFn>(f);
                        run_split(f, split, ptrs.as_ptr().add(table));
                    }
                }
                Step::Kernel { f, table } => {
                    // SAFETY: `f` is a finalized function of this module; every buffer it
                    // touches is in its table (from entry `table` of `ptrs`) with the size the
                    // plan computed.
                    unsafe {
                        let f: KernelFn = std::mem::transmute::<usize, KernelFn>(f);
                        f(ptrs.as_ptr().add(table));
                    }
                }
                // SAFETY: the plan gave `a`, `b`, `c` buffers of the product's batch of
                // matrices (operands maybe stored transposed, as `product` says), and `c`
                // aliases neither operand.
                Step::MatMul { operands: o, product } => unsafe {
                    matmul(product, ptrs[o], ptrs[o + 1], ptrs[o + 2]);
                },
            }
        }
        POINTERS.with(|p| p.set((self.id, arena_ptr as usize, ptrs)));
        if small {
            SMALL_ARENA.with(|a| a.set(arena));
        } else if let Ok(mut p) = self.arenas.lock() {
            if p.len() < 4 {
                p.push(arena);
            }
        }
        drop(copies);
        for (j, buffer) in fresh {
            // SAFETY: a fresh output is zeroed, or is the buffer of one generated kernel, which
            // has just written every element of it.
            allocated[j] = Some(Arc::new(unsafe { buffer.finish(&self.out_allocs[j].1) }?));
        }
        drop(kept);
        // The small outputs stay shared with this thread's store for the next run.
        let keep: SmallOutputs =
            allocated.iter().zip(&self.out_prototypes).map(|(o, p)| p.as_ref().and(o.clone())).collect();
        SMALL_OUTPUTS.with(|k| k.set((self.id, keep)));
        if recycling {
            if let Ok(mut r) = self.recycled.lock() {
                *r = allocated.iter().zip(&self.out_allocs).map(|(o, a)| o.clone().filter(|_| large(a))).collect();
            }
        }
        // Each allocated output is moved out at its last use, cloned before (no reference
        // count traffic in the common case of distinct outputs).
        let mut result = Outputs::with_capacity(self.outputs.len());
        for (i, o) in self.outputs.iter().enumerate() {
            result.push(match o {
                OutSrc::Input(k) => inputs[*k].clone(),
                OutSrc::Const(d) => d.clone(),
                OutSrc::Alloc(j) => {
                    let reused = self.outputs[i + 1..].iter().any(|later| matches!(later, OutSrc::Alloc(l) if l == j));
                    let slot = &mut allocated[*j];
                    match (reused, slot.take()) {
                        (true, Some(d)) => {
                            *slot = Some(d.clone());
                            d
                        }
                        (false, Some(d)) => d,
                        (_, None) => return Err(Error::Jit(format!("output buffer {j} used twice"))),
                    }
                }
            });
        }
        Ok(result)
    }

    /// The number of fused loops (generated kernels).
    pub fn loop_count(&self) -> usize {
        self.loops
    }

    /// The number of distinct native functions compiled (the kernels' functions, with those
    /// of the same code counted once).
    pub fn function_count(&self) -> usize {
        self.functions
    }
}
