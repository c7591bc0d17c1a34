//! The current origin: the user's call that new nodes are attributed to, kept per thread.
//!
//! Every public op is `#[track_caller]` and starts with [`user_call`], which makes its
//! caller's location current unless one is already: the outermost public call wins, so the
//! nodes that `softmax` or `fullyconnect` record through the crate's own ops (and closures)
//! carry the user's line, not the crate's. The reverse sweep sets a backward origin per node
//! with [`scoped`], and a new trace starts with none (an accelerated function traced from
//! inside another op records its own lines).

use crate::ir::Origin;
use std::cell::Cell;
use std::panic::Location;

thread_local! {
    static CURRENT: Cell<Option<Origin>> = const { Cell::new(None) };
}

/// Restores the previous current origin when dropped (also on panic).
#[must_use = "the origin is current only while the guard lives"]
pub(crate) struct OriginGuard {
    previous: Option<Option<Origin>>,
}

impl Drop for OriginGuard {
    fn drop(&mut self) {
        if let Some(previous) = self.previous {
            let _ = CURRENT.try_with(|c| c.set(previous));
        }
    }
}

/// Makes the caller's location (the user's call, through a chain of `#[track_caller]`
/// functions) the current origin, unless an outer call already set one.
#[track_caller]
#[inline]
pub(crate) fn user_call() -> OriginGuard {
    let location: &'static Location<'static> = Location::caller();
    let previous = CURRENT
        .try_with(|c| match c.get() {
            Some(_) => None,
            None => {
                c.set(Some(Origin::new(location)));
                Some(None)
            }
        })
        .ok()
        .flatten();
    OriginGuard { previous }
}

/// Makes `origin` current (overriding any outer one) until the guard drops.
pub(crate) fn scoped(origin: Option<Origin>) -> OriginGuard {
    let previous = CURRENT.try_with(|c| c.replace(origin)).ok();
    OriginGuard { previous }
}

/// The current origin, if any.
pub(crate) fn current() -> Option<Origin> {
    CURRENT.try_with(|c| c.get()).ok().flatten()
}
