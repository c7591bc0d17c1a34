//! The run as a list of steps: GEMM calls, chunked kernels (each its own function, run on the
//! pool), and runs of consecutive kernels cut into functions at the period they repeat with
//! (`plan/repeats.rs`). The functions' addresses are filled in once they are compiled.

use crate::error::Result;
use crate::ir::{Call, CallTarget, Graph, LinalgOp, LoopIdentity, NodeId, Op};
use crate::jit::emit::jerr;
use crate::jit::plan::panels::reads_product_by_rows;
use crate::jit::plan::products::{is_inline_product, matmul_operand};
use crate::jit::plan::split::{self, Split};
use crate::jit::plan::{repeats, Plan};
use crate::jit::run::gemm::Product;
use crate::jit::run::linalg::LinalgStep;
use crate::jit::run::panels::Panel;
use crate::jit::run::runtime::{CallStep, Step, StepShare};
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

/// The steps of a run, and what the functions among them compute.
pub(super) struct Schedule {
    /// The steps, in order (function addresses and tables not yet filled in).
    pub steps: Vec<Step>,
    /// The slot of each entry of the run's pointer table: each GEMM call's operands and
    /// result, then (appended when linked) each function's own table.
    pub table: Vec<usize>,
    /// The kernel functions: (step, kernels).
    pub groups: Vec<(usize, Vec<NodeId>)>,
    /// The chunked kernels: (step, kernel, split).
    pub chunked: Vec<(usize, NodeId, Split)>,
    /// Loop nests emitted.
    pub loops: usize,
    /// The call steps so far: (target, operand nodes) -> step, so that a target's outputs on
    /// the same operands come from one call.
    calls: HashMap<(usize, Vec<NodeId>), usize>,
    /// The while loops' call steps no reverse steps share yet: (loop, operand nodes) -> step.
    forwards: HashMap<(LoopIdentity, Vec<NodeId>), usize>,
    /// The last GEMM step and its product node.
    last_gemm: Option<(usize, NodeId)>,
    /// Runs of consecutive chunked steps that run together, chunk by chunk
    /// (`row_group_steps.rs`), merged into one step each once linked.
    pub row_groups: Vec<super::row_group_steps::RowGroupSteps>,
}

impl Schedule {
    /// Cuts the pending run of kernels into functions (`repeats::cut`), one step each.
    fn flush(&mut self, g: &Graph, plan: &Plan, run: &mut Vec<NodeId>) {
        let hashes: Vec<u64> = run.iter().map(|&k| repeats::kernel_hash(g, plan, k)).collect();
        for range in repeats::cut(&hashes) {
            self.groups.push((self.steps.len(), run[range].to_vec()));
            self.steps.push(Step::Kernel { f: 0, table: 0 });
        }
        run.clear();
    }

    /// Call node `k` (output `c.output` of `c.target`): a new call step, or one more output of
    /// the step that calls the same target on the same operands.
    fn call(&mut self, g: &Graph, plan: &Plan, k: NodeId, c: &Call) -> Result<()> {
        let slot = |n: NodeId| plan.buffer[n].ok_or_else(|| jerr(format!("%{n} has no buffer")));
        let operands = g.nodes[k].inputs.to_vec();
        let key = (Arc::as_ptr(&c.target) as *const () as usize, operands.clone());
        let out = self.table.len();
        self.table.push(slot(k)?);
        if let Some(&step) = self.calls.get(&key) {
            if let Step::Call(call) = &mut self.steps[step] {
                call.outputs.push((c.output, out));
                return Ok(());
            }
        }
        let mut inputs = Vec::with_capacity(operands.len());
        for &i in &operands {
            inputs.push((self.table.len(), g.nodes[i].dtype, g.nodes[i].shape.to_vec()));
            self.table.push(slot(i)?);
        }
        self.calls.insert(key, self.steps.len());
        let mut step = CallStep::new(c.target.clone(), inputs, vec![(c.output, out)]);
        step.share = self.share_forward(&*c.target, &operands);
        self.steps.push(Step::Call(Box::new(step)));
        Ok(())
    }

    /// Renumbers the steps that reverse steps share a forward run with, after the `removed`
    /// steps before step `from` were merged away.
    pub(super) fn shift_shares(&mut self, from: usize, removed: usize) {
        for step in &mut self.steps {
            if let Step::Call(c) = step {
                if let StepShare::After(k) = &mut c.share {
                    if *k >= from {
                        *k -= removed;
                    }
                }
            }
        }
    }

    /// How the call step about to be added, of `target` on `operands`, shares a while loop's
    /// forward run: reverse steps through a loop an earlier step runs on the same operands read
    /// the carries that step keeps (marked here), and run the loop no second time.
    fn share_forward(&mut self, target: &dyn CallTarget, operands: &[NodeId]) -> StepShare {
        if let Some(id) = target.forward_loop() {
            self.forwards.entry((id, operands.to_vec())).or_insert(self.steps.len());
        }
        let Some((id, n)) = target.reverse_of() else { return StepShare::Alone };
        let Some(forward) = operands.get(..n).and_then(|o| self.forwards.remove(&(id, o.to_vec()))) else {
            return StepShare::Alone;
        };
        match &mut self.steps[forward] {
            Step::Call(w) => {
                w.share = StepShare::Keeps;
                StepShare::After(forward)
            }
            _ => StepShare::Alone,
        }
    }

    /// A linear-algebra step for node `k` (`op`), reading its operands' buffers as they are.
    fn linalg(&mut self, g: &Graph, plan: &Plan, k: NodeId, op: LinalgOp) -> Result<()> {
        let node = &g.nodes[k];
        let numel = |n: NodeId| g.nodes[n].shape.iter().product::<usize>();
        let mut entry = |n: NodeId| -> Result<(usize, usize)> {
            let slot = plan.buffer[n].ok_or_else(|| jerr(format!("%{n} has no buffer")))?;
            self.table.push(slot);
            Ok((self.table.len() - 1, numel(n)))
        };
        let a = entry(node.inputs[0])?;
        let b = match node.inputs.get(1) {
            Some(&i) => Some(entry(i)?),
            None => None,
        };
        let out = entry(k)?;
        let shape_b = node.inputs.get(1).map(|&i| g.nodes[i].shape.as_slice());
        let dims = crate::interp::Dims::new(op, &g.nodes[node.inputs[0]].shape, shape_b, &node.shape);
        let step = LinalgStep { op, dtype: node.dtype, dims, a, b, out, origin: node.origin };
        self.steps.push(Step::Linalg(Box::new(step)));
        Ok(())
    }

    /// A GEMM call for matrix product `k`.
    fn gemm(&mut self, g: &Graph, plan: &Plan, k: NodeId) -> Result<()> {
        let node = &g.nodes[k];
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let sa = &g.nodes[a].shape;
        let r = sa.len();
        let ((sa_slot, ta), (sb_slot, tb)) = (matmul_operand(g, plan, a)?, matmul_operand(g, plan, b)?);
        let product = Product {
            dtype: node.dtype,
            batch: sa[..r - 2].iter().product(),
            m: sa[r - 2],
            k: sa[r - 1],
            n: node.shape[r - 1],
            ta,
            tb,
        };
        self.last_gemm = Some((self.steps.len(), k));
        self.steps.push(Step::MatMul { operands: self.table.len(), product });
        let out = plan.buffer[k].ok_or_else(|| jerr(format!("%{k} has no buffer")))?;
        self.table.extend([sa_slot, sb_slot, out]);
        Ok(())
    }
}

impl Schedule {
    /// For chunked kernel `k`, right after the GEMM step of a product that it alone reads by
    /// rows (`plan/panels.rs`): that step, taken out and computed by panels inside `k`'s chunks.
    fn panel(&mut self, g: &Graph, plan: &Plan, k: NodeId, split: &Split) -> Option<Box<Panel>> {
        let (step, p) = self.last_gemm?;
        let last = step + 1 == self.steps.len();
        if !last || !matches!(split, Split::Rows { .. }) || !reads_product_by_rows(g, plan, k, p) {
            return None;
        }
        let Some(Step::MatMul { operands, product }) = self.steps.pop() else { return None };
        self.last_gemm = None;
        let slot = plan.buffer[p]?;
        Some(Box::new(Panel { product, operands, slot, entry: usize::MAX, table_len: 0 }))
    }
}

/// The steps of `plan`'s kernels, in order.
pub(super) fn schedule(g: &Graph, plan: &Plan) -> Result<Schedule> {
    let mut s = Schedule {
        steps: Vec::new(),
        table: Vec::new(),
        groups: Vec::new(),
        chunked: Vec::new(),
        loops: 0,
        calls: HashMap::default(),
        forwards: HashMap::default(),
        last_gemm: None,
        row_groups: Vec::new(),
    };
    let mut run: Vec<NodeId> = Vec::new();
    for &k in &plan.kernels {
        let node = &g.nodes[k];
        // Emitted in its sibling sum's loop nest.
        if plan.absorbed[k] || node.shape.iter().product::<usize>() == 0 {
            continue;
        }
        if let Op::Call(c) = &node.op {
            s.flush(g, plan, &mut run);
            s.call(g, plan, k, c)?;
            continue;
        }
        if let Op::Linalg(op) = node.op {
            s.flush(g, plan, &mut run);
            s.linalg(g, plan, k, op)?;
            continue;
        }
        if matches!(node.op, Op::MatMul) && !is_inline_product(g, k) {
            s.flush(g, plan, &mut run);
            s.gemm(g, plan, k)?;
            continue;
        }
        let split = split::split(g, plan, k);
        let chunked = match (s.row_group_member(g, plan, k, split.as_ref(), &run), split) {
            // Runs chunk by chunk with the kernels before it; those pending in `run`, after.
            (Some(member), _) => Some((member, None)),
            // Its own function, run in chunks on the thread pool.
            (None, Some(split)) => {
                s.flush(g, plan, &mut run);
                let panel = s.panel(g, plan, k, &split);
                if panel.is_none() {
                    s.start_row_group(g, plan, k, &split);
                }
                Some((split, panel))
            }
            (None, None) => None,
        };
        match chunked {
            Some((split, panel)) => {
                s.chunked.push((s.steps.len(), k, split.clone()));
                s.steps.push(Step::Chunked { f: 0, table: 0, split, panel });
            }
            None => run.push(k),
        }
        s.loops += 1;
    }
    s.flush(g, plan, &mut run);
    Ok(s)
}
