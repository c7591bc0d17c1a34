//! Reverse-mode differentiation: the VJP table, the sweep, `dlgradient`, trees, `ParamTable`.

mod call_rule;
mod custom_rule;
mod derivatives;
mod differentiable;
mod gradient;
mod linalg_rules;
mod param_io;
mod param_table;
mod vjp;

pub use crate::trace::{Leaf, Tree};
pub(crate) use call_rule::{CallBackward, CallVjp};
pub(crate) use custom_rule::{CustomRule, CustomRuleBox};
pub use derivatives::{
    dldivergence, dldivergence_with, dlhvp, dlhvp_with, dljacobian, dljacobian_with, dljvp, dljvp_with, dllaplacian,
    dllaplacian_with,
};
pub use differentiable::Differentiable;
pub(crate) use gradient::gradients;
pub use gradient::{dlgradient, dlgradient_with, GradOptions};
pub use param_table::{ParamRow, ParamTable};
