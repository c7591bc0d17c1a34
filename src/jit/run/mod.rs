//! The runtime: what a compiled program does when it is called. `runtime.rs` holds
//! [`Compiled`] and runs its steps (native functions, GEMM calls) over the call's buffers;
//! `buffers.rs` allocates outputs, `pool.rs` runs split kernels in chunks on rayon's pool,
//! `gemm.rs` multiplies matrices through faer, `linalg.rs` runs factorizations and solves with the
//! interpreter's routine, and `host.rs` is the table of `extern "C"`
//! trampolines native code calls for transcendentals; `native_loop.rs` runs loops over a
//! compiled body, each iteration through `prepared.rs` (a program made ready to run many times).

pub(crate) mod buffers;
mod call;
pub(crate) mod gemm;
pub(crate) mod host;
mod host_call;
pub(crate) mod linalg;
mod native_loop;
pub(crate) mod pool;
mod prepared;
pub(crate) mod runtime;

pub(crate) use native_loop::{reverse_native, scan_native, while_native, KeptCarries};
pub use runtime::{Compiled, Outputs};
