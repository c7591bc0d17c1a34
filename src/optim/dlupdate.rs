//! `dlupdate`: a custom update function applied to every parameter of a tree.

use super::tree_walk::{paired_arrays, rebuild};
use crate::error::{Error, Result};
use crate::trace::DlArray;
use crate::trace::Tree;

/// Applies `f(parameter, gradient)` to every parameter of `params` and its gradient in
/// `grads`, as MATLAB's `params = dlupdate(fun, params, grad)`, and returns the tree of
/// results. `grads` must have the same structure and shapes as `params`. `f` gets plain
/// (untraced) values; an error carried by an array `f` returns is returned as an `Err`.
///
/// ```
/// use cranegrad::prelude::*;
/// use ndarray::array;
/// let params = vec![DlArray::from(array![1.0, 2.0]), DlArray::scalar(3.0)];
/// let grads = vec![DlArray::from(array![10.0, 20.0]), DlArray::scalar(30.0)];
/// let params = dlupdate(|p: &DlArray, g: &DlArray| p - 0.01 * g, &params, &grads).unwrap();
/// assert_eq!(params[1].to_scalar::<f64>().unwrap(), 3.0 - 0.3);
/// ```
pub fn dlupdate<T: Tree, F: FnMut(&DlArray, &DlArray) -> DlArray>(mut f: F, params: &T, grads: &T) -> Result<T> {
    const OP: &str = "dlupdate";
    let (ps, gs) = paired_arrays(OP, params, grads)?;
    let mut out = Vec::with_capacity(ps.len());
    for (k, (p, g)) in ps.iter().zip(&gs).enumerate() {
        let new = f(&p.untraced()?, &g.untraced()?);
        let data = new.data().map_err(|e| Error::argument(OP, format!("the update of parameter {k} failed: {e}")))?;
        out.push(DlArray::from_data(data.clone()));
    }
    rebuild(OP, params, out)
}
