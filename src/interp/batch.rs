//! The linear-algebra primitives over a batch of matrices (the leading axes): the one entry
//! point, [`run_slices`], that the interpreter ([`eval`]) and compiled code (a step of its own,
//! `jit/run/runtime.rs`) both call on row-major buffers, so both give the same bits.
//!
//! A batch large enough runs on rayon's pool in chunks of whole matrices, each matrix computed
//! by itself with the same sequential routine, so the bits do not depend on the number of
//! threads; a single large matrix is factored by faer's parallel routines instead, which split
//! the work by blocks of the result (never along a sum), so its bits do not depend on the
//! thread count either (`tests/linalg.rs` checks both).

use super::factor::{one, Scalar, Workspace};
use crate::array::cpu::clear_upper_vector_state;
use crate::array::Data;
use crate::error::{Error, Result};
use crate::ir::LinalgOp;
use faer::{MatRef, Par};
use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;

/// A batch of at least this many multiply-adds (about `n^3` per matrix) runs on the pool.
const PARALLEL_BATCH_WORK: usize = 1 << 16;

/// A single matrix at least this large is factored with faer's parallel routines.
const PARALLEL_MATRIX_DIM: usize = 192;

/// The shapes of one batched problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dims {
    /// The number of problems (the product of the leading axes).
    pub batch: usize,
    /// Rows and columns of each `a`.
    pub a: (usize, usize),
    /// Rows and columns of each `b` (the solves).
    pub b: Option<(usize, usize)>,
    /// Elements of each result.
    pub out: usize,
}

impl Dims {
    /// The dims of `op` on operands of shapes `a` (and `b`) with result shape `out` (all
    /// checked by the type rule).
    pub(crate) fn new(op: LinalgOp, a: &[usize], b: Option<&[usize]>, out: &[usize]) -> Dims {
        let r = a.len();
        let batch = a[..r - 2].iter().product();
        let lead = r - 2;
        Dims {
            batch,
            a: (a[r - 2], a[r - 1]),
            b: b.filter(|_| op.arity() == 2).map(|b| (b[r - 2], b[r - 1])),
            out: out[lead..].iter().product(),
        }
    }

    /// The largest side of one problem, and its multiply-adds (about `n^3`).
    fn size(&self) -> (usize, usize) {
        let ((ar, ac), (_, bc)) = (self.a, self.b.unwrap_or((0, 0)));
        let dim = ar.max(ac).max(bc);
        (dim, ar.saturating_mul(ac).saturating_mul(dim))
    }

    /// Whether the problems are shared among the pool's threads (a pool of more than one).
    fn splits_batch(&self) -> bool {
        self.batch > 1 && self.batch.saturating_mul(self.size().1) >= PARALLEL_BATCH_WORK
    }

    /// Whether one matrix is factored with faer's parallel routines (a pool of more than one).
    fn parallel_matrix(&self) -> bool {
        self.batch == 1 && self.size().0 >= PARALLEL_MATRIX_DIM
    }

    /// Whether these problems use rayon's pool when it has more than one thread.
    pub(crate) fn uses_pool(&self) -> bool {
        self.splits_batch() || self.parallel_matrix()
    }
}

/// Runs `op` on `d.batch` problems: `a` (and `b`) hold the operands' row-major matrices one
/// after the other, `out` receives each result's elements. The first failing problem (in
/// batch order) is the `Err`. The caller's thread is left with the vector registers' upper
/// halves clear, which faer's kernels leave dirty (`array/cpu.rs`).
pub(crate) fn run_slices<T: Scalar>(op: LinalgOp, d: &Dims, a: &[T], b: Option<&[T]>, out: &mut [T]) -> Result<()> {
    let done = solve_all(op, d, a, b, out);
    clear_upper_vector_state();
    done
}

/// [`run_slices`] before the vector state is cleared.
fn solve_all<T: Scalar>(op: LinalgOp, d: &Dims, a: &[T], b: Option<&[T]>, out: &mut [T]) -> Result<()> {
    if d.batch == 0 || d.out == 0 {
        return Ok(());
    }
    let (ar, ac) = d.a;
    let (br, bc) = d.b.unwrap_or((0, 0));
    let problem = |i: usize, out: &mut [T], ws: &mut Workspace<T>, par: Par| -> Result<()> {
        let am = MatRef::from_row_major_slice(&a[i * ar * ac..(i + 1) * ar * ac], ar, ac);
        let bm = b.map(|b| MatRef::from_row_major_slice(&b[i * br * bc..(i + 1) * br * bc], br, bc));
        one(op, am, bm, out, ws, par)
    };
    let threads = rayon::current_num_threads();
    if threads > 1 && d.splits_batch() {
        let chunk = d.batch.div_ceil(threads * 4).max(1);
        let results: Vec<Result<()>> = out
            .par_chunks_mut(chunk * d.out)
            .enumerate()
            .map(|(c, part)| {
                let mut ws = Workspace::new();
                for (j, o) in part.chunks_mut(d.out).enumerate() {
                    problem(c * chunk + j, o, &mut ws, Par::Seq)?;
                }
                Ok(())
            })
            .collect();
        return results.into_iter().collect();
    }
    let par = if threads > 1 && d.parallel_matrix() { Par::rayon(0) } else { Par::Seq };
    let mut ws = Workspace::new();
    for (i, o) in out.chunks_mut(d.out).enumerate() {
        problem(i, o, &mut ws, par)?;
    }
    Ok(())
}

/// [`run_slices`] on arrays of one element type, into a new array of shape `out`.
fn eval_typed<T: Scalar>(op: LinalgOp, a: &ArrayD<T>, b: Option<&ArrayD<T>>, out: &[usize]) -> Result<Data> {
    let d = Dims::new(op, a.shape(), b.map(|b| b.shape()), out);
    let a = a.as_standard_layout();
    let b = b.map(|b| b.as_standard_layout());
    let (Some(av), bv) = (a.as_slice(), b.as_ref().map(|b| b.as_slice())) else {
        return Err(Error::argument(op.name(), "internal: operand is not contiguous"));
    };
    let bv = match bv {
        Some(Some(s)) => Some(s),
        Some(None) => return Err(Error::argument(op.name(), "internal: operand is not contiguous")),
        None => None,
    };
    let mut values = vec![T::zero(); out.iter().product()];
    run_slices(op, &d, av, bv, &mut values)?;
    let array = ArrayD::from_shape_vec(IxDyn(out), values).map_err(|e| Error::argument(op.name(), e.to_string()))?;
    Ok(T::into_data(array))
}

/// The interpreter's kernel of `op` on operands checked by its type rule.
pub(crate) fn eval(op: LinalgOp, inputs: &[&Data]) -> Result<Data> {
    let types: smallvec::SmallVec<[(crate::DType, &[usize]); 2]> =
        inputs.iter().map(|d| (d.dtype(), d.shape())).collect();
    let (_, out) = crate::ir::infer(&crate::ir::Op::Linalg(op), &types)?;
    let b = inputs.get(1).copied();
    match (inputs[0], b) {
        (Data::F32(a), None) => eval_typed(op, a, None, &out),
        (Data::F64(a), None) => eval_typed(op, a, None, &out),
        (Data::F32(a), Some(Data::F32(b))) => eval_typed(op, a, Some(b), &out),
        (Data::F64(a), Some(Data::F64(b))) => eval_typed(op, a, Some(b), &out),
        _ => Err(Error::dtype(op.name(), &[inputs[0].dtype()], "needs real matrices of one dtype")),
    }
}
