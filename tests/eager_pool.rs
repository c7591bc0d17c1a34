//! The per-thread pool of freed array buffers (`array/pool.rs`): eager ops and compiled
//! outputs reuse freed buffers (counted by its statistics), results have the same bits with
//! and without reuse even when the reused buffers held other values, and a thread's pool stays
//! within its bound. Each test runs on its own thread, so each has its own pool.

use cranegrad::internals::buffer_pool::{self, PoolStats, DEFAULT_LIMIT, MIN_BYTES};
use cranegrad::prelude::*;
use ndarray::{s, Array1, Array2, ArrayD, IxDyn};

fn delta(before: PoolStats, after: PoolStats) -> (u64, u64, u64) {
    (after.hits - before.hits, after.misses - before.misses, after.returned - before.returned)
}

fn w2(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
    let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

fn ramp(n: usize) -> DlArray {
    DlArray::from(Array1::from_shape_fn(n, |i| ((i * 7919) % 1000) as f64 / 500.0 - 1.0))
}

#[test]
fn repeated_eager_calls_reuse_every_large_buffer() {
    buffer_pool::set_limit(DEFAULT_LIMIT);
    let x = ramp(100_000);
    dlfeval(|x: DlArray| w2(&x), x.clone()).unwrap();
    let before = buffer_pool::stats();
    for _ in 0..5 {
        dlfeval(|x: DlArray| w2(&x), x.clone()).unwrap();
    }
    let (hits, misses, returned) = delta(before, buffer_pool::stats());
    assert_eq!(misses, 0, "after the first call every large buffer should come from the pool");
    assert!(hits >= 5 * 10, "expected at least 10 reused buffers per call, got {hits} in 5 calls");
    assert_eq!(hits, returned, "each call gives back what it takes");
}

#[test]
fn an_untraced_eager_loop_reuses_the_buffer_it_drops() {
    buffer_pool::set_limit(DEFAULT_LIMIT);
    let mut y = ramp(50_000);
    y = y.sin();
    let before = buffer_pool::stats();
    for _ in 0..20 {
        y = (y.sin() * 0.5 + 0.25).tanh();
    }
    let (hits, misses, _) = delta(before, buffer_pool::stats());
    assert!(misses <= 2, "the loop should allocate at most a couple of fresh buffers, got {misses} misses");
    assert!(hits >= 20 * 3, "each iteration's three ops should reuse a buffer, got {hits} hits");
    let v = y.extractdata::<f64>().unwrap();
    assert!(v.iter().all(|x| x.is_finite() && x.abs() < 1.0));
}

/// Values that touch every pooled kernel: unary, binary on equal shapes, against a scalar and
/// with a general broadcast, compare and select, slice and its gradient (pad), permute,
/// broadcast, reshape, cast, and the gradient's sums.
fn many_kernels(x: &DlArray, b: &DlArray) -> Result<Vec<DlArray>> {
    let y = (x * x.exp()).sin() - 0.5;
    let z = &y + b; // [300, 100] + [1, 100]
    let r = select(&z.gt(&DlArray::scalar(0.0)), &z, &(&z * 0.01));
    let t = r.transpose().slice(s![1..90;2, ..]);
    let w = t.reshape(&[45 * 300]).broadcast_to(&[2, 45 * 300]).cast(DType::F32).cast(DType::F64);
    let loss = w.square().sum_all() + r.slice(s![3.., 5..]).exp().sum_all();
    let g = dlgradient(&loss, x)?;
    Ok(vec![y, z, r, t, w, loss, g])
}

fn run_many(x: &DlArray, b: &DlArray) -> Vec<ArrayD<f64>> {
    let outs = dlfeval(|(x, b): (DlArray, DlArray)| many_kernels(&x, &b), (x.clone(), b.clone())).unwrap();
    outs.iter().map(|o| o.extractdata::<f64>().unwrap()).collect()
}

/// Fills this thread's pool with large buffers of NaN (and of other odd bits), of the sizes the
/// kernels above ask for, so a kernel that read before it writes would show it.
fn poison_pool() {
    let sizes = [300 * 100, 300 * 99, 45 * 300, 2 * 45 * 300, 297 * 95, 100 * 300];
    let mut keep = Vec::new();
    for &n in &sizes {
        for k in 0..4 {
            let bits = if k % 2 == 0 { f64::NAN } else { -7.25e300 };
            keep.push(DlArray::from(ArrayD::from_elem(IxDyn(&[n]), bits)));
            keep.push(DlArray::from(ArrayD::from_elem(IxDyn(&[n]), bits as f32)));
        }
    }
    drop(keep);
}

fn bits(a: &[ArrayD<f64>]) -> Vec<Vec<u64>> {
    a.iter().map(|a| a.iter().map(|v| v.to_bits()).collect()).collect()
}

#[test]
fn results_have_the_same_bits_with_and_without_reuse() {
    let x = DlArray::from(Array2::from_shape_fn((300, 100), |(i, j)| ((i * 131 + j * 17) % 97) as f64 / 48.0 - 1.0));
    let b = DlArray::from(Array2::from_shape_fn((1, 100), |(_, j)| j as f64 / 100.0 - 0.5));
    buffer_pool::set_limit(0);
    let fresh = run_many(&x, &b);
    assert_eq!(buffer_pool::stats().held_bytes, 0);

    buffer_pool::set_limit(DEFAULT_LIMIT);
    poison_pool();
    let before = buffer_pool::stats();
    let reused = run_many(&x, &b);
    poison_pool();
    let again = run_many(&x, &b);
    let (hits, _, _) = delta(before, buffer_pool::stats());
    assert!(hits >= 20, "the runs should reuse the poisoned buffers, got {hits} hits");
    assert_eq!(bits(&fresh), bits(&reused), "reused buffers changed a result");
    assert_eq!(bits(&fresh), bits(&again), "reused buffers changed a result");
    // The gradient of the slice is zero outside it (its pad must not keep stale values).
    let g = &fresh[6];
    assert!(g.iter().all(|v| v.is_finite()));
}

#[test]
fn compiled_outputs_reuse_freed_buffers_and_keep_their_bits() {
    buffer_pool::set_limit(DEFAULT_LIMIT);
    let x = ramp(100_000);
    let af = accelerate(|x: DlArray| w2(&x));
    let first = af.call(x.clone()).unwrap().1.extractdata::<f64>().unwrap();
    poison_pool();
    let extra = DlArray::from(ArrayD::from_elem(IxDyn(&[100_000]), f64::NAN));
    drop(extra);
    let before = buffer_pool::stats();
    let second = af.call(x.clone()).unwrap().1.extractdata::<f64>().unwrap();
    let (hits, _, _) = delta(before, buffer_pool::stats());
    assert!(hits >= 1, "the gradient output should reuse a freed buffer");
    let b = |a: &ArrayD<f64>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(b(&first), b(&second));
}

#[test]
fn a_threads_pool_stays_within_its_bound() {
    let limit = 1 << 20;
    buffer_pool::set_limit(limit);
    let n = 200 << 10 >> 3; // 200 KiB of f64
    let arrays: Vec<DlArray> = (0..40).map(|k| DlArray::from(ArrayD::from_elem(IxDyn(&[n]), k as f64))).collect();
    let before = buffer_pool::stats();
    drop(arrays);
    let after = buffer_pool::stats();
    assert!(after.held_bytes <= limit, "held {} bytes over the limit {limit}", after.held_bytes);
    assert!(after.held_bytes >= limit / 2, "the pool should keep what fits, held {}", after.held_bytes);
    assert!(after.overflowed - before.overflowed >= 30, "buffers beyond the bound go back to the allocator");
    buffer_pool::release();
    assert_eq!(buffer_pool::stats().held_bytes, 0);
    // Small buffers are the allocator's.
    let small = DlArray::from(ArrayD::from_elem(IxDyn(&[MIN_BYTES / 8 - 1]), 1.0));
    drop(small);
    assert_eq!(buffer_pool::stats().returned, after.returned);
}

#[test]
fn a_full_pool_makes_room_for_the_buffer_freed_last() {
    let limit = 1 << 20;
    buffer_pool::set_limit(limit);
    buffer_pool::release();
    let (n, m) = (200 << 10 >> 3, 300 << 10 >> 3); // 200 KiB and 300 KiB of f64
    let x = DlArray::from(ArrayD::from_elem(IxDyn(&[m]), 1.5));
    let old: Vec<DlArray> = (0..5).map(|k| DlArray::from(ArrayD::from_elem(IxDyn(&[n]), k as f64))).collect();
    drop(old);
    assert_eq!(buffer_pool::stats().held_bytes, 5 * (200 << 10), "an earlier phase left five buffers");
    let before = buffer_pool::stats();
    drop(DlArray::from(ArrayD::from_elem(IxDyn(&[m]), 0.0)));
    let after = buffer_pool::stats();
    assert_eq!(after.overflowed - before.overflowed, 2, "the two buffers freed first make room");
    assert_eq!(after.held_bytes, 3 * (200 << 10) + (300 << 10));
    let y = &x * 2.0;
    let (hits, misses, _) = delta(after, buffer_pool::stats());
    assert_eq!((hits, misses), (1, 0), "the buffer freed last serves the next result of its size");
    assert_eq!(y.extractdata::<f64>().unwrap()[m - 1], 3.0);
    buffer_pool::set_limit(DEFAULT_LIMIT);
}

#[test]
fn a_buffer_freed_on_another_thread_goes_to_that_threads_pool() {
    buffer_pool::set_limit(DEFAULT_LIMIT);
    buffer_pool::release();
    let a = DlArray::from(ArrayD::from_elem(IxDyn(&[100_000]), 1.0));
    let mine = buffer_pool::stats();
    let theirs = std::thread::spawn(move || {
        let before = buffer_pool::stats();
        drop(a);
        let after = buffer_pool::stats();
        (after.returned - before.returned, after.held_bytes)
    })
    .join()
    .unwrap();
    assert_eq!(theirs, (1, 100_000 * 8));
    assert_eq!(buffer_pool::stats(), mine);
}
