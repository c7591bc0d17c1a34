//! What tracing should not or cannot see: [`stop_gradient`](crate::stop_gradient) (in `ops`),
//! functions with derivative rules of the user's ([`custom_vjp`]), and the user's own Rust code
//! called from a traced function ([`external`]), with its own rule. Both work eagerly and inside
//! `accelerate`; compiled code calls an external function's forward as one step of its run.

mod custom_vjp;
mod external;
pub(crate) mod trees;

pub use custom_vjp::{custom_vjp, CustomFunction};
pub use external::{external, ExternalFunction};
