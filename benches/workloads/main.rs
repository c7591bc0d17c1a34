//! The benchmark workloads W1 to W7 (docs/PERFORMANCE.md) and the hvp of W2: eager (`dlfeval`), accelerated, and a
//! hand-written Rust gradient where practical. Prints one table of medians, with peak heap
//! memory for W2 at 1e7. Run: `cargo bench --bench workloads` (set `QUICK=1` for a short run);
//! `cargo bench --bench workloads -- GP solves` runs only the rows whose names contain one of
//! the words given (`-- W2 LSE`); `-- loops` runs the control-flow rows (L1 to L3).

mod clustering;
mod conv_model;
mod cross_entropy;
mod external;
mod least_squares;
mod linalg;
mod loops;
mod measure;
mod models;
mod recurrent;
mod transcendentals;

use conv_model::{conv_args, conv_loss_and_grads, ConvArgs};
use cranegrad::prelude::*;
use measure::{median, peak_bytes, show, Counting};
use models::*;
use recurrent::{recurrent_args, recurrent_by_hand, recurrent_loss_and_grads, recurrent_plain, RecurrentArgs};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: Counting = Counting;

/// One line of the table.
pub struct Row {
    pub workload: String,
    pub eager: Option<Duration>,
    pub accelerated: Option<Duration>,
    pub hand: Option<Duration>,
    pub note: String,
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
    let mut rows: Vec<Row> = Vec::new();
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));

    // W1: seed Rosenbrock, value + gradient at [-1, 2].
    if wanted("W1 rosenbrock") {
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
    for &n in sizes.iter().filter(|_| wanted("W2 ext. rosenbrock")) {
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
    if !quick && wanted("W2 ext. rosenbrock") {
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
    for &(b, d, h, c) in shapes.iter().filter(|_| wanted("W3 mlp")) {
        let args = mlp_args(b, d, h, c);
        let af = accelerate(|(p, x, t): MlpArgs| mlp_loss_and_grads(&p, &x, &t));
        af.call(args.clone())?;
        let eager = median(budget, || {
            dlfeval(|(p, x, t): MlpArgs| mlp_loss_and_grads(&p, &x, &t), args.clone()).unwrap();
        });
        let accelerated = median(budget, || {
            af.call(args.clone()).unwrap();
        });
        // By hand: ndarray `dot` and the same formulas, checked against the accelerated result.
        let arr = |a: &DlArray| a.extractdata::<f64>().expect("f64");
        let ((w1, b1, w2, b2), xa, ta) = &args;
        let m2 = |a: &DlArray| arr(a).into_dimensionality::<ndarray::Ix2>().expect("matrix");
        let v1 = |a: &DlArray| arr(a).into_dimensionality::<ndarray::Ix1>().expect("vector");
        let (w1, b1, w2, b2, xa, ta) = (m2(w1), v1(b1), m2(w2), v1(b2), m2(xa), m2(ta));
        let (loss, (dw1, ..)) = mlp_by_hand(&w1, &b1, &w2, &b2, &xa, &ta);
        let (got_loss, (got_dw1, ..)) = af.call(args.clone())?;
        let worst = arr(&got_dw1).iter().zip(dw1.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!((got_loss.to_scalar::<f64>()? - loss).abs() < 1e-12 && worst < 1e-12, "W3 by hand differs: {worst:e}");
        let hand = median(budget, || {
            std::hint::black_box(mlp_by_hand(&w1, &b1, &w2, &b2, &xa, &ta));
        });
        rows.push(Row {
            workload: format!("W3 mlp ({b}, {d}, {h}, {c})"),
            eager: Some(eager),
            accelerated: Some(accelerated),
            hand: Some(hand),
            note: "hand: ndarray dot + the same formulas".into(),
        });
    }

    // W4: second order on W2 (n = 1e5): gradient of sum(grad(x)^2).
    if wanted("W4 d/dx") {
        let x = DlArray::from(ndarray::Array1::from_vec(data(100_000, 3)));
        let af = accelerate(|x: DlArray| gradient_norm_gradient(&x));
        af.call(x.clone())?;
        let eager = median(budget, || {
            dlfeval(|x: DlArray| gradient_norm_gradient(&x), x.clone()).unwrap();
        });
        let accelerated = median(budget, || {
            af.call(x.clone()).unwrap();
        });
        let xs = data(100_000, 3);
        let (mut g, mut out) = (vec![0.0; xs.len()], vec![0.0; xs.len()]);
        gradient_norm_gradient_by_hand(&xs, &mut g, &mut out);
        let got = af.call(x.clone())?.extractdata::<f64>()?;
        let worst = got.iter().zip(&out).map(|(a, b)| (a - b).abs() / (1.0 + b.abs())).fold(0.0, f64::max);
        assert!(worst < 1e-10, "W4 differs from the hand-written 2 H g by {worst:e}");
        let hand = median(budget, || {
            gradient_norm_gradient_by_hand(&xs, &mut g, &mut out);
            std::hint::black_box(&out);
        });
        rows.push(Row {
            workload: "W4 d/dx sum(grad^2), n=1e5".into(),
            eager: Some(eager),
            accelerated: Some(accelerated),
            hand: Some(hand),
            note: "hand: g, then 2 H g (two passes)".into(),
        });
    }

    // hvp of W2 (n = 1e5): Hessian-vector product by forward over reverse (dlhvp), against one
    // accelerated gradient of W2 measured here, in the same run.
    if wanted("W2 hvp") {
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
    if wanted("W5 complex") {
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

    // W6: first call (trace + differentiate + optimize + compile + run), with the median run's
    // phases in the note (`AcceleratedFunction::build_reports`).
    if wanted("W6 first call") {
        let reps = if quick { 3 } else { 7 };
        let first_call = |run: &dyn Fn() -> BuildReport| {
            let mut t: Vec<(Duration, BuildReport)> = (0..reps)
                .map(|_| {
                    let s = Instant::now();
                    let report = run();
                    (s.elapsed(), report)
                })
                .collect();
            t.sort_by_key(|(d, _)| *d);
            t.swap_remove(t.len() / 2)
        };
        let first_report = |af: &dyn Fn() -> Vec<BuildReport>| af().into_iter().next().unwrap_or_default();
        let x0 = DlArray::from(ndarray::array![-1.0, 2.0]);
        let w1 = first_call(&|| {
            let af = accelerate(|x: DlArray| rosenbrock(&x));
            af.call(x0.clone()).unwrap();
            first_report(&|| af.build_reports())
        });
        let x = DlArray::from(ndarray::Array1::from_vec(data(1_000_000, 7)));
        let w2 = first_call(&|| {
            let af = accelerate(|x: DlArray| extended_rosenbrock(&x));
            af.call(x.clone()).unwrap();
            first_report(&|| af.build_reports())
        });
        let args = mlp_args(256, 784, 256, 10);
        let w3 = first_call(&|| {
            let af = accelerate(|(p, x, t): MlpArgs| mlp_loss_and_grads(&p, &x, &t));
            af.call(args.clone()).unwrap();
            first_report(&|| af.build_reports())
        });
        let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e3);
        for (name, (d, r)) in
            [("W6 first call W1", w1), ("W6 first call W2 1e6", w2), ("W6 first call W3 (256, 784)", w3)]
        {
            rows.push(Row {
                workload: name.into(),
                eager: None,
                accelerated: Some(d),
                hand: None,
                note: format!(
                    "ms: trace {} (differentiate {}), optimize {}, compile {}, run {}",
                    ms(r.trace),
                    ms(r.differentiate),
                    ms(r.optimize),
                    ms(r.compile),
                    ms(r.run)
                ),
            });
        }
    }

    // W7: convolutional classifier (issue 5), value + gradients of all parameters.
    if wanted("W7 conv") {
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

    // W8: many tiny fused groups: a two-layer recurrent loss over 256 steps of 14-wide vectors.
    if wanted("W8 recurrent") {
        let steps = 256;
        let args = recurrent_args(steps);
        let af = accelerate(|a: RecurrentArgs| recurrent_loss_and_grads(&a));
        let (loss, grads) = af.call(args.clone())?;
        let (p, xs) = recurrent_plain(&args);
        let (mut h1, mut h2) = (vec![[0.0; 14]; steps + 1], vec![[0.0; 14]; steps + 1]);
        let mut hand_grads = [[[0.0; 14]; 14]; 4];
        let hand_loss = recurrent_by_hand(&p, &xs, &mut h1, &mut h2, &mut hand_grads);
        // The hand-written version computes the same numbers.
        let loss = loss.to_scalar::<f64>()?;
        assert!((loss - hand_loss).abs() <= 1e-9 * hand_loss.abs(), "{loss} vs {hand_loss}");
        for (g, h) in grads.iter().zip(&hand_grads) {
            let g = g.extractdata::<f64>()?;
            for ((i, j), v) in g.into_dimensionality::<ndarray::Ix2>().expect("a matrix").indexed_iter() {
                assert!((v - h[i][j]).abs() <= 1e-9 * (1.0 + h[i][j].abs()), "{v} vs {}", h[i][j]);
            }
        }
        let eager = median(budget, || {
            dlfeval(|a: RecurrentArgs| recurrent_loss_and_grads(&a), args.clone()).unwrap();
        });
        let accelerated = median(budget, || {
            af.call(args.clone()).unwrap();
        });
        let hand = median(budget, || {
            std::hint::black_box(recurrent_by_hand(&p, &xs, &mut h1, &mut h2, &mut hand_grads));
        });
        let report = af.build_reports().remove(0);
        rows.push(Row {
            workload: format!("W8 recurrent loss, {steps} steps of 14"),
            eager: Some(eager),
            accelerated: Some(accelerated),
            hand: Some(hand),
            note: format!("{} kernels; first call {:.0} ms", report.kernels, report.total().as_secs_f64() * 1e3),
        });
    }

    if wanted("LSE log-sum-exp n=1.28e6, value + gradient") {
        let n = 1_280_000;
        let xs: Vec<f64> = data(n, 11).into_iter().map(|v| 4.0 * v).collect();
        let x = DlArray::from(ndarray::Array1::from_vec(xs.clone()));
        let af = accelerate(|x: DlArray| log_sum_exp(&x));
        af.call(x.clone())?;
        let eager = median(budget, || {
            dlfeval(|x: DlArray| log_sum_exp(&x), x.clone()).unwrap();
        });
        let accelerated = median(budget, || {
            af.call(x.clone()).unwrap();
        });
        let mut grad = vec![0.0; n];
        let hand = median(budget, || {
            std::hint::black_box(log_sum_exp_by_hand(&xs, &mut grad));
        });
        rows.push(Row {
            workload: "LSE log-sum-exp n=1.28e6, value + gradient".into(),
            eager: Some(eager),
            accelerated: Some(accelerated),
            hand: Some(hand),
            note: String::new(),
        });
    }
    rows.extend(transcendentals::rows(budget, wanted)?);
    if wanted("external identity") {
        rows.push(external::external_call_row(budget)?);
    }

    // Linear algebra: a Gaussian process's negative log likelihood and its gradient with
    // respect to the kernel's hyperparameters, and many small solves with their gradient.
    for n in [500, 2_000] {
        if wanted(&format!("GP nll + grad (RBF, 3 hyperparameters), n={n}")) {
            rows.push(linalg::gp_row(n, budget)?);
        }
    }
    if wanted("batched 3x3 solves") {
        rows.push(linalg::batched_row(budget)?);
    }
    // Clustering: ADBench's Gaussian mixture objective and the k-means cost, with gradients.
    if wanted("GMM objective + grad (ADBench)") {
        rows.push(clustering::gmm_row(budget)?);
    }
    if wanted("k-means cost + grad") {
        rows.extend(clustering::kmeans_rows(budget)?);
    }
    if wanted("CE softmax cross-entropy of h W + grad, B=512 D=64 C=10000") {
        rows.push(cross_entropy::cross_entropy_row(budget)?);
    }
    if wanted("LS sum((x c' - 1/4)^2), n=10000 K=1000 d=16") {
        rows.push(least_squares::least_squares_row(budget)?);
    }
    // Control flow: `-- loops` (or a row's name) selects them.
    if wanted("loops: L1 saddle point, L1b coupled saddle, L2 RK4 fori_loop, L3 LSTM scan") {
        rows.extend(loops::loop_rows(budget)?);
    }
    print_table(&rows);
    Ok(())
}

/// Prints the rows as one markdown table.
fn print_table(rows: &[Row]) {
    let cell = |d: Option<Duration>| d.map(show).unwrap_or_else(|| "-".into());
    println!();
    println!(
        "| workload | eager (dlfeval) | accelerated | hand-written | eager / accelerated | accelerated / hand | note |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
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
}
