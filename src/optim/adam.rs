//! `adamupdate`: adaptive moment estimation, with MATLAB's formula and defaults.

use super::tree_walk::{
    check_range, check_state, paired_arrays, plain_pair, rebuild, same_dtype, split_complex, zeros_like,
};
use crate::error::{Error, Result};
use crate::trace::DlArray;
use crate::trace::Tree;

/// The hyperparameters of [`adamupdate`], named after MATLAB's arguments; `Default` gives
/// MATLAB's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamOptions {
    /// Global learning rate, positive (default `1e-3`).
    pub learn_rate: f64,
    /// Decay of the gradient moving average, in `[0, 1)` (default `0.9`).
    pub grad_decay: f64,
    /// Decay of the squared-gradient moving average, in `[0, 1)` (default `0.999`).
    pub sq_grad_decay: f64,
    /// Small positive constant added to the denominator (default `1e-8`).
    pub epsilon: f64,
}

impl Default for AdamOptions {
    fn default() -> Self {
        AdamOptions { learn_rate: 1e-3, grad_decay: 0.9, sq_grad_decay: 0.999, epsilon: 1e-8 }
    }
}

/// Adam's moving averages, one array per parameter (MATLAB's `averageGrad` and
/// `averageSqGrad`). `Default` is MATLAB's empty `[]`: zeros are assumed on the first call.
#[derive(Clone, Debug, Default)]
pub struct AdamState {
    average_grad: Vec<DlArray>,
    average_sq_grad: Vec<DlArray>,
}

impl AdamState {
    /// The moving average of the gradients, one array per parameter in the parameter tree's
    /// visiting order; empty before the first update.
    pub fn average_grad(&self) -> &[DlArray] {
        &self.average_grad
    }

    /// The moving average of the squared gradients, as [`average_grad`](Self::average_grad).
    pub fn average_sq_grad(&self) -> &[DlArray] {
        &self.average_sq_grad
    }

    /// True before the first update.
    pub fn is_empty(&self) -> bool {
        self.average_grad.is_empty()
    }
}

/// One Adam step on a real parameter: returns the new parameter and moving averages.
fn adam_step(
    p: &DlArray,
    g: &DlArray,
    [m, v]: [&DlArray; 2],
    o: &AdamOptions,
    bias_correction: f64,
) -> Result<(DlArray, [DlArray; 2])> {
    let m = o.grad_decay * m + (1.0 - o.grad_decay) * g;
    let v = o.sq_grad_decay * v + (1.0 - o.sq_grad_decay) * g.square();
    let p_new = p - (o.learn_rate * bias_correction) * (&m / (v.sqrt() + o.epsilon));
    let dtype = p.dtype();
    Ok((same_dtype(p_new, dtype)?, [same_dtype(m, dtype)?, same_dtype(v, dtype)?]))
}

/// Updates `params` with the Adam algorithm, as MATLAB's
/// `[params, averageGrad, averageSqGrad] = adamupdate(params, grad, averageGrad, averageSqGrad,
/// iteration, learnRate, gradDecay, sqGradDecay, epsilon)`:
///
/// ```text
/// m = grad_decay * m + (1 - grad_decay) * g
/// v = sq_grad_decay * v + (1 - sq_grad_decay) * g^2
/// p = p - learn_rate * sqrt(1 - sq_grad_decay^t) / (1 - grad_decay^t) * m / (sqrt(v) + epsilon)
/// ```
///
/// with `t = iteration` (counted from 1). The bias correction scales the learning rate, as
/// MATLAB does, so `epsilon` is added to the uncorrected `sqrt(v)`.
///
/// `params` is any [`Tree`] of arrays; `grads` must have the same structure and shapes (as
/// `dlgradient` returns it), and `state` must be empty or come from earlier calls with the
/// same tree. Gradients are cast to their parameter's dtype, so `f32` and `f64` parameters keep
/// their dtype. A complex parameter is updated as two real ones (its real and imaginary parts).
/// The update runs on plain values: the result and the state are not traced.
///
/// ```
/// use cranegrad::prelude::*;
/// use ndarray::array;
/// let p = DlArray::from(array![1.0, 2.0]);
/// let g = DlArray::from(array![0.5, -0.5]);
/// let mut state = AdamState::default();
/// let p = adamupdate(&p, &g, &mut state, 1, &AdamOptions::default()).unwrap();
/// // the first step moves each element by about learn_rate against the gradient's sign
/// let v = p.extractdata::<f64>().unwrap();
/// assert!((v[0] - 0.999).abs() < 1e-7 && (v[1] - 2.001).abs() < 1e-7);
/// ```
pub fn adamupdate<T: Tree>(
    params: &T,
    grads: &T,
    state: &mut AdamState,
    iteration: usize,
    options: &AdamOptions,
) -> Result<T> {
    const OP: &str = "adamupdate";
    check_range(OP, "learn_rate", options.learn_rate, 0.0, true, f64::INFINITY, true)?;
    check_range(OP, "grad_decay", options.grad_decay, 0.0, false, 1.0, true)?;
    check_range(OP, "sq_grad_decay", options.sq_grad_decay, 0.0, false, 1.0, true)?;
    check_range(OP, "epsilon", options.epsilon, 0.0, true, f64::INFINITY, true)?;
    if iteration == 0 {
        return Err(Error::argument(OP, "iteration counts from 1 (the first update is iteration 1), got 0"));
    }
    let (ps, gs) = paired_arrays(OP, params, grads)?;
    check_state(OP, "averageGrad state", &state.average_grad, &ps)?;
    check_state(OP, "averageSqGrad state", &state.average_sq_grad, &ps)?;
    let t = i32::try_from(iteration).unwrap_or(i32::MAX);
    let bias_correction = (1.0 - options.sq_grad_decay.powi(t)).sqrt() / (1.0 - options.grad_decay.powi(t));
    let (mut new_p, mut new_m, mut new_v) = (Vec::new(), Vec::new(), Vec::new());
    for (k, (p, g)) in ps.iter().zip(&gs).enumerate() {
        let (p, g) = plain_pair(OP, k, p, g)?;
        let (m, v) = match (state.average_grad.get(k), state.average_sq_grad.get(k)) {
            (Some(m), Some(v)) => (m.clone(), v.clone()),
            _ => (zeros_like(&p), zeros_like(&p)),
        };
        let (p, [m, v]) = split_complex(&p, &g, [&m, &v], &|p, g, s| adam_step(p, g, s, options, bias_correction))?;
        new_p.push(p);
        new_m.push(m);
        new_v.push(v);
    }
    let out = rebuild(OP, params, new_p)?;
    state.average_grad = new_m;
    state.average_sq_grad = new_v;
    Ok(out)
}
