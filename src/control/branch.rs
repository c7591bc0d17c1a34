//! `cond`: one node holding both branches, each traced once; one of them runs.

use super::build::{add_missing_inputs, check_returned, leaves, prune_captures, record, structure, types_of, LeafType};
use super::target::{Kind, LoopRule, LoopTarget, Part};
use super::LoopOptions;
use crate::array::DType;
use crate::custom::trees::{rebuild, template};
use crate::error::{Error, Result};
use crate::trace::{trace_body, DlArray, Tree};
use std::cell::RefCell;
use std::panic::Location;
use std::sync::Arc;

/// `then_branch(operands)` when the logical scalar `pred` holds, else `else_branch(operands)`.
/// Both branches are traced and must return the same structure, shapes and dtypes; one runs.
/// The gradient is the taken branch's; `pred` carries none. See docs/API.md section 7.
///
/// ```
/// use cranegrad::prelude::*;
/// let x = DlArray::scalar(-2.0);
/// let y = cond(&x.lt(&DlArray::scalar(0.0)), x.clone(), |x| Ok(-x), |x| Ok(x)).unwrap();
/// assert_eq!(y.to_scalar::<f64>().unwrap(), 2.0);
/// ```
#[track_caller]
pub fn cond<A, R, T, E>(pred: &DlArray, operands: A, then_branch: T, else_branch: E) -> Result<R>
where
    A: Tree,
    R: Tree,
    T: Fn(A) -> Result<R>,
    E: Fn(A) -> Result<R>,
{
    let here = Location::caller();
    let name = format!("cond at {}:{}", here.file(), here.line());
    let (arrays, _) = leaves(&operands)?;
    let operand_template = template(&operands)?;
    let returned: RefCell<Option<(R, String)>> = RefCell::new(None);
    let branch = |f: &dyn Fn(A) -> Result<R>, args: Vec<DlArray>| -> Result<Vec<DlArray>> {
        let r = f(rebuild(&name, &operand_template, &args)?)?;
        let (r_arrays, r_types) = leaves(&r)?;
        let mut first = returned.borrow_mut();
        match first.as_ref() {
            Some((t, s)) => {
                let want = leaves(t).map(|(_, types)| types).unwrap_or_default();
                check_returned(&name, "the else branch's result", (s, &want), (&structure(&r), &r_types))?
            }
            None => *first = Some((r.clone(), structure(&r))),
        }
        Ok(r_arrays)
    };
    let results = cond_arrays(&name, pred, &arrays, |a| branch(&then_branch, a), |a| branch(&else_branch, a))?;
    let (result_template, _) =
        returned.into_inner().ok_or_else(|| Error::argument(&name, "internal: no branch ran"))?;
    rebuild(&name, &result_template, &results)
}

/// The flat `cond`: both branches traced once (`then` first) on placeholders of the operands'
/// types, their results checked to agree, recorded as one node.
pub(crate) fn cond_arrays(
    name: &str,
    pred: &DlArray,
    operands: &[DlArray],
    then_branch: impl FnOnce(Vec<DlArray>) -> Result<Vec<DlArray>>,
    else_branch: impl FnOnce(Vec<DlArray>) -> Result<Vec<DlArray>>,
) -> Result<Vec<DlArray>> {
    let (dtype, shape) = pred.meta()?;
    if dtype != DType::Bool || shape.iter().product::<usize>() != 1 {
        return Err(Error::argument(name, format!("pred must be a logical scalar, but it is {dtype}{shape:?}")));
    }
    let pred_type = (dtype, shape.to_vec());
    let types = types_of(operands)?;
    let then_body = trace_body(name, &types, Vec::new(), then_branch)?;
    let else_body = trace_body(name, &types, then_body.captures, else_branch)?;
    let result_types = |g: &crate::ir::Graph| -> Vec<LeafType> {
        g.outputs.iter().map(|&o| (g.nodes[o].dtype, g.nodes[o].shape.to_vec())).collect()
    };
    let outputs = result_types(&then_body.graph);
    check_returned(name, "the else branch's result", ("", &outputs), ("", &result_types(&else_body.graph)))?;
    let (graphs, captures) = prune_captures(vec![then_body.graph, else_body.graph], types.len(), else_body.captures)?;
    let inputs: Vec<LeafType> = types.iter().cloned().chain(types_of(&captures)?).collect();
    let [mut then_graph, mut else_graph]: [_; 2] =
        graphs.try_into().map_err(|_| Error::argument(name, "internal: two branches"))?;
    add_missing_inputs(&mut then_graph, &inputs);
    add_missing_inputs(&mut else_graph, &inputs);
    let (then_part, else_part) = (Part::new(then_graph)?, Part::new(else_graph)?);
    let target = Arc::new_cyclic(|me| LoopTarget {
        name: name.to_string(),
        kind: Kind::Cond,
        carry: operands.len(),
        xs: 0,
        body: then_part,
        other: Some(else_part),
        reverse_step: None,
        inputs: std::iter::once(pred_type).chain(inputs).collect(),
        outputs,
        backward: LoopRule::backward(me.clone(), LoopOptions::default()),
        options: LoopOptions::default(),
        drivers: Default::default(),
        hidden: Default::default(),
    });
    let all: Vec<DlArray> = std::iter::once(pred.clone()).chain(operands.iter().cloned()).chain(captures).collect();
    record(target, &all, None)
}
