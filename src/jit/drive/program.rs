//! One run of a compiled program inside a driver: its instance in the frame, its input and
//! output entries pointed at this run's addresses, its zeroed outputs cleared, its steps
//! called (kernel functions directly, nested loops through their own drivers, the other steps
//! through the runtime), and its copied outputs copied.

use super::emitter::DriverEmitter;
use crate::error::Result;
use crate::jit::emit::jerr;
use crate::jit::run::driver::step_on_host;
use crate::jit::run::driver::Driver;
use crate::jit::run::frame::Word;
use crate::jit::run::runtime::{CallStep, Compiled, Step, StepShare};
use crate::jit::run::wiring::{Source, Wiring};
use cranelift_codegen::ir::{InstBuilder, Value};
use std::sync::Arc;

/// The while loops of one program run that keep their carries for reverse steps after them:
/// (step, frame word of the loop's child frame, frame words of its step count and store).
type Kept = Vec<(usize, usize, (usize, usize))>;

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
        let mut kept = Vec::new();
        for (s, step) in program.steps.iter().enumerate() {
            self.step(program, (s, step), table, &mut kept)?;
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

    /// Emits step `s` of `program` on its pointer table `table`; `kept` lists this run's while
    /// loops that keep their carries for reverse steps after them (their step, the frame word
    /// of their child frame and the words of their store).
    fn step(&mut self, program: &Compiled, (s, step): (usize, &Step), table: Value, kept: &mut Kept) -> Result<()> {
        match step {
            Step::Kernel { f, table: off } => {
                let (f, t) = (self.constant(*f), self.b.ins().iadd_imm_s(table, (8 * off) as i64));
                self.b.ins().call_indirect(self.sigs.kernel, f, &[t]);
            }
            Step::Call(c) if self.after_nested(c, table, kept)? => {}
            Step::Call(c) if c.driver().is_some() => self.shared_nested(c, s, table, kept)?,
            _ => {
                let f = self.constant(step_on_host as *const () as usize);
                let (p, s) = (self.constant(program as *const Compiled as usize), self.constant(s));
                self.call_checked(self.sigs.host_step, f, &[p, s, table]);
            }
        }
        Ok(())
    }

    /// Emits reverse steps `c` after a loop of this run that kept its carries (see
    /// [`step`](Self::step)), reading them from its child frame: false when `c` is not such
    /// a step or the driver reading them did not compile.
    fn after_nested(&mut self, c: &CallStep, table: Value, kept: &Kept) -> Result<bool> {
        let StepShare::After(w) = c.share else { return Ok(false) };
        let Some(&(_, child, words)) = kept.iter().find(|k| k.0 == w) else { return Ok(false) };
        let Some(after) = c.after_driver(words).cloned() else { return Ok(false) };
        let forward = self.load_word(child, true);
        self.nested(c, after, table, Some(forward))?;
        Ok(true)
    }

    /// Emits call step `s` (`c`) through its nested driver; a while loop that keeps its
    /// carries for reverse steps after it is listed in `kept`.
    fn shared_nested(&mut self, c: &CallStep, s: usize, table: Value, kept: &mut Kept) -> Result<()> {
        let driver =
            c.driver.get().cloned().flatten().ok_or_else(|| jerr("internal: a nested loop lost its driver"))?;
        let child = self.nested(c, driver.clone(), table, None)?;
        if let (StepShare::Keeps, Some(k)) = (c.share, driver.kept()) {
            kept.push((s, child, k));
        }
        Ok(())
    }

    /// Emits a call of `driver`, a nested loop's driver for call step `c`: its operand and
    /// result addresses (then `forward`, when given) gathered from the table into scratch
    /// words, its own frame a child of this one (the frame word returned).
    fn nested(&mut self, c: &CallStep, driver: Arc<Driver>, table: Value, forward: Option<Value>) -> Result<usize> {
        let operands = c.inputs.len();
        let results = c.target.output_types().len();
        let extra = usize::from(forward.is_some());
        let io_at = self.word(Word::Scratch(operands + results + extra));
        let io = self.word_address(io_at);
        if let Some(words) = forward {
            self.store_at(words, io, operands + results);
        }
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
        Ok(child)
    }
}
