//! A call whose steps use the thread pool keeps the pool's threads awake while it runs.
//!
//! A rayon thread that finds no work soon sleeps, and the next parallel step must wake it: on
//! a virtual machine that wake-up takes from tens of microseconds to a third of a millisecond
//! (the idle virtual CPU has been handed back to the host), and a caller outside the pool also
//! sleeps until each step ends. A call of a few milliseconds with ten parallel steps paid it
//! twenty times, and more or less of it from process to process.
//!
//! So such a call runs its steps on one of the pool's threads, and every other thread of the
//! pool waits for work by polling the pool ([`rayon::yield_now`]) instead of sleeping, until
//! the call ends. The caller then sleeps once per call, not twice per step. Which thread runs
//! which chunk never changes a result (`pool.rs`), so the bits are the same.
//!
//! Only one call at a time holds the pool awake; others (from other threads, or from inside
//! the pool) run as before. A waiting thread also stops after [`IDLE_LIMIT`] without work, so
//! a long step on one thread does not keep the other cores busy, and a waiting thread that
//! finds itself under a job that must finish first (a nested wait) lets it go on.

use rayon::Yield;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a thread kept awake waits without work before it goes back to rayon's sleep.
const IDLE_LIMIT: Duration = Duration::from_micros(500);

/// Whether some call holds the pool awake now.
static HELD: AtomicBool = AtomicBool::new(false);

/// Clears [`HELD`] when the call that set it ends, also by a panic.
struct Hold;

impl Drop for Hold {
    fn drop(&mut self) {
        HELD.store(false, Ordering::Release);
    }
}

/// Runs `f` on a thread of rayon's pool with the pool's other threads awake until it returns
/// (see the module's doc); runs it right here when the pool has one thread, when this thread
/// is already one of the pool's, or when another call holds the pool.
pub(crate) fn with_pool_awake<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_num_threads() < 2 || rayon::current_thread_index().is_some() || HELD.swap(true, Ordering::Acquire)
    {
        return f();
    }
    let _hold = Hold;
    let done = AtomicBool::new(false);
    let done = &done;
    rayon::scope(|s| {
        let runner = rayon::current_thread_index();
        s.spawn_broadcast(move |_, ctx| {
            if Some(ctx.index()) != runner {
                wait_for_work(done);
            }
        });
        let result = f();
        done.store(true, Ordering::Release);
        result
    })
}

/// Runs the pool's jobs as they come until `done`, or until [`IDLE_LIMIT`] passes without one.
fn wait_for_work(done: &AtomicBool) {
    let mut idle_since = Instant::now();
    while !done.load(Ordering::Acquire) {
        match rayon::yield_now() {
            Some(Yield::Executed) => idle_since = Instant::now(),
            Some(Yield::Idle) if idle_since.elapsed() < IDLE_LIMIT => pause(),
            _ => return,
        }
    }
}

/// Waits a moment (about a microsecond) between two looks for work, so that the looks do
/// not keep the other threads' queues and the core's shared resources busy.
fn pause() {
    for _ in 0..PAUSES {
        std::hint::spin_loop();
    }
}

/// Spin-loop hints between two looks for work.
const PAUSES: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn a_call_runs_its_parallel_work_and_releases_the_pool() {
        let total: u64 =
            with_pool_awake(|| (0..20).map(|k| (0..50_000u64).into_par_iter().map(|i| i * k).sum::<u64>()).sum());
        assert_eq!(total, (0..20u64).sum::<u64>() * (0..50_000u64).sum::<u64>());
        assert_released();
    }

    /// Other tests of this module may hold the pool for a moment; none holds it for long.
    fn assert_released() {
        let start = Instant::now();
        while HELD.load(Ordering::Acquire) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!HELD.load(Ordering::Acquire), "the pool is still held");
    }

    #[test]
    fn nested_and_concurrent_calls_run_where_they_are() {
        let outer = with_pool_awake(|| {
            // Inside the pool now (or held by another test): the inner call runs in place.
            let inner = with_pool_awake(|| (0..10_000u64).into_par_iter().sum::<u64>());
            inner + 1
        });
        assert_eq!(outer, 49_995_001);
        let sums: Vec<u64> = std::thread::scope(|t| {
            let hs: Vec<_> = (0..4u64)
                .map(|k| t.spawn(move || with_pool_awake(|| (0..30_000u64).into_par_iter().map(|i| i + k).sum())))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (k, s) in sums.iter().enumerate() {
            assert_eq!(*s, (0..30_000u64).sum::<u64>() + 30_000 * k as u64);
        }
    }

    #[test]
    fn a_panic_in_the_call_gives_the_pool_back() {
        let r = std::panic::catch_unwind(|| with_pool_awake(|| panic!("in the call")));
        assert!(r.is_err());
        assert_released();
        assert_eq!(with_pool_awake(|| (0..1000u64).into_par_iter().sum::<u64>()), 499_500);
    }
}
