//! Tracing: the recording context, the `DlArray` handle, `emit`, `dlfeval` and `make_ir`.

mod body;
pub(crate) mod context;
pub(crate) mod current_origin;
mod dlarray;
mod emit;
mod eval;
mod graph_of;
mod tree;

pub(crate) use body::trace_body;
pub use dlarray::DlArray;
pub(crate) use dlarray::Value;
pub(crate) use emit::{emit, emit_outputs};
pub(crate) use eval::{capture, graph_with_outputs, panic_message};
pub use eval::{dlfeval, make_ir};
pub use graph_of::trace_graph;
pub use tree::{Leaf, Tree};
