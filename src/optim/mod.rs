//! Optimizers for custom training loops, with MATLAB's update formulas and defaults:
//! [`adamupdate`], [`sgdmupdate`], [`rmspropupdate`], and [`dlupdate`] for a custom rule. Each
//! takes and returns any [`Tree`](crate::Tree) of parameters (a `DlArray`, `Vec`, `BTreeMap`,
//! [`ParamTable`](crate::ParamTable), nested) with a gradient tree of the same structure.
//! [`lbfgsupdate`] is L-BFGS with a line search, driven by a loss-and-gradient function.
//!
//! ```
//! use cranegrad::prelude::*;
//! use ndarray::array;
//! // minimize (x - 3)^2 with Adam
//! let mut x = DlArray::from(array![0.0]);
//! let mut state = AdamState::default();
//! let options = AdamOptions { learn_rate: 0.1, ..AdamOptions::default() };
//! for iteration in 1..=300 {
//!     let g = dlfeval(|x: DlArray| dlgradient(&(&x - 3.0).square().sum_all(), &x), x.clone()).unwrap();
//!     x = adamupdate(&x, &g, &mut state, iteration, &options).unwrap();
//! }
//! assert!((x.extractdata::<f64>().unwrap()[0] - 3.0).abs() < 1e-2);
//! ```

mod adam;
mod dlupdate;
mod flat_vector;
mod lbfgs;
mod line_search;
mod rmsprop;
mod sgdm;
mod tree_walk;

pub use adam::{adamupdate, AdamOptions, AdamState};
pub use dlupdate::dlupdate;
pub use lbfgs::{lbfgsupdate, LbfgsOptions, LbfgsState, LineSearchStatus};
pub use line_search::LineSearch;
pub use rmsprop::{rmspropupdate, RmspropOptions, RmspropState};
pub use sgdm::{sgdmupdate, SgdmOptions, SgdmState};
