//! `dlgradient`: the reverse sweep over the innermost trace.

use super::call_rule::{call_vjp_outputs, takes_all_outputs};
use super::differentiable::Differentiable;
use super::vjp::vjp;
use crate::array::{DType, Data};
use crate::error::{Error, Result};
use crate::ir::{Node, NodeId, Op, Origin, Region};
use crate::trace::context::{tracing, with_top, NodeRef};
use crate::trace::current_origin;
use crate::trace::{DlArray, Value};
use num_complex::Complex64;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::sync::Arc;

/// Options of [`dlgradient_with`], MATLAB's name-value arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradOptions {
    /// Keep the trace after this call so a later `dlgradient` in the same `dlfeval` can use it.
    /// Without it, the part of the trace this call consumed is released. No effect when higher
    /// derivatives are on.
    pub retain_data: bool,
    /// `Some(true)`: the gradients are traced, so they can be differentiated again (Hessian
    /// rows, gradient penalties). `None` means false under `dlfeval` and true inside an
    /// accelerated function (where gradients are always traced), and true for `dljacobian`,
    /// `dldivergence` and `dllaplacian` (MATLAB R2024b's default).
    pub enable_higher_derivatives: Option<bool>,
    /// When false, a complex variable is an error and every gradient is real.
    pub allow_complex: bool,
}

impl Default for GradOptions {
    fn default() -> Self {
        GradOptions { retain_data: false, enable_higher_derivatives: None, allow_complex: true }
    }
}

/// The gradient of the real scalar `y` with respect to `xs`: `&x` for one array or any tree
/// (`Vec`, maps, [`ParamTable`](crate::ParamTable), nested), or a tuple of those. Each gradient
/// has its variable's shape and dtype; a variable `y` does not depend on gets zeros. Must be
/// called inside [`dlfeval`](crate::dlfeval) or an accelerated function.
///
/// For complex `x = a + ib` the gradient is `dy/da + i dy/db`.
///
/// ```
/// use cranegrad::prelude::*;
/// use ndarray::array;
/// let (g1, g2) = dlfeval(
///     |(a, b): (DlArray, DlArray)| dlgradient(&(&a * &b).sum_all(), (&a, &b)),
///     (DlArray::from(array![2.0]), DlArray::from(array![5.0])),
/// ).unwrap();
/// assert_eq!(g1.to_scalar::<f64>().unwrap(), 5.0);
/// assert_eq!(g2.to_scalar::<f64>().unwrap(), 2.0);
/// ```
#[track_caller]
pub fn dlgradient<X: Differentiable>(y: &DlArray, xs: X) -> Result<X::Grad> {
    dlgradient_with(y, xs, GradOptions::default())
}

/// [`dlgradient`] with options.
///
/// The nodes the reverse sweep records carry the origin of the forward op whose VJP rule made
/// them, marked backward; the few that belong to no single op (the final casts) carry this
/// call's line, marked backward.
#[track_caller]
pub fn dlgradient_with<X: Differentiable>(y: &DlArray, xs: X, options: GradOptions) -> Result<X::Grad> {
    let here = Origin::caller().backward();
    let mut vars = Vec::new();
    xs.variables(&mut vars);
    let grads = {
        let _origin = current_origin::scoped(Some(here));
        gradients(y, &vars, &options)?
    };
    xs.assemble(&mut grads.into_iter())
}

/// What the sweep needs from the trace, copied out so ops can record while it runs. Only the
/// part of the trace from the earliest variable to `y` is read (node ids from `lo`), so a
/// gradient costs time in proportion to that part, not to everything traced before it.
struct Snapshot {
    trace: u64,
    y: NodeId,
    /// The earliest variable's node (or `y`'s): nothing before it depends on a variable.
    lo: NodeId,
    nodes: Vec<(NodeId, Node)>,
    /// Each node's value the sweep reads: its data, or pending on its node (a lazy trace).
    values: FxHashMap<NodeId, Value>,
    vars: Vec<Option<NodeId>>,
    /// For nodes `lo..=y`: on a path from a variable to `y`.
    on_path: Vec<bool>,
    accelerating: bool,
}

impl Snapshot {
    /// True when node `id` is on a path from a variable to `y`.
    fn on_path(&self, id: NodeId) -> bool {
        id >= self.lo && self.on_path.get(id - self.lo).copied().unwrap_or(false)
    }
}

/// `Err` unless `y` depends on something traced (an input, a variable, a traced gradient): as
/// MATLAB's "value to differentiate is not traced", a y computed from constants alone is an
/// error rather than a silent zero gradient. Reads the whole trace before `y` (only called when
/// `y` depends on no variable).
fn require_traced(t: &crate::trace::context::Trace, y_id: NodeId) -> Result<()> {
    let mut traced = vec![false; y_id + 1];
    for id in 0..=y_id {
        let node = &t.graph.nodes[id];
        traced[id] = matches!(node.op, Op::Input(_)) || node.region != 0 || node.inputs.iter().any(|&i| traced[i]);
    }
    if traced[y_id] {
        Ok(())
    } else {
        Err(Error::Gradient(
            "y is not traced: it depends on no input of dlfeval (or of the accelerated function), no variable and \
             no traced gradient; compute it from those arrays"
                .into(),
        ))
    }
}

fn snapshot(y: &DlArray, vars: &[&DlArray]) -> Result<Snapshot> {
    with_top(|t| -> Result<Snapshot> {
        if let Some(e) = &t.error {
            return Err(e.clone());
        }
        let y_id = t.own(y.node).ok_or_else(|| {
            Error::Gradient(
                "y is not traced: compute it from the arrays passed to dlfeval (or the accelerated function), \
                 inside that call"
                    .into(),
            )
        })?;
        let var_ids: Vec<Option<NodeId>> = vars.iter().map(|v| t.own(v.node)).collect();
        let lo = var_ids.iter().flatten().copied().filter(|&id| id <= y_id).min().unwrap_or(y_id);
        // One forward pass from the earliest variable: which nodes depend on a variable.
        let mut from_vars = vec![false; y_id + 1 - lo];
        for id in var_ids.iter().flatten().filter(|&&id| id <= y_id) {
            from_vars[*id - lo] = true;
        }
        for id in lo..=y_id {
            let node = &t.graph.nodes[id];
            from_vars[id - lo] |= node.inputs.iter().any(|&i| i >= lo && from_vars[i - lo]);
        }
        if !from_vars[y_id - lo] {
            require_traced(t, y_id)?;
        }
        let mut on_path = vec![false; y_id + 1 - lo];
        on_path[y_id - lo] = from_vars[y_id - lo];
        for id in (lo..=y_id).rev() {
            if on_path[id - lo] {
                for &i in t.graph.nodes[id].inputs.iter().filter(|&&i| i >= lo) {
                    on_path[i - lo] |= from_vars[i - lo];
                }
            }
        }
        let mut values = FxHashMap::default();
        let mut nodes = Vec::new();
        for id in (lo..=y_id).filter(|&id| on_path[id - lo]) {
            let node = &t.graph.nodes[id];
            // A node's operands are read only when its rule runs: when one of them is on a path
            // (a variable computed from released values needs none of them).
            let rule_runs = node.inputs.iter().any(|&i| i >= lo && on_path[i - lo]);
            let operands = if rule_runs { &node.inputs[..] } else { &[] };
            for &i in operands.iter().chain(std::iter::once(&id)) {
                if values.contains_key(&i) {
                    continue;
                }
                let value = match &t.values[i] {
                    Some(d) => Value::Ready(d.clone()),
                    None if t.lazy => {
                        let n = &t.graph.nodes[i];
                        Value::pending(n.dtype, n.shape.clone(), NodeRef { trace: t.id, id: i })
                    }
                    None => return Err(Error::Released),
                };
                values.insert(i, value);
            }
            nodes.push((id, node.clone()));
        }
        Ok(Snapshot { trace: t.id, y: y_id, lo, nodes, values, vars: var_ids, on_path, accelerating: t.accelerating })
    })
    .unwrap_or_else(|| {
        Err(Error::Gradient(
            "called outside dlfeval or an accelerated function: wrap the computation in dlfeval(|x| ..., x0)".into(),
        ))
    })
}

/// The gradient of `y` with respect to each of `vars`.
pub(crate) fn gradients(y: &DlArray, vars: &[&DlArray], options: &GradOptions) -> Result<Vec<DlArray>> {
    let untraced_body = with_top(|t| t.captures.as_ref().is_some_and(|c| c.untraced)).unwrap_or(false);
    if !tracing() || untraced_body {
        return Err(Error::Gradient(
            "called outside dlfeval or an accelerated function: wrap the computation in dlfeval(|x| ..., x0)".into(),
        ));
    }
    let started = std::time::Instant::now();
    let result = gradients_untimed(y, vars, options);
    crate::trace::context::add_differentiation_time(started.elapsed());
    result
}

fn gradients_untimed(y: &DlArray, vars: &[&DlArray], options: &GradOptions) -> Result<Vec<DlArray>> {
    let (y_dtype, y_shape) = y.meta()?;
    if y_shape.iter().product::<usize>() != 1 {
        return Err(Error::Gradient(format!(
            "y must be a scalar, but it has shape {y_shape:?}; reduce it first (sum_all or mean_all)"
        )));
    }
    if y_dtype.is_complex() || y_dtype == DType::Bool {
        return Err(Error::Gradient(format!("y must be real, but it is {y_dtype}; take real() or abs() of it first")));
    }
    for v in vars {
        let (dtype, _) = v.meta()?;
        if dtype.is_complex() && !options.allow_complex {
            return Err(Error::Gradient(
                "a variable is complex but allow_complex is false; pass GradOptions { allow_complex: true, .. }".into(),
            ));
        }
    }
    let snap = snapshot(y, vars)?;
    let higher = snap.accelerating || options.enable_higher_derivatives.unwrap_or(false);
    let previous_region = with_top(|t| {
        let previous = t.region;
        if higher {
            t.graph.regions.push(Region { of: Some(snap.y), wrt: snap.vars.iter().flatten().copied().collect() });
            t.region = (t.graph.regions.len() - 1) as u32;
        }
        previous
    })
    .unwrap_or(0);
    let result = sweep(&snap, higher, current_origin::current());
    with_top(|t| {
        t.region = previous_region;
        if !higher && !options.retain_data {
            // Only intermediate values are released: the inputs and constants are the caller's
            // own arrays (releasing them frees nothing), and later computations from them are a
            // fresh part of the trace that a later dlgradient may differentiate.
            for &id in snap.values.keys() {
                if !matches!(t.graph.nodes[id].op, Op::Input(_) | Op::Constant(_)) {
                    t.values[id] = None;
                }
            }
        }
    });
    let cts = result?;
    let mut out = Vec::with_capacity(vars.len());
    for (v, id) in vars.iter().zip(&snap.vars) {
        let (dtype, shape) = v.meta()?;
        let g = id.filter(|&id| id >= snap.lo).and_then(|id| cts.get(id - snap.lo).cloned().flatten());
        let g = match g {
            Some(g) => g.cast(dtype),
            None => DlArray::from_data(Arc::new(Data::zeros(dtype, shape))),
        };
        if let Some((_, g_shape)) = g.dtype_and_shape() {
            if g_shape != shape {
                return Err(Error::Gradient(format!(
                    "internal: gradient shape {g_shape:?} differs from its variable's {shape:?}"
                )));
            }
        }
        out.push(if higher { g } else { g.untraced()? });
    }
    Ok(out)
}

/// The reverse sweep: cotangents of every node on a path from the variables to `y`. The
/// nodes each VJP rule records (and the sums of cotangents) carry the forward node's origin,
/// marked backward, or `fallback` when the forward node has none.
fn sweep(snap: &Snapshot, higher: bool, fallback: Option<Origin>) -> Result<Vec<Option<DlArray>>> {
    let handle = |id: NodeId| -> DlArray {
        let value = snap.values.get(&id).cloned().expect("snapshot holds every value the sweep reads");
        DlArray { value: Ok(value), node: higher.then_some(NodeRef { trace: snap.trace, id }) }
    };
    // Cotangents of nodes `lo..=y`, at `id - lo` (nothing before `lo` is on a path).
    let mut cts: Vec<Option<DlArray>> = vec![None; snap.y + 1 - snap.lo];
    if !snap.on_path(snap.y) {
        return Ok(cts);
    }
    let y_dtype = snap.nodes.last().map(|(_, n)| n.dtype).unwrap_or(DType::F64);
    // The seed: a constant node when the sweep is traced, so that the ops the rules apply to it
    // (the broadcast of a sum's cotangent, say) are recorded rather than computed in full.
    cts[snap.y - snap.lo] = Some({
        let y_origin = snap.nodes.last().and_then(|(_, n)| n.origin);
        let _origin = current_origin::scoped(y_origin.map(Origin::backward).or(fallback));
        let one = Data::full(y_dtype, &[], Complex64::new(1.0, 0.0));
        let seed = if higher { DlArray::from_data_traced(one) } else { DlArray::from_data(Arc::new(one)) };
        seed.reshape(&snap.nodes.last().map(|(_, n)| n.shape.clone()).unwrap_or_default())
    });
    let mut position = snap.nodes.len();
    while position > 0 {
        position -= 1;
        let (id, node) = &snap.nodes[position];
        let wants: SmallVec<[bool; 4]> = node.inputs.iter().map(|&i| snap.on_path(i)).collect();
        if let Op::Call(c) = &node.op {
            if takes_all_outputs(c) {
                // The outputs of one call are adjacent: take every sibling's cotangent at once.
                let first = group_start(snap, position, c, &node.inputs);
                let mut outputs: Vec<Option<DlArray>> = vec![None; c.target.output_types().len()];
                for (sid, sibling) in &snap.nodes[first..=position] {
                    if let Op::Call(s) = &sibling.op {
                        outputs[s.output] = cts[*sid - snap.lo].clone();
                    }
                }
                position = first;
                if outputs.iter().all(Option::is_none) || !wants.iter().any(|&w| w) {
                    continue;
                }
                let _origin = current_origin::scoped(node.origin.map(Origin::backward).or(fallback));
                let xs: Vec<DlArray> = node.inputs.iter().map(|&i| handle(i)).collect();
                let contributions = call_vjp_outputs(c, &xs, &outputs, &wants)?;
                accumulate(&mut cts, snap.lo, &node.inputs, contributions, &wants)?;
                continue;
            }
        }
        let Some(ct) = cts[*id - snap.lo].clone() else { continue };
        if !wants.iter().any(|&w| w) {
            continue;
        }
        let _origin = current_origin::scoped(node.origin.map(Origin::backward).or(fallback));
        let xs: SmallVec<[DlArray; 2]> = node.inputs.iter().map(|&i| handle(i)).collect();
        let contributions = vjp(&node.op, &xs, &handle(*id), &ct, &wants)?;
        accumulate(&mut cts, snap.lo, &node.inputs, contributions, &wants)?;
    }
    Ok(cts)
}

/// Adds each wanted contribution to its input's cotangent (at `input - lo`).
fn accumulate(
    cts: &mut [Option<DlArray>],
    lo: NodeId,
    inputs: &[NodeId],
    contributions: impl IntoIterator<Item = Option<DlArray>>,
    wants: &[bool],
) -> Result<()> {
    for ((&i, g), &want) in inputs.iter().zip(contributions).zip(wants) {
        let Some(g) = g.filter(|_| want) else { continue };
        g.check()?;
        cts[i - lo] = Some(match cts[i - lo].take() {
            Some(acc) => acc + g,
            None => g,
        });
    }
    Ok(())
}

/// The position in the snapshot of the first output of the call whose output node sits at
/// `position` (its siblings come right before it, on the same operands).
fn group_start(snap: &Snapshot, position: usize, c: &crate::ir::Call, inputs: &[NodeId]) -> usize {
    let mut first = position;
    while first > 0 {
        let (_, prev) = &snap.nodes[first - 1];
        match &prev.op {
            Op::Call(p) if Arc::ptr_eq(&p.target, &c.target) && prev.inputs.as_slice() == inputs => first -= 1,
            _ => break,
        }
    }
    first
}
