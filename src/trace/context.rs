//! The recording context: a thread-local stack of traces, so traces nest. Each trace is a graph
//! plus the value of every node (tracing runs on concrete values, as MATLAB's does).

use crate::array::Data;
use crate::error::Error;
use crate::ir::{Graph, Node, NodeId, Op};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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
    /// The value of each node; `None` once a `dlgradient` without `retain_data` released it.
    pub values: Vec<Option<Arc<Data>>>,
    /// The first error an operation recorded.
    pub error: Option<Error>,
    /// The region new nodes are recorded in (0 forward, k > 0 the k-th gradient).
    pub region: u32,
    /// True inside an accelerated function: gradients are always traced there.
    pub accelerating: bool,
}

static NEXT_TRACE: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static STACK: RefCell<Vec<Trace>> = const { RefCell::new(Vec::new()) };
}

impl Trace {
    fn new(accelerating: bool) -> Self {
        Trace {
            id: NEXT_TRACE.fetch_add(1, Ordering::Relaxed),
            graph: Graph::new(),
            values: Vec::new(),
            error: None,
            region: 0,
            accelerating,
        }
    }

    /// Appends a node whose type is already inferred, with its value; its origin is the
    /// current one ([`super::origin`]).
    pub fn record(&mut self, op: Op, inputs: Vec<NodeId>, value: Arc<Data>) -> NodeRef {
        let node = Node::new(op, inputs, value.dtype(), value.shape().to_vec(), self.region)
            .with_origin(super::origin::current());
        self.graph.nodes.push(node);
        self.values.push(Some(value));
        NodeRef { trace: self.id, id: self.graph.nodes.len() - 1 }
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
    pub fn push(accelerating: bool) -> Self {
        let t = Trace::new(accelerating);
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
