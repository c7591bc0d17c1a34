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
//! Each chunk first clears the upper halves of its thread's vector registers, which faer's
//! kernels may have left dirty on that pool thread (`array::cpu::clear_upper_vector_state`).
//!
//! Calls below [`PARALLEL_MIN`] elements (fewer for costly elementwise kernels,
//! [`COSTLY_FACTOR`]) stay on the calling thread. A call from a user thread
//! blocks on the pool's work (rayon never runs more workers than the pool has), and a call
//! from inside the pool helps run it, so many concurrent callers neither oversubscribe the
//! cores nor deadlock.

use crate::array::cpu::clear_upper_vector_state;
use crate::array::{DType, Num};
use crate::interp::combine_groups;
use crate::jit::limits::SUM_CHUNK_BLOCKS;
use crate::jit::plan::split::Split;
use crate::jit::run::runtime::RowGroup;
use num_complex::{Complex32, Complex64};
use rayon::prelude::*;

/// A chunk function: `(bufs, lo, hi, part)`.
pub(crate) type ChunkFn = unsafe extern "C" fn(*const *mut u8, u64, u64, *mut u8);

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
pub(crate) unsafe fn run_split(f: ChunkFn, split: &Split, bufs: *const *mut u8) {
    let shared = Bufs(bufs);
    match *split {
        Split::Rows { units, chunk } => {
            let chunks = units.div_ceil(chunk);
            (0..chunks).into_par_iter().for_each(|c| {
                let (lo, hi) = (c * chunk, ((c + 1) * chunk).min(units));
                let b = &shared;
                clear_upper_vector_state();
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

/// Runs the parts of a row group (`plan/row_groups.rs`): chunk by chunk of its rows, each
/// chunk running every part's chunk function on its rows in turn.
///
/// # Safety
/// Each part must be a chunk function compiled for `Split::Rows` over `group.units` rows, its
/// pointer table at its entry of `ptrs`, and the parts must read what one another write only in
/// their own rows.
pub(crate) unsafe fn run_row_group(group: &RowGroup, ptrs: *const *mut u8) {
    let shared = Bufs(ptrs);
    let (units, chunk) = (group.units, group.chunk);
    (0..units.div_ceil(chunk)).into_par_iter().for_each(|c| {
        let (lo, hi) = (c * chunk, ((c + 1) * chunk).min(units));
        let b = &shared;
        clear_upper_vector_state();
        for &(f, table) in &group.parts {
            // SAFETY: as the function's contract says; chunk `c` writes only its own rows of
            // each part's result, after the parts before it wrote the rows it reads.
            unsafe {
                let f = std::mem::transmute::<usize, ChunkFn>(f);
                f(b.0.add(table), lo as u64, hi as u64, std::ptr::null_mut());
            }
        }
    });
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
        clear_upper_vector_state();
        // SAFETY: the chunk writes at most `CHUNK_LEVELS` partials of `T` to its own array.
        unsafe { f(b.0, lo as u64, hi as u64, p.as_mut_ptr() as *mut u8) };
    });
    let total = combine_chunks(&partials, blocks);
    // SAFETY: the caller guarantees `out` holds one `T`.
    unsafe { (out as *mut T).write_unaligned(total) };
}

/// The blocked sum from the partials its chunks left (see the module's documentation).
pub(crate) fn combine_chunks<T: Num, const L: usize>(partials: &[[T; L]], blocks: usize) -> T {
    combine_groups(partials, (blocks, SUM_CHUNK_BLOCKS), |p| p[L - 1], |p| &p[..])
}
