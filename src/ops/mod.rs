//! User-facing operations by family. Each applies primitives through `emit`; composite ops
//! (sigmoid, relu, tan, mean, ...) are compositions and need no rule of their own.

mod arith;
mod index;
mod linalg;
mod logic;
mod math;
mod reduce;
mod shape;
mod solve;

pub(crate) use arith::constant_f64;
pub use arith::Operand;
pub use math::{select, stop_gradient};
pub use shape::concat;
pub use solve::{
    chol, chol_with, det, eig_symmetric, inv, linsolve, logdet, mldivide, mrdivide, LinsolveOptions, Triangle,
};
pub(crate) use solve::{constant_matrix, swap_last};
