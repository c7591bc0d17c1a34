//! Reverse-mode differentiation: the VJP table, the sweep, `dlgradient`, trees, `ParamTable`.

mod gradient;
mod param_io;
mod param_table;
mod tree;
mod vjp;

pub use gradient::{dlgradient, dlgradient_with, GradOptions};
pub use param_table::{ParamRow, ParamTable};
pub use tree::{Differentiable, Leaf, Tree};
