//! Quick, noise-robust W2 timing (minimum of many runs): jit vs hand-written.
use cranegrad::array::Data;
use cranegrad::prelude::*;
use ndarray::{s, ArrayD, IxDyn};
use std::sync::Arc;
use std::time::Instant;

fn hand(x: &[f64]) -> (f64, Vec<f64>) {
    let n = x.len();
    let mut g = vec![0.0; n];
    let mut f = 0.0;
    for i in 0..n - 1 {
        let (xi, xj) = (x[i], x[i + 1]);
        let t = xj - xi * xi;
        let u = 1.0 - xi;
        f += 100.0 * t * t + u * u;
        g[i] += -400.0 * t * xi - 2.0 * u;
        g[i + 1] += 200.0 * t;
    }
    (f, g)
}

fn main() {
    for n in [100_000usize, 1_000_000] {
        let xv: Vec<f64> = (0..n).map(|i| ((i * 37 % 101) as f64 / 50.0) - 1.0).collect();
        let g = cranegrad::trace_graph(
            |x: DlArray| {
                let a = x.slice(s![1..]);
                let b = x.slice(s![..-1]);
                let y = (100.0 * (a - b.square()).square() + (1.0 - x.slice(s![..-1])).square()).sum_all();
                let gr = dlgradient(&y, &x)?;
                Ok((y, gr))
            },
            DlArray::from(ndarray::Array1::from(xv.clone())),
        )
        .unwrap();
        let c = cranegrad::jit::compile(&g).unwrap();
        let input = vec![Arc::new(Data::F64(ArrayD::from_shape_vec(IxDyn(&[n]), xv.clone()).unwrap()))];
        let med = |f: &mut dyn FnMut()| {
            let mut v: Vec<f64> = (0..101)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64()
                })
                .collect();
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            (v[0], v[50])
        };
        let (jmin, jmed) = med(&mut || {
            std::hint::black_box(c.run(&input).unwrap());
        });
        let (hmin, hmed) = med(&mut || {
            std::hint::black_box(hand(std::hint::black_box(&xv)));
        });
        println!(
            "n={n}: jit min {:.3} med {:.3} ms; hand min {:.3} med {:.3} ms; median ratio {:.2} ({} kernels)",
            jmin * 1e3, jmed * 1e3, hmin * 1e3, hmed * 1e3, jmed / hmed, c.loop_count()
        );
    }
}
