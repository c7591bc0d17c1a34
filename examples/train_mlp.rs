//! A custom training loop, MATLAB style: a two-layer perceptron classifies the iris flowers
//! (the data ships inside the `linfa-datasets` crate, nothing is downloaded).
//!
//! The parameters live in a [`ParamTable`]; `model_loss` computes the loss and its gradients,
//! wrapped once in `accelerate` (traced once per batch shape, then served from the cache);
//! Adam updates the table. A progress bar shows the loss; at the end the example prints the
//! time per epoch, accelerated and un-accelerated (the same loop under `dlfeval`),
//! writes the loss curve to `iris_loss.png` and the trained parameters to
//! `iris_mlp.safetensors` in `target/examples-out/` of this crate (whatever the current
//! directory), and prints the test accuracy (of the parameters read back from that file) as
//! its last line.
//!
//! ```text
//! cargo run --release --example train_mlp
//! ```

#[path = "support/fonts.rs"]
mod fonts;
#[path = "support/out.rs"]
mod out;

use cranegrad::prelude::*;
use fonts::register_font;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array1, Array2};
use out::{out_path, shown};
use plotters::prelude::*;
use std::path::Path;
use std::time::Instant;

const HIDDEN: usize = 16;
const CLASSES: usize = 3;
const EPOCHS: usize = 150;
const BATCH: usize = 16;
const LEARN_RATE: f64 = 0.01;
const LOSS_PNG: &str = "iris_loss.png";
const PARAMS_FILE: &str = "iris_mlp.safetensors";

/// The network: fullyconnect, tanh, fullyconnect, softmax.
fn model(params: &ParamTable, x: &DlArray) -> Result<DlArray> {
    let get = |layer: &str, parameter: &str| {
        params
            .get(layer, parameter)
            .ok_or_else(|| Error::Argument { op: "model".into(), detail: format!("no parameter {layer}/{parameter}") })
    };
    let h = fullyconnect(x, get("fc1", "Weights")?, get("fc1", "Bias")?).tanh();
    Ok(softmax(&fullyconnect(&h, get("fc2", "Weights")?, get("fc2", "Bias")?), 1))
}

/// The loss and its gradients with respect to every parameter (call it under `dlfeval`, or
/// wrap it in `accelerate`).
fn model_loss(params: &ParamTable, x: &DlArray, t: &DlArray) -> Result<(DlArray, ParamTable)> {
    let loss = crossentropy(&model(params, x)?, t);
    let grads = dlgradient(&loss, params)?;
    Ok((loss, grads))
}

/// A small deterministic generator (xorshift64*), so runs are reproducible without a crate.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next_f64() * n as f64) as usize).min(n - 1)
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
    /// Uniform in `[-limit, limit]`.
    fn uniform(&mut self, shape: (usize, usize), limit: f64) -> Array2<f64> {
        Array2::from_shape_fn(shape, |_| (2.0 * self.next_f64() - 1.0) * limit)
    }
}

/// Glorot-uniform weights and zero biases.
fn init_params(features: usize, rng: &mut Rng) -> ParamTable {
    let glorot = |fan_in: usize, fan_out: usize| (6.0 / (fan_in + fan_out) as f64).sqrt();
    let mut p = ParamTable::new();
    p.push("fc1", "Weights", DlArray::from(rng.uniform((HIDDEN, features), glorot(features, HIDDEN))));
    p.push("fc1", "Bias", DlArray::from(Array1::<f64>::zeros(HIDDEN)));
    p.push("fc2", "Weights", DlArray::from(rng.uniform((CLASSES, HIDDEN), glorot(HIDDEN, CLASSES))));
    p.push("fc2", "Bias", DlArray::from(Array1::<f64>::zeros(CLASSES)));
    p
}

/// Features `[N, 4]` (standardized with the training statistics) and one-hot targets `[N, 3]`.
struct Split {
    x: Array2<f64>,
    t: Array2<f64>,
    labels: Vec<usize>,
}

/// Iris, split deterministically: every fifth flower of each class is a test flower (30), the
/// rest train (120).
fn load_iris() -> (Split, Split) {
    let iris = linfa_datasets::iris();
    let (n, d) = (iris.records.nrows(), iris.records.ncols());
    let features: Vec<f64> = iris.records.iter().copied().collect();
    let labels: Vec<usize> = iris.targets.iter().copied().collect();
    let x = Array2::from_shape_vec((n, d), features).expect("iris records are n x d");
    let (test, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|i| i % 5 == 0);
    let mean = x.select(ndarray::Axis(0), &train).mean_axis(ndarray::Axis(0)).expect("train is not empty");
    let std = x.select(ndarray::Axis(0), &train).std_axis(ndarray::Axis(0), 0.0);
    let make = |rows: &[usize]| {
        let x = (&x.select(ndarray::Axis(0), rows) - &mean) / &std;
        let labels: Vec<usize> = rows.iter().map(|&i| labels[i]).collect();
        let t = Array2::from_shape_fn((rows.len(), CLASSES), |(i, c)| (labels[i] == c) as u8 as f64);
        Split { x, t, labels }
    };
    (make(&train), make(&test))
}

/// The fraction of rows whose most probable class is the label.
fn accuracy(params: &ParamTable, split: &Split) -> Result<f64> {
    let p = model(params, &DlArray::from(split.x.clone()))?.extractdata::<f64>()?;
    let correct = p
        .outer_iter()
        .zip(&split.labels)
        .filter(|(row, &label)| {
            let best = row.iter().enumerate().fold((0, f64::MIN), |b, (c, &v)| if v > b.1 { (c, v) } else { b });
            best.0 == label
        })
        .count();
    Ok(correct as f64 / split.labels.len() as f64)
}

/// Draws the per-epoch training loss to `path`.
fn plot_loss(path: &Path, losses: &[f64]) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let labels = register_font();
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let top = losses.iter().copied().fold(0.0, f64::max) * 1.05;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(20);
    if labels {
        builder
            .caption("iris MLP: training loss per epoch", ("sans-serif", 22))
            .x_label_area_size(40)
            .y_label_area_size(50);
    }
    let mut chart = builder.build_cartesian_2d(0..losses.len(), 0.0..top)?;
    let mut mesh = chart.configure_mesh();
    if labels {
        mesh.x_desc("epoch").y_desc("cross-entropy");
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw()?;
    chart.draw_series(LineSeries::new(losses.iter().enumerate().map(|(k, &l)| (k, l)), BLUE.stroke_width(2)))?;
    root.present()?;
    Ok(())
}

type LossFn<'a> = dyn Fn(&ParamTable, DlArray, DlArray) -> Result<(DlArray, ParamTable)> + 'a;

/// Trains from `params` with Adam; the per-epoch losses and the wall time.
fn train(
    mut params: ParamTable,
    data: &Split,
    loss_and_grads: &LossFn<'_>,
    bar: Option<&ProgressBar>,
) -> Result<(ParamTable, Vec<f64>, std::time::Duration)> {
    let mut rng = Rng(0x0bad_cafe_f00d_0001);
    let mut adam = AdamState::default();
    let options = AdamOptions { learn_rate: LEARN_RATE, ..AdamOptions::default() };
    let mut order: Vec<usize> = (0..data.labels.len()).collect();
    let (mut iteration, mut losses) = (0, Vec::with_capacity(EPOCHS));
    let start = Instant::now();
    for _epoch in 0..EPOCHS {
        rng.shuffle(&mut order);
        let mut epoch_loss = 0.0;
        for batch in order.chunks(BATCH) {
            let x = DlArray::from(data.x.select(ndarray::Axis(0), batch));
            let t = DlArray::from(data.t.select(ndarray::Axis(0), batch));
            let (loss, grads) = loss_and_grads(&params, x, t)?;
            iteration += 1;
            params = adamupdate(&params, &grads, &mut adam, iteration, &options)?;
            epoch_loss += loss.to_scalar::<f64>()? * batch.len() as f64;
        }
        let epoch_loss = epoch_loss / order.len() as f64;
        losses.push(epoch_loss);
        if let Some(bar) = bar {
            bar.set_message(format!("loss {epoch_loss:.4}"));
            bar.inc(1);
        }
    }
    Ok((params, losses, start.elapsed()))
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let (train_split, test) = load_iris();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let initial = init_params(train_split.x.ncols(), &mut rng);
    println!(
        "iris: {} training and {} test flowers, {} features; MLP {} -> {HIDDEN} -> {CLASSES}, Adam (learn rate {LEARN_RATE})",
        train_split.labels.len(),
        test.labels.len(),
        train_split.x.ncols(),
        train_split.x.ncols(),
    );

    // The loss and gradients, accelerated: traced once per batch shape, then cached.
    let accelerated = accelerate(|(p, x, t): (ParamTable, DlArray, DlArray)| model_loss(&p, &x, &t));
    let bar = ProgressBar::new(EPOCHS as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} epoch {pos}/{len} {msg} [{elapsed}]")?);
    let (params, losses, elapsed) =
        train(initial.clone(), &train_split, &|p, x, t| accelerated.call((p.clone(), x, t)), Some(&bar))?;
    bar.finish();

    // The same loop un-accelerated, for the timing comparison.
    let eager = |p: &ParamTable, x: DlArray, t: DlArray| {
        dlfeval(|(p, x, t): (ParamTable, DlArray, DlArray)| model_loss(&p, &x, &t), (p.clone(), x, t))
    };
    let (eager_params, _, eager_elapsed) = train(initial, &train_split, &eager, None)?;

    let per_epoch = |d: std::time::Duration| d.as_secs_f64() * 1e3 / EPOCHS as f64;
    println!("final training loss: {:.4}", losses.last().copied().unwrap_or(f64::NAN));
    println!("training accuracy: {:.3}", accuracy(&params, &train_split)?);
    println!(
        "time per epoch: accelerated {:.3} ms, un-accelerated {:.3} ms ({:.1}x; cache hit rate {:.1}%)",
        per_epoch(elapsed),
        per_epoch(eager_elapsed),
        eager_elapsed.as_secs_f64() / elapsed.as_secs_f64(),
        accelerated.hit_rate()
    );
    println!(
        "un-accelerated training reaches training accuracy {:.3} (same loop, same start)",
        accuracy(&eager_params, &train_split)?
    );
    let loss_png = out_path(LOSS_PNG)?;
    plot_loss(&loss_png, &losses)?;
    println!("loss curve written to {}", shown(&loss_png));
    let params_file = out_path(PARAMS_FILE)?;
    params.save(&params_file)?;
    let reloaded = ParamTable::load(&params_file)?;
    println!("parameters written to {} and read back for the test", shown(&params_file));
    println!("test accuracy: {:.3}", accuracy(&reloaded, &test)?);
    Ok(())
}
