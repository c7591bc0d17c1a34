//! Eager elementwise kernels over large slices fill their results on every core (from 2^18
//! elements): each element is computed by the same code as below the threshold, so the bits
//! are the same for any number of threads and the same as one element at a time, for plain
//! arithmetic, a scalar operand, an op without a fused loop and a transcendental.

use cranegrad::prelude::*;
use ndarray::Array1;

fn ramp(n: usize, seed: usize) -> DlArray {
    DlArray::from(Array1::from_shape_fn(n, |i| (((i + seed) * 7919) % 1000) as f64 / 250.0 - 2.0))
}

/// The ops checked, each on `x` and `y` of one shape.
fn ops(x: &DlArray, y: &DlArray) -> Vec<DlArray> {
    vec![x * y, x - y, 2.5 * x, x.abs(), x.exp(), x.sin(), x.pow(&y.abs())]
}

fn bits(a: &DlArray) -> Vec<u64> {
    a.extractdata::<f64>().unwrap().iter().map(|v| v.to_bits()).collect()
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

#[test]
fn large_eager_elementwise_results_have_the_same_bits_for_any_thread_count() {
    for n in [(1 << 18) + 7, 3 << 17] {
        let (x, y) = (ramp(n, 1), ramp(n, 2));
        let one = pool(1).install(|| ops(&x, &y));
        for threads in [2, 3] {
            let got = pool(threads).install(|| ops(&x, &y));
            for (k, (a, b)) in got.iter().zip(&one).enumerate() {
                assert!(bits(a) == bits(b), "n = {n}, op {k}: {threads} threads differ from one");
            }
        }
        // Element by element (each op on one element runs below the threshold).
        let (xs, ys) = (x.extractdata::<f64>().unwrap(), y.extractdata::<f64>().unwrap());
        let whole: Vec<Vec<u64>> = one.iter().map(bits).collect();
        for i in [0, 1, 4097, n / 2, n - 1] {
            let (xi, yi) = (DlArray::scalar(xs[i]), DlArray::scalar(ys[i]));
            for (k, single) in ops(&xi, &yi).iter().enumerate() {
                assert_eq!(bits(single)[0], whole[k][i], "n = {n}, op {k}, element {i}");
            }
        }
    }
}
