//! The thresholds that planning and code generation share: how much recomputation fusion
//! allows, when a loop runs on vectors, when a kernel runs on the pool. The planner decides
//! with them and the emitters and the runtime follow the same numbers, so they are defined
//! once, here.

use crate::interp::SUM_BLOCK;

/// Nodes whose inline cost (in simple CLIF ops) is at most this are recomputed by each consumer.
pub(crate) const CHEAP: usize = 16;

/// The most levels of inline (fused, unmaterialized) nodes under one kernel's root.
pub(crate) const MAX_INLINE_DEPTH: usize = 48;

/// An inline node whose fused expression would read more distinct buffers than this is
/// materialized (its consumers read it as one buffer). Chosen on W8: 6 to 8 ran its hit 5-10%
/// faster than 12, 16 or no limit, where a weight's gradient summed over 48 time steps read
/// about 95 pointers in one loop nest and spilled them.
pub(crate) const MAX_INLINE_READS: usize = 8;

/// A concatenation of more operands than this is materialized, one loop per operand.
pub(crate) const INLINE_CONCAT_PARTS: usize = 4;

/// The scalar part of an innermost loop (a short axis, a vector loop's remainder) of at most
/// this many elements is emitted unrolled: the same operations in the same order, as
/// straight-line code with constant indices (no index, compare or branch per element; the
/// two-element carries of a small solve's loop kernels).
pub(crate) const UNROLL_AT_MOST: i64 = 4;

/// Innermost loops shorter than this stay scalar: their vector body and remainder would cost
/// more compile time than they save (a recurrent loss makes thousands of 14-element loops).
pub(crate) const MIN_VECTOR_LOOP: i64 = 32;

/// The same for the innermost loops of plain elementwise kernels (no sum accumulated in their
/// loop nest, whose order would depend on the lanes): the 14-wide rows of a recurrent loss's
/// `[14, 14]` gradient sums run on vectors. (Their compile time is paid once per distinct
/// function, `repeats.rs`.)
pub(crate) const MIN_SHORT_VECTOR_LOOP: i64 = 8;

/// The most pieces an innermost loop is split into at pad and concatenation boundaries (more
/// pieces keep the guards in one loop instead).
pub(crate) const MAX_PIECES: usize = 8;

/// Kernels over fewer elements than this run on the calling thread. Measured on the 2-core
/// build machine (an f64 map and sum, 2 threads against 1, both chunked): 2^16 elements 1.9x
/// slower, 2^17 even, 2^18 0.89x, 2^19 0.71x, 2^20 0.77x.
pub(crate) const PARALLEL_MIN: usize = 1 << 18;

/// Elements per chunk of a split kernel (a multiple of every vector width).
pub(crate) const CHUNK: usize = 1 << 15;

/// An elementwise kernel with a host call per element (a transcendental: about 5 to 20 ns an
/// element, against well under 1 ns for inline arithmetic) is split from this many times fewer
/// elements, in chunks this many times smaller: W3's `tanh` of `256 x 256` runs on the pool.
pub(crate) const COSTLY_FACTOR: usize = 8;

/// Blocks per chunk of a split sum: a power of two, `CHUNK` elements.
pub(crate) const SUM_CHUNK_BLOCKS: usize = CHUNK / SUM_BLOCK;

/// Outputs of at most this many elements are made by cloning a zeroed prototype (no shape
/// arithmetic); larger ones are fresh zeroed allocations (untouched pages cost nothing).
pub(crate) const PROTOTYPE_ELEMENTS: usize = 4096;
