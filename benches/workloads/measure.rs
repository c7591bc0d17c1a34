//! Timing and memory measurement for the workloads table: medians over adaptive samples, and
//! peak heap bytes through a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

/// The system allocator, counting net and peak bytes while [`peak_bytes`] measures (and only
/// then: counting on every allocation would add two atomic read-modify-writes to each, about
/// 80 ns to an accelerated W1 call).
pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static NET: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grew(bytes: usize) {
    if ON.load(Ordering::Relaxed) {
        let net = NET.fetch_add(bytes as isize, Ordering::Relaxed) + bytes as isize;
        PEAK.fetch_max(net, Ordering::Relaxed);
    }
}

fn shrank(bytes: usize) {
    if ON.load(Ordering::Relaxed) {
        NET.fetch_sub(bytes as isize, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to the system allocator with the caller's arguments unchanged;
// the counters are plain atomics and do not affect allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grew(new_size - layout.size());
        } else {
            shrank(layout.size() - new_size);
        }
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Peak heap bytes above the heap at the start (net of what is freed meanwhile), while `f`
/// runs once.
pub fn peak_bytes(f: impl FnOnce()) -> usize {
    NET.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    ON.store(true, Ordering::SeqCst);
    f();
    ON.store(false, Ordering::SeqCst);
    PEAK.load(Ordering::Relaxed).max(0) as usize
}

/// The median time of one call of `f`, from samples of enough calls to last about
/// `budget / 10` each (at least 5 samples, at most `budget` in all after one warm-up call).
pub fn median(budget: Duration, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    f();
    let once = start.elapsed().max(Duration::from_nanos(20));
    let per_sample = (budget / 10).max(Duration::from_micros(200));
    let iters = ((per_sample.as_secs_f64() / once.as_secs_f64()) as usize).clamp(1, 1_000_000);
    let mut samples = Vec::new();
    let deadline = Instant::now() + budget;
    while samples.len() < 5 || (Instant::now() < deadline && samples.len() < 51) {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        samples.push(t.elapsed() / iters as u32);
    }
    samples.sort();
    samples[samples.len() / 2]
}

/// `1.23 us`, `4.56 ms`.
pub fn show(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1e-6 {
        format!("{:.1} ns", s * 1e9)
    } else if s < 1e-3 {
        format!("{:.2} us", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.2} s", s)
    }
}
