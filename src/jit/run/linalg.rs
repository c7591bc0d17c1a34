//! The linear-algebra step of a run: a factorization or solve node (`Op::Linalg`) computed by
//! the interpreter's own routine (`interp::run_slices`) on the run's buffers, so compiled code
//! and the interpreter agree bit for bit. A failure that depends on values (`chol` of a matrix
//! that is not positive definite) is the step's `Err`, naming the op and the node's line; it
//! ends the run and comes back from `af.call`.

use crate::array::DType;
use crate::error::{Error, Result};
use crate::interp::{run_slices, Dims, LinalgScalar};
use crate::ir::{LinalgOp, Origin};

/// A linear-algebra step: the op, its operands' and result's table entries and sizes.
#[derive(Clone, Debug)]
pub(crate) struct LinalgStep {
    /// The primitive.
    pub op: LinalgOp,
    /// The element type (`f32` or `f64`).
    pub dtype: DType,
    /// The batch and matrix shapes.
    pub dims: Dims,
    /// Table entries and element counts of `a`, `b` (the solves) and the result.
    pub a: (usize, usize),
    pub b: Option<(usize, usize)>,
    pub out: (usize, usize),
    /// The node's source line, for the errors of the run.
    pub origin: Option<Origin>,
}

/// Runs step `s` on the buffers at `ptrs`.
pub(crate) fn run_linalg(s: &LinalgStep, ptrs: &[*mut u8]) -> Result<()> {
    let done = match s.dtype {
        // SAFETY (both arms): the plan gave each operand and the result buffers of their nodes'
        // dtype and element counts at these entries; the result aliases no operand.
        DType::F32 => unsafe { typed::<f32>(s, ptrs) },
        DType::F64 => unsafe { typed::<f64>(s, ptrs) },
        d => Err(Error::dtype(s.op.name(), &[d], "linear algebra is defined for real matrices only")),
    };
    done.map_err(|e| match s.origin {
        Some(origin) => e.at(origin),
        None => e,
    })
}

/// [`run_linalg`] for element type `T`.
///
/// # Safety
/// `ptrs` at the step's entries must point at buffers of `T` of the step's element counts,
/// the operands valid for reads and the result for writes, aliasing none of them.
unsafe fn typed<T: LinalgScalar>(s: &LinalgStep, ptrs: &[*mut u8]) -> Result<()> {
    // SAFETY: the caller's contract.
    let a = unsafe { std::slice::from_raw_parts(ptrs[s.a.0] as *const T, s.a.1) };
    // SAFETY: the caller's contract.
    let b = s.b.map(|(e, n)| unsafe { std::slice::from_raw_parts(ptrs[e] as *const T, n) });
    // SAFETY: the caller's contract.
    let out = unsafe { std::slice::from_raw_parts_mut(ptrs[s.out.0] as *mut T, s.out.1) };
    run_slices(s.op, &s.dims, a, b, out)
}
