//! Element types, typed storage on `ndarray`, MATLAB type promotion and display.

pub(crate) mod broadcast;
pub(crate) mod cpu;
mod data;
mod display;
mod dtype;
pub(crate) mod pool;
mod scalar;
pub mod vmath;

pub(crate) use data::standard;
pub(crate) use data::with_data;
pub use data::{Data, Element};
pub use dtype::{promote, DType};
pub use scalar::{Num, RealNum};
