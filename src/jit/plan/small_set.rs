//! A set of node ids for the planner's walks over one fused expression: a few ids inline and
//! searched in order (no heap memory for the usual small expression), a hash set past that.

use crate::ir::NodeId;
use rustc_hash::FxHashSet;
use smallvec::SmallVec;

/// How many ids are kept inline before the set moves to a hash set.
const INLINE: usize = 16;

/// A set of node ids, inline while small.
#[derive(Default)]
pub(crate) struct SmallSet {
    inline: SmallVec<[NodeId; INLINE]>,
    spilled: Option<FxHashSet<NodeId>>,
}

impl SmallSet {
    /// Adds `id`; true when it was not in the set.
    pub(crate) fn insert(&mut self, id: NodeId) -> bool {
        if let Some(set) = &mut self.spilled {
            return set.insert(id);
        }
        if self.inline.contains(&id) {
            return false;
        }
        if self.inline.len() == INLINE {
            let mut set: FxHashSet<NodeId> = self.inline.drain(..).collect();
            set.insert(id);
            self.spilled = Some(set);
        } else {
            self.inline.push(id);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_each_id_once_inline_and_spilled() {
        let mut s = SmallSet::default();
        for round in 0..2 {
            for id in [5, 3, 5, 9] {
                s.insert(id);
            }
            assert!(!s.insert(3), "round {round}");
        }
        for id in 100..140 {
            assert!(s.insert(id));
        }
        assert!(s.spilled.is_some());
        assert!(!s.insert(5) && !s.insert(139) && s.insert(140));
    }
}
