//! The recording context: a thread-local stack of traces, so traces nest. Each trace is a graph
//! plus the value of every node: computed as the op is recorded (`dlfeval`, as MATLAB's
//! tracing does), or, in a lazy trace (an accelerated function's first call, `make_ir`),
//! only when something asks for it ([`evaluate`]).

use crate::array::{DType, Data};
use crate::error::{Error, Result};
use crate::ir::{Graph, Node, NodeId, Op, Operands, Shape};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Where a traced array's node lives: which trace, which node.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct NodeRef {
    pub trace: u64,
    pub id: NodeId,
}

/// One recording: the graph so far, node values, the first deferred error.
pub(crate) struct Trace {
    pub id: u64,
    pub graph: Graph,
    /// The value of each node; `None` once a `dlgradient` without `retain_data` released it,
    /// or, in a lazy trace, until something asks for it.
    pub values: Vec<Option<Arc<Data>>>,
    /// The first error an operation recorded.
    pub error: Option<Error>,
    /// The region new nodes are recorded in (0 forward, k > 0 the k-th gradient).
    pub region: u32,
    /// True inside an accelerated function: gradients are always traced there.
    pub accelerating: bool,
    /// True when ops record nodes without computing values ([`evaluate`] computes on demand).
    pub lazy: bool,
}

/// How a new trace records.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `dlfeval`: values computed as ops run; gradients traced only on request.
    Eager,
    /// As in an accelerated function (gradients traced), values computed as ops run: the
    /// un-accelerated and check-mode runs.
    Traced,
    /// As in an accelerated function, values computed only on demand: the first call of a
    /// signature, `make_ir`, `trace_graph`.
    Lazy,
}

static NEXT_TRACE: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static STACK: RefCell<Vec<Trace>> = const { RefCell::new(Vec::new()) };
    /// Time this thread spent in `dlgradient` (for the first-call phase timings).
    static DIFFERENTIATING: std::cell::Cell<Duration> = const { std::cell::Cell::new(Duration::ZERO) };
}

/// Adds `d` to this thread's time spent differentiating.
pub(crate) fn add_differentiation_time(d: Duration) {
    DIFFERENTIATING.with(|t| t.set(t.get() + d));
}

/// This thread's total time spent differentiating so far.
pub(crate) fn differentiation_time() -> Duration {
    DIFFERENTIATING.with(|t| t.get())
}

impl Trace {
    fn new(mode: Mode) -> Self {
        Trace {
            id: NEXT_TRACE.fetch_add(1, Ordering::Relaxed),
            graph: Graph::new(),
            values: Vec::new(),
            error: None,
            region: 0,
            accelerating: mode != Mode::Eager,
            lazy: mode == Mode::Lazy,
        }
    }

    /// Appends a node whose type is already inferred, with its value; its origin is the
    /// current one ([`super::origin`]).
    pub fn record(&mut self, op: Op, inputs: Vec<NodeId>, value: Arc<Data>) -> NodeRef {
        let node = Node::new(op, inputs, value.dtype(), value.shape().to_vec(), self.region)
            .with_origin(super::current_origin::current());
        self.graph.nodes.push(node);
        self.values.push(Some(value));
        NodeRef { trace: self.id, id: self.graph.nodes.len() - 1 }
    }

    /// Appends a node whose type is already inferred, with no value yet (a lazy trace).
    pub fn record_lazy(&mut self, op: Op, inputs: Operands, dtype: DType, shape: Shape) -> NodeRef {
        let node = Node::new(op, inputs, dtype, shape, self.region).with_origin(super::current_origin::current());
        self.graph.nodes.push(node);
        self.values.push(None);
        NodeRef { trace: self.id, id: self.graph.nodes.len() - 1 }
    }

    /// The value of node `id`, computing it and every missing value it depends on with the
    /// interpreter (an explicit stack: no recursion on the graph's depth).
    pub fn evaluate(&mut self, id: NodeId) -> Result<Arc<Data>> {
        let mut stack = vec![id];
        while let Some(&top) = stack.last() {
            if self.values[top].is_some() {
                stack.pop();
                continue;
            }
            let node = &self.graph.nodes[top];
            let missing: Vec<NodeId> = node.inputs.iter().copied().filter(|&i| self.values[i].is_none()).collect();
            if !missing.is_empty() {
                if matches!(node.op, Op::Input(_) | Op::Constant(_)) {
                    return Err(Error::Released);
                }
                stack.extend(missing);
                continue;
            }
            if matches!(node.op, Op::Input(_)) {
                return Err(Error::Released);
            }
            let operands: Vec<&Data> =
                node.inputs.iter().map(|&i| self.values[i].as_deref().ok_or(Error::Released)).collect::<Result<_>>()?;
            let value = Arc::new(crate::interp::eval_checked(&node.op, &operands).map_err(|e| match node.origin {
                Some(origin) => e.at(origin),
                None => e,
            })?);
            self.values[top] = Some(value);
            stack.pop();
        }
        self.values[id].clone().ok_or(Error::Released)
    }

    /// Appends input `k` with its value.
    pub fn input(&mut self, k: usize, value: Arc<Data>) -> NodeRef {
        self.record(Op::Input(k), vec![], value)
    }

    /// The node of `r` if it belongs to this trace.
    pub fn own(&self, r: Option<NodeRef>) -> Option<NodeId> {
        r.filter(|r| r.trace == self.id).map(|r| r.id)
    }

    /// Keeps the first error.
    pub fn fail(&mut self, e: &Error) {
        if self.error.is_none() {
            self.error = Some(e.clone());
        }
    }
}

/// Runs `f` on the innermost trace of this thread, if there is one.
pub(crate) fn with_top<R>(f: impl FnOnce(&mut Trace) -> R) -> Option<R> {
    STACK.with(|s| s.borrow_mut().last_mut().map(f))
}

/// The value of node `at.id` of trace `at.trace` on this thread's stack, computed on demand
/// (see [`Trace::evaluate`]). `Err` when that trace has ended or is busy.
pub(crate) fn evaluate(at: NodeRef) -> Result<Arc<Data>> {
    STACK.with(|s| {
        let mut s = s.try_borrow_mut().map_err(|_| {
            Error::argument("data", "a lazily traced value was asked for while its trace is being updated")
        })?;
        let t = s.iter_mut().rev().find(|t| t.id == at.trace).ok_or_else(|| {
            Error::argument(
                "data",
                "this array was traced lazily inside an accelerated function (or make_ir) and its value was not \
                 computed before that trace ended; read it inside the function",
            )
        })?;
        t.evaluate(at.id)
    })
}

/// True when this thread is inside `dlfeval` or an accelerated trace.
pub(crate) fn tracing() -> bool {
    STACK.with(|s| !s.borrow().is_empty())
}

/// A trace pushed on this thread's stack; dropping the guard pops it (also on panic).
pub(crate) struct TraceGuard {
    id: u64,
    popped: bool,
}

impl TraceGuard {
    /// Pushes a new trace.
    pub fn push(mode: Mode) -> Self {
        let t = Trace::new(mode);
        let id = t.id;
        STACK.with(|s| s.borrow_mut().push(t));
        TraceGuard { id, popped: false }
    }

    /// Pops the trace and hands it over.
    pub fn pop(mut self) -> Trace {
        self.popped = true;
        STACK.with(|s| {
            let mut s = s.borrow_mut();
            let pos = s.iter().rposition(|t| t.id == self.id).expect("a guard's trace is on its thread's stack");
            s.remove(pos)
        })
    }
}

impl Drop for TraceGuard {
    fn drop(&mut self) {
        if !self.popped {
            STACK.with(|s| {
                if let Ok(mut s) = s.try_borrow_mut() {
                    if let Some(pos) = s.iter().rposition(|t| t.id == self.id) {
                        s.truncate(pos);
                    }
                }
            });
        }
    }
}
