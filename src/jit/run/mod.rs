//! The runtime: what a compiled program does when it is called. `runtime.rs` holds
//! [`Compiled`] and runs its steps (native functions, GEMM calls) over the call's buffers;
//! `buffers.rs` allocates outputs, `pool.rs` runs split kernels in chunks on rayon's pool,
//! `awake.rs` keeps the pool's threads awake while a call that uses them runs,
//! `gemm.rs` multiplies matrices through faer, `linalg.rs` runs factorizations and solves with the
//! interpreter's routine, and `host.rs` is the table of `extern "C"`
//! trampolines native code calls for transcendentals. A loop's native driver (emitted by
//! `jit/drive/`) runs from `driver.rs` (its function, its frames, the error channel and the
//! helpers it calls), with its frame in `frame.rs`; `wiring.rs` says how a compiled body
//! connects to the buffers a driver gives it, and `driver_call.rs` is the call step that runs
//! a driver. Generated code runs after `array::cpu::clear_upper_vector_state`: faer's kernels
//! leave the vector registers' upper halves dirty.

mod awake;
pub(crate) mod buffers;
mod call;
pub(crate) mod driver;
mod driver_call;
pub(crate) mod frame;
pub(crate) mod gemm;
pub(crate) mod host;
mod host_call;
pub(crate) mod linalg;
pub(crate) mod panels;
pub(crate) mod pool;
pub(crate) mod runtime;
pub(crate) mod wiring;

pub use runtime::{Compiled, Outputs};
