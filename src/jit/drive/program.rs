//! One run of a compiled program inside a driver: its instance in the frame, its input and
//! output entries pointed at this run's addresses, its zeroed outputs cleared, its steps
//! called (kernel functions directly, nested loops through their own drivers, the other steps
//! through the runtime), and its copied outputs copied.

use super::emitter::DriverEmitter;
use crate::error::Result;
use crate::jit::emit::jerr;
use crate::jit::run::driver::step_on_host;
use crate::jit::run::frame::Word;
use crate::jit::run::runtime::{CallStep, Compiled, Step};
use crate::jit::run::wiring::{Source, Wiring};
use cranelift_codegen::ir::{InstBuilder, Value};

impl DriverEmitter<'_> {
    /// Emits a run of `program` reading input `k` at `inputs[k]` and writing output `i` at
    /// `outputs[i]` (distinct, aliasing no input).
    pub(super) fn run_program(&mut self, program: &Compiled, inputs: &[Value], outputs: &[Value]) -> Result<()> {
        if inputs.len() != program.inputs.len() || outputs.len() != program.outputs.len() {
            return Err(jerr(format!(
                "internal: a driver runs a program of {} inputs and {} outputs with {} and {}",
                program.inputs.len(),
                program.outputs.len(),
                inputs.len(),
                outputs.len()
            )));
        }
        let wiring = Wiring::of(program);
        let at = self.word(Word::Program(program));
        let table = self.load_word(at, true);
        let mut allocs = Vec::with_capacity(wiring.alloc_output.len());
        for (j, o) in wiring.alloc_output.iter().enumerate() {
            allocs.push(match o {
                Some(o) => outputs[*o],
                None => self.load_word(at + 1 + j, true),
            });
        }
        for &(j, n) in &wiring.zeroed {
            self.zero(allocs[j], n);
        }
        for &(i, k, off) in &wiring.input_entries {
            let p = self.b.ins().iadd_imm_s(inputs[k], off as i64);
            self.store_at(p, table, i);
        }
        for &(i, j) in &wiring.output_entries {
            if wiring.alloc_output[j].is_some() {
                self.store_at(allocs[j], table, i);
            }
        }
        for (s, step) in program.steps.iter().enumerate() {
            self.step(program, s, step, table)?;
        }
        for &(i, source, n) in &wiring.copies {
            let from = match source {
                Source::Alloc(j) => allocs[j],
                Source::Input(k) => inputs[k],
                Source::Const(p) => self.constant(p as usize),
            };
            self.copy(outputs[i], from, n);
        }
        Ok(())
    }

    /// Emits step `s` of `program` on its pointer table `table`.
    fn step(&mut self, program: &Compiled, s: usize, step: &Step, table: Value) -> Result<()> {
        match step {
            Step::Kernel { f, table: off } => {
                let (f, t) = (self.constant(*f), self.b.ins().iadd_imm_s(table, (8 * off) as i64));
                self.b.ins().call_indirect(self.sigs.kernel, f, &[t]);
            }
            Step::Call(c) if c.driver().is_some() => self.nested(c, table)?,
            _ => {
                let f = self.constant(step_on_host as *const () as usize);
                let (p, s) = (self.constant(program as *const Compiled as usize), self.constant(s));
                self.call_checked(self.sigs.host_step, f, &[p, s, table]);
            }
        }
        Ok(())
    }

    /// Emits a call of a nested loop's driver for call step `c`: its operand and result
    /// addresses gathered from the table into scratch words, its own frame a child of this one.
    fn nested(&mut self, c: &CallStep, table: Value) -> Result<()> {
        let driver =
            c.driver.get().cloned().flatten().ok_or_else(|| jerr("internal: a nested loop lost its driver"))?;
        let operands = c.inputs.len();
        let results = c.target.output_types().len();
        let io_at = self.word(Word::Scratch(operands + results));
        let io = self.word_address(io_at);
        for (k, (e, _, _)) in c.inputs.iter().enumerate() {
            let p = self.load_at(table, *e);
            self.store_at(p, io, k);
        }
        let mut first: Vec<Option<usize>> = vec![None; results];
        let mut again = Vec::new();
        for &(k, e) in &c.outputs {
            match first[k] {
                None => {
                    first[k] = Some(e);
                    let p = self.load_at(table, e);
                    self.store_at(p, io, operands + k);
                }
                Some(f) => again.push((k, f, e)),
            }
        }
        let child = self.word(Word::Child(driver.layout()));
        self.children.push(driver.clone());
        let child_words = self.load_word(child, true);
        let f = self.constant(driver.entry());
        self.call_checked(self.sigs.driver, f, &[child_words, io]);
        for (k, from, to) in again {
            let n = crate::jit::run::wiring::bytes(&c.target.output_types()[k]);
            let (src, dst) = (self.load_at(table, from), self.load_at(table, to));
            self.copy(dst, src, n);
        }
        Ok(())
    }
}
