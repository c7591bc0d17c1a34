//! The control flow of each kind of driver: a scan's counted loop over rows, a while loop's
//! predicate and body (keeping its carries when reverse steps follow), the reverse steps
//! over the kept carries, and a branch. The carry lives in two sets of frame buffers, read
//! one and write the other, swapped as block parameters; the last carry is copied out.

use super::emitter::DriverEmitter;
use super::verdict::{ScalarVerdict, Verdict};
use super::{LoopSpec, PartCode};
use crate::array::DType;
use crate::error::Result;
use crate::jit::emit::{exit_or_run, jerr};
use crate::jit::run::driver::{grow_kept, ran_past};
use crate::jit::run::frame::Word;
use crate::jit::run::wiring::bytes;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

/// A type: dtype and shape.
type Type = (DType, Vec<usize>);

impl DriverEmitter<'_> {
    /// A frame buffer of each type: their addresses.
    fn buffers(&mut self, types: &[Type]) -> Vec<Value> {
        types
            .iter()
            .map(|(d, s)| {
                let at = self.word(Word::Buffer(*d, s.clone()));
                self.load_word(at, true)
            })
            .collect()
    }

    /// The captures `part` runs with: `captures`, then its hoisted invariants, computed here.
    fn with_invariants(&mut self, part: &PartCode<'_>, captures: &[Value]) -> Result<Vec<Value>> {
        let mut all = captures.to_vec();
        if let Some(pre) = part.invariants {
            let values = self.buffers(&pre.output_types());
            self.run_program(pre, captures, &values)?;
            all.extend(values);
        }
        Ok(all)
    }

    /// The address of each result: the io array's for the wanted ones, a frame buffer of the
    /// result's `row` type for the others.
    fn results(&mut self, spec: &LoopSpec<'_>, rows: &[Type], first: usize) -> Vec<(Value, bool)> {
        rows.iter()
            .enumerate()
            .map(|(k, row)| match spec.wanted[first + k] {
                true => (self.io(spec.inputs.len() + first + k), true),
                false => (self.buffers(std::slice::from_ref(row))[0], false),
            })
            .collect()
    }

    /// Copies each wanted carry result from `last`.
    pub(super) fn carry_out(&mut self, spec: &LoopSpec<'_>, last: &[Value]) {
        for (k, &v) in last.iter().enumerate() {
            if spec.wanted[k] {
                let to = self.io(spec.inputs.len() + k);
                self.copy(to, v, bytes(&spec.outputs[k]));
            }
        }
    }

    /// A loop header with an index and two carry sets as parameters, entered with `(0, a, b)`.
    fn header(
        &mut self,
        start: Value,
        a: &[Value],
        b: &[Value],
    ) -> (cranelift_codegen::ir::Block, Value, Vec<Value>, Vec<Value>) {
        let head = self.b.create_block();
        let t = self.b.append_block_param(head, types::I64);
        let cur: Vec<Value> = a.iter().map(|_| self.b.append_block_param(head, self.ptr)).collect();
        let next: Vec<Value> = b.iter().map(|_| self.b.append_block_param(head, self.ptr)).collect();
        let args: Vec<_> =
            std::iter::once(start).chain(a.iter().copied()).chain(b.iter().copied()).map(Into::into).collect();
        self.b.ins().jump(head, &args);
        self.b.switch_to_block(head);
        (head, t, cur, next)
    }

    /// Jumps back to `head` with `(t, next, cur)`: the carry sets swapped.
    fn next_iteration(&mut self, head: cranelift_codegen::ir::Block, t: Value, cur: &[Value], next: &[Value]) {
        let args: Vec<_> =
            std::iter::once(t).chain(next.iter().copied()).chain(cur.iter().copied()).map(Into::into).collect();
        self.b.ins().jump(head, &args);
    }

    /// A scan of `length` steps (from the last row when `reverse`).
    pub(super) fn scan(&mut self, spec: &LoopSpec<'_>, length: usize, reverse: bool) -> Result<()> {
        let (nc, nx, nin) = (spec.carry, spec.xs, spec.inputs.len());
        let part = spec.body()?;
        let body = part.program;
        let types = body.output_types();
        let carry_in: Vec<Value> = (0..nc).map(|k| self.io(k)).collect();
        let xs: Vec<Value> = (nc..nc + nx).map(|k| self.io(k)).collect();
        let captures: Vec<Value> = (nc + nx..nin).map(|k| self.io(k)).collect();
        let x_bytes: Vec<usize> = spec.inputs[nc..nc + nx].iter().map(|t| bytes(t) / length.max(1)).collect();
        let ys = self.results(spec, &types[nc..], nc);
        let (a, b) = (self.buffers(&types[..nc]), self.buffers(&types[..nc]));
        for k in 0..nc {
            self.copy(a[k], carry_in[k], bytes(&types[k]));
        }
        let captures = self.with_invariants(part, &captures)?;
        let zero = self.b.ins().iconst(types::I64, 0);
        let (head, t, cur, next) = self.header(zero, &a, &b);
        let (run, exit) = (self.b.create_block(), self.b.create_block());
        let done = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, t, length as i64);
        exit_or_run(&mut self.b, done, exit, &[], run);
        self.b.switch_to_block(run);
        let row = match reverse {
            true => {
                let last = self.b.ins().iconst(types::I64, length as i64 - 1);
                self.b.ins().isub(last, t)
            }
            false => t,
        };
        let mut inputs = cur.clone();
        for (k, &x) in xs.iter().enumerate() {
            inputs.push(self.row(x, row, x_bytes[k]));
        }
        inputs.extend(captures);
        let mut outputs = next.clone();
        for (k, &(y, stacked)) in ys.iter().enumerate() {
            outputs.push(if stacked { self.row(y, row, bytes(&types[nc + k])) } else { y });
        }
        self.run_program(body, &inputs, &outputs)?;
        let t1 = self.b.ins().iadd_imm_s(t, 1);
        self.next_iteration(head, t1, &cur, &next);
        self.b.switch_to_block(exit);
        self.carry_out(spec, &cur);
        self.return_ok();
        Ok(())
    }

    /// A while loop from the io array's carry: the block after it with its step count and last
    /// carry, and, when `keep`, the frame word of the store of the carries each step started
    /// from.
    pub(super) fn while_loop(
        &mut self,
        spec: &LoopSpec<'_>,
        max: Option<usize>,
        keep: bool,
    ) -> Result<(Value, Vec<Value>, Option<usize>)> {
        let nc = spec.carry;
        let predicate = spec.other.as_ref().ok_or_else(|| jerr("internal: a while loop without its predicate"))?;
        let body = spec.body()?;
        let types = body.program.output_types();
        let verdict_type = predicate.program.output_types();
        if verdict_type.len() != 1 || verdict_type[0].0 != DType::Bool || bytes(&verdict_type[0]) != 1 {
            return Err(jerr(format!("{}: a predicate of type {verdict_type:?}", spec.name)));
        }
        let captures: Vec<Value> = (nc..nc + spec.captures()).map(|k| self.io(k)).collect();
        let (a, b) = (self.buffers(&types), self.buffers(&types));
        for (k, &a) in a.iter().enumerate() {
            let from = self.io(k);
            self.copy(a, from, bytes(&types[k]));
        }
        let verdict = match ScalarVerdict::of(predicate.graph) {
            Some(v) => Verdict::InLine(v),
            None => Verdict::Kernel(self.buffers(&verdict_type)[0]),
        };
        let predicate_captures = self.with_invariants(predicate, &captures)?;
        let body_captures = self.with_invariants(body, &captures)?;
        let kept = keep.then(|| self.word(Word::Kept(types.iter().map(bytes).collect())));
        let zero = self.b.ins().iconst(types::I64, 0);
        let (head, steps, cur, next) = self.header(zero, &a, &b);
        let inputs: Vec<Value> = cur.iter().chain(&predicate_captures).copied().collect();
        let holds = match &verdict {
            Verdict::InLine(v) => self.scalar_verdict(v, &inputs)?,
            Verdict::Kernel(buffer) => {
                self.run_program(predicate.program, &inputs, &[*buffer])?;
                self.b.ins().load(types::I8, MemFlagsData::trusted(), *buffer, 0)
            }
        };
        let (go, exit) = (self.b.create_block(), self.b.create_block());
        let done = self.b.ins().icmp_imm_s(IntCC::Equal, holds, 0);
        exit_or_run(&mut self.b, done, exit, &[], go);
        self.b.switch_to_block(go);
        if let Some(m) = max {
            let past = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, steps, m as i64);
            let (fail, ok) = (self.b.create_block(), self.b.create_block());
            self.b.ins().brif(past, fail, &[], ok, &[]);
            self.b.switch_to_block(fail);
            let f = self.constant(ran_past as *const () as usize);
            let (name, len) = (self.constant(self.name.0), self.constant(self.name.1));
            let call = self.b.ins().call_indirect(self.sigs.ran_past, f, &[name, len, steps]);
            let status = self.b.inst_results(call)[0];
            self.b.ins().return_(&[status]);
            self.b.switch_to_block(ok);
        }
        if let Some(at) = kept {
            self.keep(at, steps, &cur, &types);
        }
        let inputs: Vec<Value> = cur.iter().chain(&body_captures).copied().collect();
        self.run_program(body.program, &inputs, &next)?;
        let steps1 = self.b.ins().iadd_imm_s(steps, 1);
        self.next_iteration(head, steps1, &cur, &next);
        self.b.switch_to_block(exit);
        Ok((steps, cur, kept))
    }

    /// Appends the carry `cur` to the kept-carry store at frame word `at`, growing it first
    /// when `steps` reaches its capacity.
    fn keep(&mut self, at: usize, steps: Value, cur: &[Value], types: &[Type]) {
        let capacity = self.load_word(at + 1, false);
        let full = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, steps, capacity);
        let (grow, store) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(full, grow, &[], store, &[]);
        self.b.switch_to_block(grow);
        let (f, kept) = (self.constant(grow_kept as *const () as usize), self.load_word(at, true));
        let (words, needed) = (self.words(), self.b.ins().iadd_imm_s(steps, 1));
        self.call_checked(self.sigs.grow, f, &[kept, words, needed]);
        self.b.ins().jump(store, &[]);
        self.b.switch_to_block(store);
        for (k, &c) in cur.iter().enumerate() {
            let base = self.load_word(at + 2 + k, false);
            let n = bytes(&types[k]);
            let to = self.row(base, steps, n);
            self.copy(to, c, n);
        }
    }

    /// A while loop's reverse steps: the forward loop keeping its carries, then the reverse
    /// step over them from the last, from the carry cotangents and zero capture cotangents.
    pub(super) fn while_reverse(&mut self, spec: &LoopSpec<'_>, max: Option<usize>) -> Result<()> {
        let (steps, _, kept) = self.while_loop(spec, max, true)?;
        let kept = kept.ok_or_else(|| jerr("internal: no kept carries"))?;
        let words = self.words();
        self.reverse_steps(spec, steps, (words, kept))
    }

    /// A while loop keeping its carries for reverse steps run after it by another driver
    /// ([`reverse_after`](Self::reverse_after)): its last carry out, and the frame words of
    /// its step count and of its store of carries.
    pub(super) fn while_keeping(&mut self, spec: &LoopSpec<'_>, max: Option<usize>) -> Result<(usize, usize)> {
        let (steps, last, kept) = self.while_loop(spec, max, true)?;
        let kept = kept.ok_or_else(|| jerr("internal: no kept carries"))?;
        let at = self.word(Word::Scratch(1));
        let words = self.words();
        self.store_at(steps, words, at);
        self.carry_out(spec, &last);
        self.return_ok();
        Ok((at, kept))
    }

    /// Reverse steps over the carries a [`while_keeping`](Self::while_keeping) driver kept:
    /// its frame's words at the io array's address after the results, its step count in word
    /// `steps`, its store of carries from word `kept`.
    pub(super) fn reverse_after(&mut self, spec: &LoopSpec<'_>, steps: usize, kept: usize) -> Result<()> {
        let forward = self.io(spec.inputs.len() + spec.outputs.len());
        let count = self.load_at(forward, steps);
        self.reverse_steps(spec, count, (forward, kept))
    }

    /// The reverse step over the `steps` carries of the store from word `kept` of the frame
    /// words `store.0`, from the last, from the carry cotangents and zero capture cotangents.
    fn reverse_steps(&mut self, spec: &LoopSpec<'_>, steps: Value, store: (Value, usize)) -> Result<()> {
        let (nc, ncap) = (spec.carry, spec.captures());
        let step = spec.reverse_step.as_ref().ok_or_else(|| jerr("internal: no reverse step"))?;
        if step.invariants.is_some() {
            return Err(jerr("internal: a reverse step with hoisted invariants"));
        }
        let types = step.program.output_types();
        let carry_types = &spec.inputs[..nc];
        let captures: Vec<Value> = (nc..nc + ncap).map(|k| self.io(k)).collect();
        let (a, b) = (self.buffers(&types), self.buffers(&types));
        for (k, &a) in a.iter().enumerate() {
            if k < nc {
                let ct = self.io(nc + ncap + k);
                self.copy(a, ct, bytes(&types[k]));
            } else {
                self.zero(a, bytes(&types[k]));
            }
        }
        let (head, t, cur, next) = self.header(steps, &a, &b);
        let (run, exit) = (self.b.create_block(), self.b.create_block());
        let done = self.b.ins().icmp_imm_s(IntCC::Equal, t, 0);
        exit_or_run(&mut self.b, done, exit, &[], run);
        self.b.switch_to_block(run);
        let t1 = self.b.ins().iadd_imm_s(t, -1);
        let mut inputs = Vec::new();
        for (k, ty) in carry_types.iter().enumerate() {
            let base = self.load_at(store.0, store.1 + 2 + k);
            inputs.push(self.row(base, t1, bytes(ty)));
        }
        inputs.extend(&captures);
        inputs.extend(&cur);
        self.run_program(step.program, &inputs, &next)?;
        self.next_iteration(head, t1, &cur, &next);
        self.b.switch_to_block(exit);
        self.carry_out(spec, &cur);
        self.return_ok();
        Ok(())
    }

    /// A branch: `then` (the body) when operand 0 holds, else `other`.
    pub(super) fn branch(&mut self, spec: &LoopSpec<'_>) -> Result<()> {
        let other = spec.other.as_ref().ok_or_else(|| jerr("internal: a branch without its else"))?;
        if spec.inputs.first().map(|t| (t.0, bytes(t))) != Some((DType::Bool, 1)) {
            return Err(jerr(format!("{}: a branch on a predicate that is not a logical scalar", spec.name)));
        }
        let pred = self.io(0);
        let holds = self.b.ins().load(types::I8, MemFlagsData::trusted(), pred, 0);
        let (then, otherwise) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(holds, then, &[], otherwise, &[]);
        for (block, part) in [(then, spec.body()?), (otherwise, other)] {
            if part.invariants.is_some() {
                return Err(jerr("internal: a branch with hoisted invariants"));
            }
            self.b.switch_to_block(block);
            let operands: Vec<Value> = (1..spec.inputs.len()).map(|k| self.io(k)).collect();
            let results = self.results(spec, spec.outputs, 0);
            let results: Vec<Value> = results.into_iter().map(|(v, _)| v).collect();
            self.run_program(part.program, &operands, &results)?;
            self.return_ok();
        }
        Ok(())
    }
}
