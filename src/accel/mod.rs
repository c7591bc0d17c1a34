//! Acceleration: `AcceleratedFunction`, signature keys, the LRU cache and its statistics,
//! check mode, the IR dump.

mod cache;
mod callee;
mod check;
mod counter;
mod dump;
mod function;
mod key;
mod program;
mod report;

pub use check::CheckMode;
pub use dump::DumpStage;
pub use function::{accelerate, AcceleratedFunction};
pub use report::BuildReport;
