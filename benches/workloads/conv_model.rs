//! W7: a small convolutional classifier (issue 5): 2-D convolution, relu, max pooling, a fully
//! connected layer, softmax and cross-entropy, with the gradients of all parameters.

use crate::models::data;
use cranegrad::prelude::*;
use ndarray::{Array1, Array2, ArrayD, IxDyn};

/// Parameters `(conv weights, conv bias, fc weights, fc bias)`, images `X` and one-hot
/// targets `T`.
pub type ConvArgs = ((DlArray, DlArray, DlArray, DlArray), DlArray, DlArray);

/// Filters of the convolution.
const FILTERS: usize = 8;
/// Classes of the classifier.
const CLASSES: usize = 10;

/// A pseudo-random array of `shape` scaled by `scale`.
fn tensor(shape: &[usize], seed: u64, scale: f64) -> DlArray {
    let n = shape.iter().product();
    let v: Vec<f64> = data(n, seed).into_iter().map(|x| x * scale).collect();
    DlArray::from(ArrayD::from_shape_vec(IxDyn(shape), v).expect("sizes agree"))
}

/// Random parameters and a batch of `n` images `[n, 1, h, w]` with one-hot targets.
pub fn conv_args(n: usize, h: usize, w: usize) -> ConvArgs {
    let features = FILTERS * (h / 2) * (w / 2);
    let targets = Array2::from_shape_fn((n, CLASSES), |(i, j)| if (i * 7 + 3) % CLASSES == j { 1.0 } else { 0.0 });
    (
        (
            tensor(&[FILTERS, 1, 3, 3], 11, 1.0 / 3.0),
            DlArray::from(Array1::from_vec(data(FILTERS, 12))),
            tensor(&[CLASSES, features], 13, 1.0 / (features as f64).sqrt()),
            DlArray::from(Array1::from_vec(data(CLASSES, 14))),
        ),
        tensor(&[n, 1, h, w], 15, 1.0),
        DlArray::from(targets),
    )
}

/// conv 3x3 (8 filters, padding 1) + relu + maxpool 2x2 stride 2 + fully connected to 10
/// classes + softmax + cross-entropy: the loss and the gradients of the parameters.
#[allow(clippy::type_complexity)]
pub fn conv_loss_and_grads(
    p: &(DlArray, DlArray, DlArray, DlArray),
    x: &DlArray,
    t: &DlArray,
) -> Result<(DlArray, (DlArray, DlArray, DlArray, DlArray))> {
    let (wc, bc, wf, bf) = p;
    let features = relu(&dlconv(x, wc, bc, &ConvOptions::default().padding(&[1, 1])));
    let pooled = maxpool(&features, &PoolOptions::new(&[2, 2]).stride(&[2, 2]));
    let probs = softmax(&fullyconnect(&pooled, wf, bf), 1);
    let loss = crossentropy(&probs, t);
    let grads = dlgradient(&loss, (wc, bc, wf, bf))?;
    Ok((loss, grads))
}
