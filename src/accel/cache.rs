//! The LRU cache of compiled traces. Hits read a published table of the ready entries without
//! taking a lock (`arc_swap`); misses, builds, eviction and clearing go through one mutex and
//! republish the table. In-flight slots make two threads missing on the same signature trace
//! and compile it once.

use super::counter::ShardedCounter;
use super::key::{FxHasher, Signature};
use super::program::Program;
use super::report::BuildReport;
use crate::ir::CallTarget;
use crate::trace::Tree;
use arc_swap::{ArcSwap, Guard};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

/// One cached trace: its signature, executable, the shape of its result tree, its statistics.
pub(crate) struct Entry<R> {
    pub signature: Signature,
    /// [`Signature::hash_of`] of the arguments it was traced with.
    pub hash: u64,
    pub program: Arc<Program>,
    /// The result tree of the first call, with placeholder arrays: later calls fill in outputs.
    pub template: R,
    pub hits: ShardedCounter,
    /// The cache clock at this entry's last use (least recently used is evicted first).
    pub last_used: AtomicU64,
    /// Order of creation, for a stable dump.
    pub serial: u64,
    /// This entry as the target of `call` nodes in eager traces (made on first such use).
    pub callee: OnceLock<Arc<dyn CallTarget>>,
    /// How its first call went.
    pub report: BuildReport,
}

/// The state of one signature's slot.
pub(crate) enum SlotState<R> {
    Building,
    Ready(Arc<Entry<R>>),
    Failed,
}

/// A signature's place in the cache; waiters block on `changed` while it is building.
pub(crate) struct Slot<R> {
    pub state: Mutex<SlotState<R>>,
    pub changed: Condvar,
    ready: OnceLock<Arc<Entry<R>>>,
}

impl<R> Slot<R> {
    fn building() -> Arc<Self> {
        Arc::new(Slot { state: Mutex::new(SlotState::Building), changed: Condvar::new(), ready: OnceLock::new() })
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

/// The ready entries as hits see them, sorted by hash.
pub(crate) struct ReadyTable<R> {
    entries: Vec<Arc<Entry<R>>>,
}

impl<R> ReadyTable<R> {
    /// The entry whose signature is `args`' (whose hash is `hash`).
    pub fn find<A: Tree>(&self, hash: u64, args: &A) -> Option<&Arc<Entry<R>>> {
        let first = self.entries.partition_point(|e| e.hash < hash);
        self.entries[first..].iter().take_while(|e| e.hash == hash).find(|e| e.signature.matches(args))
    }
}

/// The mutable part of the cache: signature -> slot.
struct Slots<R> {
    map: HashMap<Signature, Arc<Slot<R>>, BuildHasherDefault<FxHasher>>,
    capacity: usize,
    serial: u64,
}

/// Signature -> compiled entry, least recently used evicted first.
pub(crate) struct Cache<R> {
    slots: Mutex<Slots<R>>,
    ready: ArcSwap<ReadyTable<R>>,
    clock: AtomicU64,
}

impl<R> Cache<R> {
    pub fn new(capacity: usize) -> Self {
        Cache {
            slots: Mutex::new(Slots { map: HashMap::default(), capacity, serial: 0 }),
            ready: ArcSwap::from_pointee(ReadyTable { entries: Vec::new() }),
            clock: AtomicU64::new(0),
        }
    }

    /// The ready entries, for a hit: no lock, no reference count of an entry touched.
    #[inline]
    pub fn ready(&self) -> Guard<Arc<ReadyTable<R>>> {
        self.ready.load()
    }

    /// Marks `entry` used now. Writes nothing when it already is the most recently used, so
    /// threads hitting the same entry share its cache line read-only.
    #[inline]
    pub fn touch(&self, entry: &Entry<R>) {
        let now = self.clock.load(Ordering::Relaxed);
        if entry.last_used.load(Ordering::Relaxed) != now {
            entry.last_used.store(self.clock.fetch_add(1, Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }

    /// Finds `sig`, or reserves a building slot for it.
    pub fn lookup(&self, sig: &Signature) -> Lookup<R> {
        let mut slots = lock(&self.slots);
        if let Some(slot) = slots.map.get(sig) {
            if let Some(e) = slot.ready.get() {
                self.touch(e);
            }
            return Lookup::Found(slot.clone());
        }
        let slot = Slot::building();
        if slots.capacity > 0 {
            let keep = slots.capacity - 1;
            self.evict(&mut slots, keep);
            slots.map.insert(sig.clone(), slot.clone());
        }
        Lookup::Build(slot)
    }

    /// The next creation serial number.
    pub fn next_serial(&self) -> u64 {
        let mut slots = lock(&self.slots);
        slots.serial += 1;
        slots.serial
    }

    /// Publishes the outcome of `slot`'s build and wakes its waiters; a failed build leaves
    /// the cache (the slot of `sig` is dropped).
    pub fn finish(&self, sig: &Signature, slot: &Arc<Slot<R>>, state: SlotState<R>) {
        let mut slots = lock(&self.slots);
        match &state {
            SlotState::Ready(e) => {
                self.touch(e);
                let _ = slot.ready.set(e.clone());
            }
            _ => {
                if slots.map.get(sig).is_some_and(|s| Arc::ptr_eq(s, slot)) {
                    slots.map.remove(sig);
                }
            }
        }
        *lock(&slot.state) = state;
        slot.changed.notify_all();
        self.publish(&slots);
    }

    /// Evicts least recently used ready entries until at most `n` slots remain.
    fn evict(&self, slots: &mut Slots<R>, n: usize) {
        let before = slots.map.len();
        while slots.map.len() > n {
            let victim = slots
                .map
                .iter()
                .filter_map(|(k, slot)| slot.ready.get().map(|e| (k, e.last_used.load(Ordering::Relaxed))))
                .min_by_key(|(_, used)| *used)
                .map(|(k, _)| k.clone());
            match victim {
                Some(k) => {
                    slots.map.remove(&k);
                }
                None => break,
            }
        }
        if slots.map.len() != before {
            self.publish(slots);
        }
    }

    /// Replaces the hits' table by the ready entries of `slots` (called under the lock, so
    /// tables are published in order).
    fn publish(&self, slots: &Slots<R>) {
        let mut entries: Vec<Arc<Entry<R>>> = slots.map.values().filter_map(|s| s.ready.get().cloned()).collect();
        entries.sort_by_key(|e| (e.hash, e.serial));
        self.ready.store(Arc::new(ReadyTable { entries }));
    }

    /// Every ready entry, oldest first.
    pub fn entries(&self) -> Vec<Arc<Entry<R>>> {
        let mut v: Vec<Arc<Entry<R>>> = lock(&self.slots).map.values().filter_map(|s| s.ready.get().cloned()).collect();
        v.sort_by_key(|e| e.serial);
        v
    }

    /// The signatures of the ready entries.
    pub fn signatures(&self) -> Vec<Signature> {
        self.entries().iter().map(|e| e.signature.clone()).collect()
    }

    /// Number of slots in use.
    pub fn len(&self) -> usize {
        lock(&self.slots).map.len()
    }

    /// The most signatures kept.
    pub fn capacity(&self) -> usize {
        lock(&self.slots).capacity
    }

    /// Sets the capacity; least recently used entries go until it holds.
    pub fn set_capacity(&self, n: usize) {
        let mut slots = lock(&self.slots);
        slots.capacity = n;
        self.evict(&mut slots, n);
    }

    /// Drops every entry that is not being built.
    pub fn clear(&self) {
        let mut slots = lock(&self.slots);
        self.evict(&mut slots, 0);
    }
}
