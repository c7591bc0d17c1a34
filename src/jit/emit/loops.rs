//! Loops: counted loops over constant ranges (or run-time ones, for a chunk of a split
//! kernel), and the loop nests of a kernel's output, with the innermost loop cut into pieces at
//! pad and concatenation boundaries, each run on vectors where it can.

use super::emitter::KernelEmitter;
use super::lanes::Lane;
use super::reduce::inner_lane;
use super::vector::{vector_type, Scan};
use crate::array::DType;
use crate::error::Result;
use crate::ir::NodeId;
use crate::jit::limits::{MAX_PIECES, MIN_SHORT_VECTOR_LOOP, MIN_VECTOR_LOOP, UNROLL_AT_MOST};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Block, BlockArg, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

/// Ends a top-tested loop's test: to `exit` (with `exit_args`) when `done` is nonzero, else
/// into the loop's `body`. The exit must be the branch's first target. Cranelift (0.135) hoists
/// loop invariants while it walks the dominator tree, keeping a stack of the loops it is in; it
/// pops a loop at a block outside it and does not push it again for a sibling walked after that
/// block, so that sibling's invariants stay in the loop. A branch's first target is walked last
/// among the header's children: with the exit first, the body is walked while its loop is on
/// the stack (log-sum-exp's gradient computes `1 / sum` once a call, not once a vector).
pub(crate) fn exit_or_run(b: &mut FunctionBuilder, done: Value, exit: Block, exit_args: &[BlockArg], body: Block) {
    b.ins().brif(done, exit, exit_args, body, &[]);
}

impl KernelEmitter<'_, '_> {
    /// A loop over `0..n`: `body(i)`. Nothing for `n == 0`, no loop for `n == 1`.
    pub(crate) fn emit_loop(&mut self, n: usize, body: &mut dyn FnMut(&mut Self, Value) -> Result<()>) -> Result<()> {
        self.emit_range(0, 1, n as i64, body)
    }

    /// A loop over `i = start + k * step` for `k` in `0..count`: `body(i)`.
    pub(crate) fn emit_range(
        &mut self,
        start: i64,
        step: i64,
        count: i64,
        body: &mut dyn FnMut(&mut Self, Value) -> Result<()>,
    ) -> Result<()> {
        if count <= 0 {
            return Ok(());
        }
        if count == 1 {
            let z = self.b.ins().iconst(types::I64, start);
            return body(self, z);
        }
        let head = self.b.create_block();
        let exit = self.b.create_block();
        self.b.append_block_param(head, types::I64);
        let z = self.b.ins().iconst(types::I64, start);
        self.b.ins().jump(head, &[z.into()]);
        self.b.switch_to_block(head);
        let i = self.b.block_params(head)[0];
        body(self, i)?;
        let i1 = self.b.ins().iadd_imm_s(i, step);
        let c = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, i1, start + count * step);
        self.b.ins().brif(c, head, &[i1.into()], exit, &[]);
        self.b.switch_to_block(exit);
        Ok(())
    }

    /// The scalar elements `start..start + count` of an innermost loop: `body(i)` on each, as
    /// straight-line code with constant indices when at most [`UNROLL_AT_MOST`], else a loop.
    fn scalar_run(
        &mut self,
        start: i64,
        count: i64,
        body: &mut dyn FnMut(&mut Self, Value) -> Result<()>,
    ) -> Result<()> {
        if count > UNROLL_AT_MOST {
            return self.emit_range(start, 1, count, body);
        }
        (start..start + count.max(0)).try_for_each(|i| {
            let i = self.b.ins().iconst(types::I64, i);
            body(self, i)
        })
    }

    /// A loop over `i = lo, lo + step, ...` while `i + step <= hi` (run-time bounds): `body(i)`.
    /// Returns the first `i` not run.
    pub(crate) fn emit_dyn(
        &mut self,
        lo: Value,
        hi: Value,
        step: i64,
        body: &mut dyn FnMut(&mut Self, Value) -> Result<()>,
    ) -> Result<Value> {
        let (head, run, exit) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.b.append_block_param(head, types::I64);
        self.b.append_block_param(exit, types::I64);
        self.b.ins().jump(head, &[lo.into()]);
        self.b.switch_to_block(head);
        let i = self.b.block_params(head)[0];
        let next = self.b.ins().iadd_imm_s(i, step);
        let done = self.b.ins().icmp(IntCC::UnsignedGreaterThan, next, hi);
        exit_or_run(&mut self.b, done, exit, &[i.into()], run);
        self.b.switch_to_block(run);
        body(self, i)?;
        self.b.ins().jump(head, &[next.into()]);
        self.b.switch_to_block(exit);
        Ok(self.b.block_params(exit)[0])
    }

    /// The loop nest over `shape` of a kernel computing `expr` (from its operands if `own`):
    /// plain loops over the outer axes, and the innermost axis split into pieces at the
    /// boundaries of pads and concatenations along it (so each piece knows its guards), each
    /// piece run on vectors where [`scan`](Self::scan) allows, with a scalar remainder.
    pub(crate) fn nest_pieces(
        &mut self,
        shape: &[usize],
        expr: NodeId,
        own: bool,
        body: &mut dyn FnMut(&mut Self, &[Value]) -> Result<()>,
    ) -> Result<()> {
        let Some((&n, outer)) = shape.split_last() else { return body(self, &[]) };
        let lane = inner_lane(shape);
        let dtype = self.g.nodes[expr].dtype;
        let mut inner = |k: &mut Self, idx: &[Value]| -> Result<()> {
            k.pieces(n, expr, own, lane, dtype, &mut |k: &mut Self, i: Value| {
                let mut full = idx.to_vec();
                full.push(i);
                body(k, &full)
            })
        };
        self.nest(outer, &[], &mut inner)
    }

    /// The innermost loop `0..n` of an expression whose index moves along `lane`, in pieces.
    pub(crate) fn pieces(
        &mut self,
        n: usize,
        expr: NodeId,
        own: bool,
        lane: Lane,
        dtype: DType,
        body: &mut dyn FnMut(&mut Self, Value) -> Result<()>,
    ) -> Result<()> {
        self.pieces_in(n, expr, own, lane, dtype, (0, n as i64), body)
    }

    /// [`pieces`](Self::pieces) of the part `clip` of the loop `0..n` only.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn pieces_in(
        &mut self,
        n: usize,
        expr: NodeId,
        own: bool,
        lane: Lane,
        dtype: DType,
        clip: (i64, i64),
        body: &mut dyn FnMut(&mut Self, Value) -> Result<()>,
    ) -> Result<()> {
        let saved = (self.span, self.vec);
        let range = self.range.take();
        let n = n as i64;
        self.span = (0, n);
        let mut s = Scan::new(dtype);
        self.scan(expr, lane, own, &mut s);
        let mut bounds: Vec<i64> = s.cuts.into_iter().filter(|&c| c > 0 && c < n).collect();
        bounds.sort_unstable();
        bounds.dedup();
        if bounds.len() >= MAX_PIECES {
            bounds.clear();
        }
        bounds.insert(0, 0);
        bounds.push(n);
        for w in bounds.windows(2) {
            let (lo, hi) = (w[0].max(clip.0), w[1].min(clip.1));
            if lo >= hi {
                continue;
            }
            self.span = (lo, hi);
            let mut s = Scan::new(dtype);
            self.scan(expr, lane, own, &mut s);
            let least = if self.short_vectors { MIN_SHORT_VECTOR_LOOP } else { MIN_VECTOR_LOOP };
            let vt = vector_type(dtype).filter(|_| s.vector && hi - lo >= least);
            if let Some((rlo, rhi)) = range {
                // A chunk function: this piece clipped to the chunk's range.
                let (a, b) = (self.b.ins().iconst(types::I64, lo), self.b.ins().iconst(types::I64, hi));
                let (a, b) = (self.b.ins().umax(a, rlo), self.b.ins().umin(b, rhi));
                let mut start = a;
                if let Some(vt) = vt {
                    self.vec = Some(vt);
                    let r = self.emit_dyn(a, b, vt.lane_count() as i64, body);
                    self.vec = None;
                    start = r?;
                }
                self.emit_dyn(start, b, 1, body)?;
                continue;
            }
            let mut start = lo;
            if let Some(vt) = vt {
                let width = vt.lane_count() as i64;
                let count = (hi - lo) / width;
                if count > 0 {
                    self.vec = Some(vt);
                    let r = self.emit_range(lo, width, count, body);
                    self.vec = None;
                    r?;
                    start = lo + count * width;
                }
            }
            self.scalar_run(start, hi - start, body)?;
        }
        (self.span, self.vec) = saved;
        Ok(())
    }

    pub(crate) fn nest(
        &mut self,
        dims: &[usize],
        idx: &[Value],
        body: &mut dyn FnMut(&mut Self, &[Value]) -> Result<()>,
    ) -> Result<()> {
        if idx.len() == dims.len() {
            return body(self, idx);
        }
        let n = dims[idx.len()];
        let mut inner = |k: &mut Self, i: Value| -> Result<()> {
            let mut idx2 = idx.to_vec();
            idx2.push(i);
            k.nest(dims, &idx2, body)
        };
        if let Some((lo, hi)) = self.range.take() {
            // A chunk function: this outermost loop runs the chunk's range only.
            return self.emit_dyn(lo, hi, 1, &mut inner).map(|_| ());
        }
        self.emit_loop(n, &mut inner)
    }
}
