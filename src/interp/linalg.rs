//! Kernel of the matrix product, batched over equal leading axes, and the one GEMM routine the
//! interpreter and the JIT's runtime both call for real operands.
//!
//! Real products (`f32`, `f64`) use `faer` (chosen by `benches/gemm.rs` over matrixmultiply,
//! with and without its threads, and the `gemm` crate). Products of at least
//! [`PARALLEL_MIN_WORK`] multiply-adds run on rayon's pool; smaller ones stay on the caller's
//! thread, since waking the pool costs about 15 us on the 2-core machine the benches run on.
//! faer splits a product among threads by blocks of the result only, never along the summed
//! axis, so a product has the same bits for any number of threads (`tests/gemm.rs` checks it).
//! Complex products keep ndarray's `general_mat_mul` (matrixmultiply's `cgemm`/`zgemm`).
//!
//! Summation order: each element `c[i, j]` is a sum over `k` accumulated in faer's blocked
//! order (chunks of the summed axis, multiply-adds in SIMD lanes, lanes combined at the end),
//! not the sequential order of a naive loop; its error against the exact product is within the
//! usual GEMM bound `|c - a b| <= k u |a| |b|` (elementwise, `u` the unit roundoff). The
//! interpreter reads transposed operands from materialized copies and the JIT through strides;
//! faer's kernels give both the same bits on every product the tests try, and
//! `tests/gemm.rs` holds them to that bound in any case.

use crate::array::{Data, Element};
use crate::error::{Error, Result};
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{linalg::general_mat_mul, ArrayD, IxDyn, LinalgScalar};

/// Real products with at least this many multiply-adds (`m k n`) run on rayon's pool.
pub(crate) const PARALLEL_MIN_WORK: usize = 1 << 24;

/// The parallelism of a real `[m, k] x [k, n]` product: rayon's whole pool when it is large.
pub(crate) fn parallelism(m: usize, k: usize, n: usize) -> Par {
    let work = m.saturating_mul(k).saturating_mul(n);
    if work >= PARALLEL_MIN_WORK {
        Par::rayon(0)
    } else {
        Par::Seq
    }
}

/// A real scalar faer multiplies.
pub(crate) trait RealGemm: faer::traits::ComplexField + Copy {
    /// The multiplicative identity.
    fn unit() -> Self;
}

impl RealGemm for f32 {
    fn unit() -> Self {
        1.0
    }
}

impl RealGemm for f64 {
    fn unit() -> Self {
        1.0
    }
}

/// `c = a @ b` for real matrices of any strides (`c` overwritten).
pub(crate) fn real_gemm<T: RealGemm>(c: MatMut<'_, T>, a: MatRef<'_, T>, b: MatRef<'_, T>) {
    let par = parallelism(a.nrows(), a.ncols(), b.ncols());
    faer::linalg::matmul::matmul(c, Accum::Replace, a, b, T::unit(), par);
}

/// `a @ b` for contiguous real operands `[batch, m, k]` and `[batch, k, n]`.
fn real_batched<T: RealGemm>(a: &[T], b: &[T], out: &mut [T], batch: usize, m: usize, k: usize, n: usize) {
    for i in 0..batch {
        let ai = MatRef::from_row_major_slice(&a[i * m * k..(i + 1) * m * k], m, k);
        let bi = MatRef::from_row_major_slice(&b[i * k * n..(i + 1) * k * n], k, n);
        let ci = MatMut::from_row_major_slice_mut(&mut out[i * m * n..(i + 1) * m * n], m, n);
        real_gemm(ci, ai, bi);
    }
}

/// `(batch, m, k, n)` and the result's shape of `a @ b`.
fn dims<T>(a: &ArrayD<T>, b: &ArrayD<T>) -> ((usize, usize, usize, usize), Vec<usize>) {
    let (ra, rb) = (a.ndim(), b.ndim());
    let (m, k, n) = (a.shape()[ra - 2], a.shape()[ra - 1], b.shape()[rb - 1]);
    let batch: usize = a.shape()[..ra - 2].iter().product();
    let mut out_shape = a.shape().to_vec();
    out_shape[ra - 1] = n;
    ((batch, m, k, n), out_shape)
}

fn matmul_real<T: Element + RealGemm + num_traits::Zero>(a: &ArrayD<T>, b: &ArrayD<T>) -> Result<Data> {
    let ((batch, m, k, n), out_shape) = dims(a, b);
    let (a, b) = (a.as_standard_layout(), b.as_standard_layout());
    let (Some(a), Some(b)) = (a.as_slice(), b.as_slice()) else {
        return Err(Error::argument("matmul", "operands are not contiguous"));
    };
    let mut out = vec![T::zero(); batch * m * n];
    real_batched(a, b, &mut out, batch, m, k, n);
    let out = ArrayD::from_shape_vec(IxDyn(&out_shape), out).map_err(|e| Error::argument("matmul", e.to_string()))?;
    Ok(T::into_data(out))
}

fn matmul_complex<T: Element + LinalgScalar>(a: &ArrayD<T>, b: &ArrayD<T>) -> Result<Data> {
    let ((batch, m, k, n), out_shape) = dims(a, b);
    let a3 = a.view().into_shape_with_order((batch, m, k)).map_err(|e| Error::argument("matmul", e.to_string()))?;
    let b3 = b.view().into_shape_with_order((batch, k, n)).map_err(|e| Error::argument("matmul", e.to_string()))?;
    let mut out = ndarray::Array3::<T>::zeros((batch, m, n));
    for i in 0..batch {
        let mut c = out.index_axis_mut(ndarray::Axis(0), i);
        general_mat_mul(
            T::one(),
            &a3.index_axis(ndarray::Axis(0), i),
            &b3.index_axis(ndarray::Axis(0), i),
            T::zero(),
            &mut c,
        );
    }
    let out = out.into_shape_with_order(IxDyn(&out_shape)).map_err(|e| Error::argument("matmul", e.to_string()))?;
    Ok(T::into_data(out))
}

/// `a @ b` over the last two axes.
pub(crate) fn matmul(a: &Data, b: &Data) -> Result<Data> {
    match (a, b) {
        (Data::F32(a), Data::F32(b)) => matmul_real(a, b),
        (Data::F64(a), Data::F64(b)) => matmul_real(a, b),
        (Data::C64(a), Data::C64(b)) => matmul_complex(a, b),
        (Data::C128(a), Data::C128(b)) => matmul_complex(a, b),
        _ => Err(Error::dtype("matmul", &[a.dtype(), b.dtype()], "needs two numeric operands of one dtype")),
    }
}
