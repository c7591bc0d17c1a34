//! The assembled program: the run's steps and pointer table, its inputs' and outputs'
//! signatures, output prototypes, and the module that holds its code.

use super::steps::Schedule;
use crate::array::{DType, Data};
use crate::error::Result;
use crate::ir::{Graph, Op};
use crate::jit::emit::jerr;
use crate::jit::limits::PROTOTYPE_ELEMENTS;
use crate::jit::plan::products::is_inline_product;
use crate::jit::plan::{Plan, Slot};
use crate::jit::run::runtime::{self, Compiled, ModuleBox, OutSrc, Step};
use cranelift_jit::JITModule;
use std::sync::Mutex;

/// Where each graph output comes from.
fn output_sources(g: &Graph, plan: &Plan) -> Result<Vec<OutSrc>> {
    g.outputs
        .iter()
        .map(|&o| match &g.nodes[o].op {
            Op::Input(k) => Ok(OutSrc::Input(*k)),
            Op::Constant(d) => Ok(OutSrc::Const(d.clone())),
            _ => match plan.buffer[o].map(|s| &plan.slots[s]) {
                Some(Slot::Output(j)) => Ok(OutSrc::Alloc(*j)),
                _ => Err(jerr(format!("output %{o} has no output buffer"))),
            },
        })
        .collect()
}

/// Which output allocations start zeroed: outputs written element by element by their kernel
/// start uninitialized; the others (matrix products through GEMM, which may skip writing) start
/// zeroed.
fn zeroed_outputs(g: &Graph, plan: &Plan) -> Vec<bool> {
    let mut out_zeroed = vec![true; plan.out_allocs.len()];
    for &k in &plan.kernels {
        let gemm = matches!(g.nodes[k].op, Op::MatMul) && !is_inline_product(g, k);
        if let (Some(Slot::Output(j)), false) = (plan.buffer[k].map(|s| &plan.slots[s]), gemm) {
            out_zeroed[*j] = false;
        }
    }
    out_zeroed
}

/// The program of `g`, from its plan, its finalized module and its linked schedule.
pub(super) fn assemble(g: &Graph, plan: &Plan, module: JITModule, s: Schedule, functions: usize) -> Result<Compiled> {
    let entries = runtime::entries(&plan.slots, &s.table)?;
    let mut inputs = vec![(DType::F64, vec![]); g.num_inputs()];
    for id in g.inputs() {
        if let Op::Input(k) = g.nodes[id].op {
            inputs[k] = (g.nodes[id].dtype, g.nodes[id].shape.to_vec());
        }
    }
    let prototype =
        |(d, s): &(DType, Vec<usize>)| (s.iter().product::<usize>() <= PROTOTYPE_ELEMENTS).then(|| Data::zeros(*d, s));
    Ok(Compiled {
        module: Mutex::new(Some(ModuleBox(module))),
        loops: s.loops,
        functions,
        in_place: plan.in_place.iter().filter(|&&w| w).count(),
        pool_awake: s.steps.iter().any(Step::uses_pool) && !s.steps.iter().any(|st| matches!(st, Step::Call(_))),
        steps: s.steps,
        per_call: entries.per_call,
        table: entries.table,
        constants: entries.constants,
        inputs,
        out_prototypes: plan.out_allocs.iter().map(prototype).collect(),
        out_allocs: plan.out_allocs.clone(),
        out_zeroed: zeroed_outputs(g, plan),
        outputs: output_sources(g, plan)?,
        arena_words: plan.arena_bytes / 8,
        arenas: Mutex::new(Vec::new()),
        recycled: Mutex::new(Vec::new()),
        source: None,
        id: runtime::next_id(),
    })
}
