//! `while_loop`: one node holding its predicate and its body, each traced once; the loop runs
//! to its own stopping point on every call.

use super::build::{add_missing_inputs, check_returned, leaves, prune_captures, record, structure, types_of, LeafType};
use super::target::{Kind, LoopRule, LoopTarget, Part};
use super::LoopOptions;
use crate::array::DType;
use crate::custom::trees::{rebuild, template};
use crate::error::{Error, Result};
use crate::trace::{trace_body, DlArray, Tree};
use std::panic::Location;
use std::sync::Arc;

/// `body(carry)` while `cond(&carry)` holds, starting from `init`: the last carry. `cond`
/// returns a logical scalar. One node whose predicate and body are traced once; reverse mode
/// goes through it with the trip count of the forward run. See docs/API.md section 7.
///
/// ```
/// use cranegrad::prelude::*;
/// let x = while_loop(DlArray::scalar(1.0), |x| Ok(x.lt(&DlArray::scalar(100.0))), |x| Ok(&x * 3.0)).unwrap();
/// assert_eq!(x.to_scalar::<f64>().unwrap(), 243.0);
/// ```
#[track_caller]
pub fn while_loop<C, P, F>(init: C, cond: P, body: F) -> Result<C>
where
    C: Tree,
    P: Fn(&C) -> Result<DlArray>,
    F: Fn(C) -> Result<C>,
{
    while_loop_at(Location::caller(), init, cond, body, LoopOptions::default())
}

/// [`while_loop`] with options (`max_iterations`: past it the call is an `Err`).
#[track_caller]
pub fn while_loop_with<C, P, F>(init: C, cond: P, body: F, options: LoopOptions) -> Result<C>
where
    C: Tree,
    P: Fn(&C) -> Result<DlArray>,
    F: Fn(C) -> Result<C>,
{
    while_loop_at(Location::caller(), init, cond, body, options)
}

fn while_loop_at<C, P, F>(here: &Location, init: C, cond: P, body: F, options: LoopOptions) -> Result<C>
where
    C: Tree,
    P: Fn(&C) -> Result<DlArray>,
    F: Fn(C) -> Result<C>,
{
    while_named(format!("while_loop at {}:{}", here.file(), here.line()), init, cond, body, options)
}

/// [`while_loop_with`] under the given name (a loop a derivative rule builds names its source).
pub(super) fn while_named<C, P, F>(name: String, init: C, cond: P, body: F, options: LoopOptions) -> Result<C>
where
    C: Tree,
    P: Fn(&C) -> Result<DlArray>,
    F: Fn(C) -> Result<C>,
{
    let (carry, carry_types) = leaves(&init)?;
    let (init_template, init_structure) = (template(&init)?, structure(&init));
    let predicate = trace_body(&name, &carry_types, Vec::new(), |args| {
        let p = cond(&rebuild(&name, &init_template, &args)?)?;
        let (dtype, shape) = p.meta()?;
        if dtype != DType::Bool || shape.iter().product::<usize>() != 1 {
            return Err(Error::argument(
                &name,
                format!("the predicate must return a logical scalar, but it returned {dtype}{shape:?}"),
            ));
        }
        Ok(vec![p])
    })?;
    let traced = trace_body(&name, &carry_types, predicate.captures, |args| {
        let c = body(rebuild(&name, &init_template, &args)?)?;
        let (c_arrays, c_types) = leaves(&c)?;
        let returned = (structure(&c), c_types);
        check_returned(
            &name,
            "the carry the body returned",
            (&init_structure, &carry_types),
            (&returned.0, &returned.1),
        )?;
        Ok(c_arrays)
    })?;
    let (graphs, captures) = prune_captures(vec![traced.graph, predicate.graph], carry.len(), traced.captures)?;
    let inputs: Vec<LeafType> = carry_types.iter().cloned().chain(types_of(&captures)?).collect();
    let [mut body_graph, mut predicate_graph]: [_; 2] =
        graphs.try_into().map_err(|_| Error::argument(&name, "internal: two bodies"))?;
    add_missing_inputs(&mut body_graph, &inputs);
    add_missing_inputs(&mut predicate_graph, &inputs);
    let (body_part, predicate_part) =
        (Part::looped(body_graph, carry.len())?, Part::looped(predicate_graph, carry.len())?);
    let target = Arc::new_cyclic(|me| LoopTarget {
        name: name.clone(),
        kind: Kind::While { max_iterations: options.max_iterations },
        carry: carry.len(),
        xs: 0,
        body: body_part,
        other: Some(predicate_part),
        reverse_step: None,
        inputs,
        outputs: carry_types.clone(),
        backward: LoopRule::backward(me.clone(), options),
        options,
        drivers: Default::default(),
        hidden: Default::default(),
    });
    let operands: Vec<DlArray> = carry.iter().chain(&captures).cloned().collect();
    let results = record(target, &operands, None)?;
    rebuild(&name, &init_template, &results)
}
