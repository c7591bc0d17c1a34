//! The runtime's matrix products: `c = op(a) @ op(b)` over a batch, where `op` is the identity
//! or the transpose of the last two axes, read through strides (a transposed operand is the
//! buffer of the permutation's operand, never a copy).
//!
//! Real products (`f32`, `f64`) use `faer`, chosen by `benches/gemm.rs` over matrixmultiply
//! (with and without its own threads) and the `gemm` crate. Products of at least
//! [`PARALLEL_MIN_WORK`] multiply-adds run on rayon's pool; smaller ones stay on the caller's
//! thread, since waking the pool costs about 15 us on the 2-core machine the benches run on.
//! A large product of at least 128 rows is cut by its shape into halves of its rows (at least
//! 64 each), each multiplied by faer on one thread, the halves side by side: on that machine
//! faer's own split of a `[256, 784] x [784, 256]` product took 1.21-1.24 ms in some processes
//! and 1.64-1.72 ms in others, the halves 1.30-1.37 ms in every one. Other large products use
//! faer's threads, which split by blocks of the result only. Neither way splits the summed
//! axis, so a product has the same bits for any number of threads (`tests/gemm.rs` checks
//! it). Complex products call matrixmultiply's `cgemm`/`zgemm`, as the interpreter does.
//!
//! Small real products (at most `interp::SMALL_PRODUCT_WORK` multiply-adds) never come here:
//! they are loop nests inside the kernel functions (`product.rs`), in the interpreter's order.
//!
//! Agreement with the interpreter (tolerance): the interpreter multiplies with ndarray's
//! `general_mat_mul` (matrixmultiply). Both compute each `c[i, j]` as a sum over `k` of
//! rounded products, but in different orders: each library splits the summed axis into blocks
//! of its own depth and accumulates within a block in its own micro-kernel's order (fused
//! multiply-adds in SIMD lanes). Results therefore differ in the last bits, always within the
//! standard GEMM bound `|c_jit - c_interp| <= 2 k u (|a| |b|)` elementwise (`u` the unit
//! roundoff of the dtype, `k` the summed length): each is within `k u |a| |b|` of the exact
//! product. Complex products are the interpreter's bit for bit.

use crate::array::cpu::clear_upper_vector_state;
use crate::array::DType;
use faer::{MatMut, MatRef};
use rayon::prelude::*;

/// Row and column strides (in elements) of an `[rows, cols]` operand stored row-major, or
/// stored as its `[cols, rows]` transpose.
fn strides(rows: usize, cols: usize, transposed: bool) -> (isize, isize) {
    if transposed {
        (1, rows as isize)
    } else {
        (cols as isize, 1)
    }
}

/// The shape of one batched product.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Product {
    pub dtype: DType,
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// `a` holds `[.., k, m]` matrices (the product reads their transposes).
    pub ta: bool,
    /// `b` holds `[.., n, k]` matrices.
    pub tb: bool,
}

/// `c = op(a) @ op(b)` for `p.batch` matrices.
///
/// # Safety
/// `a`, `b` and `c` must point at `p.batch` contiguous row-major matrices of `p.dtype` of
/// shapes `[m, k]` (or `[k, m]` when `p.ta`), `[k, n]` (or `[n, k]` when `p.tb`) and `[m, n]`,
/// with `c` writable, aligned for the dtype, and aliasing neither operand.
pub(crate) unsafe fn matmul(p: Product, a: *const u8, b: *const u8, c: *mut u8) {
    let Product { dtype, batch, m, k, n, ta, tb } = p;
    let (ars, acs) = strides(m, k, ta);
    let (brs, bcs) = strides(k, n, tb);
    let sz = dtype.size_of();
    for i in 0..batch {
        let (ap, bp, cp) = (a.add(i * m * k * sz), b.add(i * k * n * sz), c.add(i * m * n * sz));
        match dtype {
            // SAFETY (both arms): the caller's buffers hold these matrices; `c` is exclusive.
            DType::F32 => real::<f32>(m, k, n, Operands { a: (ap, ars, acs), b: (bp, brs, bcs), c: cp }),
            DType::F64 => real::<f64>(m, k, n, Operands { a: (ap, ars, acs), b: (bp, brs, bcs), c: cp }),
            // matrixmultiply's complex products take the same arguments in both precisions.
            DType::C64 | DType::C128 => {
                macro_rules! complex {
                    ($gemm:path) => {
                        $gemm(
                            matrixmultiply::CGemmOption::Standard,
                            matrixmultiply::CGemmOption::Standard,
                            m,
                            k,
                            n,
                            [1.0, 0.0],
                            ap as _,
                            ars,
                            acs,
                            bp as _,
                            brs,
                            bcs,
                            [0.0, 0.0],
                            cp as _,
                            n as isize,
                            1,
                        )
                    };
                }
                if dtype == DType::C64 {
                    complex!(matrixmultiply::cgemm)
                } else {
                    complex!(matrixmultiply::zgemm)
                }
            }
            DType::Bool => {}
        }
    }
    clear_upper_vector_state();
}

/// Rows `r0..r1` of the product `c = op(a) @ op(b)` of one pair of real matrices, into `c`
/// (`[r1 - r0, n]`, row-major), on the calling thread.
///
/// # Safety
/// As for [`matmul`] with `p.batch == 1` and a real dtype, `c` holding `r1 - r0` rows.
pub(crate) unsafe fn matmul_rows(p: Product, a: *const u8, b: *const u8, c: *mut u8, r0: usize, r1: usize) {
    let Product { dtype, m, k, n, ta, tb, .. } = p;
    let (ars, acs) = strides(m, k, ta);
    let (brs, bcs) = strides(k, n, tb);
    let sz = dtype.size_of();
    // Row r0 of op(a): r0 rows into `a`, or r0 columns into its stored transpose.
    let first = if ta { r0 * sz } else { r0 * k * sz };
    // SAFETY (both arms): the caller's buffers hold these rows; `c` is exclusive.
    match dtype {
        DType::F32 => real::<f32>(r1 - r0, k, n, Operands { a: (a.add(first), ars, acs), b: (b, brs, bcs), c }),
        DType::F64 => real::<f64>(r1 - r0, k, n, Operands { a: (a.add(first), ars, acs), b: (b, brs, bcs), c }),
        _ => {}
    }
    clear_upper_vector_state();
}

/// Real products with at least this many multiply-adds (`m k n`) run on rayon's pool.
pub(crate) const PARALLEL_MIN_WORK: usize = 1 << 24;

/// Whether a real `[m, k] x [k, n]` product is large enough for rayon's pool.
pub(crate) fn is_large(m: usize, k: usize, n: usize) -> bool {
    m.saturating_mul(k).saturating_mul(n) >= PARALLEL_MIN_WORK
}

/// A real scalar faer multiplies.
trait RealGemm: faer::traits::ComplexField + Copy + ndarray::LinalgScalar {
    /// The multiplicative identity.
    const ONE: Self;
}

impl RealGemm for f32 {
    const ONE: Self = 1.0;
}

impl RealGemm for f64 {
    const ONE: Self = 1.0;
}

/// The pointers of one product (`a` and `b` with their row and column strides in elements,
/// `c` row-major), shared with the pool's threads.
#[derive(Clone, Copy)]
struct Operands {
    a: (*const u8, isize, isize),
    b: (*const u8, isize, isize),
    c: *mut u8,
}
// SAFETY: the parts of one product write disjoint rows of `c` and only read `a` and `b`; the
// pointers outlive the parallel loop, which joins before the product returns.
unsafe impl Sync for Operands {}
// SAFETY: as for `Sync`: only the pointer values move between threads.
unsafe impl Send for Operands {}

/// One real product through faer with parallelism `par`, from raw pointers and element strides.
///
/// # Safety
/// As for [`matmul`], for one matrix of each operand.
unsafe fn real_with<T: RealGemm>(m: usize, k: usize, n: usize, Operands { a, b, c }: Operands, par: faer::Par) {
    // SAFETY: the caller guarantees the matrices these pointers and strides describe; `c` is
    // row-major `[m, n]` and written only through this view.
    let (av, bv, cv) = unsafe {
        (
            MatRef::from_raw_parts(a.0 as *const T, m, k, a.1, a.2),
            MatRef::from_raw_parts(b.0 as *const T, k, n, b.1, b.2),
            MatMut::from_raw_parts_mut(c as *mut T, m, n, n as isize, 1),
        )
    };
    faer::linalg::matmul::matmul(cv, faer::Accum::Replace, av, bv, T::ONE, par);
}

/// Rows of a part of a large product, at least.
const PART_ROWS: usize = 64;

/// Parts a large product is cut into, at most (eight parts of a `[256, 784] x [784, 256]`
/// product made W3 slower than two).
const PARTS: usize = 2;

/// One real product: a large one with at least `2 PART_ROWS` rows as up to [`PARTS`] parts of
/// rows (cut by its shape alone) multiplied on one thread each, the parts on rayon's pool;
/// another large one by faer's own threads; a small one on the caller's thread (see the
/// module's documentation).
///
/// # Safety
/// As for [`matmul`], for one matrix of each operand.
unsafe fn real<T: RealGemm>(m: usize, k: usize, n: usize, ops: Operands) {
    let large = is_large(m, k, n);
    if !large || m < 2 * PART_ROWS {
        let par = if large { faer::Par::rayon(0) } else { faer::Par::Seq };
        // SAFETY: the caller's guarantee.
        unsafe { real_with::<T>(m, k, n, ops, par) };
        return;
    }
    let rows = m.div_ceil(PARTS).max(PART_ROWS);
    // The whole struct (`Sync`) goes into the closure, not its fields.
    let ops = &ops;
    (0..m.div_ceil(rows)).into_par_iter().for_each(|part| {
        let Operands { a, b, c } = *ops;
        let (r0, r1) = (part * rows, ((part + 1) * rows).min(m));
        let size = std::mem::size_of::<T>() as isize;
        // SAFETY: rows `r0..r1` of `op(a)` start `r0` row strides into `a`, and of `c` `r0 n`
        // elements into it; each part writes only its own rows of `c`.
        unsafe {
            let ap = a.0.offset(r0 as isize * a.1 * size);
            let cp = c.offset((r0 * n) as isize * size);
            real_with::<T>(r1 - r0, k, n, Operands { a: (ap, a.1, a.2), b, c: cp }, faer::Par::Seq);
        }
    });
}
