//! `sgdmupdate`: stochastic gradient descent with momentum, with MATLAB's formula and defaults.

use super::tree_walk::{
    check_range, check_state, paired_arrays, plain_pair, rebuild, same_dtype, split_complex, zeros_like,
};
use crate::error::Result;
use crate::trace::DlArray;
use crate::trace::Tree;

/// The hyperparameters of [`sgdmupdate`], named after MATLAB's arguments; `Default` gives
/// MATLAB's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdmOptions {
    /// Learning rate, positive (default `0.01`).
    pub learn_rate: f64,
    /// Momentum, in `[0, 1]` (default `0.9`).
    pub momentum: f64,
}

impl Default for SgdmOptions {
    fn default() -> Self {
        SgdmOptions { learn_rate: 0.01, momentum: 0.9 }
    }
}

/// The velocity of SGDM, one array per parameter (MATLAB's `vel`). `Default` is MATLAB's
/// empty `[]`: zeros are assumed on the first call.
#[derive(Clone, Debug, Default)]
pub struct SgdmState {
    velocity: Vec<DlArray>,
}

impl SgdmState {
    /// The velocity, one array per parameter in the parameter tree's visiting order; empty
    /// before the first update.
    pub fn velocity(&self) -> &[DlArray] {
        &self.velocity
    }

    /// True before the first update.
    pub fn is_empty(&self) -> bool {
        self.velocity.is_empty()
    }
}

/// One SGDM step on a real parameter: returns the new parameter and velocity.
fn sgdm_step(p: &DlArray, g: &DlArray, [vel]: [&DlArray; 1], o: &SgdmOptions) -> Result<(DlArray, [DlArray; 1])> {
    let vel = o.momentum * vel - o.learn_rate * g;
    let p_new = p + &vel;
    Ok((same_dtype(p_new, p.dtype())?, [same_dtype(vel, p.dtype())?]))
}

/// Updates `params` with stochastic gradient descent with momentum, as MATLAB's
/// `[params, vel] = sgdmupdate(params, grad, vel, learnRate, momentum)`:
///
/// ```text
/// vel = momentum * vel - learn_rate * g
/// p = p + vel
/// ```
///
/// `params` is any [`Tree`] of arrays; `grads` must have the same structure and shapes, and
/// `state` must be empty or come from earlier calls with the same tree. Gradients are cast to
/// their parameter's dtype; complex parameters are updated as two real ones. The update runs on
/// plain values: the result and the state are not traced.
///
/// ```
/// use cranegrad::prelude::*;
/// let mut vel = SgdmState::default();
/// let p = sgdmupdate(&DlArray::scalar(1.0), &DlArray::scalar(2.0), &mut vel, &SgdmOptions::default()).unwrap();
/// assert!((p.to_scalar::<f64>().unwrap() - 0.98).abs() < 1e-15); // 1 + (0.9 * 0 - 0.01 * 2)
/// ```
pub fn sgdmupdate<T: Tree>(params: &T, grads: &T, state: &mut SgdmState, options: &SgdmOptions) -> Result<T> {
    const OP: &str = "sgdmupdate";
    check_range(OP, "learn_rate", options.learn_rate, 0.0, true, f64::INFINITY, true)?;
    check_range(OP, "momentum", options.momentum, 0.0, false, 1.0, false)?;
    let (ps, gs) = paired_arrays(OP, params, grads)?;
    check_state(OP, "velocity state", &state.velocity, &ps)?;
    let (mut new_p, mut new_vel) = (Vec::new(), Vec::new());
    for (k, (p, g)) in ps.iter().zip(&gs).enumerate() {
        let (p, g) = plain_pair(OP, k, p, g)?;
        let vel = state.velocity.get(k).cloned().unwrap_or_else(|| zeros_like(&p));
        let (p, [vel]) = split_complex(&p, &g, [&vel], &|p, g, s| sgdm_step(p, g, s, options))?;
        new_p.push(p);
        new_vel.push(vel);
    }
    let out = rebuild(OP, params, new_p)?;
    state.velocity = new_vel;
    Ok(out)
}
