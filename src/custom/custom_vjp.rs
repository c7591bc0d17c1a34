//! `custom_vjp`: a function whose forward is traced with ops as usual and whose reverse-mode
//! rule is the user's, itself written with ops (so it is differentiable again). Each output
//! becomes a `custom_vjp` node over (that output, every output, every input); reverse mode
//! applies the rule there instead of going through the forward's ops.

use super::trees::{input_cotangents, one_hot_cotangents, rebuild, template};
use crate::autodiff::{CustomRule, CustomRuleBox};
use crate::error::Result;
use crate::ir::{CustomVjp, Op};
use crate::trace::context::tracing;
use crate::trace::{emit, DlArray, Tree};
use std::sync::Arc;

/// The forward of a [`CustomFunction`].
type Forward<A, R> = dyn Fn(A) -> Result<R> + Send + Sync;

/// The rule of a [`CustomFunction`]: `(inputs, outputs, output cotangent) -> input cotangents`.
type Vjp<A, R> = dyn Fn(&A, &R, R) -> Result<A> + Send + Sync;

/// A function with a derivative rule of the user's, made by [`custom_vjp`].
pub struct CustomFunction<A, R> {
    forward: Arc<Forward<A, R>>,
    vjp: Arc<Vjp<A, R>>,
}

impl<A, R> Clone for CustomFunction<A, R> {
    fn clone(&self) -> Self {
        CustomFunction { forward: self.forward.clone(), vjp: self.vjp.clone() }
    }
}

/// A function whose reverse-mode derivative is `vjp` (JAX's `custom_vjp`, PyTorch's
/// `autograd.Function`): `forward` is traced with ops as usual; `vjp` receives the inputs, the
/// outputs and the outputs' cotangent (a tree like the outputs) and returns the inputs'
/// cotangents (a tree like the inputs), written with ops, so it can be differentiated again.
/// Forward mode (`dljvp`, `dlhvp`) goes through the rule by transposition.
///
/// ```
/// use cranegrad::prelude::*;
/// // softplus, with the stable derivative sigmoid(x)
/// let softplus = custom_vjp(
///     |x: DlArray| Ok((x.exp() + 1.0).log()),
///     |x: &DlArray, _y: &DlArray, ct: DlArray| Ok(ct * x.sigmoid()),
/// );
/// let g = dlfeval(|x: DlArray| dlgradient(&softplus.call(x.clone())?.sum_all(), &x),
///                 DlArray::scalar(0.0)).unwrap();
/// assert!((g.to_scalar::<f64>().unwrap() - 0.5).abs() < 1e-15);
/// ```
pub fn custom_vjp<A, R, F, V>(forward: F, vjp: V) -> CustomFunction<A, R>
where
    A: Tree + Send + Sync + 'static,
    R: Tree + Send + Sync + 'static,
    F: Fn(A) -> Result<R> + Send + Sync + 'static,
    V: Fn(&A, &R, R) -> Result<A> + Send + Sync + 'static,
{
    CustomFunction { forward: Arc::new(forward), vjp: Arc::new(vjp) }
}

impl<A, R> CustomFunction<A, R>
where
    A: Tree + Send + Sync + 'static,
    R: Tree + Send + Sync + 'static,
{
    /// Runs the forward on `args` (taken by value, as `af.call`); inside a trace, its outputs
    /// carry the rule.
    #[track_caller]
    pub fn call(&self, args: A) -> Result<R> {
        if !tracing() {
            return (self.forward)(args);
        }
        let inputs: Vec<DlArray> = args.arrays().into_iter().cloned().collect();
        let input_template = template(&args)?;
        let out = (self.forward)(args)?;
        let outputs: Vec<DlArray> = out.arrays().into_iter().cloned().collect();
        let rule = Rule { vjp: self.vjp.clone(), inputs: input_template, outputs: template(&out)? };
        let rule: Arc<dyn std::any::Any + Send + Sync> = Arc::new(CustomRuleBox(Arc::new(rule)));
        let name: Arc<str> = Arc::from("custom_vjp");
        let mut k = 0;
        out.map_arrays(&mut |y| {
            let op = CustomVjp { name: name.clone(), rule: rule.clone(), output: k, outputs: outputs.len() };
            k += 1;
            let operands: Vec<&DlArray> = std::iter::once(y).chain(&outputs).chain(&inputs).collect();
            let node = emit(Op::CustomVjp(op), &operands);
            node.check()?;
            Ok(node)
        })
    }
}

/// The rule of one call: the user's `vjp` and the structures of the inputs and outputs.
struct Rule<A, R> {
    vjp: Arc<Vjp<A, R>>,
    inputs: A,
    outputs: R,
}

impl<A: Tree + Send + Sync, R: Tree + Send + Sync> CustomRule for Rule<A, R> {
    fn vjp(&self, output: usize, inputs: &[DlArray], outputs: &[DlArray], ct: &DlArray) -> Result<Vec<DlArray>> {
        const CALL: &str = "custom_vjp";
        let a = rebuild(CALL, &self.inputs, inputs)?;
        let r = rebuild(CALL, &self.outputs, outputs)?;
        let cts = rebuild(CALL, &self.outputs, &one_hot_cotangents(outputs, output, ct)?)?;
        let grads = (self.vjp)(&a, &r, cts)?;
        input_cotangents(CALL, inputs, grads.arrays().into_iter().cloned().collect())
    }
}
