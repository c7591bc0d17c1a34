//! The seed's pictures, drawn with plotters into `target/examples-out/` of this crate (whatever
//! the current directory):
//!
//! - `rosenbrock_quiver.png`: the gradient field of the Rosenbrock function on a 10 x 10 grid
//!   over the unit square, computed in one `dlfeval` call of `rosenbrock2` and drawn as arrows
//!   (MATLAB's `dlgradient` example with `quiver`);
//! - `complex_gradient.png`: `y = real((2+3i) x)` on a 100 x 100 grid of complex `x` over
//!   [-2, 2]^2: its value as a heat map, and its gradient (`2 - 3i` at every point, drawn as
//!   the arrow (2, -3)) on a subsampled grid.
//!
//! ```text
//! cargo run --release --example quiver
//! ```

#[path = "support/fonts.rs"]
mod fonts;
#[path = "support/out.rs"]
mod out;

use cranegrad::prelude::*;
use fonts::register_font;
use ndarray::{Array1, Array2};
use num_complex::Complex64;
use plotters::coord::Shift;
use plotters::prelude::*;

type Plot<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type BoxError = Box<dyn std::error::Error>;

/// MATLAB's `rosenbrock2`: the summed Rosenbrock function of elementwise `x1`, `x2`, and its
/// gradients with respect to both.
fn rosenbrock2(x1: &DlArray, x2: &DlArray) -> Result<(DlArray, DlArray, DlArray)> {
    let y = (100.0 * (x2 - x1.square()).square() + (1.0 - x1).square()).sum_all();
    let (dydx1, dydx2) = dlgradient(&y, (x1, x2))?;
    Ok((y, dydx1, dydx2))
}

/// `sum(real((2+3i) x))` and its gradient with respect to the complex `x`.
fn complex_example(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let y = (Complex64::new(2.0, 3.0) * x).real();
    let dydx = dlgradient(&y.sum_all(), x)?;
    Ok((y, dydx))
}

/// `n` evenly spaced points from `a` to `b` (MATLAB's `linspace`).
fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n).map(|k| a + (b - a) * k as f64 / (n - 1) as f64).collect()
}

/// An arrow from `(x, y)` along `(u, v)`: the shaft and two head strokes, in data coordinates.
fn arrow(x: f64, y: f64, u: f64, v: f64) -> Vec<Vec<(f64, f64)>> {
    let (tx, ty) = (x + u, y + v);
    let head = 0.3;
    let (c, s) = (25f64.to_radians().cos(), 25f64.to_radians().sin());
    let side = |sign: f64| (tx - head * (u * c - sign * v * s), ty - head * (v * c + sign * u * s));
    vec![vec![(x, y), (tx, ty)], vec![side(1.0), (tx, ty), side(-1.0)]]
}

/// Draws arrows `(u, v)` at points `(x, y)`, scaled as MATLAB's `quiver` does so the longest
/// fits in one grid `spacing`, in `color`, over `background` cells, inside a chart over `range` x `range`.
#[allow(clippy::too_many_arguments)]
fn quiver(
    root: &Plot<'_>,
    title: &str,
    axes: (&str, &str),
    labels: bool,
    range: std::ops::Range<f64>,
    points: &[(f64, f64)],
    vectors: &[(f64, f64)],
    spacing: f64,
    color: RGBColor,
    background: Vec<Rectangle<(f64, f64)>>,
) -> std::result::Result<(), BoxError> {
    let mut builder = ChartBuilder::on(root);
    builder.margin(20);
    if labels {
        builder.caption(title, ("sans-serif", 22)).x_label_area_size(40).y_label_area_size(50);
    }
    let mut chart = builder.build_cartesian_2d(range.clone(), range)?;
    chart.draw_series(background)?;
    let mut mesh = chart.configure_mesh();
    mesh.disable_mesh();
    if labels {
        mesh.x_desc(axes.0).y_desc(axes.1);
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw()?;
    let longest = vectors.iter().map(|(u, v)| u.hypot(*v)).fold(0.0, f64::max);
    let scale = if longest > 0.0 { 0.9 * spacing / longest } else { 0.0 };
    let strokes = points.iter().zip(vectors).flat_map(|(&(x, y), &(u, v))| arrow(x, y, scale * u, scale * v));
    chart.draw_series(strokes.map(|s| PathElement::new(s, color.stroke_width(2))))?;
    Ok(())
}

/// The Rosenbrock gradient field on the unit square.
fn rosenbrock_picture(path: &std::path::Path, labels: bool) -> std::result::Result<(), BoxError> {
    let grid = linspace(0.0, 1.0, 10);
    // MATLAB: [X1, X2] = meshgrid(linspace(0, 1, 10)); X1 = dlarray(X1(:)); X2 = dlarray(X2(:))
    let points: Vec<(f64, f64)> = grid.iter().flat_map(|&x2| grid.iter().map(move |&x1| (x1, x2))).collect();
    let x1 = DlArray::from(points.iter().map(|p| p.0).collect::<Array1<f64>>());
    let x2 = DlArray::from(points.iter().map(|p| p.1).collect::<Array1<f64>>());
    let (y, dydx1, dydx2) = dlfeval(|(x1, x2): (DlArray, DlArray)| rosenbrock2(&x1, &x2), (x1, x2))?;
    let (g1, g2) = (dydx1.extractdata::<f64>()?, dydx2.extractdata::<f64>()?);
    let vectors: Vec<(f64, f64)> = g1.iter().zip(g2.iter()).map(|(&u, &v)| (u, v)).collect();
    println!(
        "rosenbrock2 on a 10 x 10 grid: sum = {:.4}, largest gradient {:.1} at {:?}",
        y.to_scalar::<f64>()?,
        vectors.iter().map(|(u, v)| u.hypot(*v)).fold(0.0, f64::max),
        points[vectors
            .iter()
            .enumerate()
            .fold((0, 0.0), |b, (k, (u, v))| if u.hypot(*v) > b.1 { (k, u.hypot(*v)) } else { b })
            .0]
    );
    let root = BitMapBackend::new(path, (700, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    quiver(
        &root,
        "Rosenbrock gradient field",
        ("x1", "x2"),
        labels,
        -0.1..1.2,
        &points,
        &vectors,
        1.0 / 9.0,
        BLUE,
        Vec::new(),
    )?;
    root.present()?;
    println!("wrote {}", out::shown(path));
    Ok(())
}

/// A blue-white-red color for `t` in `[0, 1]`.
fn coolwarm(t: f64) -> RGBColor {
    let (lo, mid, hi) = ((59.0, 76.0, 192.0), (221.0, 221.0, 221.0), (180.0, 4.0, 38.0));
    let t = t.clamp(0.0, 1.0);
    let (a, b, s) = if t < 0.5 { (lo, mid, 2.0 * t) } else { (mid, hi, 2.0 * t - 1.0) };
    let mix = |p: f64, q: f64| (p + (q - p) * s).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The complex example's value as a heat map with its gradient arrows.
fn complex_picture(path: &std::path::Path, labels: bool) -> std::result::Result<(), BoxError> {
    const N: usize = 100;
    let grid = &linspace(-2.0, 2.0, N);
    // row i is the imaginary part grid[i], column j the real part grid[j]
    let x = Array2::from_shape_fn((N, N), |(i, j)| Complex64::new(grid[j], grid[i]));
    let (y, dydx) = dlfeval(|x: DlArray| complex_example(&x), DlArray::from(x))?;
    let (y, dydx) = (y.extractdata::<f64>()?, dydx.extractdata::<Complex64>()?);
    let expected = Complex64::new(2.0, -3.0);
    let worst = dydx.iter().map(|g| (g - expected).norm()).fold(0.0, f64::max);
    if worst > 1e-12 {
        return Err(format!("the gradient should be 2 - 3i everywhere; it is off by up to {worst}").into());
    }
    println!("real((2+3i) x) on a 100 x 100 grid: every gradient is {} (largest deviation {worst:e})", dydx[[0, 0]]);
    let (lo, hi) = y.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let half = (grid[1] - grid[0]) / 2.0;
    let cells: Vec<Rectangle<(f64, f64)>> = (0..N)
        .flat_map(|i| (0..N).map(move |j| (i, j)))
        .map(|(i, j)| {
            let color = coolwarm((y[[i, j]] - lo) / (hi - lo));
            Rectangle::new([(grid[j] - half, grid[i] - half), (grid[j] + half, grid[i] + half)], color.filled())
        })
        .collect();
    // every tenth grid point, starting inside the square
    let picks: Vec<usize> = (5..N).step_by(10).collect();
    let points: Vec<(f64, f64)> = picks.iter().flat_map(|&i| picks.iter().map(move |&j| (grid[j], grid[i]))).collect();
    let vectors: Vec<(f64, f64)> = picks
        .iter()
        .flat_map(|&i| picks.iter().map(move |&j| (i, j)))
        .map(|(i, j)| (dydx[[i, j]].re, dydx[[i, j]].im))
        .collect();
    let root = BitMapBackend::new(path, (700, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let spacing = grid[10] - grid[0];
    quiver(
        &root,
        "y = real((2+3i) x) and its gradient 2 - 3i (complex plane)",
        ("real part", "imaginary part"),
        labels,
        -2.15..2.15,
        &points,
        &vectors,
        spacing,
        BLACK,
        cells,
    )?;
    root.present()?;
    println!("wrote {}", out::shown(path));
    Ok(())
}

fn main() -> std::result::Result<(), BoxError> {
    let labels = register_font();
    if !labels {
        println!("no font found: the pictures have no text");
    }
    rosenbrock_picture(&out::out_path("rosenbrock_quiver.png")?, labels)?;
    complex_picture(&out::out_path("complex_gradient.png")?, labels)?;
    Ok(())
}
