//! The tree plumbing every optimizer shares: pairing a parameter tree with its gradient tree,
//! checking optimizer state against the parameters, and rebuilding a tree from new values.

use crate::array::{DType, Data};
use crate::error::{Error, Result};
use crate::trace::DlArray;
use crate::trace::{Leaf, Tree};
use std::sync::Arc;

/// One step of a structure walk, comparable between two trees of the same type: containers
/// with their lengths, names and keys, and array shapes. Plain values are not compared.
#[derive(Debug, PartialEq)]
enum Shape<'a> {
    Open(&'static str, usize),
    Close,
    Name(&'a str),
    Array(&'a [usize]),
}

/// The structure of `tree`, in visiting order.
fn structure<T: Tree>(tree: &T) -> Vec<Shape<'_>> {
    let mut out = Vec::new();
    tree.visit(&mut |leaf| match leaf {
        Leaf::Open(kind, n) => out.push(Shape::Open(kind, n)),
        Leaf::Close => out.push(Shape::Close),
        Leaf::Str(s) => out.push(Shape::Name(s)),
        Leaf::Array(a) => out.push(Shape::Array(a.shape())),
        _ => {}
    });
    out
}

/// A readable description of one structure step, for error messages.
fn describe(step: Option<&Shape<'_>>) -> String {
    match step {
        None => "the end of the tree".into(),
        Some(Shape::Open(kind, n)) => format!("a {kind} of length {n}"),
        Some(Shape::Close) => "the end of a container".into(),
        Some(Shape::Name(s)) => format!("the name {s:?}"),
        Some(Shape::Array(shape)) => format!("an array of shape {shape:?}"),
    }
}

/// The arrays of `params` and `grads`, in visiting order, after checking that the two trees
/// have the same structure (container lengths, map keys, table names) and array shapes.
pub(crate) fn paired_arrays<'a, T: Tree>(
    op: &str,
    params: &'a T,
    grads: &'a T,
) -> Result<(Vec<&'a DlArray>, Vec<&'a DlArray>)> {
    let (p, g) = (structure(params), structure(grads));
    if let Some(k) = (0..p.len().max(g.len())).find(|&k| p.get(k) != g.get(k)) {
        let arrays_before = p[..k.min(p.len())].iter().filter(|s| matches!(s, Shape::Array(_))).count();
        return Err(Error::argument(
            op,
            format!(
                "the gradients do not match the parameters: after {arrays_before} matching arrays the parameters \
                 have {} where the gradients have {}; pass the gradients dlgradient returned for these parameters",
                describe(p.get(k)),
                describe(g.get(k))
            ),
        ));
    }
    Ok((params.arrays(), grads.arrays()))
}

/// `tree` with its arrays replaced, in visiting order, by `values`.
pub(crate) fn rebuild<T: Tree>(op: &str, tree: &T, values: Vec<DlArray>) -> Result<T> {
    let mut values = values.into_iter();
    tree.map_arrays(&mut |_| {
        values.next().ok_or_else(|| Error::argument(op, "internal: fewer new values than parameters"))
    })
}

/// Checks a per-parameter state (one array per parameter, or empty before the first call)
/// against the parameters' shapes and dtypes.
pub(crate) fn check_state(op: &str, what: &str, state: &[DlArray], params: &[&DlArray]) -> Result<()> {
    if state.is_empty() {
        return Ok(());
    }
    if state.len() != params.len() {
        return Err(Error::argument(
            op,
            format!(
                "the {what} holds {} arrays but the parameters have {}; use a new state (Default) for a \
                 different parameter tree",
                state.len(),
                params.len()
            ),
        ));
    }
    for (k, (s, p)) in state.iter().zip(params).enumerate() {
        if s.shape() != p.shape() || s.dtype() != p.dtype() {
            return Err(Error::argument(
                op,
                format!(
                    "the {what} for parameter {k} is {} {:?} but the parameter is {} {:?}; use a new state \
                     (Default) for a different parameter tree",
                    s.dtype(),
                    s.shape(),
                    p.dtype(),
                    p.shape()
                ),
            ));
        }
    }
    Ok(())
}

/// The untraced value of parameter `k` and its gradient cast to the parameter's dtype. A
/// logical parameter or a complex gradient for a real parameter is an `Err`.
pub(crate) fn plain_pair(op: &str, k: usize, p: &DlArray, g: &DlArray) -> Result<(DlArray, DlArray)> {
    let (p, g) = (p.untraced()?, g.untraced()?);
    if !p.dtype().is_float() {
        return Err(Error::dtype(op, &[p.dtype()], format!("parameter {k} is logical; parameters must be numeric")));
    }
    if !g.dtype().is_float() || (g.dtype().is_complex() && !p.dtype().is_complex()) {
        return Err(Error::dtype(
            op,
            &[p.dtype(), g.dtype()],
            format!("the gradient of parameter {k} must be numeric, and real for a real parameter"),
        ));
    }
    let g = g.cast(p.dtype());
    Ok((p, g))
}

/// The new parameter and the new state arrays of one update.
pub(crate) type Updated<const N: usize> = Result<(DlArray, [DlArray; N])>;

/// Applies a real elementwise update to a parameter of any float dtype. `update` gets real
/// arrays (parameter, gradient, state...) and returns the new parameter and new state. A
/// complex parameter is updated as two real ones, its real and imaginary parts (as PyTorch's
/// `view_as_real`); its state arrays are complex too, holding the real part's state in their
/// real part and the imaginary part's state in their imaginary part.
pub(crate) fn split_complex<const N: usize>(
    p: &DlArray,
    g: &DlArray,
    state: [&DlArray; N],
    update: &dyn Fn(&DlArray, &DlArray, [&DlArray; N]) -> Updated<N>,
) -> Updated<N> {
    if !p.dtype().is_complex() {
        return update(p, g, state);
    }
    let (p_re, s_re) = update(&p.real(), &g.real(), state.map(|s| s.real()).each_ref())?;
    let (p_im, s_im) = update(&p.imag(), &g.imag(), state.map(|s| s.imag()).each_ref())?;
    let join = |re: &DlArray, im: &DlArray| -> Result<DlArray> {
        let z = DlArray::complex(re, im);
        z.check()?;
        Ok(z)
    };
    let p_new = join(&p_re, &p_im)?;
    let mut s_new = Vec::with_capacity(N);
    for (re, im) in s_re.iter().zip(&s_im) {
        s_new.push(join(re, im)?);
    }
    let s_new: [DlArray; N] = s_new.try_into().map_err(|_| Error::argument("optimizer", "internal: state arity"))?;
    Ok((p_new, s_new))
}

/// An untraced array of zeros shaped and typed like `p`.
pub(crate) fn zeros_like(p: &DlArray) -> DlArray {
    DlArray::from_data(Arc::new(Data::zeros(p.dtype(), p.shape())))
}

/// Checks that `v` is finite and within `[lo, hi]` (`hi_open` makes the upper bound strict,
/// `lo_open` the lower).
pub(crate) fn check_range(op: &str, name: &str, v: f64, lo: f64, lo_open: bool, hi: f64, hi_open: bool) -> Result<()> {
    let above = if lo_open { v > lo } else { v >= lo };
    let below = if hi_open { v < hi } else { v <= hi };
    if v.is_finite() && above && below {
        return Ok(());
    }
    let (l, h) = (if lo_open { "(" } else { "[" }, if hi_open { ")" } else { "]" });
    Err(Error::argument(op, format!("{name} must be a finite number in {l}{lo}, {hi}{h}, got {v}")))
}

/// Keeps the dtype: the arithmetic above promotes with `f64` scalars, which never widens a
/// single-precision array, but be explicit in case the rules change.
pub(crate) fn same_dtype(a: DlArray, dtype: DType) -> Result<DlArray> {
    a.check()?;
    Ok(a.cast(dtype))
}
