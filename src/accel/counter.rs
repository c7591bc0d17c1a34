//! Exact event counters that many threads bump without sharing a cache line: each thread adds
//! to its own shard, a read sums them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Shards per counter: threads beyond this share shards (still exact, only slower).
const SHARDS: usize = 8;

/// One shard on a cache-line pair of its own (128 bytes: adjacent-line prefetchers pair lines).
#[repr(align(128))]
#[derive(Default)]
struct Shard(AtomicU64);

/// A counter whose increments from different threads touch different cache lines.
#[derive(Default)]
pub(crate) struct ShardedCounter {
    shards: [Shard; SHARDS],
}

/// The next shard index to hand to a new thread.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static MY_SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

impl ShardedCounter {
    /// Adds one.
    #[inline]
    pub fn bump(&self) {
        let k = MY_SHARD.with(|k| *k);
        self.shards[k].0.fetch_add(1, Ordering::Relaxed);
    }

    /// The sum of every shard: exact once the bumping threads are done (or joined).
    pub fn total(&self) -> u64 {
        self.shards.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}
