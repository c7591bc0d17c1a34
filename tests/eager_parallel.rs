//! Eager elementwise kernels over large slices fill their results on every core (from 2^18
//! elements): each element is computed by the same code as below the threshold, so the bits
//! are the same for any number of threads and the same as one element at a time, for plain
//! arithmetic, a scalar operand, an op without a fused loop, transcendentals (of one operand or
//! two, either of them a single element) and selections (either branch a single element). The
//! same for operands broadcast to a large result (written row by row, no fill first) and for
//! reductions of many lanes (lanes on every core), which also agree with compiled code.

use cranegrad::prelude::*;
use ndarray::{Array1, Array2};

fn ramp(n: usize, seed: usize) -> DlArray {
    DlArray::from(Array1::from_shape_fn(n, |i| (((i + seed) * 7919) % 1000) as f64 / 250.0 - 2.0))
}

/// The ops checked, each on `x` and `y` of one shape.
fn ops(x: &DlArray, y: &DlArray) -> Vec<DlArray> {
    let c = DlArray::scalar(0.7);
    let ops = [x * y, x - y, 2.5 * x, x.abs(), x.exp(), x.sin(), x.pow(&y.abs()), x.atan2(y), x.atan2(&c)];
    let picks = [c.atan2(x), x.relu(), select(&x.gt(y), &c, x), select(&x.gt(&c), x, y)];
    ops.into_iter().chain(picks).collect()
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

fn matrix(rows: usize, cols: usize, seed: usize) -> DlArray {
    DlArray::from(Array2::from_shape_fn((rows, cols), |(i, j)| {
        (((i * cols + j + seed) * 7919) % 1000) as f64 / 250.0 - 2.0
    }))
}

/// Broadcast ops and reductions of many lanes on a `[600, 700]` matrix `x`, a column `c` and a
/// row `r`: [`BY_ROWS`] results row by row, then sums of columns.
const BY_ROWS: usize = 9;

fn wide_ops((x, c, r): (DlArray, DlArray, DlArray)) -> Result<Vec<DlArray>> {
    Ok(vec![
        &x - &c,
        &r + &x,
        &c * &r,
        x.pow(&c.abs()),
        x.max_axes(&[1], false),
        x.min_axes(&[1], true),
        x.sum_axes(&[1], false),
        (&x - &c).exp().sum_axes(&[1], true),
        c.broadcast_to(&[c.shape()[0], 700]),
        // Not by rows: sums of the columns.
        x.sum_axes(&[0], false),
        (&x * &r).sum_axes(&[0], true),
    ])
}

#[test]
fn large_broadcasts_and_many_lane_reductions_have_the_same_bits_everywhere() {
    let args = (matrix(600, 700, 1), matrix(600, 1, 2), matrix(1, 700, 3));
    let one = pool(1).install(|| wide_ops(args.clone())).unwrap();
    for threads in [2, 3] {
        let got = pool(threads).install(|| wide_ops(args.clone())).unwrap();
        for (k, (a, b)) in got.iter().zip(&one).enumerate() {
            assert!(bits(a) == bits(b), "op {k}: {threads} threads differ from one");
        }
    }
    let compiled = accelerate(wide_ops).call(args.clone()).unwrap();
    for (k, (a, b)) in compiled.iter().zip(&one).enumerate() {
        assert_eq!(a.shape(), b.shape(), "op {k}");
        assert!(bits(a) == bits(b), "op {k}: compiled code differs from eager");
    }
    // A few elements on their own (each op on one row, its results below the thresholds).
    let (xs, cs, rs) = (
        args.0.extractdata::<f64>().unwrap(),
        args.1.extractdata::<f64>().unwrap(),
        args.2.extractdata::<f64>().unwrap(),
    );
    for i in [0, 299, 599] {
        let row = DlArray::from(Array2::from_shape_fn((1, 700), |(_, j)| xs[[i, j]]));
        let ci = DlArray::from(Array2::from_elem((1, 1), cs[[i, 0]]));
        let small = wide_ops((row, ci, DlArray::from(rs.clone()))).unwrap();
        for (k, (a, b)) in small.iter().zip(&one).enumerate().take(BY_ROWS) {
            let per_row = bits(b).len() / 600;
            assert_eq!(bits(a), bits(b)[i * per_row..(i + 1) * per_row], "op {k}, row {i}");
        }
    }
}
