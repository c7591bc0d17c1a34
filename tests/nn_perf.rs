//! Timing of the two convolution strategies in the interpreter (ignored by default; run with
//! `cargo test --test nn_perf -- --ignored --nocapture`). Both give the same values (checked
//! in `nn_semantics`); this prints forward and forward-plus-gradient times.

use cranegrad::internals::dlconv_shifted;
use cranegrad::prelude::*;
use ndarray::{ArrayD, IxDyn};
use std::time::Instant;

fn rand(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    })
}

type Conv = fn(&DlArray, &DlArray, &DlArray, &ConvOptions) -> DlArray;

fn time(name: &str, conv: Conv, x: &DlArray, w: &DlArray, b: &DlArray, opts: &ConvOptions, reps: usize) {
    let start = Instant::now();
    for _ in 0..reps {
        assert!(conv(x, w, b, opts).data().is_ok());
    }
    let forward = start.elapsed().as_secs_f64() / reps as f64;
    let start = Instant::now();
    for _ in 0..reps {
        let g = dlfeval(
            |(x, w): (DlArray, DlArray)| dlgradient(&conv(&x, &w, b, opts).square().sum_all(), (&x, &w)),
            (x.clone(), w.clone()),
        );
        assert!(g.is_ok());
    }
    let both = start.elapsed().as_secs_f64() / reps as f64;
    println!("{name:>16}: forward {:8.2} ms, forward + gradient {:8.2} ms", forward * 1e3, both * 1e3);
}

#[test]
#[ignore]
fn conv_im2col_versus_shifted_slices() {
    for (n, cin, hw, cout, k) in [(8, 3, 32, 16, 3), (8, 16, 16, 32, 3), (4, 32, 8, 64, 5), (16, 8, 28, 8, 1)] {
        let x = DlArray::from(rand(&[n, cin, hw, hw], 1));
        let w = DlArray::from(rand(&[cout, cin, k, k], 2));
        let b = DlArray::from(rand(&[cout], 3));
        let opts = ConvOptions::default().padding(&[k / 2]);
        println!("x [{n}, {cin}, {hw}, {hw}], w [{cout}, {cin}, {k}, {k}]");
        time("im2col", dlconv, &x, &w, &b, &opts, 5);
        time("shifted slices", dlconv_shifted, &x, &w, &b, &opts, 5);
    }
}

#[test]
#[ignore]
fn trace_sizes_and_times_of_the_recurrent_layers() {
    let (n, t, c, h) = (8, 20, 16, 32);
    let x = DlArray::from(rand(&[n, t, c], 1));
    let h0 = DlArray::from(rand(&[n, h], 2));
    let (w, r, b) =
        (DlArray::from(rand(&[4 * h, c], 3)), DlArray::from(rand(&[4 * h, h], 4)), DlArray::from(rand(&[4 * h], 5)));
    let f = |w: DlArray| -> Result<DlArray> {
        let (y, _, _) = lstm(&x, &h0, &h0, &w, &r, &b);
        dlgradient(&y.square().sum_all(), &w)
    };
    let ir = make_ir(f, w.clone()).unwrap();
    let start = Instant::now();
    dlfeval(f, w.clone()).unwrap();
    println!(
        "lstm x [{n}, {t}, {c}], H = {h}: {} IR lines (forward + gradient), dlfeval {:.2} ms",
        ir.lines().count(),
        start.elapsed().as_secs_f64() * 1e3
    );
}
