//! The results of a loop's eager run that its caller does not see, kept for reverse mode. A
//! scan run in a trace also stacks the carries each step started from and the residuals of its
//! body's VJP; a while loop run in a trace keeps the carries each step started from while they
//! take at most [`WHILE_CARRIES_BOUND`] bytes (a loop whose gradient is never asked for may run
//! long). `build.rs` keeps them when it records the run. They wait in the target until the
//! reverse sweep asks for them, so the loop does not run again for them. They are handed out
//! once each, and only for the very operands they were computed from (the same `Data` objects,
//! which never change); otherwise the loop runs again, as it would without them. A compiled
//! program shares the run in its own way (nodes of one call on the same operands are computed
//! together), so only the interpreter's runs keep results here.

use crate::array::Data;
use std::ops::Range;
use std::sync::{Arc, Mutex, Weak};

/// The most bytes of carries an eager while loop's run keeps for its reverse steps.
pub(crate) const WHILE_CARRIES_BOUND: usize = 64 << 20;

/// One carry's leaves.
pub(crate) type Carry = Vec<Arc<Data>>;

/// The hidden results of the last eager run of one loop target, if not all taken yet.
#[derive(Default)]
pub(crate) struct HiddenResults(Mutex<Option<Kept>>);

/// One run's operands (weakly: a dropped operand can never be asked for again) and its
/// results from `first` on, each `None` once taken.
struct Kept {
    operands: Vec<Weak<Data>>,
    first: usize,
    results: Vec<Option<Arc<Data>>>,
}

impl HiddenResults {
    /// Keeps `results`, the results from `first` on of a run on `operands` (replacing what an
    /// earlier run kept).
    pub fn keep(&self, operands: &[Arc<Data>], first: usize, results: Vec<Arc<Data>>) {
        let kept = Kept {
            operands: operands.iter().map(Arc::downgrade).collect(),
            first,
            results: results.into_iter().map(Some).collect(),
        };
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(kept);
        }
    }

    /// Results `wanted` of the run on exactly `operands`, taken out (`None` when no such run
    /// kept them all: the caller runs the loop).
    pub fn take(&self, operands: &[Arc<Data>], wanted: Range<usize>) -> Option<Vec<Arc<Data>>> {
        let mut slot = self.0.lock().ok()?;
        let kept = slot.as_mut()?;
        let same = kept.operands.len() == operands.len()
            && kept.operands.iter().zip(operands).all(|(w, a)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(a)));
        let slots = wanted.start.checked_sub(kept.first)?..wanted.end.checked_sub(kept.first)?;
        if !same || kept.results.get(slots.clone()).is_none_or(|r| r.iter().any(Option::is_none)) {
            return None;
        }
        let taken = kept.results[slots].iter_mut().map(|r| r.take()).collect::<Option<Vec<_>>>();
        if kept.results.iter().all(Option::is_none) {
            *slot = None;
        }
        taken
    }

    /// Keeps the carries each step of a while loop's run on `operands` started from.
    pub fn keep_carries(&self, operands: &[Arc<Data>], carries: Vec<Carry>) {
        self.keep(operands, 0, carries.into_iter().flatten().collect());
    }

    /// The carries (of `width` leaves each) kept for a run on exactly `operands`, taken out.
    pub fn take_carries(&self, operands: &[Arc<Data>], width: usize) -> Option<Vec<Carry>> {
        let count = self.0.lock().ok()?.as_ref()?.results.len();
        if width == 0 || count % width != 0 {
            return None;
        }
        let flat = self.take(operands, 0..count)?;
        Some(flat.chunks(width).map(<[Arc<Data>]>::to_vec).collect())
    }

    /// Moves what `self` keeps for a run on `operands` to `to`.
    pub fn move_carries(&self, operands: &[Arc<Data>], width: usize, to: &HiddenResults) {
        if let Some(carries) = self.take_carries(operands, width) {
            to.keep_carries(operands, carries);
        }
    }
}
