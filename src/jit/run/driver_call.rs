//! A compiled program's call step that runs its target's native driver: the operand and
//! result addresses read from the run's pointer table, no array copied in or out.

use super::call::{const_ptr, mut_ptr, standard_copy};
use super::driver::Driver;
use super::frame::Frame;
use super::host_call::run_call;
use super::runtime::{CallStep, Compiled, Step, StepShare};
use super::wiring::bytes;
use crate::array::{with_data, DType, Data};
use crate::error::Result;
use smallvec::SmallVec;
use std::cell::RefCell;
use std::sync::Arc;

thread_local! {
    /// The frames of while loops' drivers that kept their carries for reverse steps later in
    /// the same run: the loop's call step and the run's table (their addresses), and the frame.
    static HELD: RefCell<Vec<((usize, usize), Frame)>> = const { RefCell::new(Vec::new()) };
}

/// At most this many frames are held per thread (more only when runs failed between a loop
/// and its reverse steps: the oldest is dropped).
const MOST_HELD: usize = 16;

/// Runs call step `c` through its driver `d` on the run's pointer table `ptrs`.
///
/// # Safety
/// Each of the step's operand entries must point at a standard-layout array of the operand's
/// type; each result entry at memory of that result's type, aliasing no operand.
pub(crate) unsafe fn run_driver_call(d: &Driver, c: &CallStep, ptrs: &[*mut u8]) -> Result<()> {
    // SAFETY: the caller's contract.
    let frame = unsafe { run_held(d, c, ptrs, None)? };
    d.give_back(frame);
    Ok(())
}

/// [`run_driver_call`], with `forward` (the words of the frame a forward loop kept its
/// carries in) after the results, handing back the frame it ran in.
///
/// # Safety
/// As for [`run_driver_call`]; `forward`, when given, the words of a live frame of the
/// forward driver `d` reads.
unsafe fn run_held(d: &Driver, c: &CallStep, ptrs: &[*mut u8], forward: Option<*mut u8>) -> Result<Frame> {
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
    io.extend(forward);
    // SAFETY: the caller's contract: `io` holds the operands' and results' buffers.
    let frame = unsafe { d.run_held(&io)? };
    for (k, e) in again {
        let n = bytes(&c.target.output_types()[k]);
        // SAFETY: both entries are buffers of output `k`'s type, distinct nodes' buffers.
        unsafe { std::ptr::copy_nonoverlapping(io[operands + k], ptrs[e], n) };
    }
    Ok(frame)
}

/// Runs call step `c` of `program` on the run's pointer table `ptrs`: through its native
/// driver when it has one (else through its target), sharing a while loop's forward run with
/// the reverse steps after it. A loop that keeps its carries leaves its frame held for this
/// thread and run, and the reverse steps read it (when it is not there, they run their own
/// forward loop).
///
/// # Safety
/// As for [`run_driver_call`]; `c` a step of `program`.
pub(crate) unsafe fn run_call_step(program: &Compiled, c: &CallStep, ptrs: &[*mut u8]) -> Result<()> {
    if let StepShare::After(w) = c.share {
        // SAFETY: the caller's contract.
        if let Some(done) = unsafe { run_after(program, c, w, ptrs) } {
            return done;
        }
    }
    let Some(d) = c.driver() else {
        return run_call(&*c.target, &c.inputs, &c.outputs, ptrs);
    };
    if c.share != StepShare::Keeps || d.kept().is_none() {
        // SAFETY: the caller's contract.
        return unsafe { run_driver_call(d, c, ptrs) };
    }
    // SAFETY: the caller's contract.
    let frame = unsafe { run_held(d, c, ptrs, None)? };
    let key = held_key(c, ptrs);
    let stale = HELD.with(|h| {
        let mut h = h.borrow_mut();
        let stale = h.iter().position(|e| e.0 == key).map(|i| h.remove(i).1);
        if h.len() >= MOST_HELD {
            h.remove(0);
        }
        h.push((key, frame));
        stale
    });
    if let Some(f) = stale {
        d.give_back(f);
    }
    Ok(())
}

/// The key of the frame call step `c` holds for the run of table `ptrs`.
fn held_key(c: &CallStep, ptrs: &[*mut u8]) -> (usize, usize) {
    (c as *const CallStep as usize, ptrs.as_ptr() as usize)
}

/// Runs reverse steps `c` over the carries that step `w` of `program` kept in this run, when
/// its frame is held and the driver reading it compiled; `None` when not.
///
/// # Safety
/// As for [`run_call_step`].
unsafe fn run_after(program: &Compiled, c: &CallStep, w: usize, ptrs: &[*mut u8]) -> Option<Result<()>> {
    let Some(Step::Call(f)) = program.steps.get(w) else { return None };
    let forward = f.driver()?;
    let after = c.after_driver(forward.kept()?)?;
    let key = held_key(f, ptrs);
    let mut frame = HELD.with(|h| {
        let mut h = h.borrow_mut();
        h.iter().rposition(|e| e.0 == key).map(|i| h.remove(i).1)
    })?;
    let words = frame.words_ptr() as *mut u8;
    // SAFETY: the caller's contract; `words` are those of the frame the forward loop of this
    // run kept its carries in, held until the call ends.
    let done = unsafe { run_held(after, c, ptrs, Some(words)) };
    forward.give_back(frame);
    Some(done.map(|f| after.give_back(f)))
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
