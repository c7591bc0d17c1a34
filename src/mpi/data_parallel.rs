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
///
/// rsmpi's communicators are neither `Send` nor `Sync`, so a `DataParallel` over one cannot go
/// where a `Send + Sync` function is asked for (an argmin problem,
/// `cranegrad::argmin::ArgminProblem::from_fn`); [`DataParallel::world`] can: it holds no
/// communicator ([`World`]) and runs every call on the world communicator.
pub struct DataParallel<A, R, C = SimpleCommunicator> {
    function: AcceleratedFunction<A, R>,
    comm: C,
}

/// The world communicator (`MPI_COMM_WORLD`, all the processes), taken afresh at every call
/// (rsmpi's `SimpleCommunicator::world()`) rather than held: the communicator of a
/// [`DataParallel::world`], which is therefore `Send + Sync`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct World;

impl<A, R, C> DataParallel<A, R, C>
where
    A: Tree + Send + Sync + 'static,
    R: Tree + Send + Sync + 'static,
{
    /// The accelerated function (its statistics: `hit_rate`, `misses`, ...).
    pub fn function(&self) -> &AcceleratedFunction<A, R> {
        &self.function
    }

    /// Calls the function on this rank's `args` and sums the outputs over the ranks of `comm`.
    fn call_on<K: Communicator>(&self, comm: &K, args: A) -> Result<R> {
        let local = catch_unwind(AssertUnwindSafe(|| self.function.call(args)))
            .unwrap_or_else(|p| Err(Error::Panicked(panic_message(p))));
        sum_over_ranks(comm, local.as_ref().map_err(|e| e.to_string()), OP)
    }
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
        self.call_on(&self.comm, args)
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

impl<A, R> DataParallel<A, R, World>
where
    A: Tree + Send + Sync + 'static,
    R: Tree + Send + Sync + 'static,
{
    /// `function` summed over all the processes, on the world communicator, which every
    /// [`call`](Self::call) takes afresh: the `DataParallel` holds no communicator and is
    /// `Send + Sync`, so a closure that calls it can be handed to argmin
    /// (`ArgminProblem::from_fn(move |w| dp.call((w, x.clone(), y.clone())))`, feature
    /// `argmin`). Its collectives share the world with the program's own, in call order.
    ///
    /// `Send + Sync` lets the value move between threads; its calls are still collectives: every
    /// rank makes them, in the same order (argmin's solvers, on the same bits on every rank, ask
    /// for the same points), one at a time and, under `rsmpi::initialize()`
    /// (`MPI_THREAD_SINGLE`), on the thread that initialized MPI (argmin's `Executor::run`
    /// calls the problem on its own thread; parallel `bulk_cost` / `bulk_gradient` do not fit).
    pub fn world(function: AcceleratedFunction<A, R>) -> Self {
        DataParallel { function, comm: World }
    }

    /// Calls the function on this process's `args` (its shard) and returns the sum of the
    /// outputs over all the processes, as a `DataParallel` over a held communicator does
    /// (errors included). Every process must call it.
    pub fn call(&self, args: A) -> Result<R> {
        self.call_on(&SimpleCommunicator::world(), args)
    }

    /// This process's rank in the world.
    pub fn rank(&self) -> usize {
        SimpleCommunicator::world().rank() as usize
    }

    /// The number of processes in the world.
    pub fn size(&self) -> usize {
        SimpleCommunicator::world().size() as usize
    }
}
