//! `rmspropupdate`: root mean square propagation, with MATLAB's formula and defaults.

use super::tree_walk::{
    check_range, check_state, paired_arrays, plain_pair, rebuild, same_dtype, split_complex, zeros_like,
};
use crate::error::Result;
use crate::trace::DlArray;
use crate::trace::Tree;

/// The hyperparameters of [`rmspropupdate`], named after MATLAB's arguments; `Default` gives
/// MATLAB's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmspropOptions {
    /// Learning rate, positive (default `1e-3`).
    pub learn_rate: f64,
    /// Decay of the squared-gradient moving average, in `[0, 1)` (default `0.9`).
    pub sq_grad_decay: f64,
    /// Small positive constant added to the denominator (default `1e-8`).
    pub epsilon: f64,
}

impl Default for RmspropOptions {
    fn default() -> Self {
        RmspropOptions { learn_rate: 1e-3, sq_grad_decay: 0.9, epsilon: 1e-8 }
    }
}

/// RMSProp's moving average of squared gradients, one array per parameter (MATLAB's
/// `averageSqGrad`). `Default` is MATLAB's empty `[]`: zeros are assumed on the first call.
#[derive(Clone, Debug, Default)]
pub struct RmspropState {
    average_sq_grad: Vec<DlArray>,
}

impl RmspropState {
    /// The moving average of the squared gradients, one array per parameter in the parameter
    /// tree's visiting order; empty before the first update.
    pub fn average_sq_grad(&self) -> &[DlArray] {
        &self.average_sq_grad
    }

    /// True before the first update.
    pub fn is_empty(&self) -> bool {
        self.average_sq_grad.is_empty()
    }
}

/// One RMSProp step on a real parameter: returns the new parameter and moving average.
fn rmsprop_step(p: &DlArray, g: &DlArray, [v]: [&DlArray; 1], o: &RmspropOptions) -> Result<(DlArray, [DlArray; 1])> {
    let v = o.sq_grad_decay * v + (1.0 - o.sq_grad_decay) * g.square();
    let p_new = p - o.learn_rate * g / (v.sqrt() + o.epsilon);
    Ok((same_dtype(p_new, p.dtype())?, [same_dtype(v, p.dtype())?]))
}

/// Updates `params` with RMSProp, as MATLAB's
/// `[params, averageSqGrad] = rmspropupdate(params, grad, averageSqGrad, learnRate,
/// sqGradDecay, epsilon)`:
///
/// ```text
/// v = sq_grad_decay * v + (1 - sq_grad_decay) * g^2
/// p = p - learn_rate * g / (sqrt(v) + epsilon)
/// ```
///
/// `params` is any [`Tree`] of arrays; `grads` must have the same structure and shapes, and
/// `state` must be empty or come from earlier calls with the same tree. Gradients are cast to
/// their parameter's dtype; complex parameters are updated as two real ones. The update runs on
/// plain values: the result and the state are not traced.
///
/// ```
/// use cranegrad::prelude::*;
/// let mut avg_sq = RmspropState::default();
/// let p = rmspropupdate(&DlArray::scalar(1.0), &DlArray::scalar(2.0), &mut avg_sq, &RmspropOptions::default())
///     .unwrap();
/// // v = 0.1 * 4 = 0.4; p = 1 - 1e-3 * 2 / (sqrt(0.4) + 1e-8)
/// let expected = 1.0 - 1e-3 * 2.0 / (0.4f64.sqrt() + 1e-8);
/// assert!((p.to_scalar::<f64>().unwrap() - expected).abs() < 1e-15);
/// ```
pub fn rmspropupdate<T: Tree>(params: &T, grads: &T, state: &mut RmspropState, options: &RmspropOptions) -> Result<T> {
    const OP: &str = "rmspropupdate";
    check_range(OP, "learn_rate", options.learn_rate, 0.0, true, f64::INFINITY, true)?;
    check_range(OP, "sq_grad_decay", options.sq_grad_decay, 0.0, false, 1.0, true)?;
    check_range(OP, "epsilon", options.epsilon, 0.0, true, f64::INFINITY, true)?;
    let (ps, gs) = paired_arrays(OP, params, grads)?;
    check_state(OP, "averageSqGrad state", &state.average_sq_grad, &ps)?;
    let (mut new_p, mut new_v) = (Vec::new(), Vec::new());
    for (k, (p, g)) in ps.iter().zip(&gs).enumerate() {
        let (p, g) = plain_pair(OP, k, p, g)?;
        let v = state.average_sq_grad.get(k).cloned().unwrap_or_else(|| zeros_like(&p));
        let (p, [v]) = split_complex(&p, &g, [&v], &|p, g, s| rmsprop_step(p, g, s, options))?;
        new_p.push(p);
        new_v.push(v);
    }
    let out = rebuild(OP, params, new_p)?;
    state.average_sq_grad = new_v;
    Ok(out)
}
