//! `scan` and `fori_loop` (a scan over the step indices): one node whose body is traced once.

use super::build::{check_returned, leaves, prune_captures, record, structure, types_of, LeafType};
use super::residuals::{save, Layout};
use super::target::{Kind, LoopRule, LoopTarget, Part};
use super::LoopOptions;
use crate::array::Data;
use crate::custom::trees::{rebuild, template};
use crate::error::{Error, Result};
use crate::trace::{trace_body, DlArray, Tree};
use ndarray::{ArrayD, IxDyn};
use std::cell::RefCell;
use std::panic::Location;
use std::sync::Arc;

/// `body(i, carry)` for `i = 0, 1, .., n-1` (`i` an f64 scalar), starting from `init`: the last
/// carry. One node whose body is traced once, whatever `n`; see docs/API.md section 7.
///
/// ```
/// use cranegrad::prelude::*;
/// let x = fori_loop(10, DlArray::scalar(1.0), |_i, x| Ok(&x * 2.0)).unwrap();
/// assert_eq!(x.to_scalar::<f64>().unwrap(), 1024.0);
/// ```
#[track_caller]
pub fn fori_loop<C: Tree, F: Fn(&DlArray, C) -> Result<C>>(n: usize, init: C, body: F) -> Result<C> {
    fori_loop_at(Location::caller(), n, init, body, LoopOptions::default())
}

/// [`fori_loop`] with options.
#[track_caller]
pub fn fori_loop_with<C: Tree, F: Fn(&DlArray, C) -> Result<C>>(
    n: usize,
    init: C,
    body: F,
    options: LoopOptions,
) -> Result<C> {
    fori_loop_at(Location::caller(), n, init, body, options)
}

fn fori_loop_at<C: Tree, F: Fn(&DlArray, C) -> Result<C>>(
    here: &Location,
    n: usize,
    init: C,
    body: F,
    options: LoopOptions,
) -> Result<C> {
    let name = format!("fori_loop at {}:{}", here.file(), here.line());
    let indices = ArrayD::from_shape_vec(IxDyn(&[n]), (0..n).map(|i| i as f64).collect())
        .map_err(|e| Error::argument(&name, e.to_string()))?;
    let indices = DlArray::from_data(Arc::new(Data::F64(indices)));
    let (carry, ()) = scan_tree(&name, init, indices, |c, i: DlArray| Ok((body(&i, c)?, ())), options)?;
    Ok(carry)
}

/// `body(carry, x_t) -> (carry, y_t)` over `xs` sliced along axis 0 (every leaf the same length
/// `T`), starting from `init`: the last carry and every `y_t` stacked along a new axis 0 (JAX's
/// `lax.scan`). One node whose body is traced once; see docs/API.md section 7.
///
/// ```
/// use cranegrad::prelude::*;
/// use ndarray::array;
/// let xs = DlArray::from(array![1.0, 2.0, 3.0]);
/// let (total, partial) = scan(DlArray::scalar(0.0), xs, |s, x: DlArray| {
///     let s = &s + &x;
///     Ok((s.clone(), s))
/// }).unwrap();
/// assert_eq!(total.to_scalar::<f64>().unwrap(), 6.0);
/// assert_eq!(partial.extractdata::<f64>().unwrap().into_raw_vec_and_offset().0, vec![1.0, 3.0, 6.0]);
/// ```
#[track_caller]
pub fn scan<C: Tree, X: Tree, Y: Tree, F: Fn(C, X) -> Result<(C, Y)>>(init: C, xs: X, body: F) -> Result<(C, Y)> {
    let here = Location::caller();
    scan_tree(&format!("scan at {}:{}", here.file(), here.line()), init, xs, body, LoopOptions::default())
}

/// [`scan`] with options.
#[track_caller]
pub fn scan_with<C: Tree, X: Tree, Y: Tree, F: Fn(C, X) -> Result<(C, Y)>>(
    init: C,
    xs: X,
    body: F,
    options: LoopOptions,
) -> Result<(C, Y)> {
    let here = Location::caller();
    scan_tree(&format!("scan at {}:{}", here.file(), here.line()), init, xs, body, options)
}

/// A scan over trees: the flat scan with the trees taken apart and put back together.
fn scan_tree<C: Tree, X: Tree, Y: Tree, F: Fn(C, X) -> Result<(C, Y)>>(
    name: &str,
    init: C,
    xs: X,
    body: F,
    options: LoopOptions,
) -> Result<(C, Y)> {
    let (carry, carry_types) = leaves(&init)?;
    let (xs_arrays, _) = leaves(&xs)?;
    let (init_template, xs_template, init_structure) = (template(&init)?, template(&xs)?, structure(&init));
    let y_template: RefCell<Option<Y>> = RefCell::new(None);
    let (c, ys) = scan_arrays(name, (&carry, &xs_arrays), false, options, true, |c, x| {
        let (c, y) = body(rebuild(name, &init_template, &c)?, rebuild(name, &xs_template, &x)?)?;
        let (c_arrays, c_types) = leaves(&c)?;
        check_returned(
            name,
            "the carry the body returned",
            (&init_structure, &carry_types),
            (&structure(&c), &c_types),
        )?;
        let (y_arrays, _) = leaves(&y)?;
        *y_template.borrow_mut() = Some(template(&y)?);
        Ok((c_arrays, y_arrays))
    })?;
    let y_template = y_template.into_inner().ok_or_else(|| Error::argument(name, "internal: the body did not run"))?;
    Ok((rebuild(name, &init_template, &c)?, rebuild(name, &y_template, &ys)?))
}

/// The flat scan: `body(carry leaves, x_t leaves) -> (carry leaves, y_t leaves)` traced once
/// (its returned carry already checked) into a scan node over `xs`, from the last row when
/// `reverse`. Returns the last carry and the stacked `y`s. With `keep`, the node can also stack
/// the carry each step starts from and the residuals of the body's VJP, for reverse mode
/// (`Kind::Scan`'s `kept` and `saved`).
pub(crate) fn scan_arrays(
    name: &str,
    (carry, xs): (&[DlArray], &[DlArray]),
    reverse: bool,
    options: LoopOptions,
    keep: bool,
    body: impl FnOnce(Vec<DlArray>, Vec<DlArray>) -> Result<(Vec<DlArray>, Vec<DlArray>)>,
) -> Result<(Vec<DlArray>, Vec<DlArray>)> {
    let carry_types = types_of(carry)?;
    let xs_types = types_of(xs)?;
    let length = scan_length(name, &xs_types)?;
    if options.max_iterations.is_some_and(|m| length > m) {
        return Err(Error::argument(
            name,
            format!("{length} steps, past max_iterations ({:?})", options.max_iterations),
        ));
    }
    let row_types: Vec<LeafType> = xs_types.iter().map(|(d, s)| (*d, s[1..].to_vec())).collect();
    let arguments: Vec<LeafType> = carry_types.iter().chain(&row_types).cloned().collect();
    let nc = carry.len();
    let ys_count = RefCell::new(0);
    let traced = trace_body(name, &arguments, Vec::new(), |mut args| {
        let x = args.split_off(nc);
        let received = if keep { args.clone() } else { Vec::new() };
        let (c, y) = body(args, x)?;
        check_returned(name, "the carry the body returned", ("", &carry_types), ("", &types_of(&c)?))?;
        *ys_count.borrow_mut() = y.len();
        Ok(c.into_iter().chain(y).chain(received).collect())
    })?;
    let ys = ys_count.into_inner();
    let (mut graphs, captures) = prune_captures(vec![traced.graph], arguments.len(), traced.captures)?;
    let mut graph = graphs.pop().ok_or_else(|| Error::argument(name, "internal: no body"))?;
    let all_inputs: Vec<LeafType> = arguments.iter().cloned().chain(types_of(&captures)?).collect();
    super::build::add_missing_inputs(&mut graph, &all_inputs);
    // Residuals for reverse mode (not with checkpoints: there each chunk's second run keeps its own).
    let layout = Layout { carry: nc, xs: xs.len(), ys, kept: nc };
    let saved = if keep && options.checkpoint_every.is_none() { save(name, &mut graph, layout) } else { 0 };
    let y_types: Vec<LeafType> = graph.outputs[nc..]
        .iter()
        .map(|&o| {
            let n = &graph.nodes[o];
            (n.dtype, std::iter::once(length).chain(n.shape.iter().copied()).collect())
        })
        .collect();
    let inputs: Vec<LeafType> = carry_types.iter().chain(&xs_types).cloned().chain(types_of(&captures)?).collect();
    let body = Part::looped(graph, nc + xs.len())?;
    let target = Arc::new_cyclic(|me| LoopTarget {
        name: name.to_string(),
        kind: Kind::Scan { length, reverse, ys, kept: keep, saved },
        carry: nc,
        xs: xs.len(),
        body,
        other: None,
        reverse_step: None,
        inputs,
        outputs: carry_types.iter().cloned().chain(y_types).collect(),
        backward: LoopRule::backward(me.clone(), options),
        options,
        drivers: Default::default(),
        hidden: Default::default(),
    });
    let operands: Vec<DlArray> = carry.iter().chain(xs).chain(&captures).cloned().collect();
    let mut results = record(target, &operands, Some(nc + ys))?;
    let ys = results.split_off(nc);
    Ok((results, ys))
}

/// The common length of the `xs` leaves along axis 0.
fn scan_length(name: &str, xs_types: &[LeafType]) -> Result<usize> {
    let Some((_, first)) = xs_types.first() else {
        return Err(Error::argument(name, "xs has no arrays: a scan needs at least one array to slice"));
    };
    let length = *first
        .first()
        .ok_or_else(|| Error::argument(name, "an xs leaf is a scalar: every leaf needs an axis 0 to slice"))?;
    if let Some((d, s)) = xs_types.iter().find(|(_, s)| s.first() != Some(&length)) {
        return Err(Error::argument(
            name,
            format!("xs leaves of different lengths: {d}{s:?} where axis 0 has length {length}"),
        ));
    }
    Ok(length)
}
