//! The two-layer recurrent loss on 14-wide vectors unrolled over `steps` time steps, and its
//! inputs: shared by `benches/first_call.rs` and `tests/repeated_code.rs` (included by path).

use cranegrad::prelude::*;
use ndarray::{s, Array2};

/// `sum_t sum((h2_t - 0.1)^2)` with `h1 = tanh(x_t w1 + h1 u1)`, `h2 = tanh(h1 w2 + h2 u2)`.
pub fn recurrent_loss(p: &[DlArray], xs: &DlArray, steps: usize) -> DlArray {
    let (w1, u1, w2, u2) = (&p[0], &p[1], &p[2], &p[3]);
    let mut h1 = DlArray::from(Array2::<f64>::zeros((1, 14)));
    let mut h2 = DlArray::from(Array2::<f64>::zeros((1, 14)));
    let mut total = DlArray::scalar(0.0);
    for t in 0..steps {
        let x = xs.slice(s![t..t + 1, ..]);
        h1 = (x.matmul(w1) + h1.matmul(u1)).tanh();
        h2 = (h1.matmul(w2) + h2.matmul(u2)).tanh();
        total = total + (&h2 - 0.1).square().sum_all();
    }
    total
}

/// The four `[14, 14]` weights and the `[steps, 14]` inputs (fixed values).
pub fn recurrent_inputs(steps: usize) -> (Vec<DlArray>, DlArray) {
    let p = (0..4)
        .map(|k| {
            DlArray::from(Array2::from_shape_fn((14, 14), |(i, j)| ((i * 7 + j * 3 + k) % 11) as f64 * 0.02 - 0.1))
        })
        .collect();
    let xs = DlArray::from(Array2::from_shape_fn((steps, 14), |(i, j)| ((i + j) % 5) as f64 * 0.1));
    (p, xs)
}
