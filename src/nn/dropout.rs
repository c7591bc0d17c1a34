//! Dropout with its random numbers computed inside the trace from a key array.

use super::{argument_error, constant, first_error, require_real_float, scalar_of};
use crate::array::DType;
use crate::ops::select;
use crate::trace::DlArray;

/// `fract(sin(a) * 43758.5453)`: the classic shader hash, a uniform-looking number in `[0, 1)`.
fn hash(a: &DlArray) -> DlArray {
    let s = a.sin() * 43758.5453;
    &s - s.floor()
}

/// Uniform numbers in `[0, 1)` of `shape`, a function of the key and the element index only.
pub(crate) fn uniform_from_key(key: &DlArray, shape: &[usize]) -> DlArray {
    let n: usize = shape.iter().product();
    let index = constant(ndarray::Array1::from_iter((0..n).map(|i| i as f64)).into_dyn(), DType::F64);
    let key = key.cast(DType::F64).reshape(&[1]);
    // Two rounds: the key is folded to [0, 1) first so huge seeds keep full precision in sin.
    let k1 = hash(&(&key * 12.9898 + 0.5));
    let k2 = hash(&(&key * 78.233 + 1.5));
    let u1 = hash(&(&index * 12.9898 + &k1 * 4375.85453 + 0.123));
    let u = hash(&(&u1 * 93.9898 + &index * 0.0137 + &k2 * 67.345 + 0.7));
    u.reshape(shape)
}

/// Inverted dropout: each element of `x` is zeroed with probability `p` and the kept ones are
/// scaled by `1 / (1 - p)` (MATLAB's `dropoutLayer` in training). `p` must be in `[0, 1)`.
///
/// The random numbers come from `key`, an array of one element (for example a seed or a step
/// counter stored as a double): element `i` draws `u_i` by a sine-based hash of `(key, i)`
/// computed with array operations inside the trace, and is kept when `u_i >= p`. The same key
/// gives the same mask; an accelerated function that receives the key as an input therefore
/// draws new numbers whenever it is called with a new key (pass e.g. the iteration number).
/// Keys are exact up to 2^53. The hash is for regularization noise, not for statistics that
/// need a high-quality generator.
#[track_caller]
pub fn dropout(x: &DlArray, p: f64, key: &DlArray) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    if let Some(e) = first_error(&[x, key]) {
        return e;
    }
    if let Some(e) = require_real_float("dropout", x) {
        return e;
    }
    if !(0.0..1.0).contains(&p) {
        return argument_error("dropout", format!("the probability p must be in [0, 1), got {p}"));
    }
    if key.numel() != 1 || key.dtype().is_complex() {
        return argument_error("dropout", format!("the key must be one real element, got shape {:?}", key.shape()));
    }
    if p == 0.0 {
        return x.clone();
    }
    let u = uniform_from_key(key, x.shape());
    let keep = u.ge(&scalar_of(p, DType::F64));
    select(&keep, &(x * (1.0 / (1.0 - p))), &scalar_of(0.0, x.dtype()))
}
