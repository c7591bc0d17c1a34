//! Control flow as one node each: [`fori_loop`], [`scan`], [`while_loop`] and [`cond`] trace
//! their bodies once into graphs of their own, held by the target of the `call` nodes of their
//! results. The interpreter runs a body per iteration; compiled code runs it compiled once;
//! reverse mode is a loop too (the body's derivative run backwards over the carries the
//! forward loop kept), itself differentiable again.

mod branch;
mod build;
mod hidden_results;
mod hoist;
mod prune;
mod replay;
mod residuals;
mod rules;
mod scan;
mod scan_rule;
mod slices;
mod step_vjp;
mod target;
mod while_loop;
mod while_tangent;

pub use branch::cond;
pub use scan::{fori_loop, fori_loop_with, scan, scan_with};
pub use while_loop::{while_loop, while_loop_with};

/// Options of the `_with` loops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoopOptions {
    /// Past this many iterations the call is an `Err` (never a hang). `None`: no limit.
    pub max_iterations: Option<usize>,
    /// `Some(k)`: reverse mode keeps every `k`-th carry and recomputes the steps between.
    /// `None`: every carry is kept.
    pub checkpoint_every: Option<usize>,
}
