//! The LRU cache of compiled traces, with in-flight slots so that two threads missing on the
//! same signature trace and compile it once.

use super::key::FxHasher;
use super::key::Signature;
use super::program::Program;
use crate::ir::CallTarget;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

/// One cached trace: its signature, executable, the shape of its result tree, its hit count.
pub(crate) struct Entry<R> {
    pub signature: Signature,
    pub program: Arc<Program>,
    /// The result tree of the first call, with placeholder arrays: later calls fill in outputs.
    pub template: R,
    pub hits: AtomicU64,
    /// Order of creation, for a stable dump.
    pub serial: u64,
    /// This entry as the target of `call` nodes in eager traces (made on first such use).
    pub callee: OnceLock<Arc<dyn CallTarget>>,
}

/// The state of one signature's slot.
pub(crate) enum SlotState<R> {
    Building,
    Ready(Arc<Entry<R>>),
    Failed,
}

/// A signature's place in the cache; waiters block on `changed` while it is building. Once
/// built, `ready` serves hits without taking the lock.
pub(crate) struct Slot<R> {
    pub state: Mutex<SlotState<R>>,
    pub changed: Condvar,
    ready: OnceLock<Arc<Entry<R>>>,
}

impl<R> Slot<R> {
    fn building() -> Arc<Self> {
        Arc::new(Slot { state: Mutex::new(SlotState::Building), changed: Condvar::new(), ready: OnceLock::new() })
    }

    /// Publishes the outcome of a build and wakes the waiters.
    pub fn finish(&self, state: SlotState<R>) {
        if let SlotState::Ready(e) = &state {
            let _ = self.ready.set(e.clone());
        }
        *lock(&self.state) = state;
        self.changed.notify_all();
    }

    /// Blocks until the slot is no longer building; the entry, or `None` if the build failed.
    pub fn wait(&self) -> Option<Arc<Entry<R>>> {
        if let Some(e) = self.ready.get() {
            return Some(e.clone());
        }
        let mut state = lock(&self.state);
        loop {
            match &*state {
                SlotState::Building => state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner()),
                SlotState::Ready(e) => return Some(e.clone()),
                SlotState::Failed => return None,
            }
        }
    }
}

/// Locks ignoring poisoning: every critical section leaves the data consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a look-up found.
pub(crate) enum Lookup<R> {
    /// A slot (ready or being built by another thread): wait on it.
    Found(Arc<Slot<R>>),
    /// Nothing: this caller builds into the new slot.
    Build(Arc<Slot<R>>),
}

/// Signature -> slot, least recently used evicted first.
pub(crate) struct Cache<R> {
    map: HashMap<Signature, (Arc<Slot<R>>, u64), BuildHasherDefault<FxHasher>>,
    clock: u64,
    pub capacity: usize,
    pub serial: u64,
}

impl<R> Cache<R> {
    pub fn new(capacity: usize) -> Self {
        Cache { map: HashMap::default(), clock: 0, capacity, serial: 0 }
    }

    /// Finds `sig`, or reserves a building slot for it.
    pub fn lookup(&mut self, sig: &Signature) -> Lookup<R> {
        self.clock += 1;
        if let Some((slot, used)) = self.map.get_mut(sig) {
            *used = self.clock;
            return Lookup::Found(slot.clone());
        }
        let slot = Slot::building();
        if self.capacity > 0 {
            self.make_room(self.capacity - 1);
            self.map.insert(sig.clone(), (slot.clone(), self.clock));
        }
        Lookup::Build(slot)
    }

    /// Evicts least recently used ready entries until at most `n` remain.
    pub fn make_room(&mut self, n: usize) {
        while self.map.len() > n {
            let victim = self
                .map
                .iter()
                .filter(|(_, (slot, _))| !matches!(*lock(&slot.state), SlotState::Building))
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            match victim {
                Some(k) => {
                    self.map.remove(&k);
                }
                None => break,
            }
        }
    }

    /// Drops the slot of `sig` if it is `slot` (a failed build).
    pub fn remove_slot(&mut self, sig: &Signature, slot: &Arc<Slot<R>>) {
        if self.map.get(sig).is_some_and(|(s, _)| Arc::ptr_eq(s, slot)) {
            self.map.remove(sig);
        }
    }

    /// Every ready entry, oldest first.
    pub fn entries(&self) -> Vec<Arc<Entry<R>>> {
        let mut v: Vec<Arc<Entry<R>>> = self
            .map
            .values()
            .filter_map(|(slot, _)| match &*lock(&slot.state) {
                SlotState::Ready(e) => Some(e.clone()),
                _ => None,
            })
            .collect();
        v.sort_by_key(|e| e.serial);
        v
    }

    /// The signatures of the ready entries.
    pub fn signatures(&self) -> Vec<Signature> {
        self.entries().iter().map(|e| e.signature.clone()).collect()
    }

    /// Number of slots in use.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Drops every entry that is not being built.
    pub fn clear(&mut self) {
        self.make_room(0);
    }
}
