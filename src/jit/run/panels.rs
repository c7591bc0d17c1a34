//! A chunked kernel that computes the matrix product it reads by panels of rows
//! (`plan/panels.rs`): each chunk multiplies its rows of the product into a panel of this
//! thread's, small enough to stay in cache, points the kernel's table entry of the product at
//! it, and runs the kernel on those rows. The panels are cut by the kernel's shape alone, so
//! the bits do not depend on the number of threads.

use super::gemm::{matmul_rows, Product};
use super::pool::ChunkFn;
use crate::jit::plan::split::Split;
use rayon::prelude::*;
use std::cell::RefCell;

/// Bytes of one panel of the product, at least (the split's chunk may be larger): fewer,
/// larger GEMM calls multiply faster (k-means' [32, 16] x [16, 1000] panels took 1.1x the time
/// of [64, 16] ones), and a panel stays in the second-level cache.
const PANEL_BYTES: usize = 512 * 1024;

/// A product computed inside its consumer's chunks.
#[derive(Clone, Debug)]
pub(crate) struct Panel {
    /// The product (one matrix, real).
    pub product: Product,
    /// The run's table entries of its operands `a` and `b` (`a` at this entry, `b` next).
    pub operands: usize,
    /// The slot of the product's buffer (whose entry of the kernel's table is the panel's).
    pub slot: usize,
    /// The product's entry in the kernel's own table (filled in when linked).
    pub entry: usize,
    /// The length of the kernel's own table (filled in when linked).
    pub table_len: usize,
}

/// Panels at least, where the split's chunks are enlarged to [`PANEL_BYTES`].
const PANELS_AT_LEAST: usize = 8;

thread_local! {
    /// This thread's panel (8-byte words).
    static PANEL: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// The buffer pointers of a run, shared with the pool's threads.
struct Shared(*const *mut u8, *const *mut u8);
// SAFETY: the chunks write disjoint rows of the kernel's buffers and their own panels, and
// read buffers that no chunk writes; the pointers outlive the parallel loop.
unsafe impl Sync for Shared {}
// SAFETY: as for `Sync`.
unsafe impl Send for Shared {}

/// Runs chunk function `f` of a kernel split by rows as `split`, with its table at `table`,
/// computing product `p` by panels from the run's table `run`.
///
/// # Safety
/// `f` must be the chunk function compiled for `split`, `table` its pointer table, and `run`
/// the run's table, whose entries from `p.operands` on point at the product's operands and
/// its buffer.
pub(crate) unsafe fn run_panels(f: ChunkFn, split: &Split, p: &Panel, table: *const *mut u8, run: *const *mut u8) {
    let Split::Rows { units, chunk } = *split else { return };
    if p.entry >= p.table_len {
        // The kernel reads the product through no entry of its own (never so when planned):
        // the whole product into its buffer, the run's entry after the operands', as a GEMM
        // step would.
        // SAFETY: the caller's contract; that entry is the product's buffer.
        unsafe {
            super::gemm::matmul(p.product, *run.add(p.operands), *run.add(p.operands + 1), *run.add(p.operands + 2));
            super::pool::run_split(f, split, table);
        }
        return;
    }
    let shared = Shared(table, run);
    let row_bytes = p.product.n * p.product.dtype.size_of();
    // A chunk is one panel: the split's rows, or more up to PANEL_BYTES (fewer GEMM calls)
    // while there are at least PANELS_AT_LEAST of them (every thread has work).
    let rows = chunk.max((PANEL_BYTES / row_bytes.max(1)).min(units / PANELS_AT_LEAST));
    (0..units.div_ceil(rows)).into_par_iter().for_each(|c| {
        let (lo, hi) = (c * rows, ((c + 1) * rows).min(units));
        let s = &shared;
        // SAFETY: the caller's table holds `p.table_len` entries, and the run's its operands.
        let (mut own, a, b) = unsafe {
            (
                smallvec::SmallVec::<[*mut u8; 16]>::from_slice(std::slice::from_raw_parts(s.0, p.table_len)),
                *s.1.add(p.operands),
                *s.1.add(p.operands + 1),
            )
        };
        let mut held =
            PANEL.with(|cell| cell.try_borrow_mut().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default());
        if held.len() * 8 < rows * row_bytes {
            held.resize((rows * row_bytes).div_ceil(8), 0);
        }
        let base = held.as_mut_ptr() as *mut u8;
        // SAFETY: the panel holds `hi - lo` rows of the product; the operands are the
        // product's. The kernel reads its rows lo..hi of the product at the entry, which points
        // `lo` rows before the panel: only the panel's rows are read.
        unsafe {
            matmul_rows(p.product, a, b, base, lo, hi);
            own[p.entry] = base.wrapping_sub(lo * row_bytes);
            f(own.as_ptr(), lo as u64, hi as u64, std::ptr::null_mut());
        }
        PANEL.with(|cell| {
            if let Ok(mut v) = cell.try_borrow_mut() {
                *v = held;
            }
        });
    });
}
