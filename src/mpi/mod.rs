//! Data-parallel losses and gradients over MPI (cargo feature `mpi`, off by default).
//!
//! Each rank (process) holds a shard of the data and calls the same accelerated
//! loss-and-gradient function on it; [`DataParallel`](crate::mpi::DataParallel) sums the
//! outputs over the ranks with [`allreduce_sum`](crate::mpi::allreduce_sum), which adds the
//! ranks' arrays in rank order, so every rank holds the same bits. An optimizer on every rank
//! ([`lbfgsupdate`](crate::optim::lbfgsupdate), [`adamupdate`](crate::optim::adamupdate), ...)
//! then takes the same step from the same parameters: the ranks stay in lockstep without
//! exchanging parameters. For argmin's solvers (feature `argmin`), which want a `Send + Sync`
//! function, build the loss with [`DataParallel::world`](crate::mpi::DataParallel::world) (it
//! holds no communicator and runs each call on the world) and hand
//! `move |w| dp.call((w, x.clone(), y.clone()))` to `cranegrad::argmin::ArgminProblem::from_fn`.
//!
//! Every call is collective: all ranks of the communicator make it, in the same order. A rank
//! whose function fails does not leave the others waiting: the ranks first agree, in one small
//! `allgather`, on whether each has a result and of what shape, and all return the same `Err`
//! when one has not (see [`DataParallel::call`](crate::mpi::DataParallel::call)).
//!
//! Build with `--features mpi` (rsmpi over the system's MPI library: Debian's
//! `libopenmpi-dev`, `openmpi-bin`, and `libclang-dev` for its bindings), run with
//! `mpirun -n 4 target/release/examples/mpi_least_squares`. [`rsmpi`](crate::mpi::rsmpi) is
//! the `mpi` crate this module is built on, re-exported for `initialize` and the communicator
//! traits. docs/SCALING.md has the cost model.
//!
//! ```no_run
//! use cranegrad::mpi::{rsmpi, rsmpi::traits::*, DataParallel};
//! use cranegrad::prelude::*;
//! use ndarray::Array1;
//!
//! let universe = rsmpi::initialize().unwrap();
//! let world = universe.world();
//! let (rank, size) = (world.rank() as usize, world.size() as usize);
//! // This rank's observations of y = 3 x: the indices rank, rank + size, ...
//! let x: Vec<f64> = (rank..1000).step_by(size).map(|i| i as f64 / 1000.0).collect();
//! let y: Vec<f64> = x.iter().map(|x| 3.0 * x).collect();
//! let (x, y) = (DlArray::from(Array1::from(x)), DlArray::from(Array1::from(y)));
//!
//! // The sum of squared residuals over this rank's shard, and its gradient.
//! let loss = accelerate(|(w, x, y): (DlArray, DlArray, DlArray)| {
//!     let l = (&w * &x - &y).square().sum_all();
//!     let g = dlgradient(&l, &w)?;
//!     Ok((l, g))
//! });
//! let dp = DataParallel::new(loss, world.duplicate());
//! let mut w = DlArray::scalar(0.0);
//! let mut state = LbfgsState::default();
//! for _ in 0..20 {
//!     w = lbfgsupdate(&w, |w| dp.call((w.clone(), x.clone(), y.clone())), &mut state, &LbfgsOptions::default())
//!         .unwrap();
//! }
//! // The same bits on every rank.
//! assert!((w.to_scalar::<f64>().unwrap() - 3.0).abs() < 1e-8);
//! ```

mod allreduce;
mod data_parallel;
mod status;

/// The `mpi` crate (rsmpi) this module is built on: `rsmpi::initialize()`, the communicator
/// traits (`rsmpi::traits::*`).
pub use ::mpi as rsmpi;
pub use allreduce::allreduce_sum;
pub use data_parallel::{DataParallel, World};
