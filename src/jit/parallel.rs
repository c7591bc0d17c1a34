//! Every core: a kernel over many elements is compiled as a chunk function
//! `fn(bufs, lo, hi, part)` and run as fixed-size chunks on rayon's global pool (or the pool a
//! caller [`install`](rayon::ThreadPool::install)s).
//!
//! The chunks depend only on the kernel's shape, never on the number of threads, and their
//! results are combined in a fixed order, so the bits are the same for any number of threads
//! (and the same as the interpreter's):
//!
//! - [`Split::Rows`]: the outermost loop (the only one of a 1-D kernel) is cut into ranges;
//!   every element is computed by the same instructions whichever chunk holds it.
//! - [`Split::Sum`]: a 1-D sum is cut at aligned groups of [`SUM_CHUNK_BLOCKS`] (a power of
//!   two) blocks of the blocked order. A full chunk's binary counter ends with one partial sum,
//!   exactly the partial that the one-thread counter forms for those blocks; the last chunk
//!   leaves the partials of its remaining blocks. [`combine_chunks`] feeds the full chunks'
//!   sums through the same counter and finishes with the last chunk's partials, which
//!   reproduces the one-thread order addition for addition. A sum with a sibling kernel
//!   (`sibling.rs`) also writes the sibling's elements of its blocks in each chunk (the last
//!   chunk those past the sum's end too): the chunks write disjoint elements.
//!
//! Calls below [`PARALLEL_MIN`] elements (fewer for costly elementwise kernels,
//! [`COSTLY_FACTOR`]) stay on the calling thread. A call from a user thread
//! blocks on the pool's work (rayon never runs more workers than the pool has), and a call
//! from inside the pool helps run it, so many concurrent callers neither oversubscribe the
//! cores nor deadlock.

use super::plan::Plan;
use crate::array::{DType, Num};
use crate::interp::SUM_BLOCK;
use crate::ir::{Graph, Lowering, NodeId, Op};
use num_complex::{Complex32, Complex64};
use rayon::prelude::*;

/// Kernels over fewer elements than this run on the calling thread. Measured on the 2-core
/// build machine (an f64 map and sum, 2 threads against 1, both chunked): 2^16 elements 1.9x
/// slower, 2^17 even, 2^18 0.89x, 2^19 0.71x, 2^20 0.77x.
pub(crate) const PARALLEL_MIN: usize = 1 << 18;

/// Elements per chunk of a split kernel (a multiple of every vector width).
const CHUNK: usize = 1 << 15;

/// An elementwise kernel with a host call per element (a transcendental: about 5 to 20 ns an
/// element, against well under 1 ns for inline arithmetic) is split from this many times fewer
/// elements, in chunks this many times smaller: W3's `tanh` of `256 x 256` runs on the pool.
const COSTLY_FACTOR: usize = 8;

/// The fewest elements elementwise kernel `k` is split from: fewer when its fused expression
/// (down to the buffers in `buffer` and the immediates in `inline_const`) calls a host
/// function per element, which does about `COSTLY_FACTOR` times the work of inline arithmetic.
pub(crate) fn elementwise_parallel_min(g: &Graph, buffer: &[Option<usize>], inline_const: &[bool], k: NodeId) -> usize {
    let mut seen = super::small_set::SmallSet::default();
    let mut stack: smallvec::SmallVec<[NodeId; 16]> = smallvec::smallvec![k];
    while let Some(n) = stack.pop() {
        let nd = &g.nodes[n];
        let complex = |i: usize| nd.inputs.get(i).is_some_and(|&x| g.nodes[x].dtype.is_complex());
        let host = match &nd.op {
            Op::Unary(u) => u.lowering(complex(0)) == Lowering::Host,
            Op::Binary(b) => b.lowering(complex(0)) == Lowering::Host,
            _ => false,
        };
        if host {
            return PARALLEL_MIN / COSTLY_FACTOR;
        }
        for &i in &nd.inputs {
            if buffer[i].is_none() && !inline_const[i] && seen.insert(i) {
                stack.push(i);
            }
        }
    }
    PARALLEL_MIN
}

/// Blocks per chunk of a split sum: a power of two, `CHUNK` elements.
pub(crate) const SUM_CHUNK_BLOCKS: usize = CHUNK / SUM_BLOCK;

/// How a kernel is split into chunks.
#[derive(Clone, Debug)]
pub(crate) enum Split {
    /// `units` iterations of the outermost loop, `chunk` per chunk.
    Rows { units: usize, chunk: usize },
    /// A 1-D sum of `blocks` blocks into the root's buffer, `SUM_CHUNK_BLOCKS` per chunk (the
    /// first entry of the chunk function's pointer table).
    Sum { blocks: usize, dtype: DType },
}

fn numel(s: &[usize]) -> usize {
    s.iter().product()
}

/// How kernel `k` of `plan` is split, if it is large enough to be.
pub(crate) fn split(g: &Graph, plan: &Plan, k: NodeId) -> Option<Split> {
    let node = &g.nodes[k];
    let out = numel(&node.shape);
    match &node.op {
        Op::MatMul | Op::Input(_) | Op::Constant(_) | Op::Call(_) => None,
        // Written piece by piece: no single outermost loop.
        Op::Concat(_) if plan.buffer[k].is_some() && node.inputs.len() > super::plan::INLINE_CONCAT_PARTS => None,
        Op::ReduceSum(_) | Op::ReduceMax(_) | Op::ReduceMin(_) => {
            let in_shape = &g.nodes[node.inputs[0]].shape;
            let work = numel(in_shape);
            if work < PARALLEL_MIN {
                return None;
            }
            if node.shape.is_empty() {
                // Only a sum of one axis is split (by blocks).
                return match (&node.op, in_shape.len()) {
                    (Op::ReduceSum(_), 1) if plan.buffer[k].is_some() => {
                        Some(Split::Sum { blocks: in_shape[0].div_ceil(SUM_BLOCK), dtype: node.dtype })
                    }
                    _ => None,
                };
            }
            let units = node.shape[0];
            let chunk = (CHUNK * units / work).max(1);
            (units > chunk).then_some(Split::Rows { units, chunk })
        }
        _ => {
            let least = elementwise_parallel_min(g, &plan.buffer, &plan.inline_const, k);
            let chunk_elements = if least < PARALLEL_MIN { CHUNK / COSTLY_FACTOR } else { CHUNK };
            if out < least || node.shape.is_empty() {
                return None;
            }
            let units = node.shape[0];
            let chunk = if node.shape.len() == 1 { chunk_elements } else { (chunk_elements * units / out).max(1) };
            (units > chunk).then_some(Split::Rows { units, chunk })
        }
    }
}

/// A chunk function: `(bufs, lo, hi, part)`.
pub(super) type ChunkFn = unsafe extern "C" fn(*const *mut u8, u64, u64, *mut u8);

/// The buffer pointers of a run, shared with the pool's threads.
struct Bufs(*const *mut u8);
// SAFETY: the chunks of one kernel write disjoint elements (or their own partials) and read
// buffers that no chunk writes; the pointers outlive the parallel loop, which joins before
// the run goes on.
unsafe impl Sync for Bufs {}
// SAFETY: as for `Sync`: only the pointer value moves between threads.
unsafe impl Send for Bufs {}

/// Runs chunk function `f` of a kernel split as `split`.
///
/// # Safety
/// `f` must be the chunk function compiled for `split`, and `bufs` its pointer table.
pub(super) unsafe fn run_split(f: ChunkFn, split: &Split, bufs: *const *mut u8) {
    let shared = Bufs(bufs);
    match *split {
        Split::Rows { units, chunk } => {
            let chunks = units.div_ceil(chunk);
            (0..chunks).into_par_iter().for_each(|c| {
                let (lo, hi) = (c * chunk, ((c + 1) * chunk).min(units));
                let b = &shared;
                // SAFETY: chunk `c` writes only the elements of its own range.
                unsafe { f(b.0, lo as u64, hi as u64, std::ptr::null_mut()) };
            });
        }
        Split::Sum { blocks, dtype } => {
            // SAFETY: the chunk function's table starts with the reduction's buffer.
            let out = unsafe { *bufs };
            // SAFETY: `f` is the chunk function of a sum of `dtype`, and `out` the buffer of
            // its one element.
            unsafe {
                match dtype {
                    DType::F32 => sum_chunks::<f32>(f, blocks, &shared, out),
                    DType::F64 => sum_chunks::<f64>(f, blocks, &shared, out),
                    DType::C64 => sum_chunks::<Complex32>(f, blocks, &shared, out),
                    DType::C128 => sum_chunks::<Complex64>(f, blocks, &shared, out),
                    DType::Bool => {}
                }
            }
        }
    }
}

/// Levels of partial sums a chunk of `SUM_CHUNK_BLOCKS` blocks can leave.
const CHUNK_LEVELS: usize = SUM_CHUNK_BLOCKS.trailing_zeros() as usize + 1;

/// # Safety
/// As [`run_split`]; `out` points at one writable `T`.
unsafe fn sum_chunks<T: Num>(f: ChunkFn, blocks: usize, bufs: &Bufs, out: *mut u8) {
    let chunks = blocks.div_ceil(SUM_CHUNK_BLOCKS);
    let mut partials: Vec<[T; CHUNK_LEVELS]> = vec![[T::zero(); CHUNK_LEVELS]; chunks];
    partials.par_iter_mut().enumerate().for_each(|(c, p)| {
        let (lo, hi) = (c * SUM_CHUNK_BLOCKS, ((c + 1) * SUM_CHUNK_BLOCKS).min(blocks));
        let b = bufs;
        // SAFETY: the chunk writes at most `CHUNK_LEVELS` partials of `T` to its own array.
        unsafe { f(b.0, lo as u64, hi as u64, p.as_mut_ptr() as *mut u8) };
    });
    let total = combine_chunks(&partials, blocks);
    // SAFETY: the caller guarantees `out` holds one `T`.
    unsafe { (out as *mut T).write_unaligned(total) };
}

/// The blocked sum from the partials its chunks left (see the module's documentation).
pub(crate) fn combine_chunks<T: Num, const L: usize>(partials: &[[T; L]], blocks: usize) -> T {
    let full = blocks / SUM_CHUNK_BLOCKS;
    let top = L - 1;
    // The full chunks' sums through the binary counter, as blocks of a coarser sum.
    let mut counter: Vec<T> = Vec::new();
    for (count, p) in partials[..full].iter().enumerate() {
        let mut c = p[top];
        let mut level = 0;
        while (count >> level) & 1 == 1 {
            c = counter[level] + c;
            level += 1;
        }
        if counter.len() <= level {
            counter.resize(level + 1, T::zero());
        }
        counter[level] = c;
    }
    // The last, partial chunk's own partials, from its lowest level up.
    let mut total: Option<T> = None;
    let rest = blocks % SUM_CHUNK_BLOCKS;
    if rest > 0 {
        for (level, &p) in partials[full].iter().enumerate() {
            if (rest >> level) & 1 == 1 {
                total = Some(match total {
                    None => p,
                    Some(t) => p + t,
                });
            }
        }
    }
    for (level, &p) in counter.iter().enumerate() {
        if (full >> level) & 1 == 1 {
            total = Some(match total {
                None => p,
                Some(t) => p + t,
            });
        }
    }
    total.unwrap_or_else(T::zero)
}
