//! Recurrent layers, unrolled over time: LSTM and GRU with MATLAB's gate order and weight
//! layout, batch-first sequences `[N, T, C]`.

use super::{concat_parts, first_error, require_real_float, shape_error, slice_axis};
use crate::trace::DlArray;

/// Checked shapes of a recurrent call: `(N, T, H)` and the input projection
/// `x W^T + b` of every step, `[N, T, gates * H]`.
fn prepare(
    op: &str,
    gates: usize,
    x: &DlArray,
    states: &[&DlArray],
    weights: &DlArray,
    recurrent: &DlArray,
    bias: &DlArray,
) -> Result<(usize, usize, usize, DlArray), DlArray> {
    let mut all: Vec<&DlArray> = vec![x, weights, recurrent, bias];
    all.extend_from_slice(states);
    if let Some(e) = first_error(&all) {
        return Err(e);
    }
    if let Some(e) = require_real_float(op, x) {
        return Err(e);
    }
    let shapes: Vec<&[usize]> = all.iter().map(|a| a.shape()).collect();
    let bad = |detail: String| Err(shape_error(op, &shapes, detail));
    if x.ndim() != 3 || weights.ndim() != 2 || recurrent.ndim() != 2 {
        return bad("x must be [N, T, C], the input weights [G*H, C], the recurrent weights [G*H, H]".into());
    }
    let (n, t, c) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let h = recurrent.shape()[1];
    if h == 0 {
        return bad("the hidden size H (columns of the recurrent weights) must be at least 1".into());
    }
    if weights.shape() != [gates * h, c] || recurrent.shape() != [gates * h, h] || bias.numel() != gates * h {
        return bad(format!(
            "with C = {c} and H = {h}: input weights must be [{gh}, {c}], recurrent weights [{gh}, {h}], bias {gh} elements",
            gh = gates * h
        ));
    }
    for s in states {
        if s.numel() != h && s.shape() != [n, h] {
            return bad(format!("initial states must be [N, H] = [{n}, {h}] or have H = {h} elements"));
        }
    }
    if t == 0 {
        return bad("the sequence has no time steps".into());
    }
    let projected = x.matmul(&weights.transpose()) + bias.reshape(&[1, 1, gates * h]);
    Ok((n, t, h, projected))
}

/// An initial state as `[N, H]` (a `[H]` state is shared by the batch).
fn state(s: &DlArray, n: usize, h: usize) -> DlArray {
    s.reshape(&[s.numel() / h, h]).broadcast_to(&[n, h])
}

/// Gate `k` (of width `h`) of `[N, G*H]` pre-activations.
fn gate(z: &DlArray, k: usize, h: usize) -> DlArray {
    slice_axis(z, 1, k * h, h, 1)
}

/// Long short-term memory over `x [N, T, C]` from the hidden state `h0` and cell state `c0`
/// (`[N, H]`, or `H` elements shared by the batch), with MATLAB's `lstm` layout: input weights
/// `[4H, C]`, recurrent weights `[4H, H]`, bias `[4H]`, gates stacked in the order input `i`,
/// forget `f`, cell candidate `g`, output `o`:
///
/// `i = σ(W_i x_t + R_i h + b_i)`, `f = σ(..)`, `g = tanh(..)`, `o = σ(..)`,
/// `c_t = f ⊙ c + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`.
///
/// Returns `(y [N, T, H], h_T [N, H], c_T [N, H])`.
#[track_caller]
pub fn lstm(
    x: &DlArray,
    h0: &DlArray,
    c0: &DlArray,
    weights: &DlArray,
    recurrent_weights: &DlArray,
    bias: &DlArray,
) -> (DlArray, DlArray, DlArray) {
    let _origin = crate::trace::current_origin::user_call();
    let (n, t, hs, projected) = match prepare("lstm", 4, x, &[h0, c0], weights, recurrent_weights, bias) {
        Ok(v) => v,
        Err(e) => return (e.clone(), e.clone(), e),
    };
    let rt = recurrent_weights.transpose();
    let (mut h, mut c) = (state(h0, n, hs), state(c0, n, hs));
    let mut outputs = Vec::with_capacity(t);
    for step in 0..t {
        let z = slice_axis(&projected, 1, step, 1, 1).reshape(&[n, 4 * hs]) + h.matmul(&rt);
        let i = gate(&z, 0, hs).sigmoid();
        let f = gate(&z, 1, hs).sigmoid();
        let g = gate(&z, 2, hs).tanh();
        let o = gate(&z, 3, hs).sigmoid();
        c = f * &c + i * g;
        h = o * c.tanh();
        outputs.push(h.reshape(&[n, 1, hs]));
    }
    (concat_parts(&outputs, 1), h, c)
}

/// Gated recurrent unit over `x [N, T, C]` from the hidden state `h0` (`[N, H]`, or `H`
/// elements shared by the batch), with MATLAB's `gru` layout and its default reset gate mode
/// `"after-multiplication"`: input weights `[3H, C]`, recurrent weights `[3H, H]`, bias `[3H]`,
/// gates stacked in the order reset `r`, update `z`, candidate `ĥ`:
///
/// `r = σ(W_r x_t + R_r h + b_r)`, `z = σ(W_z x_t + R_z h + b_z)`,
/// `ĥ = tanh(W_h x_t + r ⊙ (R_h h) + b_h)`, `h_t = (1 - z) ⊙ ĥ + z ⊙ h`.
///
/// Returns `(y [N, T, H], h_T [N, H])`.
#[track_caller]
pub fn gru(
    x: &DlArray,
    h0: &DlArray,
    weights: &DlArray,
    recurrent_weights: &DlArray,
    bias: &DlArray,
) -> (DlArray, DlArray) {
    let _origin = crate::trace::current_origin::user_call();
    let (n, t, hs, projected) = match prepare("gru", 3, x, &[h0], weights, recurrent_weights, bias) {
        Ok(v) => v,
        Err(e) => return (e.clone(), e),
    };
    let rt = recurrent_weights.transpose();
    let mut h = state(h0, n, hs);
    let mut outputs = Vec::with_capacity(t);
    for step in 0..t {
        let xz = slice_axis(&projected, 1, step, 1, 1).reshape(&[n, 3 * hs]);
        let hz = h.matmul(&rt);
        let r = (gate(&xz, 0, hs) + gate(&hz, 0, hs)).sigmoid();
        let z = (gate(&xz, 1, hs) + gate(&hz, 1, hs)).sigmoid();
        let candidate = (gate(&xz, 2, hs) + r * gate(&hz, 2, hs)).tanh();
        h = (1.0 - &z) * candidate + z * &h;
        outputs.push(h.reshape(&[n, 1, hs]));
    }
    (concat_parts(&outputs, 1), h)
}
