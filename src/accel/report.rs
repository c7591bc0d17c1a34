//! Where the first call of a signature spent its time, and how big its program is.

use std::fmt;
use std::time::Duration;

/// The first call of one cached signature, phase by phase (see
/// [`AcceleratedFunction::build_reports`](crate::AcceleratedFunction::build_reports)). Tracing
/// is lazy: `trace` covers recording the ops of `f` (and any value `f` itself asked for);
/// `differentiate` is the part of it spent inside `dlgradient`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildReport {
    /// The signature, as `ir_dump` prints it: `(in0: f64[2], 2.5)`.
    pub signature: String,
    /// Nodes of the traced graph (outputs' ancestors).
    pub traced_nodes: usize,
    /// Nodes after `opt::optimize`.
    pub optimized_nodes: usize,
    /// Fused loop nests the backend generated (0 when it fell back to the interpreter).
    pub kernels: usize,
    /// Distinct native functions compiled for them: the kernels are cut into functions of a
    /// few dozen, and functions with the same code (the steps of an unrolled loop) share it.
    pub functions: usize,
    /// Traced ops whose value the trace computed because `f` asked for one (`to_scalar`,
    /// `extractdata`, printing, ...); 0 when `f` never looks at values.
    pub evaluated_nodes: usize,
    /// Recording the trace, differentiation included.
    pub trace: Duration,
    /// The part of `trace` spent in `dlgradient`'s reverse sweeps.
    pub differentiate: Duration,
    /// `opt::optimize`.
    pub optimize: Duration,
    /// Planning, Cranelift code generation and linking.
    pub compile: Duration,
    /// Running the compiled program for the first call's results.
    pub run: Duration,
}

impl BuildReport {
    /// The whole first call.
    pub fn total(&self) -> Duration {
        self.trace + self.optimize + self.compile + self.run
    }
}

impl fmt::Display for BuildReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "{}: {} nodes traced ({} evaluated), {} optimized, {} kernels in {} compiled functions; trace {:.2} ms (differentiate {:.2} ms), optimize \
             {:.2} ms, compile {:.2} ms, run {:.2} ms, total {:.2} ms",
            self.signature,
            self.traced_nodes,
            self.evaluated_nodes,
            self.optimized_nodes,
            self.kernels,
            self.functions,
            ms(self.trace),
            ms(self.differentiate),
            ms(self.optimize),
            ms(self.compile),
            ms(self.run),
            ms(self.total())
        )
    }
}
