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
    /// A loop body's trace: the arrays of enclosing traces it reads, each an input of its graph.
    pub captures: Option<Captures>,
}

/// The arrays of enclosing traces that a loop body reads. Each becomes an input of the body's
/// graph (input `first + k` for the `k`-th), so the loop node takes it as an operand and
/// gradients flow to it.
#[derive(Default)]
pub(crate) struct Captures {
    /// The index of the first capture's input (the body's own inputs come before).
    pub first: usize,
    /// The captured arrays, as the enclosing trace knows them.
    pub arrays: Vec<crate::trace::DlArray>,
    /// Each captured array's node in its own trace and its input node in the body.
    pub ids: Vec<(NodeRef, NodeId)>,
    /// True when no trace encloses the body: its `dlgradient` calls are outside `dlfeval`.
    pub untraced: bool,
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
            captures: None,
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
                return Err(if self.captures.is_some() {
                    Error::argument(
                        "loop body",
                        "a value inside a loop body or branch is not known while the body is traced (it is \
                         traced once for every iteration); compute with it, or read it after the loop",
                    )
                } else {
                    Error::Released
                });
            }
            let operands: Vec<&Data> =
                node.inputs.iter().map(|&i| self.values[i].as_deref().ok_or(Error::Released)).collect::<Result<_>>()?;
            if let Op::Call(c) = &node.op {
                // Every output of the call at once (its siblings are the adjacent nodes of the
                // same target on the same operands): a loop runs once, not once per output.
                let owned: Vec<Arc<Data>> = operands.iter().map(|d| Arc::new((*d).clone())).collect();
                let outputs = c.target.run(&owned)?;
                let inputs = node.inputs.clone();
                for sibling in self.graph.call_siblings(top, &inputs) {
                    if let Op::Call(s) = &self.graph.nodes[sibling].op {
                        self.values[sibling] = outputs.get(s.output).cloned();
                    }
                }
                stack.pop();
                continue;
            }
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

    /// The node of `r` if it belongs to this trace (or, in a loop body, its capture's input).
    pub fn own(&self, r: Option<NodeRef>) -> Option<NodeId> {
        let r = r?;
        if r.trace == self.id {
            return Some(r.id);
        }
        self.captures.as_ref()?.ids.iter().find(|(outer, _)| *outer == r).map(|&(_, inner)| inner)
    }

    /// True when `a` is a node here or, in a loop body, of an enclosing trace (which the body
    /// captures on first use).
    pub fn resolves(&self, a: &crate::trace::DlArray) -> bool {
        a.node.is_some_and(|r| r.trace == self.id || self.captures.is_some())
    }

    /// The node of `a` here: its own, or in a loop body the input that captures it (made on
    /// first use). `None` for an array of no trace.
    pub fn own_or_capture(&mut self, a: &crate::trace::DlArray) -> Option<NodeId> {
        if let Some(id) = self.own(a.node) {
            return Some(id);
        }
        let captures = self.captures.as_mut()?;
        a.node?;
        captures.arrays.push(a.clone());
        self.recapture(a)
    }

    /// Records the input of a capture already listed (the `k`-th of `captures.arrays`, `a`).
    pub fn recapture(&mut self, a: &crate::trace::DlArray) -> Option<NodeId> {
        let r = a.node?;
        let (dtype, shape) = a.dtype_and_shape()?;
        let shape = Shape::from_slice(shape);
        let captures = self.captures.as_ref()?;
        let k = captures.arrays.iter().position(|c| c.node == Some(r))?;
        let node = Node::new(Op::Input(captures.first + k), Operands::new(), dtype, shape, 0);
        self.graph.nodes.push(node);
        self.values.push(None);
        let id = self.graph.nodes.len() - 1;
        self.captures.as_mut()?.ids.push((r, id));
        Some(id)
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
