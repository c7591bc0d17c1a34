//! No depth of graph overflows the stack: a 100,000-node chain and a 100,000-wide fan-in go
//! through `dlfeval`, `dlgradient` (first and second order), `make_ir` and `accelerate` (trace,
//! optimize, plan, compile, run, dump) on a thread with a 256 KiB stack.

use cranegrad::prelude::*;
use ndarray::Array1;

const STACK: usize = 256 * 1024;
const DEPTH: usize = 100_000;

/// Runs `f` on a thread with a small stack; a stack overflow aborts the test process.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(STACK).spawn(f).expect("spawn").join().expect("no panic")
}

/// `y = sin(0.5 y + 0.25)`, `depth` times: three nodes per step.
fn chain(x: &DlArray, steps: usize) -> DlArray {
    let mut y = x.clone();
    for _ in 0..steps {
        y = (0.5 * &y + 0.25).sin();
    }
    y.sum_all()
}

/// The same chain on plain floats: the reference value and derivative.
fn chain_by_hand(x: f64, steps: usize) -> (f64, f64) {
    let (mut y, mut dy) = (x, 1.0);
    for _ in 0..steps {
        let u = 0.5 * y + 0.25;
        dy *= 0.5 * u.cos();
        y = u.sin();
    }
    (y, dy)
}

fn x0() -> DlArray {
    DlArray::from(Array1::from(vec![0.3, -0.7]))
}

#[test]
fn a_long_chain_through_dlfeval_first_and_second_order() {
    let steps = DEPTH / 3;
    let (y, g, h) = on_small_stack(move || {
        dlfeval(
            |x: DlArray| {
                let y = chain(&x, steps);
                let g = dlgradient_with(
                    &y,
                    &x,
                    GradOptions { enable_higher_derivatives: Some(true), ..GradOptions::default() },
                )?;
                let h = dlgradient(&g.sum_all(), &x)?;
                Ok((y, g, h))
            },
            x0(),
        )
        .unwrap()
    });
    let (y0, d0) = chain_by_hand(0.3, steps);
    let (y1, d1) = chain_by_hand(-0.7, steps);
    assert!((y.to_scalar::<f64>().unwrap() - (y0 + y1)).abs() < 1e-12);
    let g = g.extractdata::<f64>().unwrap();
    assert!((g[0] - d0).abs() < 1e-12 && (g[1] - d1).abs() < 1e-12, "{g}");
    assert!(h.extractdata::<f64>().unwrap().iter().all(|v| v.is_finite()));
}

#[test]
fn a_long_chain_through_accelerate_and_the_dumps() {
    let steps = DEPTH / 3;
    on_small_stack(move || {
        let af = accelerate(move |x: DlArray| {
            let y = chain(&x, steps);
            let g = dlgradient(&y, &x)?;
            Ok((y, g))
        });
        let first = af.call(x0()).unwrap();
        let hit = af.call(x0()).unwrap();
        let (y0, d0) = chain_by_hand(0.3, steps);
        let (y1, d1) = chain_by_hand(-0.7, steps);
        for (y, g) in [first, hit] {
            assert!((y.to_scalar::<f64>().unwrap() - (y0 + y1)).abs() < 1e-12);
            let g = g.extractdata::<f64>().unwrap();
            assert!((g[0] - d0).abs() < 1e-12 && (g[1] - d1).abs() < 1e-12, "{g}");
        }
        assert_eq!(af.hit_rate(), 50.0);
        assert!(af.ir_dump().lines().count() > steps);
        assert!(af.ir_dump_dot().contains("digraph"));
        let ir = make_ir(|x: DlArray| Ok(chain(&x, steps)), x0()).unwrap();
        assert!(ir.lines().count() > DEPTH);
    });
}

#[test]
fn a_long_chain_of_second_order_through_accelerate() {
    let steps = DEPTH / 3;
    on_small_stack(move || {
        let af = accelerate(move |x: DlArray| {
            let g = dlgradient(&chain(&x, steps), &x)?;
            dlgradient(&g.square().sum_all(), &x)
        });
        let h = af.call(x0()).unwrap();
        let again = af.call(x0()).unwrap();
        let h = h.extractdata::<f64>().unwrap();
        assert!(h.iter().all(|v| v.is_finite()));
        assert_eq!(h, again.extractdata::<f64>().unwrap());
    });
}

/// `sum_i x[i % n] * c_i` as a 100,000-input concatenation: one node with a huge fan-in.
fn fan_in(x: &DlArray, width: usize) -> DlArray {
    let n = x.numel();
    let parts: Vec<DlArray> = (0..width).map(|i| x.slice(ndarray::s![i % n..i % n + 1]) * (i % 7) as f64).collect();
    let refs: Vec<&DlArray> = parts.iter().collect();
    concat(&refs, 0).square().sum_all()
}

#[test]
fn a_wide_fan_in_through_dlfeval_and_accelerate() {
    on_small_stack(move || {
        let width = DEPTH;
        let want = {
            let (mut y, mut g) = (0.0, [0.0, 0.0]);
            for i in 0..width {
                let (xi, c) = ([0.3, -0.7][i % 2], (i % 7) as f64);
                y += (xi * c) * (xi * c);
                g[i % 2] += 2.0 * xi * c * c;
            }
            (y, g)
        };
        let f = move |x: DlArray| {
            let y = fan_in(&x, width);
            let g = dlgradient(&y, &x)?;
            Ok((y, g))
        };
        let (y, g) = dlfeval(f, x0()).unwrap();
        let af = accelerate(f);
        let (ya, ga) = af.call(x0()).unwrap();
        for (y, g) in [(y, g), (ya, ga)] {
            assert!((y.to_scalar::<f64>().unwrap() - want.0).abs() < 1e-9 * want.0);
            let g = g.extractdata::<f64>().unwrap();
            assert!((g[0] - want.1[0]).abs() < 1e-9 * want.1[0].abs(), "{g}");
            assert!((g[1] - want.1[1]).abs() < 1e-9 * want.1[1].abs(), "{g}");
        }
    });
}
