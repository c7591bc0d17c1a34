//! A loop or branch as the target of `call` nodes: its body graphs, the types of its operands
//! and results, and how it runs: on the interpreter (eager evaluation, the reference), or with
//! each body compiled once to native code (a compiled program's call step), both running the
//! same iterations in the same order.

use super::hidden_results::{Carry, HiddenResults};
use super::slices::{row, stack_rows};
use super::LoopOptions;
use crate::array::{DType, Data};
use crate::autodiff::CallBackward;
use crate::error::{Error, Result};
use crate::ir::{CallTarget, Graph, LoopIdentity, SharedRun};
use crate::jit::{Driver, LoopKind, LoopSpec, PartCode};
use std::any::Any;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// What kind of control flow a target is, with what its run needs to know.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    /// `length` steps over `xs` sliced along axis 0 (from the last when `reverse`); body
    /// `[carry.., x_t.., captures..] -> [carry.., y_t..]`; results: the carry, then each `y`
    /// stacked along a new axis 0. `fori_loop` is a scan over the step indices. With `kept`,
    /// the body also returns the carry it received, stacked as the last results: the carries
    /// reverse mode needs, computed by the same run when a gradient asks for them (a compiled
    /// run stacks only the results something reads). After them, `saved` residuals: values
    /// of the body its VJP reads (`residuals.rs`), stacked by the same run.
    Scan { length: usize, reverse: bool, ys: usize, kept: bool, saved: usize },
    /// While the predicate `[carry.., captures..] -> [logical]` holds, the body
    /// `[carry.., captures..] -> [carry..]`; at most `max_iterations` steps.
    While { max_iterations: Option<usize> },
    /// Operand 0 the predicate; `then`/`else` `[operands.., captures..] -> [results..]`.
    Cond,
    /// Reverse mode through a while loop (the body and predicate of the forward loop):
    /// operands `[init.., captures.., carry cotangent..]`, results `[init cotangent..,
    /// captures' cotangent..]`. It runs the forward loop keeping every carry, then the reverse
    /// step `[carry.., captures.., carry ct.., captures' ct..] -> [carry ct.., captures' ct..]`
    /// over them backwards: as many steps as the forward run took.
    WhileReverse { max_iterations: Option<usize> },
}

/// Which carries a run of a while loop keeps: none, or every one while they take at most this
/// many bytes (none past that).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Keep {
    Nothing,
    Within(usize),
}

/// The graphs of a target: as traced (for derivatives and the dumps) and optimized (to run).
pub(crate) struct Part {
    /// As traced: its rule-carrying nodes intact, so derivatives replay it.
    pub traced: Graph,
    /// Optimized, for running (with hoisted invariants: their values as extra last inputs).
    pub optimized: Arc<Graph>,
    /// The loop invariants, computed once per run of the loop from the captures.
    invariants: Option<Invariants>,
    /// Compiled on the first native run; `None` when compilation failed (the interpreter runs it).
    native: OnceLock<Option<crate::jit::Compiled>>,
}

/// A body's hoisted loop invariants: the graph computing them from the captures.
struct Invariants {
    pre: Arc<Graph>,
    /// The body's first capture input.
    first_capture: usize,
    native: OnceLock<Option<crate::jit::Compiled>>,
}

/// `g` compiled, or `None` (logged) when compilation fails.
fn compiled(g: &Arc<Graph>) -> Option<crate::jit::Compiled> {
    match crate::jit::compile_optimized(g) {
        Ok(c) => Some(c),
        Err(e) => {
            log::warn!("a loop body runs on the interpreter: native compilation failed: {e}");
            None
        }
    }
}

impl Part {
    /// A part from its traced graph.
    pub fn new(traced: Graph) -> Result<Part> {
        let optimized = Arc::new(crate::opt::optimize(&traced)?);
        Ok(Part { traced, optimized, invariants: None, native: OnceLock::new() })
    }

    /// A loop's part, whose inputs from `first_capture` on are the captures: what depends on
    /// nothing else is computed once per run of the loop, not once per iteration.
    pub fn looped(traced: Graph, first_capture: usize) -> Result<Part> {
        let optimized = crate::opt::optimize(&traced)?;
        let Some(split) = super::hoist::hoist(&optimized, first_capture) else {
            return Ok(Part { traced, optimized: Arc::new(optimized), invariants: None, native: OnceLock::new() });
        };
        let invariants = Invariants { pre: Arc::new(split.pre), first_capture, native: OnceLock::new() };
        Ok(Part { traced, optimized: Arc::new(split.body), invariants: Some(invariants), native: OnceLock::new() })
    }

    /// The same graphs, compiled separately.
    pub fn shared(p: &Part) -> Part {
        let invariants = p.invariants.as_ref().map(|i| Invariants {
            pre: i.pre.clone(),
            first_capture: i.first_capture,
            native: OnceLock::new(),
        });
        Part { traced: p.traced.clone(), optimized: p.optimized.clone(), invariants, native: OnceLock::new() }
    }

    /// The captures this part runs with: `captures`, then its hoisted invariants' values.
    fn with_invariants(&self, captures: &[Arc<Data>], native: bool) -> Result<Vec<Arc<Data>>> {
        let mut all = captures.to_vec();
        if let Some(inv) = &self.invariants {
            let values = match inv.native.get_or_init(|| compiled(&inv.pre)).as_ref().filter(|_| native) {
                Some(c) => c.run(captures)?,
                None => crate::interp::run(&inv.pre, captures)?,
            };
            all.extend(values);
        }
        Ok(all)
    }

    /// The part's compiled programs, for a driver: `Err` when one did not compile.
    fn code(&self) -> Result<PartCode<'_>> {
        let missing = || Error::Jit("a part of the loop did not compile".into());
        let invariants = match &self.invariants {
            Some(inv) => Some(inv.native.get_or_init(|| compiled(&inv.pre)).as_ref().ok_or_else(missing)?),
            None => None,
        };
        Ok(PartCode { program: self.native().ok_or_else(missing)?, graph: &self.optimized, invariants })
    }

    /// The part compiled to native code (on first use); `None` when compilation failed (the
    /// interpreter runs it then).
    fn native(&self) -> Option<&crate::jit::Compiled> {
        self.native.get_or_init(|| compiled(&self.optimized)).as_ref()
    }

    /// The part's results on `args`, natively compiled or interpreted.
    fn run(&self, args: &[Arc<Data>], native: bool) -> Result<Vec<Arc<Data>>> {
        match self.native().filter(|_| native) {
            Some(c) => c.run(args),
            None => crate::interp::run(&self.optimized, args),
        }
    }
}

/// The backward rule of a loop or branch target (its `CallVjp` implementation is in
/// `rules.rs`, which builds loops itself).
pub(crate) struct LoopRule {
    target: Weak<LoopTarget>,
    options: LoopOptions,
}

impl LoopRule {
    /// The rule of the target `me` (made while `me` is being built).
    pub fn backward(me: Weak<LoopTarget>, options: LoopOptions) -> CallBackward {
        CallBackward(Arc::new(LoopRule { target: me, options }))
    }

    /// The target.
    pub fn target(&self) -> Result<Arc<LoopTarget>> {
        self.target.upgrade().ok_or_else(|| Error::Gradient("internal: a loop's target was dropped".into()))
    }

    /// The loop's options.
    pub fn options(&self) -> LoopOptions {
        self.options
    }
}

/// A loop's native drivers: the wanted results each computes and how it shares its forward
/// run, and the driver (`None`: it did not compile).
pub(crate) type Drivers = Mutex<Vec<((Vec<bool>, SharedRun), Option<Arc<Driver>>)>>;

/// A while loop's operands after its run (the last carry in place), and the carries it kept.
type WhileRun = (Vec<Arc<Data>>, Option<Vec<Carry>>);

/// A loop or a branch: the target of the `call` nodes of its results.
pub(crate) struct LoopTarget {
    /// The user's call and its line (`while_loop at src/solve.rs:12`).
    pub name: String,
    pub kind: Kind,
    /// Carry leaves (a branch: operand leaves).
    pub carry: usize,
    /// `xs` leaves of a scan.
    pub xs: usize,
    /// The body (a branch: `then`).
    pub body: Part,
    /// A while loop's predicate; a branch's `else`.
    pub other: Option<Part>,
    /// The reverse step of a [`Kind::WhileReverse`].
    pub reverse_step: Option<Part>,
    pub inputs: Vec<(DType, Vec<usize>)>,
    pub outputs: Vec<(DType, Vec<usize>)>,
    pub backward: CallBackward,
    /// The options it was made with (a pruned copy keeps them).
    pub options: LoopOptions,
    /// Its native drivers, one per set of wanted results, made on first use (`None`: a body
    /// or the driver did not compile, and the interpreter runs it).
    pub drivers: Drivers,
    /// The results past the visible ones of its last eager run in a trace, until reverse mode
    /// takes them.
    pub hidden: HiddenResults,
}

impl LoopTarget {
    /// Runs the loop or branch on its operands; a compiled run's scan stacks only the `wanted`
    /// results (`None`: all).
    pub fn execute(&self, inputs: &[Arc<Data>], native: bool, wanted: Option<&[bool]>) -> Result<Vec<Arc<Data>>> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::argument(
                &self.name,
                format!("internal: {} operands for {}", inputs.len(), self.inputs.len()),
            ));
        }
        if native {
            let all = vec![true; self.outputs.len()];
            if let Some(d) = self.driver(wanted.unwrap_or(&all), SharedRun::Alone) {
                return d.run_arrays(inputs, &self.outputs);
            }
        }
        match self.kind {
            Kind::Scan { length, reverse, .. } => self.scan(inputs, length, reverse, native),
            Kind::While { max_iterations } => {
                let (mut carry, _) = self.run_while(inputs, max_iterations, native, Keep::Nothing)?;
                carry.truncate(self.carry);
                Ok(carry)
            }
            Kind::WhileReverse { max_iterations } => self.run_while_reverse(inputs, max_iterations, native),
            Kind::Cond => {
                let take_then = inputs[0].truth();
                let part = if take_then { &self.body } else { self.other.as_ref().unwrap_or(&self.body) };
                part.run(&inputs[1..], native)
            }
        }
    }

    /// Its native driver for the `wanted` results, sharing its forward run as `share` says,
    /// compiled on first use; `None` (logged) when it does not compile.
    pub fn driver(&self, wanted: &[bool], share: SharedRun) -> Option<Arc<Driver>> {
        let mut drivers = self.drivers.lock().ok()?;
        if let Some((_, d)) = drivers.iter().find(|((w, s), _)| w == wanted && *s == share) {
            return d.clone();
        }
        let made = self
            .compile_driver(wanted, share)
            .map_err(|e| {
                log::warn!("{} runs each iteration from the runtime: its driver did not compile: {e}", self.name)
            })
            .ok();
        drivers.push(((wanted.to_vec(), share), made.clone()));
        made
    }

    /// Compiles its native driver for the `wanted` results, sharing its forward run as `share`
    /// says (only a while loop keeps, only reverse steps read what it kept).
    fn compile_driver(&self, wanted: &[bool], share: SharedRun) -> Result<Arc<Driver>> {
        let kind = match (&self.kind, share) {
            (&Kind::Scan { length, reverse, .. }, SharedRun::Alone) => LoopKind::Scan { length, reverse },
            (&Kind::While { max_iterations }, SharedRun::Alone) => LoopKind::While { max_iterations },
            (&Kind::While { max_iterations }, SharedRun::Keeps) => LoopKind::WhileKeeping { max_iterations },
            (&Kind::WhileReverse { max_iterations }, SharedRun::Alone) => LoopKind::WhileReverse { max_iterations },
            (Kind::WhileReverse { .. }, SharedRun::After { steps, kept }) => LoopKind::ReverseAfter { steps, kept },
            (Kind::Cond, SharedRun::Alone) => LoopKind::Cond,
            _ => return Err(Error::Jit(format!("internal: {}: no driver sharing its run as {share:?}", self.name))),
        };
        let after = matches!(kind, LoopKind::ReverseAfter { .. });
        let spec = LoopSpec {
            name: &self.name,
            kind,
            carry: self.carry,
            xs: self.xs,
            inputs: &self.inputs,
            outputs: &self.outputs,
            wanted,
            // Reverse steps after a kept run compile neither the loop's body nor its predicate.
            body: if after { None } else { Some(self.body.code()?) },
            other: if after { None } else { self.other.as_ref().map(Part::code).transpose()? },
            reverse_step: self.reverse_step.as_ref().map(Part::code).transpose()?,
        };
        crate::jit::compile_driver(&spec)
    }

    /// A while loop's identity with step limit `max` (see [`LoopIdentity`]).
    fn identity(&self, max: Option<usize>) -> Option<LoopIdentity> {
        let predicate = self.other.as_ref()?;
        let address = |p: &Part| Arc::as_ptr(&p.optimized) as usize;
        Some([address(&self.body), address(predicate), max.unwrap_or(usize::MAX)])
    }

    fn scan(&self, inputs: &[Arc<Data>], length: usize, reverse: bool, native: bool) -> Result<Vec<Arc<Data>>> {
        let (carry, rest) = inputs.split_at(self.carry);
        let (xs, captures) = rest.split_at(self.xs);
        let ys = self.outputs.len() - self.carry;
        let captures = &self.body.with_invariants(captures, native)?;
        let mut args: Vec<Arc<Data>> = carry.to_vec();
        args.extend(xs.iter().cloned());
        args.extend(captures.iter().cloned());
        let mut rows: Vec<Vec<Arc<Data>>> = vec![Vec::with_capacity(length); ys];
        for step in 0..length {
            let t = if reverse { length - 1 - step } else { step };
            for (k, x) in xs.iter().enumerate() {
                args[self.carry + k] = Arc::new(row(x, t)?);
            }
            let mut out = self.body.run(&args, native)?;
            for (k, y) in out.drain(self.carry..).enumerate() {
                rows[k].push(y);
            }
            for (k, c) in out.into_iter().enumerate() {
                args[k] = c;
            }
        }
        let mut results: Vec<Arc<Data>> = args.drain(..self.carry).collect();
        for (k, mut r) in rows.into_iter().enumerate() {
            if reverse {
                r.reverse();
            }
            let (dtype, shape) = &self.outputs[self.carry + k];
            results.push(Arc::new(stack_rows(&r, *dtype, shape)?));
        }
        Ok(results)
    }

    /// Runs a while loop on `[carry.., captures..]` (each part through the interpreter, or
    /// compiled but called from here when its driver did not compile): the operands with the
    /// last carry in place, and every carry a step started from when `keep` says so (`None`
    /// when it does not, or when they outgrew its bound).
    pub(super) fn run_while(
        &self,
        inputs: &[Arc<Data>],
        max_iterations: Option<usize>,
        native: bool,
        keep: Keep,
    ) -> Result<WhileRun> {
        let predicate = self.other.as_ref().ok_or_else(|| Error::argument(&self.name, "internal: no predicate"))?;
        let captures = &inputs[self.carry..];
        let (predicate_captures, body_captures) =
            (predicate.with_invariants(captures, native)?, self.body.with_invariants(captures, native)?);
        let with = |carry: &[Arc<Data>], captures: &[Arc<Data>]| -> Vec<Arc<Data>> {
            carry.iter().chain(captures).cloned().collect()
        };
        let mut args: Vec<Arc<Data>> = inputs.to_vec();
        let (mut kept, bound) = match keep {
            Keep::Nothing => (None, 0),
            Keep::Within(bound) => (Some(Vec::new()), bound),
        };
        let mut kept_bytes = 0usize;
        let mut steps = 0usize;
        while predicate.run(&with(&args[..self.carry], &predicate_captures), native)?[0].truth() {
            if max_iterations.is_some_and(|m| steps >= m) {
                return Err(Error::argument(
                    &self.name,
                    format!("the loop ran past max_iterations ({steps}) with its predicate still true"),
                ));
            }
            if let Some(carries) = kept.as_mut() {
                kept_bytes += args[..self.carry].iter().map(|d| d.numel() * d.dtype().size_of()).sum::<usize>();
                carries.push(args[..self.carry].to_vec());
                if kept_bytes > bound {
                    kept = None;
                }
            }
            let out = self.body.run(&with(&args[..self.carry], &body_captures), native)?;
            for (k, c) in out.into_iter().enumerate() {
                args[k] = c;
            }
            steps += 1;
        }
        Ok((args, kept))
    }

    fn run_while_reverse(
        &self,
        inputs: &[Arc<Data>],
        max_iterations: Option<usize>,
        native: bool,
    ) -> Result<Vec<Arc<Data>>> {
        let step =
            self.reverse_step.as_ref().ok_or_else(|| Error::argument(&self.name, "internal: no reverse step"))?;
        let captures = self.inputs.len() - 2 * self.carry;
        let (forward, cts) = inputs.split_at(self.carry + captures);
        let kept = match self.hidden.take_carries(forward, self.carry) {
            Some(kept) => kept,
            None => self.run_while(forward, max_iterations, native, Keep::Within(usize::MAX))?.1.unwrap_or_default(),
        };
        let mut acc: Vec<Arc<Data>> = cts.to_vec();
        for (dtype, shape) in &self.inputs[self.carry..self.carry + captures] {
            acc.push(Arc::new(Data::zeros(*dtype, shape)));
        }
        for carry in kept.into_iter().rev() {
            let args: Vec<Arc<Data>> =
                carry.into_iter().chain(forward[self.carry..].iter().cloned()).chain(acc).collect();
            acc = step.run(&args, native)?;
        }
        Ok(acc)
    }
}

impl CallTarget for LoopTarget {
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
        self.execute(inputs, false, None)
    }
    fn run_native(&self, inputs: &[Arc<Data>], wanted: &[bool]) -> Result<Vec<Arc<Data>>> {
        self.execute(inputs, true, Some(wanted))
    }
    fn backward_rule(&self) -> &(dyn Any + Send + Sync) {
        &self.backward
    }
    fn native_driver(&self, wanted: &[bool]) -> Option<Arc<dyn Any + Send + Sync>> {
        self.native_driver_shared(wanted, SharedRun::Alone)
    }
    fn native_driver_shared(&self, wanted: &[bool], share: SharedRun) -> Option<Arc<dyn Any + Send + Sync>> {
        self.driver(wanted, share).map(|d| d as Arc<dyn Any + Send + Sync>)
    }
    fn forward_loop(&self) -> Option<LoopIdentity> {
        match self.kind {
            Kind::While { max_iterations } => self.identity(max_iterations),
            _ => None,
        }
    }
    fn reverse_of(&self) -> Option<(LoopIdentity, usize)> {
        match self.kind {
            Kind::WhileReverse { max_iterations } => {
                Some((self.identity(max_iterations)?, self.inputs.len().checked_sub(self.carry)?))
            }
            _ => None,
        }
    }
    fn native_text(&self) -> Option<String> {
        let mut out = String::new();
        let (body, other) = match self.kind {
            Kind::Cond => ("then", "else"),
            _ => ("body", "predicate"),
        };
        let parts =
            [(body, Some(&self.body)), (other, self.other.as_ref()), ("reverse step", self.reverse_step.as_ref())];
        for (label, part) in parts {
            if let Some(program) = part.and_then(|p| p.native.get()).and_then(Option::as_ref) {
                out.push_str(&format!("\n; {label} of {}:\n{}", self.name, program.native_texts().0));
            }
        }
        for ((wanted, share), driver) in self.drivers.lock().map(|d| d.clone()).unwrap_or_default() {
            if let Some(d) = driver {
                let shared = match share {
                    SharedRun::Alone => "",
                    SharedRun::Keeps => ", keeping its carries for the reverse steps after it",
                    SharedRun::After { .. } => ", after the forward loop that kept its carries",
                };
                out.push_str(&format!("\n; driver of {} (results {wanted:?}{shared}):\n{}", self.name, d.clif));
            }
        }
        Some(out)
    }
    fn pruned(&self, used: &[bool]) -> Option<crate::ir::Pruned> {
        super::prune::pruned(self, used).unwrap_or_else(|e| {
            log::warn!("{}: its unused results are computed: pruning failed: {e}", self.name);
            None
        })
    }
    fn bodies(&self) -> Vec<(&'static str, &Graph)> {
        let (first, second) = match self.kind {
            Kind::Scan { .. } => ("body", ""),
            Kind::While { .. } | Kind::WhileReverse { .. } => ("body", "predicate"),
            Kind::Cond => ("then", "else"),
        };
        let mut v = Vec::new();
        if let (Some(p), Kind::While { .. } | Kind::WhileReverse { .. }) = (&self.other, &self.kind) {
            v.push((second, &p.traced));
        }
        v.push((first, &self.body.traced));
        if let Some(p) = &self.reverse_step {
            v.push(("reverse step", &p.traced));
        }
        if let (Some(p), Kind::Cond) = (&self.other, &self.kind) {
            v.push((second, &p.traced));
        }
        v
    }
}
