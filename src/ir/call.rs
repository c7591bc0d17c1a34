//! `Op::Call`: one output of a call to an accelerated function, recorded as one node in an
//! eager (`dlfeval`) trace. Its kernel runs the callee's compiled program, and its VJP is the
//! callee's own backward function, itself accelerated (so it is compiled, cached, and
//! differentiable again). Accelerated traces inline nested calls instead, so compiled graphs
//! never contain calls.
//!
//! The IR knows nothing of how a call is differentiated: the target carries its backward rule
//! opaquely, and the layer that differentiates call nodes (`autodiff`) recognizes its own rule
//! type in it.

use crate::array::{DType, Data};
use crate::error::Result;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// Something a call node can call: an accelerated function's cache entry.
pub trait CallTarget: Send + Sync {
    /// The callee's name, for the IR text.
    fn name(&self) -> &str;
    /// The dtype and shape of each input.
    fn input_types(&self) -> &[(DType, Vec<usize>)];
    /// The dtype and shape of each output.
    fn output_types(&self) -> &[(DType, Vec<usize>)];
    /// Every output for the given inputs.
    fn run(&self, inputs: &[Arc<Data>]) -> Result<Vec<Arc<Data>>>;
    /// The outputs, as a compiled program's call step runs it: a loop target runs its bodies
    /// as native code here. Only the `wanted` outputs (by output number) need be right; the
    /// others may be any array. The default is [`run`](Self::run).
    fn run_native(&self, inputs: &[Arc<Data>], _wanted: &[bool]) -> Result<Vec<Arc<Data>>> {
        self.run(inputs)
    }
    /// A copy of the target that computes only the outputs `used` marks (by output number)
    /// and what they need, when that drops work (a loop's unused carries and stacked outputs);
    /// `None` (the default) when it does not, or the target cannot say.
    fn pruned(&self, _used: &[bool]) -> Option<Pruned> {
        None
    }
    /// The graphs the target holds (a loop's body and predicate, a branch's two sides), with
    /// a label each, for the IR dumps; none by default.
    fn bodies(&self) -> Vec<(&'static str, &super::Graph)> {
        Vec::new()
    }
    /// The target's backward rule, opaque here (autodiff's `CallBackward`).
    fn backward_rule(&self) -> &(dyn Any + Send + Sync);
    /// Runs on inputs that are all `f64`, given as row-major slices, and hands each output's
    /// elements (row-major, as `f64`) to `write(k, elements)`: compiled code's path to a target
    /// that computes in `f64` (an external function), with no array allocated for the inputs.
    /// `None` (the default) when the target has no such path, so the caller uses `run`.
    fn run_f64(&self, _inputs: &[&[f64]], _write: &mut dyn FnMut(usize, &[f64])) -> Option<Result<()>> {
        None
    }
    /// A native driver that runs the whole target (a loop or a branch) from compiled code,
    /// computing the `wanted` outputs; opaque here (the JIT's `Driver`). `None` (the default)
    /// when the target has none.
    fn native_driver(&self, _wanted: &[bool]) -> Option<Arc<dyn Any + Send + Sync>> {
        None
    }
    /// [`native_driver`](Self::native_driver) of a while loop or of its reverse steps that
    /// share one forward run ([`SharedRun`]); the default has drivers that run alone only.
    fn native_driver_shared(&self, wanted: &[bool], share: SharedRun) -> Option<Arc<dyn Any + Send + Sync>> {
        match share {
            SharedRun::Alone => self.native_driver(wanted),
            _ => None,
        }
    }
    /// A while loop's identity (its body, its predicate, its step limit): the same for the loop
    /// the reverse steps of [`reverse_of`](Self::reverse_of) run first. `None` (the default)
    /// for other targets.
    fn forward_loop(&self) -> Option<LoopIdentity> {
        None
    }
    /// Reverse steps through a while loop: the identity of the loop they run first, and how
    /// many of their first operands are that loop's operands. `None` (the default) for other
    /// targets.
    fn reverse_of(&self) -> Option<(LoopIdentity, usize)> {
        None
    }
    /// The Cranelift IR of the native code the target compiled so far (a loop's bodies and
    /// drivers), for the native dump; `None` (the default) when it has none.
    fn native_text(&self) -> Option<String> {
        None
    }
}

/// A while loop's identity: the addresses of its body's and predicate's graphs, and its step
/// limit (`usize::MAX`: none).
pub type LoopIdentity = [usize; 3];

/// How a while loop's native driver shares one forward run with the reverse steps through the
/// same loop on the same operands, when one compiled program computes both: the loop runs once,
/// not twice, and the reverse steps read the carries it kept (the same values their own
/// forward run would compute, so no bit changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedRun {
    /// The driver runs alone.
    Alone,
    /// A while loop that also keeps the carry each step started from, and its step count.
    Keeps,
    /// Reverse steps that read the carries from the frame of the driver that kept them: the
    /// step count in its word `steps`, the store of carries in its words from `kept` on.
    After {
        /// The frame word of the step count.
        steps: usize,
        /// The first frame word of the store of carries.
        kept: usize,
    },
}

/// A call target with outputs dropped ([`CallTarget::pruned`]).
pub struct Pruned {
    /// The smaller target.
    pub target: Arc<dyn CallTarget>,
    /// For each of its operands, the number of the operand of the old target it takes.
    pub operands: Vec<usize>,
    /// For each output of the old target, its number in the new one (`None`: dropped).
    pub outputs: Vec<Option<usize>>,
}

/// Output `output` of a call to `target`.
#[derive(Clone)]
pub struct Call {
    /// The callee.
    pub target: Arc<dyn CallTarget>,
    /// Which of its outputs this node is.
    pub output: usize,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Call({}, output {})", self.target.name(), self.output)
    }
}

/// Two call nodes are the same op when they call the same target (by identity) for the same
/// output.
impl PartialEq for Call {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.target, &other.target) && self.output == other.output
    }
}

impl Eq for Call {}

impl std::hash::Hash for Call {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.target) as *const () as usize).hash(state);
        self.output.hash(state);
    }
}
