//! The benchmark workloads W1 to W7 of DESIGN.md and the hvp of W2: eager (`dlfeval`), accelerated, and a
//! hand-written Rust gradient where practical. Prints one table of medians, with peak heap
//! memory for W2 at 1e7. Run: `cargo bench --bench workloads` (set `QUICK=1` for a short run).

mod conv_model;
mod measure;
mod models;

use conv_model::{conv_args, conv_loss_and_grads, ConvArgs};
use cranegrad::prelude::*;
use measure::{median, peak_bytes, show, Counting};
use models::*;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: Counting = Counting;

struct Row {
    workload: String,
    eager: Option<Duration>,
    accelerated: Option<Duration>,
    hand: Option<Duration>,
    note: String,
}

fn ratio(a: Option<Duration>, b: Option<Duration>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64()),
        _ => "-".into(),
    }
}

fn main() -> Result<()> {
    let quick = std::env::var("QUICK").is_ok();
    let budget = Duration::from_millis(if quick { 150 } else { 1500 });
    let cell = |d: Option<Duration>| d.map(show).unwrap_or_else(|| "-".into());
    let mut rows: Vec<Row> = Vec::new();

    // W1: seed Rosenbrock, value + gradient at [-1, 2].
    {
        let x0 = DlArray::from(ndarray::array![-1.0, 2.0]);
        let af = accelerate(|x: DlArray| rosenbrock(&x));
        af.call(x0.clone())?;
        let eager = median(budget, || {
            dlfeval(|x: DlArray| rosenbrock(&x), x0.clone()).unwrap();
        });
        let accelerated = median(budget, || {
            af.call(x0.clone()).unwrap();
        });
        let hand = median(budget, || {
            std::hint::black_box(rosenbrock_by_hand(std::hint::black_box(&[-1.0, 2.0])));
        });
        rows.push(Row {
            workload: "W1 rosenbrock [-1, 2]".into(),
            eager: Some(eager),
            accelerated: Some(accelerated),
            hand: Some(hand),
            note: String::new(),
        });
    }

    // W2: extended Rosenbrock value + gradient.
    let sizes: &[usize] = if quick { &[1_000, 100_000] } else { &[1_000, 100_000, 1_000_000, 10_000_000] };
    for &n in sizes {
        let xs = data(n, 7);
        let x = DlArray::from(ndarray::Array1::from_vec(xs.clone()));
        let af = accelerate(|x: DlArray| extended_rosenbrock(&x));
        af.call(x.clone())?;
        let b = if n >= 10_000_000 { budget.max(Duration::from_secs(3)) } else { budget };
        let eager = median(b, || {
            dlfeval(|x: DlArray| extended_rosenbrock(&x), x.clone()).unwrap();
        });
        let accelerated = median(b, || {
            af.call(x.clone()).unwrap();
        });
        let mut grad = vec![0.0; n];
        let hand = median(b, || {
            std::hint::black_box(extended_rosenbrock_by_hand(&xs, &mut grad));
        });
        let mut note = String::new();
        if n == 10_000_000 {
            let mb = |b: usize| b as f64 / (1 << 20) as f64;
            let pe = peak_bytes(|| {
                dlfeval(|x: DlArray| extended_rosenbrock(&x), x.clone()).unwrap();
            });
            let pa = peak_bytes(|| {
                af.call(x.clone()).unwrap();
            });
            let ph = peak_bytes(|| {
                let mut g = vec![0.0; n];
                std::hint::black_box(extended_rosenbrock_by_hand(&xs, &mut g));
            });
            note = format!("peak heap: eager {:.0} MiB, accelerated {:.0} MiB, hand {:.0} MiB", mb(pe), mb(pa), mb(ph));
        }
        rows.push(Row {
            workload: format!("W2 ext. rosenbrock n={n:e} f64"),
            eager: Some(eager),
            accelerated: Some(accelerated),
            hand: Some(hand),
            note,
        });
    }
    if !quick {
        let n = 1_000_000;
        let xs: Vec<f32> = data(n, 7).into_iter().map(|v| v as f32).collect();
        let x = DlArray::from(ndarray::Array1::from_vec(xs.clone()));
        let af = accelerate(|x: DlArray| extended_rosenbrock(&x));
        af.call(x.clone())?;
        let eager = median(budget, || {
            dlfeval(|x: DlArray| extended_rosenbrock(&x), x.clone()).unwrap();
        });
        let accelerated = median(budget, || {
            af.call(x.clone()).unwrap();
        });
        let mut grad = vec![0.0f32; n];
        let hand = median(budget, || {
            std::hint::black_box(extended_rosenbrock_by_hand_f32(&xs, &mut grad));
        });
        let f64_time = rows.iter().find(|r| r.workload == "W2 ext. rosenbrock n=1e6 f64").and_then(|r| r.accelerated);
        rows.push(Row {
            workload: "W2 ext. rosenbrock n=1e6 f32".into(),
            eager: Some(eager),
            accelerated: Some(accelerated),
            hand: Some(hand),
            note: match f64_time {
                Some(t) => {
                    format!("accelerated f32 / accelerated f64 = {:.2}x", accelerated.as_secs_f64() / t.as_secs_f64())
                }
                None => String::new(),
            },
        });
    }

    // W3: two-layer MLP, log-softmax cross-entropy, value + gradients.
    let shapes: &[(usize, usize, usize, usize)] =
        if quick { &[(128, 64, 128, 10)] } else { &[(128, 64, 128, 10), (256, 784, 256, 10)] };
    for &(b, d, h, c) in shapes {
        let args = mlp_args(b, d, h, c);
        let af = accelerate(|(p, x, t): MlpArgs| mlp_loss_and_grads(&p, &x, &t));
        af.call(args.clone())?;
        let eager = median(budget, || {
            dlfeval(|(p, x, t): MlpArgs| mlp_loss_and_grads(&p, &x, &t), args.clone()).unwrap();
        });
        let accelerated = median(budget, || {
            af.call(args.clone()).unwrap();
        });
        rows.push(Row {
            workload: format!("W3 mlp ({b}, {d}, {h}, {c})"),
            eager: Some(eager),
            accelerated: Some(accelerated),
            hand: None,
            note: String::new(),
        });
    }

    // W4: second order on W2 (n = 1e5): gradient of sum(grad(x)^2).
    {
        let x = DlArray::from(ndarray::Array1::from_vec(data(100_000, 3)));
        let af = accelerate(|x: DlArray| gradient_norm_gradient(&x));
        af.call(x.clone())?;
        let eager = median(budget, || {
            dlfeval(|x: DlArray| gradient_norm_gradient(&x), x.clone()).unwrap();
        });
        let accelerated = median(budget, || {
            af.call(x.clone()).unwrap();
        });
        rows.push(Row {
            workload: "W4 d/dx sum(grad^2), n=1e5".into(),
            eager: Some(eager),
            accelerated: Some(accelerated),
            hand: None,
            note: String::new(),
        });
    }

    // hvp of W2 (n = 1e5): Hessian-vector product by forward over reverse (dlhvp), against one
    // accelerated gradient of W2 measured here, in the same run.
    {
        let n = 100_000;
        let (xs, vs) = (data(n, 3), data(n, 11));
        let x = DlArray::from(ndarray::Array1::from_vec(xs.clone()));
        let v = DlArray::from(ndarray::Array1::from_vec(vs.clone()));
        let af = accelerate(|(x, v): (DlArray, DlArray)| extended_rosenbrock_hvp(&x, &v));
        let got = af.call((x.clone(), v.clone()))?.extractdata::<f64>()?;
        let mut hv = vec![0.0; n];
        extended_rosenbrock_hvp_by_hand(&xs, &vs, &mut hv);
        let worst = got.iter().zip(&hv).map(|(a, b)| (a - b).abs() / (1.0 + b.abs())).fold(0.0, f64::max);
        assert!(worst < 1e-12, "hvp of W2 differs from the hand-written one by {worst:e}");
        let eager = median(budget, || {
            dlfeval(|(x, v): (DlArray, DlArray)| extended_rosenbrock_hvp(&x, &v), (x.clone(), v.clone())).unwrap();
        });
        let accelerated = median(budget, || {
            af.call((x.clone(), v.clone())).unwrap();
        });
        let hand = median(budget, || {
            extended_rosenbrock_hvp_by_hand(&xs, &vs, &mut hv);
            std::hint::black_box(&hv);
        });
        let grad = accelerate(|x: DlArray| extended_rosenbrock(&x));
        grad.call(x.clone())?;
        let one_gradient = median(budget, || {
            grad.call(x.clone()).unwrap();
        });
        rows.push(Row {
            workload: "W2 hvp n=1e5 (dlhvp)".into(),
            eager: Some(eager),
            accelerated: Some(accelerated),
            hand: Some(hand),
            note: format!(
                "accelerated hvp / accelerated gradient ({}) = {:.2}x",
                show(one_gradient),
                accelerated.as_secs_f64() / one_gradient.as_secs_f64()
            ),
        });
    }

    // W5: the seed's complex example on a 100 x 100 grid.
    {
        let z = complex_grid(100);
        let af = accelerate(|z: DlArray| complex_gradient(&z));
        af.call(z.clone())?;
        let eager = median(budget, || {
            dlfeval(|z: DlArray| complex_gradient(&z), z.clone()).unwrap();
        });
        let accelerated = median(budget, || {
            af.call(z.clone()).unwrap();
        });
        let zs: Vec<num_complex::Complex64> = z.extractdata::<num_complex::Complex64>()?.iter().copied().collect();
        let hand = median(budget, || {
            std::hint::black_box(complex_gradient_by_hand(std::hint::black_box(&zs)));
        });
        rows.push(Row {
            workload: "W5 complex gradient 100x100".into(),
            eager: Some(eager),
            accelerated: Some(accelerated),
            hand: Some(hand),
            note: String::new(),
        });
    }

    // W6: first call (trace + differentiate + optimize + compile).
    {
        let reps = if quick { 3 } else { 7 };
        let first_call = |run: &dyn Fn()| {
            let mut t: Vec<Duration> = (0..reps)
                .map(|_| {
                    let s = Instant::now();
                    run();
                    s.elapsed()
                })
                .collect();
            t.sort();
            t[t.len() / 2]
        };
        let x0 = DlArray::from(ndarray::array![-1.0, 2.0]);
        let w1 = first_call(&|| {
            accelerate(|x: DlArray| rosenbrock(&x)).call(x0.clone()).unwrap();
        });
        let x = DlArray::from(ndarray::Array1::from_vec(data(1_000_000, 7)));
        let w2 = first_call(&|| {
            accelerate(|x: DlArray| extended_rosenbrock(&x)).call(x.clone()).unwrap();
        });
        let args = mlp_args(256, 784, 256, 10);
        let w3 = first_call(&|| {
            accelerate(|(p, x, t): MlpArgs| mlp_loss_and_grads(&p, &x, &t)).call(args.clone()).unwrap();
        });
        for (name, d) in [("W6 first call W1", w1), ("W6 first call W2 1e6", w2), ("W6 first call W3 (256, 784)", w3)] {
            rows.push(Row {
                workload: name.into(),
                eager: None,
                accelerated: Some(d),
                hand: None,
                note: String::new(),
            });
        }
    }

    // W7: convolutional classifier (issue 5), value + gradients of all parameters.
    {
        let args = conv_args(32, 28, 28);
        let af = accelerate(|(p, x, t): ConvArgs| conv_loss_and_grads(&p, &x, &t));
        af.call(args.clone())?;
        let eager = median(budget, || {
            dlfeval(|(p, x, t): ConvArgs| conv_loss_and_grads(&p, &x, &t), args.clone()).unwrap();
        });
        let accelerated = median(budget, || {
            af.call(args.clone()).unwrap();
        });
        rows.push(Row {
            workload: "W7 conv net (32, 1, 28, 28)".into(),
            eager: Some(eager),
            accelerated: Some(accelerated),
            hand: None,
            note: String::new(),
        });
    }

    println!();
    println!(
        "| workload | eager (dlfeval) | accelerated | hand-written | eager / accelerated | accelerated / hand | note |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.workload,
            cell(r.eager),
            cell(r.accelerated),
            cell(r.hand),
            ratio(r.eager, r.accelerated),
            ratio(r.accelerated, r.hand),
            r.note
        );
    }
    Ok(())
}
