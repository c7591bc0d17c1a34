//! The IR: the primitive set (`Op`), nodes and graphs, one type-and-shape rule per op, a
//! verifier, and text and DOT printers.

mod call;
mod custom;
mod graph;
mod infer;
pub(crate) mod kernels;
mod linalg;
mod op;
mod origin;
pub(crate) mod primitives;
mod print;
mod verify;

pub use call::{Call, CallTarget, LoopIdentity, Pruned, SharedRun};
pub use custom::CustomVjp;
pub use graph::{Graph, Node, NodeId, Operands, Region, Shape};
pub use infer::{broadcast_shapes, broadcasts_to, infer};
pub use linalg::{LinalgOp, Part};
pub(crate) use op::{
    materialized_op, InlineBinary, InlineComplexBinary, InlineComplexUnary, InlineUnary, PolynomialBinary,
    PolynomialUnary,
};
pub use op::{AxisSlice, BinaryOp, CmpOp, Op, UnaryOp};
pub use origin::Origin;
pub use primitives::Lowering;
pub use print::{to_dot, to_dot_with, to_text, to_text_with, type_text, DumpOptions};
pub use verify::verify;
