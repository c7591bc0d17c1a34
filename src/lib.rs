//! # cranegrad
//!
//! What MATLAB's `dlarray` / `dlfeval` / `dlgradient` / `dlaccelerate` give MATLAB users, in
//! Rust: arrays that record the operations applied to them, symbolic reverse-mode
//! differentiation to any order, and (with [`accelerate`]) traced functions compiled to native
//! code with Cranelift.
//!
//! ```
//! use cranegrad::prelude::*;
//! use ndarray::array;
//!
//! fn rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
//!     let y = 100.0 * (x.at(1) - x.at(0).square()).square() + (1.0 - x.at(0)).square();
//!     let dydx = dlgradient(&y, x)?;
//!     Ok((y, dydx))
//! }
//! let x0 = DlArray::from(array![-1.0, 2.0]);
//! let (fval, gradval) = dlfeval(|x: DlArray| rosenbrock(&x), x0).unwrap();
//! assert_eq!(fval.to_scalar::<f64>().unwrap(), 104.0);
//! assert_eq!(gradval.extractdata::<f64>().unwrap().into_raw_vec_and_offset().0, vec![396.0, 200.0]);
//! ```
#![warn(missing_docs)]

mod accel;
#[cfg(feature = "argmin")]
#[path = "argmin_adapter.rs"]
pub mod argmin;
pub mod array;
mod autodiff;
mod error;
pub mod interp;
pub mod ir;
pub mod jit;
/// Data-parallel losses and gradients over MPI (cargo feature `mpi`).
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod nn;
mod ops;
pub mod opt;
pub mod optim;
mod trace;

pub use accel::{accelerate, AcceleratedFunction, BuildReport, CheckMode, DumpStage};
pub use array::{DType, Element};
pub use autodiff::{
    dldivergence, dldivergence_with, dlhvp, dlhvp_with, dljacobian, dljacobian_with, dljvp, dljvp_with, dllaplacian,
    dllaplacian_with,
};
pub use autodiff::{dlgradient, dlgradient_with, Differentiable, GradOptions, Leaf, ParamRow, ParamTable, Tree};
pub use error::{Error, Result};
pub use ops::{concat, select, Operand};
pub use trace::{dlfeval, make_ir, trace_graph, DlArray};

/// Every name the public API uses: `use cranegrad::prelude::*;`.
pub mod prelude {
    pub use crate::nn::*;
    pub use crate::optim::{
        adamupdate, dlupdate, rmspropupdate, sgdmupdate, AdamOptions, AdamState, RmspropOptions, RmspropState,
        SgdmOptions, SgdmState,
    };
    pub use crate::optim::{lbfgsupdate, LbfgsOptions, LbfgsState, LineSearch, LineSearchStatus};
    pub use crate::{
        accelerate, concat, dlfeval, dlgradient, dlgradient_with, make_ir, select, AcceleratedFunction, BuildReport,
        CheckMode, DType, Differentiable, DlArray, DumpStage, Element, Error, GradOptions, Leaf, ParamRow, ParamTable,
        Result, Tree,
    };
    pub use crate::{
        dldivergence, dldivergence_with, dlhvp, dlhvp_with, dljacobian, dljacobian_with, dljvp, dljvp_with,
        dllaplacian, dllaplacian_with,
    };
}
