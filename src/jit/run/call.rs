//! One call of a compiled program: the inputs checked and their pointers taken, the outputs
//! allocated (or small ones written again in place), the arena and pointer table from the
//! thread's scratch, the steps run, and the outputs handed back.

use super::awake::with_pool_awake;
use super::buffers::{advise_huge, OutBuf};
use super::gemm::matmul;
use super::pool::{run_split, ChunkFn};
use super::runtime::{Compiled, Entry, KernelFn, OutSrc, Outputs, Step};
use crate::array::cpu::clear_upper_vector_state;
use crate::array::with_data;
use crate::array::{standard, DType, Data, Element};
use crate::error::{Error, Result};
use smallvec::SmallVec;
use std::sync::Arc;

/// Outputs of at least this many bytes are kept for reuse by the next run (a fresh large
/// allocation costs a page fault per 4 KiB page on its first write).
const RECYCLE_MIN: usize = 1 << 20;

/// Words an arena holds beyond its temporaries, so that their base can start a cache line.
const ARENA_SLACK_WORDS: usize = 8;

/// A zeroed arena for `words` 8-byte words of temporaries (from [`arena_base`] on), or an
/// `Err` when the allocator refuses it. Probed fallibly first, then allocated zeroed (fresh
/// pages cost nothing until a kernel writes them; an explicit fill would touch every page
/// before the first kernel runs); a large one is advised to use huge pages.
pub(super) fn zeroed_arena(words: usize) -> Result<Vec<u64>> {
    let words = words.saturating_add(ARENA_SLACK_WORDS);
    if Vec::<u64>::new().try_reserve_exact(words).is_err() {
        return Err(Error::argument(
            "run",
            format!("cannot allocate the {} bytes of temporaries: out of memory", words.saturating_mul(8)),
        ));
    }
    let mut arena = vec![0u64; words];
    advise_huge(arena.as_mut_ptr() as *mut u8, words * 8);
    Ok(arena)
}

/// True when `arena` holds `words` words of temporaries from its [`arena_base`].
fn arena_holds(arena: &[u64], words: usize) -> bool {
    arena.len() >= words.saturating_add(ARENA_SLACK_WORDS)
}

/// The first cache-line boundary of `arena`: the temporaries' offsets (multiples of a cache
/// line, `plan/slots.rs`) count from there, so every temporary starts a cache line whatever
/// address the allocator gave (the speed of a kernel then does not depend on it).
pub(super) fn arena_base(arena: &mut [u64]) -> *mut u8 {
    let p = arena.as_mut_ptr() as *mut u8;
    p.wrapping_add(p.align_offset(64).min(ARENA_SLACK_WORDS * 8))
}

pub(super) fn const_ptr(d: &Data) -> *mut u8 {
    with_data!(d, a => a.as_ptr() as *mut u8)
}

pub(super) fn mut_ptr(d: &mut Data) -> *mut u8 {
    with_data!(d, a => a.as_mut_ptr() as *mut u8)
}

/// An owned standard-layout copy of `d` (inputs are read in place when already standard).
pub(super) fn standard_copy(d: &Data) -> Arc<Data> {
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

/// A run's pointer table, lent to the pool thread that runs the steps (`awake.rs`).
struct PointerTable<'p>(&'p [*mut u8]);

// SAFETY: the caller waits for the steps to finish before the table goes away; the steps
// write through these pointers as they would on the caller's thread, and no one else does.
unsafe impl Send for PointerTable<'_> {}

impl PointerTable<'_> {
    /// The entries (a method, so that a closure takes the whole `Send` table).
    fn entries(&self) -> &[*mut u8] {
        self.0
    }
}

/// The small outputs a run keeps for the next (`None` for the large ones).
type SmallOutputs = SmallVec<[Option<Arc<Data>>; 4]>;

/// True when `a` is held by nothing but the caller: it can be written in place.
fn exclusive(a: &Arc<Data>) -> bool {
    Arc::strong_count(a) == 1 && Arc::weak_count(a) == 0
}

/// The output buffers of one call.
struct OutputBuffers {
    /// Output `j` once it is an array; fresh buffers become arrays after the kernels ran.
    allocated: SmallVec<[Option<Arc<Data>>; 4]>,
    /// Fresh buffers: (output, buffer).
    fresh: SmallVec<[(usize, OutBuf); 2]>,
    /// Each output's memory, for the pointer table.
    ptrs: SmallVec<[*mut u8; 4]>,
    /// This thread's kept small outputs (taken for the call).
    kept: SmallOutputs,
    /// Whether this program recycles large outputs.
    recycling: bool,
}

/// True for an output allocation large enough to be recycled.
fn large((d, s): &(DType, Vec<usize>)) -> bool {
    s.iter().product::<usize>() * d.size_of() >= RECYCLE_MIN
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
        self.check_inputs(inputs)?;
        // The caller's code may have left the vector registers' upper halves dirty.
        clear_upper_vector_state();
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
        let mut out = OutputBuffers {
            allocated: SmallVec::new(),
            fresh: SmallVec::new(),
            ptrs: SmallVec::new(),
            kept: SmallVec::new(),
            recycling: false,
        };
        self.output_buffers(&mut out)?;
        let ran = self.run_on(&in_ptrs, &out.ptrs);
        drop(copies);
        if let Err(e) = ran {
            // The scratch is back; the outputs, some unwritten, are dropped (this thread keeps
            // none of them for the next run).
            SMALL_OUTPUTS.with(|k| k.set((0, SmallVec::new())));
            return Err(e);
        }
        for (j, buffer) in std::mem::take(&mut out.fresh) {
            // SAFETY: a fresh output is zeroed, or is the buffer of one generated kernel, which
            // has just written every element of it.
            out.allocated[j] = Some(Arc::new(unsafe { buffer.finish(&self.out_allocs[j].1) }?));
        }
        self.keep_outputs(&mut out);
        self.results(inputs, &mut out.allocated)
    }

    /// Runs the steps with the inputs and the outputs' buffers at the given addresses, the
    /// arena and pointer table from this thread's scratch (given back, also on `Err`).
    #[inline]
    pub(super) fn run_on(&self, in_ptrs: &[*mut u8], out_ptrs: &[*mut u8]) -> Result<()> {
        let small = self.arena_words <= THREAD_ARENA_WORDS;
        let mut arena = self.take_arena(small)?;
        let arena_ptr = arena_base(&mut arena);
        let ptrs = self.pointer_table(arena_ptr, in_ptrs, out_ptrs);
        let ran = if self.pool_awake {
            let table = PointerTable(&ptrs);
            with_pool_awake(move || {
                // The steps may run on a pool thread that faer's kernels left dirty.
                clear_upper_vector_state();
                self.run_steps(table.entries())
            })
        } else {
            self.run_steps(&ptrs)
        };
        POINTERS.with(|p| p.set((self.id, arena_ptr as usize, ptrs)));
        self.give_back_arena(small, arena);
        ran
    }

    /// `Err` unless `inputs` has the dtypes and shapes of the graph's inputs.
    #[inline]
    fn check_inputs(&self, inputs: &[&Arc<Data>]) -> Result<()> {
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
        Ok(())
    }

    /// The outputs' buffers. Small outputs are written again into this thread's last outputs of
    /// this graph when the caller has let them go, else clone their zeroed prototype; large ones
    /// reuse the last run's buffer when the caller has let it go (only runs with large outputs
    /// touch that lock). No per-output enum is built or moved: this is the hit path.
    #[inline]
    fn output_buffers(&self, out: &mut OutputBuffers) -> Result<()> {
        let recycling = self.out_allocs.iter().any(large);
        out.recycling = recycling;
        let mut recycled: Vec<Option<Arc<Data>>> = match recycling {
            true => self.recycled.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default(),
            false => Vec::new(),
        };
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
                    out.ptrs.push(buffer.ptr());
                    out.fresh.push((j, buffer));
                    out.allocated.push(None);
                    continue;
                }
            };
            let ptr = Arc::get_mut(&mut array).map(mut_ptr);
            out.ptrs.push(ptr.ok_or_else(|| Error::Jit("an output buffer is shared".into()))?);
            out.allocated.push(Some(array));
        }
        out.kept = kept;
        Ok(())
    }

    /// The arena of temporaries: this thread's for a small graph, else one from the graph's
    /// pool; grown (zeroed) when too small.
    #[inline]
    fn take_arena(&self, small: bool) -> Result<Vec<u64>> {
        let mut arena = if small {
            SMALL_ARENA.with(|a| a.take())
        } else {
            self.arenas.lock().ok().and_then(|mut p| p.pop()).unwrap_or_default()
        };
        if !arena_holds(&arena, self.arena_words) {
            arena = zeroed_arena(self.arena_words.max(if small { 1024 } else { 0 }))?;
        }
        Ok(arena)
    }

    /// Returns the arena [`take_arena`](Self::take_arena) gave.
    #[inline]
    fn give_back_arena(&self, small: bool, arena: Vec<u64>) {
        if small {
            SMALL_ARENA.with(|a| a.set(arena));
        } else if let Ok(mut p) = self.arenas.lock() {
            if p.len() < 4 {
                p.push(arena);
            }
        }
    }

    /// This thread's pointer table, filled for this call: only the per-call entries when this
    /// graph's last run on this thread filled it with this arena (the arena and constant
    /// entries are still right), else every entry.
    #[inline]
    fn pointer_table(&self, arena_ptr: *mut u8, in_ptrs: &[*mut u8], out_ptrs: &[*mut u8]) -> Vec<*mut u8> {
        let (filled_for, filled_arena, mut ptrs) = POINTERS.with(|p| p.take());
        let pointer = |e: Entry| match e {
            Entry::Arena(off) => arena_ptr.wrapping_add(off),
            Entry::Input(k, off) => in_ptrs[k].wrapping_add(off),
            Entry::Output(j) => out_ptrs[j],
            Entry::Const(k, off) => const_ptr(&self.constants[k]).wrapping_add(off),
        };
        if filled_for == self.id && filled_arena == arena_ptr as usize && ptrs.len() == self.table.len() {
            for &i in &self.per_call {
                ptrs[i] = pointer(self.table[i]);
            }
        } else {
            ptrs.clear();
            ptrs.extend(self.table.iter().map(|&e| pointer(e)));
        }
        ptrs
    }

    /// Runs every step on the filled pointer table; a call step's `Err` ends the run.
    #[inline]
    pub(super) fn run_steps(&self, ptrs: &[*mut u8]) -> Result<()> {
        for step in &self.steps {
            self.run_step(step, ptrs)?;
        }
        Ok(())
    }

    /// Runs one of its steps on the filled pointer table.
    #[inline]
    pub(super) fn run_step(&self, step: &Step, ptrs: &[*mut u8]) -> Result<()> {
        match *step {
            Step::Chunked { f, table, ref split, ref panel } => {
                // SAFETY: `f` is the finalized chunk function compiled for `split`; every
                // buffer it touches is in its table (from entry `table` of `ptrs`) with the
                // size the plan computed; a panel's operands are entries of `ptrs`.
                unsafe {
                    let f: ChunkFn = std::mem::transmute::<usize, ChunkFn>(f);
                    match panel {
                        Some(p) => super::panels::run_panels(f, split, p, ptrs.as_ptr().add(table), ptrs.as_ptr()),
                        None => run_split(f, split, ptrs.as_ptr().add(table)),
                    }
                }
            }
            // SAFETY: each part is a finalized chunk function compiled for rows split into
            // `units`, its table from its entry of `ptrs`; the parts read one another's results
            // only in their own rows (`plan/row_groups.rs`).
            Step::RowGroup(ref group) => unsafe { super::pool::run_row_group(group, ptrs.as_ptr()) },
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
            // SAFETY: the plan gave each operand and result of the call a buffer of its type at
            // its entry, the results aliasing no operand.
            Step::Call(ref c) => unsafe { super::driver_call::run_call_step(self, c, ptrs)? },
            Step::Linalg(ref l) => super::linalg::run_linalg(l, ptrs)?,
        }
        Ok(())
    }

    /// Keeps the small outputs (shared with this thread's store) for the next run, and the
    /// large ones for recycling.
    #[inline]
    fn keep_outputs(&self, out: &mut OutputBuffers) {
        drop(std::mem::take(&mut out.kept));
        let (allocated, recycling) = (&out.allocated, out.recycling);
        let keep: SmallOutputs =
            allocated.iter().zip(&self.out_prototypes).map(|(o, p)| p.as_ref().and(o.clone())).collect();
        SMALL_OUTPUTS.with(|k| k.set((self.id, keep)));
        if recycling {
            if let Ok(mut r) = self.recycled.lock() {
                *r = allocated.iter().zip(&self.out_allocs).map(|(o, a)| o.clone().filter(|_| large(a))).collect();
            }
        }
    }

    /// The call's results. Each allocated output is moved out at its last use, cloned before
    /// (no reference count traffic in the common case of distinct outputs).
    #[inline]
    fn results(&self, inputs: &[&Arc<Data>], allocated: &mut [Option<Arc<Data>>]) -> Result<Outputs> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arenas_temporaries_start_a_cache_line_and_fit() {
        for words in [1, 7, 100, 1 << 20] {
            let mut arena = zeroed_arena(words).unwrap();
            let (start, len) = (arena.as_ptr() as usize, arena.len() * 8);
            let base = arena_base(&mut arena) as usize;
            assert_eq!(base % 64, 0, "{words} words");
            assert!(base + words * 8 <= start + len, "{words} words do not fit after the base");
            assert!(arena_holds(&arena, words) && !arena_holds(&arena, words + 1));
        }
    }
}
