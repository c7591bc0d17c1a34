//! `DataParallel`: an accelerated function called on each rank's shard, its outputs summed over
//! the ranks.

use super::allreduce::sum_over_ranks;
use crate::error::{Error, Result};
use crate::trace::{panic_message, Tree};
use crate::AcceleratedFunction;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

const OP: &str = "DataParallel::call";

/// An [`AcceleratedFunction`] run data-parallel over the ranks of a communicator: each rank
/// calls it on its own shard of the data, and [`call`](Self::call) returns the sum of the
/// outputs over all ranks (with [`allreduce_sum`](super::allreduce_sum): in rank order, the
/// same bits on every rank). For a loss that is a sum over observations, the sum of the
/// shards' losses and gradients is the whole data set's, so an optimizer on every rank takes
/// the same step.
///
/// Shards may differ in size across ranks (each size is traced and compiled once); the
/// outputs must have the same structure, dtypes and shapes on every rank.
pub struct DataParallel<A, R, C = SimpleCommunicator> {
    function: AcceleratedFunction<A, R>,
    comm: C,
}

impl<A, R, C> DataParallel<A, R, C>
where
    A: Tree + Send + Sync + 'static,
    R: Tree + Send + Sync + 'static,
    C: Communicator,
{
    /// `function` summed over the ranks of `comm` (an intracommunicator; a duplicate of the
    /// world, `world.duplicate()`, keeps these collectives apart from the program's own
    /// messages).
    pub fn new(function: AcceleratedFunction<A, R>, comm: C) -> Self {
        DataParallel { function, comm }
    }

    /// Calls the function on this rank's `args` (its shard) and returns the sum of the outputs
    /// over all ranks. Every rank of the communicator must call it.
    ///
    /// When the call fails on some rank (an `Err`, or a panic), every rank returns an `Err`
    /// that names the failed ranks and their errors, and no rank waits for the others; the
    /// same when the outputs differ across ranks in structure, dtypes or shapes.
    pub fn call(&self, args: A) -> Result<R> {
        let local = catch_unwind(AssertUnwindSafe(|| self.function.call(args)))
            .unwrap_or_else(|p| Err(Error::Panicked(panic_message(p))));
        sum_over_ranks(&self.comm, local.as_ref().map_err(|e| e.to_string()), OP)
    }

    /// The accelerated function (its statistics: `hit_rate`, `misses`, ...).
    pub fn function(&self) -> &AcceleratedFunction<A, R> {
        &self.function
    }

    /// The communicator.
    pub fn communicator(&self) -> &C {
        &self.comm
    }

    /// This process's rank in the communicator.
    pub fn rank(&self) -> usize {
        self.comm.rank() as usize
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.comm.size() as usize
    }
}
