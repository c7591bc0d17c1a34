//! A cache entry as the target of `call` nodes: its kernel is the entry's program, and its VJP
//! for each output is an accelerated function of (inputs, cotangent), traced from the user's
//! function on first use, compiled and cached like any other.

use super::function::{accelerate, AcceleratedFunction};
use super::program::Program;
use crate::array::{DType, Data};
use crate::autodiff::Tree;
use crate::error::{Error, Result};
use crate::ir::CallTarget;
use crate::trace::DlArray;
use crate::{dlgradient, Result as CrateResult};
use std::sync::{Arc, OnceLock};

type Backward = AcceleratedFunction<(Vec<DlArray>, DlArray), Vec<DlArray>>;

/// An entry's program plus what is needed to differentiate it.
pub(crate) struct EntryCallee<A, R> {
    name: String,
    f: Arc<dyn Fn(A) -> CrateResult<R> + Send + Sync>,
    program: Arc<Program>,
    /// The argument tree with placeholder arrays (its plain values are part of the key).
    args_template: A,
    inputs: Vec<(DType, Vec<usize>)>,
    outputs: Vec<(DType, Vec<usize>)>,
    backward: Vec<OnceLock<Backward>>,
}

impl<A: Tree + Send + Sync + 'static, R: Tree + Send + Sync + 'static> EntryCallee<A, R> {
    pub fn new(
        name: &str,
        f: Arc<dyn Fn(A) -> CrateResult<R> + Send + Sync>,
        entry: &super::cache::Entry<R>,
        args: &A,
    ) -> Self {
        let g = &entry.program.unoptimized;
        let types = |ids: &[usize]| ids.iter().map(|&i| (g.nodes[i].dtype, g.nodes[i].shape.clone())).collect();
        let outputs: Vec<(DType, Vec<usize>)> = types(&g.outputs);
        EntryCallee {
            name: name.to_string(),
            f,
            program: entry.program.clone(),
            args_template: args.clone(),
            inputs: types(&g.inputs()),
            backward: outputs.iter().map(|_| OnceLock::new()).collect(),
            outputs,
        }
    }

    /// The accelerated VJP of output `i`: `(inputs, ct) -> cotangents of the inputs`.
    fn backward(&self, i: usize) -> &Backward {
        self.backward[i].get_or_init(|| {
            let (f, template) = (self.f.clone(), self.args_template.clone());
            accelerate(move |(xs, ct): (Vec<DlArray>, DlArray)| {
                let mut next = xs.iter();
                let args = template.map_arrays(&mut |_| {
                    next.next().cloned().ok_or_else(|| Error::Gradient("internal: missing call input".into()))
                })?;
                let result = f(args)?;
                let out = result
                    .arrays()
                    .get(i)
                    .map(|a| (*a).clone())
                    .ok_or_else(|| Error::Gradient("internal: missing call output".into()))?;
                let contracted =
                    if ct.dtype().is_complex() { (ct.conj() * out).real().sum_all() } else { (&ct * &out).sum_all() };
                dlgradient(&contracted, &xs)
            })
        })
    }
}

impl<A: Tree + Send + Sync + 'static, R: Tree + Send + Sync + 'static> CallTarget for EntryCallee<A, R> {
    fn name(&self) -> &str {
        &self.name
    }
    fn input_types(&self) -> &[(DType, Vec<usize>)] {
        &self.inputs
    }
    fn output_types(&self) -> &[(DType, Vec<usize>)] {
        &self.outputs
    }
    fn run(&self, inputs: &[Arc<Data>]) -> Result<Vec<Arc<Data>>> {
        self.program.run(inputs)
    }
    fn vjp(&self, output: usize, inputs: &[DlArray], ct: &DlArray) -> Result<Vec<DlArray>> {
        if output >= self.backward.len() {
            return Err(Error::Gradient(format!("internal: {} has no output {output}", self.name)));
        }
        self.backward(output).call((inputs.to_vec(), ct.clone()))
    }
}
