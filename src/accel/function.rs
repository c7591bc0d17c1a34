//! `accelerate` and `AcceleratedFunction`: trace once per signature, run compiled code after.

use super::cache::{Cache, Entry, Lookup, SlotState};
use super::callee::{BackwardFactory, BackwardFn, EntryCallee};
use super::check::{compare, first_divergence, CheckMode};
use super::counter::ShardedCounter;
use super::dump::{self, DumpStage};
use super::key::Signature;
use super::program::Program;
use super::report::BuildReport;
use crate::array::Data;
use crate::error::{Error, Result};
use crate::ir::{Call, CallTarget, DumpOptions, Op, Origin};
use crate::trace::context::{differentiation_time, tracing, with_top, Mode};
use crate::trace::current_origin;
use crate::trace::{capture, emit_outputs, graph_with_outputs, panic_message, DlArray};
use crate::trace::{Leaf, Tree};
use smallvec::SmallVec;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// `Shared::check` when check mode is off (a NaN pattern no tolerance is stored as).
const NO_CHECK: u64 = u64::MAX;

type UserFn<A, R> = dyn Fn(A) -> Result<R> + Send + Sync;

struct Shared<A, R> {
    f: Arc<UserFn<A, R>>,
    name: String,
    cache: Cache<R>,
    enabled: AtomicBool,
    /// The check tolerance's bits, or `NO_CHECK` (read on every hit, so lock-free).
    check: AtomicU64,
    /// Sharded: hitting threads never write a shared cache line for it.
    hits: ShardedCounter,
    misses: AtomicU64,
    check_failures: AtomicUsize,
}

/// A function wrapped by [`accelerate`]: each input signature (tree structure, array shapes
/// and dtypes, plain values) is traced once, its gradient recorded symbolically, the graph
/// optimized and compiled; later calls with that signature run the compiled code only.
///
/// Cloning shares the cache. `Send + Sync`: one instance serves many threads.
pub struct AcceleratedFunction<A, R> {
    shared: Arc<Shared<A, R>>,
}

impl<A, R> Clone for AcceleratedFunction<A, R> {
    fn clone(&self) -> Self {
        AcceleratedFunction { shared: self.shared.clone() }
    }
}

/// Wraps `f` for acceleration (MATLAB's `dlaccelerate`). Inside `f`, `dlgradient` traces its
/// gradients (higher derivatives on by default), so they are compiled too.
///
/// ```
/// use cranegrad::prelude::*;
/// use ndarray::array;
/// let af = accelerate(|x: DlArray| {
///     let y = x.square().sum_all();
///     let g = dlgradient(&y, &x)?;
///     Ok((y, g))
/// });
/// let (y, g) = af.call(DlArray::from(array![1.0, 2.0])).unwrap();   // traces and compiles
/// let (y2, g2) = af.call(DlArray::from(array![3.0, 4.0])).unwrap(); // compiled code only
/// assert_eq!(y2.to_scalar::<f64>().unwrap(), 25.0);
/// assert_eq!(af.hit_rate(), 50.0);
/// # let _ = (y, g, g2);
/// ```
pub fn accelerate<A, R, F>(f: F) -> AcceleratedFunction<A, R>
where
    A: Tree + Send + Sync + 'static,
    R: Tree + Send + Sync + 'static,
    F: Fn(A) -> Result<R> + Send + Sync + 'static,
{
    let name = std::any::type_name::<F>().replace("{{closure}}", "{closure}");
    AcceleratedFunction {
        shared: Arc::new(Shared {
            f: Arc::new(f),
            name,
            cache: Cache::new(50),
            enabled: AtomicBool::new(true),
            check: AtomicU64::new(NO_CHECK),
            hits: ShardedCounter::default(),
            misses: AtomicU64::new(0),
            check_failures: AtomicUsize::new(0),
        }),
    }
}

/// The data of `args`' arrays in visiting order (no heap allocation for up to 8 arrays).
fn input_data<A: Tree>(args: &A) -> Result<SmallVec<[&Arc<Data>; 8]>> {
    let mut out = SmallVec::new();
    let mut failure = None;
    args.visit(&mut |leaf| {
        if let Leaf::Array(a) = leaf {
            match a.data() {
                Ok(d) => out.push(d),
                Err(e) => failure = failure.take().or(Some(e)),
            }
        }
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The result tree `template` with its arrays replaced by `outputs`, in visiting order.
fn fill<R: Tree>(template: &R, outputs: crate::jit::Outputs) -> Result<R> {
    let mut next = outputs.into_iter();
    template.map_arrays(&mut |_| {
        next.next()
            .map(DlArray::from_data)
            .ok_or_else(|| Error::Jit("the compiled program returned fewer outputs than the trace".into()))
    })
}

/// A placeholder array for result templates.
fn placeholder() -> DlArray {
    DlArray::from_data(Arc::new(Data::F64(ndarray::arr0(0.0).into_dyn())))
}

impl<A: Tree + Send + Sync + 'static, R: Tree + Send + Sync + 'static> AcceleratedFunction<A, R> {
    /// Calls the function: from the cache when this signature was seen, else by tracing and
    /// compiling it (and returning the traced call's results). Inside `dlfeval` with traced
    /// arguments, the call is recorded as one node per output whose gradient is the cached,
    /// compiled backward function; inside another accelerated function, it is inlined.
    ///
    /// The `call` nodes recorded in the caller's trace carry this call's line as their origin.
    #[track_caller]
    #[inline]
    pub fn call(&self, args: A) -> Result<R> {
        self.call_ref(&args)
    }

    /// [`call`](Self::call) without taking ownership of `args`: a hit writes no array's
    /// reference count, so many threads calling with one shared input scale as well as threads
    /// with inputs of their own.
    #[track_caller]
    pub fn call_ref(&self, args: &A) -> Result<R> {
        let here = Origin::caller();
        if !self.enabled() {
            return self.run_unaccelerated(args);
        }
        if tracing() && args.arrays().iter().any(|a| a.is_traced()) {
            if with_top(|t| t.accelerating).unwrap_or(false) {
                return self.run_inline(args.clone());
            }
            return self.call_as_node(args, here);
        }
        // A hit: the published table, no lock, nothing allocated but the outputs.
        let ready = self.shared.cache.ready();
        if let Some(entry) = Signature::hash_of(args).and_then(|h| ready.find(h, args)) {
            self.count_hit(entry);
            return self.run_entry(entry, args);
        }
        drop(ready);
        let (entry, built) = self.entry_for(args)?;
        match built {
            Some(result) => Ok(result),
            None => self.run_entry(&entry, args),
        }
    }

    /// Counts a hit on `entry` and marks it used.
    fn count_hit(&self, entry: &Entry<R>) {
        self.shared.hits.bump();
        entry.hits.bump();
        self.shared.cache.touch(entry);
    }

    /// The cache entry for `args`' signature, building it on a miss (then with the traced
    /// call's result).
    fn entry_for(&self, args: &A) -> Result<(Arc<Entry<R>>, Option<R>)> {
        let Some(hash) = Signature::hash_of(args) else {
            for a in args.arrays() {
                a.data()?;
            }
            return Err(Error::argument("accelerate", "an argument carries an error"));
        };
        let sig = Signature::of(args);
        loop {
            let lookup = self.shared.cache.lookup(&sig);
            match lookup {
                Lookup::Found(slot) => {
                    if let Some(entry) = slot.wait() {
                        self.count_hit(&entry);
                        return Ok((entry, None));
                    }
                }
                Lookup::Build(slot) => {
                    self.shared.misses.fetch_add(1, Ordering::Relaxed);
                    self.explain_miss(&sig);
                    let built = catch_unwind(AssertUnwindSafe(|| self.trace_and_build(args, &sig, hash)))
                        .unwrap_or_else(|p| Err(Error::Panicked(panic_message(p))));
                    return match built {
                        Ok((result, entry)) => {
                            self.shared.cache.finish(&sig, &slot, SlotState::Ready(entry.clone()));
                            Ok((entry, Some(result)))
                        }
                        Err(e) => {
                            self.shared.cache.finish(&sig, &slot, SlotState::Failed);
                            Err(e)
                        }
                    };
                }
            }
        }
    }

    /// Runs the cached program on untraced copies of `args` and records one `call` node per
    /// output in the caller's trace.
    fn call_as_node(&self, args: &A, here: Origin) -> Result<R> {
        let plain = args.map_arrays(&mut |a| a.untraced())?;
        let (entry, _) = self.entry_for(&plain)?;
        let target = entry
            .callee
            .get_or_init(|| {
                let (f, template) = (self.shared.f.clone(), plain.clone());
                let make: BackwardFactory = Box::new(move |i| backward_of(f.clone(), template.clone(), i));
                Arc::new(EntryCallee::new(&self.shared.name, &entry.program, make)) as Arc<dyn CallTarget>
            })
            .clone();
        let ops = (0..target.output_types().len()).map(|output| Op::Call(Call { target: target.clone(), output }));
        // The user's line, unless an outer call (the reverse sweep, say) already set one.
        let _origin = current_origin::scoped(current_origin::current().or(Some(here)));
        let run = |inputs: &[Arc<Data>]| Ok(entry.program.run(&inputs.iter().collect::<Vec<_>>())?.into_vec());
        let mut outputs = emit_outputs(ops.collect(), &args.arrays(), run)?.into_iter();
        entry.template.map_arrays(&mut |_| {
            outputs.next().ok_or_else(|| Error::Jit("the compiled program returned fewer outputs".into()))
        })
    }

    /// Runs `f` with tracing on but nothing cached (what `set_enabled(false)` and check mode
    /// use).
    fn run_unaccelerated(&self, args: &A) -> Result<R> {
        if tracing() && args.arrays().iter().any(|a| a.is_traced()) {
            return self.run_inline(args.clone());
        }
        let (result, _) = capture(|a| (self.shared.f)(a), args, Mode::Traced)?;
        result.map_arrays(&mut |a| a.untraced())
    }

    /// Runs `f` inside the caller's trace (its arguments are traced there), with gradients
    /// traced as in an accelerated function, so the caller can differentiate through it.
    fn run_inline(&self, args: A) -> Result<R> {
        struct Restore(bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                with_top(|t| t.accelerating = self.0);
            }
        }
        let previous = with_top(|t| std::mem::replace(&mut t.accelerating, true)).unwrap_or(false);
        let _restore = Restore(previous);
        (self.shared.f)(args)
    }

    /// The first call of a signature: traces `f` lazily (values are computed only where `f`
    /// asks for them), optimizes and compiles the graph, and returns the compiled program's
    /// outputs. The time of each phase is kept in the entry and logged at debug level.
    fn trace_and_build(&self, args: &A, sig: &Signature, hash: u64) -> Result<(R, Arc<Entry<R>>)> {
        let mut report = BuildReport { signature: sig.describe(), ..BuildReport::default() };
        let (started, differentiated) = (Instant::now(), differentiation_time());
        let (result, mut trace) = capture(|a| (self.shared.f)(a), args, Mode::Lazy)?;
        report.evaluated_nodes = trace
            .graph
            .nodes
            .iter()
            .zip(&trace.values)
            .filter(|(n, v)| v.is_some() && !matches!(n.op, Op::Input(_) | Op::Constant(_)))
            .count();
        let graph = graph_with_outputs(&result, &mut trace)?;
        drop(trace);
        report.trace = started.elapsed();
        report.differentiate = differentiation_time().saturating_sub(differentiated);
        let program = Program::build(graph, &mut report)?;
        let template = result.map_arrays(&mut |_| Ok(placeholder()))?;
        drop(result);
        let ran = Instant::now();
        let outputs = fill(&template, program.run(&input_data(args)?)?)?;
        report.run = ran.elapsed();
        log::debug!("accelerated {}: first call {report}", self.shared.name);
        let entry = Arc::new(Entry {
            signature: sig.clone(),
            hash,
            program: Arc::new(program),
            template,
            hits: ShardedCounter::default(),
            last_used: AtomicU64::new(0),
            serial: self.shared.cache.next_serial(),
            callee: OnceLock::new(),
            report,
        });
        Ok((outputs, entry))
    }

    fn run_entry(&self, entry: &Entry<R>, args: &A) -> Result<R> {
        let result = fill(&entry.template, entry.program.run(&input_data(args)?)?)?;
        if let CheckMode::Tolerance(tol) = self.check_mode() {
            // The re-run is the user's code: a panic (which `capture` turns into an `Err`) or an
            // `Err` there is a check failure; the call still returns the accelerated outputs and
            // the cache is untouched. The arguments are not traced here (traced ones never reach
            // a cache entry); the re-run keeps its trace to explain a failure.
            let rerun = capture(|a| (self.shared.f)(a), args, Mode::Traced)
                .and_then(|(reference, trace)| Ok((reference.map_arrays(&mut |a| a.untraced())?, reference, trace)));
            let (reference, traced, mut trace) = match rerun {
                Ok(r) => r,
                Err(e) => return Ok(self.rerun_failed(entry, &e.to_string(), result)),
            };
            let failures = compare(&result, &reference, tol)?;
            let divergence = if failures.is_empty() {
                None
            } else {
                graph_with_outputs(&traced, &mut trace).ok().and_then(|now| {
                    let inputs: Vec<Arc<Data>> = input_data(args).ok()?.into_iter().cloned().collect();
                    first_divergence(&entry.program.unoptimized, &now, &trace.values, &inputs, tol)
                })
            };
            let divergence = divergence.map(|d| format!("; {d}")).unwrap_or_default();
            for (output, diff) in failures {
                log::warn!(
                    "accelerated {}: output {output} differs from the un-accelerated function by {diff:e} (tolerance \
                     {tol:e}) for signature {}{divergence}; does control flow depend on input values?",
                    self.shared.name,
                    entry.signature.describe()
                );
                self.shared.check_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(result)
    }

    /// Logs and counts a check-mode re-run that failed; the accelerated `result` stands.
    fn rerun_failed(&self, entry: &Entry<R>, why: &str, result: R) -> R {
        log::warn!(
            "accelerated {}: the un-accelerated check run failed for signature {}: {why}",
            self.shared.name,
            entry.signature.describe()
        );
        self.shared.check_failures.fetch_add(1, Ordering::Relaxed);
        result
    }

    fn explain_miss(&self, sig: &Signature) {
        if !log::log_enabled!(log::Level::Debug) {
            return;
        }
        let cached = self.shared.cache.signatures();
        if let Some(why) = sig.explain_miss(cached.iter().filter(|c| *c != sig)) {
            log::debug!("accelerated {}: retracing for {}: {why}", self.shared.name, sig.describe());
        }
    }

    /// Percent (0 to 100) of calls served from the cache; a call that waited for another
    /// thread's trace of its signature counts as a hit.
    pub fn hit_rate(&self) -> f64 {
        let hits = self.shared.hits.total() as f64;
        let total = hits + self.shared.misses.load(Ordering::Relaxed) as f64;
        if total == 0.0 {
            0.0
        } else {
            100.0 * hits / total
        }
    }

    /// Calls served from the cache so far (exact under concurrency once the calling threads
    /// are done).
    pub fn hits(&self) -> u64 {
        self.shared.hits.total()
    }

    /// Calls that traced and compiled a signature (first calls, and calls after eviction).
    pub fn misses(&self) -> u64 {
        self.shared.misses.load(Ordering::Relaxed)
    }

    /// Percent of `cache_size()` in use.
    pub fn occupancy(&self) -> f64 {
        let (len, capacity) = (self.shared.cache.len(), self.shared.cache.capacity());
        if capacity == 0 {
            0.0
        } else {
            100.0 * len as f64 / capacity as f64
        }
    }

    /// The number of signatures the cache holds at most (default 50).
    pub fn cache_size(&self) -> usize {
        self.shared.cache.capacity()
    }

    /// Sets the cache size; when it shrinks, least recently used entries go. 0 caches nothing.
    pub fn set_cache_size(&self, n: usize) {
        self.shared.cache.set_capacity(n);
    }

    /// Whether calls are accelerated (default true).
    pub fn enabled(&self) -> bool {
        self.shared.enabled.load(Ordering::Relaxed)
    }

    /// When false, calls run `f` un-accelerated (same results).
    pub fn set_enabled(&self, on: bool) {
        self.shared.enabled.store(on, Ordering::Relaxed)
    }

    /// The check mode (default `CheckMode::None`).
    pub fn check_mode(&self) -> CheckMode {
        match self.shared.check.load(Ordering::Relaxed) {
            NO_CHECK => CheckMode::None,
            bits => CheckMode::Tolerance(f64::from_bits(bits)),
        }
    }

    /// Sets the check mode.
    pub fn set_check_mode(&self, mode: CheckMode) {
        let bits = match mode {
            CheckMode::None => NO_CHECK,
            CheckMode::Tolerance(tol) if tol.to_bits() == NO_CHECK => f64::NAN.to_bits() ^ 1,
            CheckMode::Tolerance(tol) => tol.to_bits(),
        };
        self.shared.check.store(bits, Ordering::Relaxed)
    }

    /// How many outputs of cached calls differed from the un-accelerated function by more than
    /// the check tolerance.
    pub fn check_failures(&self) -> usize {
        self.shared.check_failures.load(Ordering::Relaxed)
    }

    /// Drops every entry and its compiled code; statistics are kept.
    pub fn clear_cache(&self) {
        self.shared.cache.clear()
    }

    /// Every cached trace: its signature and hit count, then its optimized IR, one node per
    /// line with dtype and shape, forward and backward parts marked, and in a last column the
    /// line of the user's code that recorded the node (`# src/model.rs:12`; `(backward of)`
    /// on the nodes `dlgradient` made for the op at that line). The optimizer keeps origins: a
    /// merged or rewritten node keeps one of the origins it replaces.
    pub fn ir_dump(&self) -> String {
        self.ir_dump_stage(DumpStage::Optimized)
    }

    /// [`ir_dump`](Self::ir_dump) of the chosen stage (unoptimized or optimized).
    pub fn ir_dump_stage(&self, stage: DumpStage) -> String {
        self.ir_dump_with(stage, &DumpOptions::default())
    }

    /// [`ir_dump_stage`](Self::ir_dump_stage) with options: `&DumpOptions::plain()` leaves out
    /// the origin column, for dumps that diff cleanly when code moves.
    pub fn ir_dump_with(&self, stage: DumpStage, options: &DumpOptions) -> String {
        let entries = self.shared.cache.entries();
        dump::text(&self.shared.name, &entries, stage, options)
    }

    /// Every cached trace's optimized graph as Graphviz DOT (each node's origin on the last
    /// line of its label).
    pub fn ir_dump_dot(&self) -> String {
        self.ir_dump_dot_with(&DumpOptions::default())
    }

    /// [`ir_dump_dot`](Self::ir_dump_dot) with options (`&DumpOptions::plain()`: no origins).
    pub fn ir_dump_dot_with(&self, options: &DumpOptions) -> String {
        let entries = self.shared.cache.entries();
        dump::dot(&self.shared.name, &entries, options)
    }

    /// Every cached trace's native code as Cranelift IR text.
    pub fn native_dump(&self) -> String {
        let entries = self.shared.cache.entries();
        dump::native(&self.shared.name, &entries)
    }

    /// How the first call of each cached signature went, oldest first: graph sizes and the
    /// time of each phase (trace, differentiate, optimize, compile, run).
    pub fn build_reports(&self) -> Vec<BuildReport> {
        self.shared.cache.entries().iter().map(|e| e.report.clone()).collect()
    }

    /// The number of ready cache entries.
    pub fn num_entries(&self) -> usize {
        self.shared.cache.entries().len()
    }
}

/// The backward function of output `i` of a call to `f` with arguments shaped like `template`:
/// an accelerated function of (inputs, cotangent) that re-traces `f`, contracts output `i` with
/// the cotangent and differentiates (compiled, cached, and differentiable again).
fn backward_of<A, R>(f: Arc<dyn Fn(A) -> Result<R> + Send + Sync>, template: A, i: usize) -> BackwardFn
where
    A: Tree + Send + Sync + 'static,
    R: Tree + Send + Sync + 'static,
{
    let af = accelerate(move |(xs, ct): (Vec<DlArray>, DlArray)| {
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
        crate::dlgradient(&contracted, &xs)
    });
    Box::new(move |args| af.call(args))
}
