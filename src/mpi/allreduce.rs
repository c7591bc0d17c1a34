//! `allreduce_sum`: the elementwise sum of a tree of arrays over the ranks of a communicator,
//! added in rank order so that every rank gets the same bits, run after run.
//!
//! After the agreement of [`status`](super::status), every rank's data (its arrays' elements,
//! little-endian, in visiting order: `n` bytes, the same `n` on every rank) is gathered to every
//! rank with `MPI_Allgather`, and each rank adds the `P` contributions in the order of their
//! ranks, `((x0 + x1) + x2) + ...`, with the same code: the same bits everywhere. MPI's own
//! `MPI_SUM` is not used, since the standard leaves its order of addition open. Each rank
//! receives `P n` bytes (docs/SCALING.md weighs this against a library allreduce).

use super::status::{agree, element_bytes, error, Ready, Status};
use crate::array::{DType, Data};
use crate::error::Result;
use crate::trace::{DlArray, Tree};
use mpi::traits::*;
use ndarray::{ArrayD, IxDyn};
use num_complex::{Complex32, Complex64};
use std::ops::AddAssign;
use std::sync::Arc;

const OP: &str = "allreduce_sum";

/// The elementwise sum over the ranks of `comm` of the arrays of `tree` (a
/// [`Tree`]: an array, a `Vec`, a tuple, a map, a [`ParamTable`](crate::ParamTable), ...):
/// a tree of the same structure whose arrays hold `x_0 + x_1 + ... + x_{P-1}`, added in rank
/// order, so every rank gets the same bits in every run. Every rank of `comm` (an
/// intracommunicator: the world, or a duplicate or split of it) must call it.
///
/// Arrays of dtype `f32`, `f64`, `c64` and `c128` are summed (complex ones as their real and
/// imaginary parts); plain values (numbers, strings, map keys) are kept and must agree. The
/// result's arrays are not traced.
///
/// An `Err` on every rank, naming the ranks and the causes, when on some rank an array is
/// logical or carries an error, or when the trees differ across ranks in structure, plain
/// values, dtypes or shapes; no rank then waits for the others.
pub fn allreduce_sum<T: Tree, C: Communicator>(tree: &T, comm: &C) -> Result<T> {
    sum_over_ranks(comm, Ok(tree), OP)
}

/// [`allreduce_sum`] of this rank's `local` tree, or, where this rank has none, the collective
/// failure carrying `local`'s message. `op` names the call in errors.
pub(crate) fn sum_over_ranks<T: Tree, C: Communicator>(
    comm: &C,
    local: std::result::Result<&T, String>,
    op: &str,
) -> Result<T> {
    let (tree, status) = match local {
        Ok(t) => (Some(t), Status::of(t, op)),
        Err(message) => (None, Status::Failed(message)),
    };
    let ready = agree(comm, status, op)?;
    let tree = tree.ok_or_else(|| error(op, "internal: agreed on a tree this rank does not have".into()))?;
    let size = comm.size() as usize;
    let sums = if size == 1 {
        // The sum of one term is that term.
        ready.data.clone()
    } else {
        let packed = pack(&ready, op)?;
        let gathered = gather(comm, &packed);
        sum_in_rank_order(&ready, &gathered, size, op)?
    };
    let mut next = sums.into_iter();
    tree.map_arrays(&mut |_| {
        next.next().map(DlArray::from_data).ok_or_else(|| error(op, "internal: fewer sums than arrays".into()))
    })
}

/// This rank's arrays' elements as little-endian bytes, in visiting order (complex elements
/// as real then imaginary part).
fn pack(ready: &Ready, op: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(ready.bytes);
    for d in &ready.data {
        match &**d {
            Data::F32(a) => a.iter().for_each(|v| out.extend(v.to_le_bytes())),
            Data::F64(a) => a.iter().for_each(|v| out.extend(v.to_le_bytes())),
            Data::C64(a) => a.iter().for_each(|v| {
                out.extend(v.re.to_le_bytes());
                out.extend(v.im.to_le_bytes())
            }),
            Data::C128(a) => a.iter().for_each(|v| {
                out.extend(v.re.to_le_bytes());
                out.extend(v.im.to_le_bytes())
            }),
            Data::Bool(_) => return Err(error(op, "internal: a logical array passed the agreement".into())),
        }
    }
    Ok(out)
}

/// Every rank's `packed` bytes (the same length on every rank), rank after rank. Gathers in
/// pieces when `P n` bytes exceed an MPI count.
fn gather<C: Communicator>(comm: &C, packed: &[u8]) -> Vec<u8> {
    let (p, n) = (comm.size() as usize, packed.len());
    let mut all = vec![0u8; p * n];
    if n == 0 {
        return all;
    }
    let piece = (i32::MAX as usize / p).max(1);
    if n <= piece {
        comm.all_gather_into(packed, &mut all[..]);
        return all;
    }
    let mut part = vec![0u8; p * piece];
    for start in (0..n).step_by(piece) {
        let len = piece.min(n - start);
        let part = &mut part[..p * len];
        comm.all_gather_into(&packed[start..start + len], &mut *part);
        for r in 0..p {
            all[r * n + start..r * n + start + len].copy_from_slice(&part[r * len..(r + 1) * len]);
        }
    }
    all
}

/// A real word of the packed data.
trait Word: Copy + AddAssign {
    const BYTES: usize;
    fn read(bytes: &[u8]) -> Self;
}

impl Word for f32 {
    const BYTES: usize = 4;
    fn read(bytes: &[u8]) -> Self {
        let mut w = [0; 4];
        w.copy_from_slice(bytes);
        f32::from_le_bytes(w)
    }
}

impl Word for f64 {
    const BYTES: usize = 8;
    fn read(bytes: &[u8]) -> Self {
        let mut w = [0; 8];
        w.copy_from_slice(bytes);
        f64::from_le_bytes(w)
    }
}

/// The sums, in rank order, of the `count` words at byte `offset` of each rank's `n` bytes of
/// `all`.
fn sum_words<T: Word>(all: &[u8], n: usize, p: usize, offset: usize, count: usize) -> Vec<T> {
    let len = count * T::BYTES;
    let mut acc: Vec<T> = all[offset..offset + len].chunks_exact(T::BYTES).map(T::read).collect();
    for r in 1..p {
        let at = r * n + offset;
        for (a, b) in acc.iter_mut().zip(all[at..at + len].chunks_exact(T::BYTES)) {
            *a += T::read(b);
        }
    }
    acc
}

/// The sums of every array of the gathered data, in rank order, with this rank's arrays'
/// dtypes and shapes (the same on every rank).
fn sum_in_rank_order(ready: &Ready, all: &[u8], p: usize, op: &str) -> Result<Vec<Arc<Data>>> {
    let n = ready.bytes;
    let mut offset = 0;
    let mut out = Vec::with_capacity(ready.data.len());
    for d in &ready.data {
        let shape = IxDyn(d.shape());
        let bad = |e: ndarray::ShapeError| error(op, format!("internal: {e}"));
        let numel = d.numel();
        let sum = match d.dtype() {
            DType::F32 => Data::F32(ArrayD::from_shape_vec(shape, sum_words(all, n, p, offset, numel)).map_err(bad)?),
            DType::F64 => Data::F64(ArrayD::from_shape_vec(shape, sum_words(all, n, p, offset, numel)).map_err(bad)?),
            DType::C64 => {
                let parts: Vec<f32> = sum_words(all, n, p, offset, 2 * numel);
                let values = parts.chunks_exact(2).map(|c| Complex32::new(c[0], c[1])).collect();
                Data::C64(ArrayD::from_shape_vec(shape, values).map_err(bad)?)
            }
            DType::C128 => {
                let parts: Vec<f64> = sum_words(all, n, p, offset, 2 * numel);
                let values = parts.chunks_exact(2).map(|c| Complex64::new(c[0], c[1])).collect();
                Data::C128(ArrayD::from_shape_vec(shape, values).map_err(bad)?)
            }
            DType::Bool => return Err(error(op, "internal: a logical array passed the agreement".into())),
        };
        offset += numel * element_bytes(d.dtype());
        out.push(Arc::new(sum));
    }
    Ok(out)
}
