//! The Cranelift backend: compiles any verified graph with static shapes to native code that
//! agrees with the interpreter.
//!
//! [`compile`] (`compile.rs`, the driver) plans fusion (`plan.rs`): elementwise chains with
//! their broadcasts, slices (offset loads), pads (guarded loads), concats and reshapes become one
//! loop nest (a kernel); a reduction absorbs its elementwise producer; nodes used several times,
//! graph outputs and matrix product operands get buffers (a contiguous slice of an input is
//! read in place); a whole 1-D sum and a 1-D sibling kernel reading the same buffer (a value
//! and its gradient) share one loop, and so do a sum of every axis of a 2-D operand and a
//! kernel of its shape (a loss and its logits' gradient: `sibling.rs`). Runs of consecutive
//! kernels are cut into Cranelift functions `fn(bufs: *const *mut u8)` of about 32 kernels, at
//! the period the run repeats with, if any (`repeats.rs`); each function reads its buffers
//! through its own pointer table `bufs`, so the functions of an unrolled loop's steps have the
//! same code, which is compiled once and called with each step's table (`emitter.rs` holds the
//! state; `kernel.rs` the loop nests, `index.rs` index arithmetic and memory, `expr.rs` the fused
//! expression walk, `lower.rs` the per-op scalar lowering); small real matrix products are
//! loop nests among them (`product.rs`, the interpreter's order), larger ones call GEMM from
//! the runtime (`gemm.rs`: faer for real dtypes, transposed operands read through strides). Transcendentals call `extern "C"`
//! trampolines into the interpreter's own scalar kernels (`host.rs`, generated from the
//! primitive lists), so the results are the interpreter's bit for bit.
//!
//! Innermost loops are split at pad and concatenation boundaries into guard-free pieces and
//! run on 128-bit vectors (`F64X2`, `F32X4`; complex as vectors of real and imaginary parts)
//! with a scalar remainder (`vector.rs`); sums keep the interpreter's blocked order with vector
//! lanes as its accumulators (`sum.rs`); no multiply-add is fused. Kernels over many elements
//! run in fixed chunks on rayon's pool with a thread-count-independent combination
//! (`parallel.rs`), and outputs are allocated once per element written (`buffers.rs`).
//!
//! ```
//! use cranegrad::ir::{Graph, Op, UnaryOp};
//! use cranegrad::internals::Data;
//! use cranegrad::DType;
//! use std::sync::Arc;
//! let mut g = Graph::new();
//! let x = g.input(0, DType::F64, &[3]);
//! let y = g.push(Op::Unary(UnaryOp::Exp), vec![x], 0).unwrap();
//! g.outputs = vec![y];
//! let c = cranegrad::internals::jit::compile(&g).unwrap();
//! let x0 = Arc::new(Data::new(ndarray::arr1(&[0.0, 1.0, 2.0]).into_dyn()));
//! let out = c.run(&[x0.clone()]).unwrap();
//! assert_eq!(out, cranegrad::internals::interp::run(&g, &[x0]).unwrap());
//! ```

mod compile;
mod drive;
mod emit;
pub(crate) mod limits;
mod plan;
mod run;

pub(crate) use compile::compile_optimized;
pub use compile::{compile, compile_shared};
pub use drive::drivers_compiled;
pub(crate) use drive::{compile_driver, LoopKind, LoopSpec, PartCode};
pub(crate) use run::driver::Driver;
pub use run::{Compiled, Outputs};
