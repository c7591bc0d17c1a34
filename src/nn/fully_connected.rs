//! The fully connected (dense) operation.

use super::{first_error, shape_error};
use crate::trace::DlArray;

/// `x w^T + b`: `x [N, Cin]` (or `[N, ...]`, flattened to `[N, Cin]` as MATLAB flattens the
/// non-batch dimensions), `w [Cout, Cin]`, `b [Cout]` (or one element) -> `[N, Cout]`.
#[track_caller]
pub fn fullyconnect(x: &DlArray, w: &DlArray, b: &DlArray) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    if let Some(e) = first_error(&[x, w, b]) {
        return e;
    }
    let shapes: [&[usize]; 3] = [x.shape(), w.shape(), b.shape()];
    if x.ndim() < 2 || w.ndim() != 2 {
        return shape_error("fullyconnect", &shapes, "x must be [N, Cin] (or [N, ...]) and w [Cout, Cin]");
    }
    let n = x.shape()[0];
    let cin: usize = x.shape()[1..].iter().product();
    let cout = w.shape()[0];
    if w.shape()[1] != cin {
        return shape_error(
            "fullyconnect",
            &shapes,
            format!("w has {} input columns but x has {cin} features", w.shape()[1]),
        );
    }
    if b.numel() != cout && b.numel() != 1 {
        return shape_error("fullyconnect", &shapes, format!("b must have {cout} elements (one per output)"));
    }
    let x2 = x.reshape(&[n, cin]);
    let b2 = b.reshape(&[1, b.numel()]);
    x2.matmul(&w.transpose()) + b2
}
