//! A compiled program's call step that runs its target's native driver: the operand and
//! result addresses read from the run's pointer table, no array copied in or out.

use super::call::{const_ptr, mut_ptr, standard_copy};
use super::driver::Driver;
use super::runtime::CallStep;
use super::wiring::bytes;
use crate::array::{with_data, DType, Data};
use crate::error::Result;
use smallvec::SmallVec;
use std::sync::Arc;

/// Runs call step `c` through its driver `d` on the run's pointer table `ptrs`.
///
/// # Safety
/// Each of the step's operand entries must point at a standard-layout array of the operand's
/// type; each result entry at memory of that result's type, aliasing no operand.
pub(crate) unsafe fn run_driver_call(d: &Driver, c: &CallStep, ptrs: &[*mut u8]) -> Result<()> {
    let operands = c.inputs.len();
    let mut io: SmallVec<[*mut u8; 16]> = c.inputs.iter().map(|(e, _, _)| ptrs[*e]).collect();
    io.resize(operands + c.target.output_types().len(), std::ptr::null_mut());
    let mut again: SmallVec<[(usize, usize); 2]> = SmallVec::new();
    for &(k, e) in &c.outputs {
        if io[operands + k].is_null() {
            io[operands + k] = ptrs[e];
        } else {
            again.push((k, e));
        }
    }
    // SAFETY: the caller's contract: `io` holds the operands' and results' buffers.
    unsafe { d.run(&io)? };
    for (k, e) in again {
        let n = bytes(&c.target.output_types()[k]);
        // SAFETY: both entries are buffers of output `k`'s type, distinct nodes' buffers.
        unsafe { std::ptr::copy_nonoverlapping(io[operands + k], ptrs[e], n) };
    }
    Ok(())
}

/// `d` itself when in standard layout, else a standard copy (kept alive by the caller).
fn standard(d: &Arc<Data>) -> Arc<Data> {
    if with_data!(&**d, a => a.is_standard_layout()) {
        d.clone()
    } else {
        standard_copy(d)
    }
}

impl Driver {
    /// Runs the loop on arrays (standard copies of those in another layout), its results
    /// allocated (`types`, zeroed): the wanted ones are right, the others zeros.
    pub(crate) fn run_arrays(&self, inputs: &[Arc<Data>], types: &[(DType, Vec<usize>)]) -> Result<Vec<Arc<Data>>> {
        let inputs: Vec<Arc<Data>> = inputs.iter().map(standard).collect();
        let mut results: Vec<Data> = types.iter().map(|(d, s)| Data::zeros(*d, s)).collect();
        let io: Vec<*mut u8> = inputs.iter().map(|d| const_ptr(d)).chain(results.iter_mut().map(mut_ptr)).collect();
        // SAFETY: the operands are standard-layout arrays the caller gave (of the loop's
        // operand types, checked by the target), the results fresh arrays of the result types.
        unsafe { self.run(&io)? };
        Ok(results.into_iter().map(Arc::new).collect())
    }
}
