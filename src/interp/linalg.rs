//! Kernel of the matrix product, batched over equal leading axes (ndarray's GEMM).

use crate::array::{Data, Element};
use crate::error::{Error, Result};
use ndarray::{linalg::general_mat_mul, ArrayD, IxDyn, LinalgScalar};

fn matmul_typed<T: Element + LinalgScalar>(a: &ArrayD<T>, b: &ArrayD<T>) -> Result<Data> {
    let (ra, rb) = (a.ndim(), b.ndim());
    let (m, k, n) = (a.shape()[ra - 2], a.shape()[ra - 1], b.shape()[rb - 1]);
    let batch: usize = a.shape()[..ra - 2].iter().product();
    let mut out_shape = a.shape().to_vec();
    out_shape[ra - 1] = n;
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
        (Data::F32(a), Data::F32(b)) => matmul_typed(a, b),
        (Data::F64(a), Data::F64(b)) => matmul_typed(a, b),
        (Data::C64(a), Data::C64(b)) => matmul_typed(a, b),
        (Data::C128(a), Data::C128(b)) => matmul_typed(a, b),
        _ => Err(Error::dtype("matmul", &[a.dtype(), b.dtype()], "needs two numeric operands of one dtype")),
    }
}
