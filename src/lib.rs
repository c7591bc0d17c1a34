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
mod array;
mod autodiff;
mod control;
mod custom;
mod error;
mod interp;
pub mod ir;
mod jit;
/// Data-parallel losses and gradients over MPI (cargo feature `mpi`).
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod nn;
mod ops;
mod opt;
pub mod optim;
mod trace;

pub use accel::{accelerate, AcceleratedFunction, BuildReport, CheckMode, DumpStage};
pub use array::{DType, Element};
pub use autodiff::{
    dldivergence, dldivergence_with, dlhvp, dlhvp_with, dljacobian, dljacobian_with, dljvp, dljvp_with, dllaplacian,
    dllaplacian_with,
};
pub use autodiff::{dlgradient, dlgradient_with, Differentiable, GradOptions, Leaf, ParamRow, ParamTable, Tree};
pub use control::{cond, fori_loop, fori_loop_with, scan, scan_with, while_loop, while_loop_with, LoopOptions};
pub use custom::{custom_vjp, external, CustomFunction, ExternalFunction};
pub use error::{Error, Result};
pub use ops::{
    chol, chol_with, concat, det, eig_symmetric, inv, linsolve, logdet, mldivide, mrdivide, select, stop_gradient,
    LinsolveOptions, Operand, Triangle,
};
pub use trace::{dlfeval, make_ir, trace_graph, DlArray};

/// The machinery under the API, for tests, benchmarks and readers of the IR: the array storage
/// a graph's constants hold, the interpreter (the reference semantics), the optimizer's passes,
/// and the JIT. Not part of the API: these names may change between versions.
pub mod internals {
    pub use crate::array::{promote, Data, Num, RealNum};
    pub use crate::nn::conv::dlconv_shifted;

    /// The per-thread pool of freed array buffers that eager kernels and compiled outputs
    /// take their large buffers from (`array/pool.rs`).
    pub mod buffer_pool {
        pub use crate::array::pool::{release, set_limit, stats, PoolStats, DEFAULT_LIMIT, MIN_BYTES};
    }

    /// The interpreter: one kernel per primitive, the reference semantics.
    pub mod interp {
        pub use crate::interp::{eval, run};
    }

    /// The optimizer's passes.
    pub mod opt {
        pub use crate::opt::{cse, dce, fold_constants, optimize, simplify, MAX_FOLDED_ELEMENTS};
    }

    /// The branch-free transcendentals (`array/vmath`), on one `f32` or `f64`: [`Scalar`](vmath::Scalar)
    /// is their [`Lanes`](vmath::Lanes) on scalars: the kernels of the `Polynomial` rows (`exp`,
    /// `ln`, `ln_1p`, `expm1`, `sin`, `cos`, `tan`, `tanh`, `asin`, `acos`, `atan`, `atan2`, `asinh`,
    /// `acosh`, `atanh`, `erf`; `pow` on `f64` lanes, `f32` is evaluated widened).
    pub mod vmath {
        pub use crate::array::vmath::{
            acos, acosh, asin, asinh, atan, atan2, atanh, cos, erf, exp, expm1, ln, ln_1p, pow, sin, tan, tanh, Lanes,
            Scalar,
        };
    }

    /// The Cranelift backend.
    pub mod jit {
        pub use crate::jit::{compile, compile_shared, drivers_compiled, Compiled, Outputs};
    }
}

/// Every name the public API uses: `use cranegrad::prelude::*;`.
pub mod prelude {
    pub use crate::nn::{
        attention, avgpool, batchnorm, batchnorm_inference, crossentropy, cumsum, dlconv, dropout, embed, fullyconnect,
        gelu, gru, huber, indexcrossentropy, interp1, l1loss, layernorm, leakyrelu, log_softmax, lstm, maxpool, mse,
        norm, prod, relu, sigmoid, softmax, ConvOptions, PoolOptions, NORM_EPSILON,
    };
    pub use crate::optim::{
        adamupdate, dlupdate, rmspropupdate, sgdmupdate, AdamOptions, AdamState, RmspropOptions, RmspropState,
        SgdmOptions, SgdmState,
    };
    pub use crate::optim::{lbfgsupdate, LbfgsOptions, LbfgsState, LineSearch, LineSearchStatus};
    pub use crate::{
        accelerate, concat, custom_vjp, dlfeval, dlgradient, dlgradient_with, external, make_ir, select, stop_gradient,
        AcceleratedFunction, BuildReport, CheckMode, CustomFunction, DType, Differentiable, DlArray, DumpStage,
        Element, Error, ExternalFunction, GradOptions, Leaf, ParamRow, ParamTable, Result, Tree,
    };
    pub use crate::{
        chol, chol_with, det, eig_symmetric, inv, linsolve, logdet, mldivide, mrdivide, LinsolveOptions, Triangle,
    };
    pub use crate::{cond, fori_loop, fori_loop_with, scan, scan_with, while_loop, while_loop_with, LoopOptions};
    pub use crate::{
        dldivergence, dldivergence_with, dlhvp, dlhvp_with, dljacobian, dljacobian_with, dljvp, dljvp_with,
        dllaplacian, dllaplacian_with,
    };
}
