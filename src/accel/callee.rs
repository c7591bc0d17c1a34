//! A cache entry as the target of `call` nodes: its kernel is the entry's program, and its VJP
//! for each output is an accelerated function of (inputs, cotangent), made on first use by the
//! factory the accelerated function hands in (so this file needs nothing from `function.rs`).

use super::program::Program;
use crate::array::{DType, Data};
use crate::autodiff::{CallBackward, CallVjp};
use crate::error::{Error, Result};
use crate::ir::CallTarget;
use crate::trace::DlArray;
use std::any::Any;
use std::sync::{Arc, OnceLock};

/// The backward function of one output: `(inputs, ct) -> cotangents of the inputs`.
pub(crate) type BackwardFn = Box<dyn Fn((Vec<DlArray>, DlArray)) -> Result<Vec<DlArray>> + Send + Sync>;

/// Makes the backward function of output `i`.
pub(crate) type BackwardFactory = Box<dyn Fn(usize) -> BackwardFn + Send + Sync>;

/// An entry's program and types, as a call target.
pub(crate) struct EntryCallee {
    name: String,
    program: Arc<Program>,
    inputs: Vec<(DType, Vec<usize>)>,
    outputs: Vec<(DType, Vec<usize>)>,
    backward: CallBackward,
}

/// The backward functions of an entry's outputs, each made once.
struct EntryBackward {
    name: String,
    make: BackwardFactory,
    made: Vec<OnceLock<BackwardFn>>,
}

impl EntryCallee {
    /// The call target of `entry`'s program; `make` builds output `i`'s backward function.
    pub fn new(name: &str, program: &Arc<Program>, make: BackwardFactory) -> Self {
        let g = &program.unoptimized;
        let types = |ids: &[usize]| ids.iter().map(|&i| (g.nodes[i].dtype, g.nodes[i].shape.to_vec())).collect();
        let outputs: Vec<(DType, Vec<usize>)> = types(&g.outputs);
        let backward =
            EntryBackward { name: name.to_string(), make, made: outputs.iter().map(|_| OnceLock::new()).collect() };
        EntryCallee {
            name: name.to_string(),
            program: program.clone(),
            inputs: types(&g.inputs()),
            outputs,
            backward: CallBackward(Arc::new(backward)),
        }
    }
}

impl CallVjp for EntryBackward {
    fn vjp(&self, output: usize, inputs: &[DlArray], ct: &DlArray) -> Result<Vec<DlArray>> {
        let slot = self
            .made
            .get(output)
            .ok_or_else(|| Error::Gradient(format!("internal: {} has no output {output}", self.name)))?;
        slot.get_or_init(|| (self.make)(output))((inputs.to_vec(), ct.clone()))
    }
}

impl CallTarget for EntryCallee {
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
        let refs: Vec<&Arc<Data>> = inputs.iter().collect();
        Ok(self.program.run(&refs)?.into_vec())
    }
    fn backward_rule(&self) -> &(dyn Any + Send + Sync) {
        &self.backward
    }
}
