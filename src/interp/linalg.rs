//! Kernel of the matrix product, batched over equal leading axes: ndarray's GEMM, except for
//! small products ([`small_product`]; the JIT's inline products, `jit/product.rs`, follow its
//! order, so both give the same bits).

use crate::array::{pool, Data, Element};
use crate::error::{Error, Result};
use faer::reborrow::ReborrowMut;
use faer::{MatMut, MatRef};
use ndarray::{linalg::general_mat_mul, ArrayD, IxDyn, LinalgScalar};

/// Products of at most this many multiply-adds (`m k n`) are [`small_product`] loops: any
/// GEMM's set-up (packing, blocking) costs more than the arithmetic at these sizes (a recurrent
/// loss on 14-wide vectors makes thousands of `1 x 14 x 14` products per call).
pub(crate) const SMALL_PRODUCT_WORK: usize = 4096;

/// True when `[m, k] x [k, n]` is a small product.
pub(crate) fn is_small_product(m: usize, k: usize, n: usize) -> bool {
    m.saturating_mul(k).saturating_mul(n) <= SMALL_PRODUCT_WORK
}

/// `c = a @ b` as loops in which each `c[i, j]` sums `a[i, p] * b[p, j]` for `p` in order from
/// zero, with no fused multiply-add, so every layout gives the same bits: rows of `b` added
/// into rows of `c` when both are contiguous, dot products of rows of `a` with columns of `b`
/// when those are, indexing otherwise. The interpreter and the JIT (which reads transposed
/// operands through strides) both call it for small products.
pub(super) fn small_product<T: LinalgScalar>(c: MatMut<'_, T>, a: MatRef<'_, T>, b: MatRef<'_, T>) {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    if b.col_stride() == 1 && c.col_stride() == 1 {
        if let (Some(mut c), Some(b)) = (c.try_as_row_major_mut(), b.try_as_row_major()) {
            for i in 0..m {
                let row = c.rb_mut().row_mut(i).as_slice_mut();
                row.fill(T::zero());
                for p in 0..k {
                    let x = a[(i, p)];
                    for (cj, &bj) in row.iter_mut().zip(b.row(p).as_slice()) {
                        *cj = *cj + x * bj;
                    }
                }
            }
        }
        return;
    }
    let mut c = c;
    let (rows, columns) = (a.try_as_row_major(), b.transpose().try_as_row_major());
    for i in 0..m {
        for j in 0..n {
            let mut acc = T::zero();
            if let (Some(a), Some(bt)) = (&rows, &columns) {
                for (&x, &y) in a.row(i).as_slice().iter().zip(bt.row(j).as_slice()) {
                    acc = acc + x * y;
                }
            } else {
                for p in 0..k {
                    acc = acc + a[(i, p)] * b[(p, j)];
                }
            }
            c[(i, j)] = acc;
        }
    }
}

/// `a @ b`; `real` products that are small go through [`small_product`] (complex products
/// always through ndarray's GEMM, as in the JIT).
fn matmul_typed<T: Element + LinalgScalar>(a: &ArrayD<T>, b: &ArrayD<T>, real: bool) -> Result<Data> {
    let (ra, rb) = (a.ndim(), b.ndim());
    let (m, k, n) = (a.shape()[ra - 2], a.shape()[ra - 1], b.shape()[rb - 1]);
    let batch: usize = a.shape()[..ra - 2].iter().product();
    let mut out_shape = a.shape().to_vec();
    out_shape[ra - 1] = n;
    let a3 = a.view().into_shape_with_order((batch, m, k)).map_err(|e| Error::argument("matmul", e.to_string()))?;
    let b3 = b.view().into_shape_with_order((batch, k, n)).map_err(|e| Error::argument("matmul", e.to_string()))?;
    let small = real && is_small_product(m, k, n);
    let mut out = if small {
        ndarray::Array3::<T>::zeros((batch, m, n))
    } else {
        pool::filled(&[batch, m, n], T::zero())
            .into_dimensionality::<ndarray::Ix3>()
            .map_err(|e| Error::argument("matmul", e.to_string()))?
    };
    if small {
        let (a3, b3) = (a3.as_standard_layout(), b3.as_standard_layout());
        let (Some(av), Some(bv), Some(cv)) = (a3.as_slice(), b3.as_slice(), out.as_slice_mut()) else {
            return Err(Error::argument("matmul", "internal: operands are not contiguous"));
        };
        for i in 0..batch {
            small_product(
                MatMut::from_row_major_slice_mut(&mut cv[i * m * n..(i + 1) * m * n], m, n),
                MatRef::from_row_major_slice(&av[i * m * k..(i + 1) * m * k], m, k),
                MatRef::from_row_major_slice(&bv[i * k * n..(i + 1) * k * n], k, n),
            );
        }
    } else {
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
    }
    let out = out.into_shape_with_order(IxDyn(&out_shape)).map_err(|e| Error::argument("matmul", e.to_string()))?;
    Ok(T::into_data(out))
}

/// `a @ b` over the last two axes.
pub(crate) fn matmul(a: &Data, b: &Data) -> Result<Data> {
    match (a, b) {
        (Data::F32(a), Data::F32(b)) => matmul_typed(a, b, true),
        (Data::F64(a), Data::F64(b)) => matmul_typed(a, b, true),
        (Data::C64(a), Data::C64(b)) => matmul_typed(a, b, false),
        (Data::C128(a), Data::C128(b)) => matmul_typed(a, b, false),
        _ => Err(Error::dtype("matmul", &[a.dtype(), b.dtype()], "needs two numeric operands of one dtype")),
    }
}
