//! Multi-head scaled dot-product attention.

use super::{argument_error, first_error, require_real_float, scalar_of, shape_error, softmax};
use crate::array::DType;
use crate::ir::broadcast_shapes;
use crate::ops::select;
use crate::trace::DlArray;

/// The score given to masked-out positions before the softmax: finite, so a row with every
/// position masked averages the values uniformly instead of producing NaN.
const MASKED_SCORE: f64 = -1e30;

/// `[N, T, D]` split into `heads` heads: `[N, heads, T, D / heads]`.
fn split_heads(x: &DlArray, heads: usize) -> DlArray {
    let (n, t, d) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    x.reshape(&[n, t, heads, d / heads]).permute(&[0, 2, 1, 3])
}

/// Multi-head scaled dot-product attention of queries `q [N, Tq, D]`, keys `k [N, Tk, D]` and
/// values `v [N, Tk, Dv]`: the feature axes are split into `heads` equal parts, and each head
/// computes `softmax(q_h k_h^T / sqrt(D / heads)) v_h`; the heads are joined back into
/// `[N, Tq, Dv]` (no projections: apply [`fullyconnect`](super::fullyconnect) before and after,
/// as MATLAB's `attention`).
///
/// `mask` is a logical array that broadcasts to `[N, heads, Tq, Tk]` (for example `[Tq, Tk]`
/// for a causal mask): `true` keeps a query-key pair, `false` removes it from the softmax.
#[track_caller]
pub fn attention(q: &DlArray, k: &DlArray, v: &DlArray, heads: usize, mask: Option<&DlArray>) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    let mut all = vec![q, k, v];
    if let Some(m) = mask {
        all.push(m);
    }
    if let Some(e) = first_error(&all) {
        return e;
    }
    if let Some(e) = require_real_float("attention", q) {
        return e;
    }
    let shapes: Vec<&[usize]> = all.iter().map(|a| a.shape()).collect();
    if heads == 0 {
        return argument_error("attention", "heads must be at least 1");
    }
    if q.ndim() != 3 || k.ndim() != 3 || v.ndim() != 3 {
        return shape_error("attention", &shapes, "q, k, v must be [N, Tq, D], [N, Tk, D], [N, Tk, Dv]");
    }
    let (n, tq, d) = (q.shape()[0], q.shape()[1], q.shape()[2]);
    let (tk, dv) = (k.shape()[1], v.shape()[2]);
    if k.shape() != [n, tk, d] || v.shape()[..2] != [n, tk] || d % heads != 0 || dv % heads != 0 {
        return shape_error(
            "attention",
            &shapes,
            format!("k must be [N, Tk, D], v [N, Tk, Dv], with D and Dv divisible by heads = {heads}"),
        );
    }
    let scores_shape = [n, heads, tq, tk];
    let scale = 1.0 / ((d / heads) as f64).sqrt();
    let scores = split_heads(q, heads).matmul(&split_heads(k, heads).permute(&[0, 1, 3, 2])) * scale;
    let scores = match mask {
        None => scores,
        Some(m) => {
            if m.dtype() != DType::Bool
                || broadcast_shapes(m.shape(), &scores_shape).as_deref() != Some(&scores_shape[..])
            {
                return shape_error(
                    "attention",
                    &shapes,
                    format!("the mask must be logical and broadcast to [N, heads, Tq, Tk] = {scores_shape:?}"),
                );
            }
            select(m, &scores, &scalar_of(MASKED_SCORE, scores.dtype()))
        }
    };
    let weights = softmax(&scores, 3);
    weights.matmul(&split_heads(v, heads)).permute(&[0, 2, 1, 3]).reshape(&[n, tq, dv])
}
