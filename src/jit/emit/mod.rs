//! Code generation: one kernel (a loop nest over a node's output, its fused expression
//! evaluated at each element) at a time, into Cranelift functions.
//!
//! `emitter.rs` holds the state and the element types; the other files are the emitter's
//! methods by concern: loop nests (`loops.rs`) and kernels (`kernel.rs`), index arithmetic and
//! memory (`index.rs`), how an index moves with the innermost loop (`lanes.rs`), vector loops,
//! guard splitting and vector loads/stores (`vector.rs`), the fused expression walk
//! (`expr.rs`), per-op scalar lowering (`lower.rs`), reductions (`reduce.rs`) in blocked order
//! (`sum.rs`), maxima and minima on the processor's comparison first (`extremum.rs`), a 1-D
//! kernel written in its sibling sum's loop (`sibling.rs`), a sum over one axis accumulated in
//! its kernel's loop nest (`columns.rs`), small matrix products as loop nests (`product.rs`), the
//! transcendentals' range reductions and polynomials (`vmath.rs`), a kernel with rare paths
//! emitted twice, common path first (`versions.rs`), one-element results passed from kernel to
//! kernel as values (`forward.rs`).

mod columns;
pub(crate) mod emitter;
mod expr;
mod extremum;
mod forward;
mod index;
mod kernel;
mod lanes;
mod layout;
mod leading_sum;
mod loops;
mod lower;
mod product;
mod reduce;
mod sibling;
mod sum;
mod vector;
mod versions;
mod vmath;

pub(crate) use emitter::{chunk_signature, jerr, kernel_signature, KernelEmitter};
pub(crate) use loops::exit_or_run;
pub(crate) use lower::float_cc;
