//! W8: a two-layer tanh recurrent loss on 14-wide vectors unrolled over many time steps, with
//! its gradient (thousands of tiny fused groups), and the same by hand in plain Rust loops
//! (forward, then backpropagation through time).

use cranegrad::prelude::*;
use ndarray::{s, Array2};

/// Width of the state and input vectors.
pub const WIDTH: usize = 14;

/// Parameters `[w1, u1, w2, u2]` (each `[14, 14]`) and inputs `[steps, 14]`.
pub type RecurrentArgs = (Vec<DlArray>, DlArray);

/// Deterministic parameters and inputs.
pub fn recurrent_args(steps: usize) -> RecurrentArgs {
    let p = (0..4)
        .map(|k| {
            DlArray::from(Array2::from_shape_fn((WIDTH, WIDTH), |(i, j)| {
                ((i * 7 + j * 3 + k) % 11) as f64 * 0.02 - 0.1
            }))
        })
        .collect();
    let xs = DlArray::from(Array2::from_shape_fn((steps, WIDTH), |(i, j)| ((i + j) % 5) as f64 * 0.1));
    (p, xs)
}

/// `sum_t sum((h2_t - 0.1)^2)` with `h1_t = tanh(x_t w1 + h1_{t-1} u1)`,
/// `h2_t = tanh(h1_t w2 + h2_{t-1} u2)`, and its gradient with respect to the four matrices.
pub fn recurrent_loss_and_grads((p, xs): &RecurrentArgs) -> Result<(DlArray, Vec<DlArray>)> {
    let (w1, u1, w2, u2) = (&p[0], &p[1], &p[2], &p[3]);
    let mut h1 = DlArray::from(Array2::<f64>::zeros((1, WIDTH)));
    let mut h2 = DlArray::from(Array2::<f64>::zeros((1, WIDTH)));
    let mut total = DlArray::scalar(0.0);
    for t in 0..xs.shape()[0] {
        let x = xs.slice(s![t..t + 1, ..]);
        h1 = (x.matmul(w1) + h1.matmul(u1)).tanh();
        h2 = (h1.matmul(w2) + h2.matmul(u2)).tanh();
        total = total + (&h2 - 0.1).square().sum_all();
    }
    let g = dlgradient(&total, p)?;
    Ok((total, g))
}

type Matrix = [[f64; WIDTH]; WIDTH];
type Vector = [f64; WIDTH];

/// `out = tanh(a m + b n)` for row vectors `a`, `b`.
fn step(a: &Vector, m: &Matrix, b: &Vector, n: &Matrix) -> Vector {
    let mut z = [0.0; WIDTH];
    for i in 0..WIDTH {
        for j in 0..WIDTH {
            z[j] += a[i] * m[i][j] + b[i] * n[i][j];
        }
    }
    z.map(f64::tanh)
}

/// `grad += a^T dz` (outer product), and returns `dz m^T`.
fn back(a: &Vector, dz: &Vector, m: &Matrix, grad: &mut Matrix) -> Vector {
    let mut da = [0.0; WIDTH];
    for i in 0..WIDTH {
        for j in 0..WIDTH {
            grad[i][j] += a[i] * dz[j];
            da[i] += dz[j] * m[i][j];
        }
    }
    da
}

/// The same loss and gradient by hand: `p` the four matrices, `xs` the inputs (row-major
/// `[steps, 14]`), `h1`/`h2` scratch for the states (`steps + 1` each). Returns the loss; the
/// gradients are written to `grads`.
pub fn recurrent_by_hand(
    p: &[Matrix; 4],
    xs: &[Vector],
    h1: &mut [Vector],
    h2: &mut [Vector],
    grads: &mut [Matrix; 4],
) -> f64 {
    let [w1, u1, w2, u2] = p;
    let steps = xs.len();
    h1[0] = [0.0; WIDTH];
    h2[0] = [0.0; WIDTH];
    let mut total = 0.0;
    for t in 0..steps {
        h1[t + 1] = step(&xs[t], w1, &h1[t], u1);
        h2[t + 1] = step(&h1[t + 1], w2, &h2[t], u2);
        total += h2[t + 1].iter().map(|v| (v - 0.1) * (v - 0.1)).sum::<f64>();
    }
    for g in grads.iter_mut() {
        *g = [[0.0; WIDTH]; WIDTH];
    }
    let (mut dh1_next, mut dh2_next) = ([0.0; WIDTH], [0.0; WIDTH]);
    for t in (0..steps).rev() {
        let (a1, a2) = (&h1[t + 1], &h2[t + 1]);
        let mut dz2 = [0.0; WIDTH];
        for j in 0..WIDTH {
            dz2[j] = (2.0 * (a2[j] - 0.1) + dh2_next[j]) * (1.0 - a2[j] * a2[j]);
        }
        let [gw1, gu1, gw2, gu2] = grads;
        let dh1_from_2 = back(a1, &dz2, w2, gw2);
        dh2_next = back(&h2[t], &dz2, u2, gu2);
        let mut dz1 = [0.0; WIDTH];
        for j in 0..WIDTH {
            dz1[j] = (dh1_from_2[j] + dh1_next[j]) * (1.0 - a1[j] * a1[j]);
        }
        back(&xs[t], &dz1, w1, gw1);
        dh1_next = back(&h1[t], &dz1, u1, gu1);
    }
    total
}

/// The arguments as plain arrays for [`recurrent_by_hand`].
pub fn recurrent_plain((p, xs): &RecurrentArgs) -> ([Matrix; 4], Vec<Vector>) {
    let matrix = |a: &DlArray| {
        let d = a.extractdata::<f64>().expect("f64 parameters");
        let mut m = [[0.0; WIDTH]; WIDTH];
        for ((i, j), v) in d.into_dimensionality::<ndarray::Ix2>().expect("a matrix").indexed_iter() {
            m[i][j] = *v;
        }
        m
    };
    let d = xs.extractdata::<f64>().expect("f64 inputs");
    let rows = d.outer_iter().map(|r| std::array::from_fn(|j| r[j])).collect();
    ([matrix(&p[0]), matrix(&p[1]), matrix(&p[2]), matrix(&p[3])], rows)
}
