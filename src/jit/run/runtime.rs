//! The runtime: a compiled graph (`Compiled`), its per-call buffers (inputs, constants, the
//! reused arena of temporaries, freshly allocated outputs) and the steps it runs (kernels, and
//! matrix products in `gemm.rs`).

use super::gemm::Product;
use crate::array::{DType, Data};
use crate::error::{Error, Result};
use crate::ir::{CallTarget, Graph, SharedRun};
use crate::jit::plan::split::Split;
use crate::jit::plan::Slot;
use cranelift_jit::JITModule;
use smallvec::SmallVec;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A kernel function: `(bufs)`.
pub(crate) type KernelFn = unsafe extern "C" fn(*const *mut u8);

/// The outputs of one run (inline for up to four: a hit allocates only the arrays).
pub type Outputs = SmallVec<[Arc<Data>; 4]>;

#[derive(Clone)]
pub(crate) enum Step {
    /// A generated function (its entry address), called with its pointer table: the run's
    /// table from entry `table` on.
    Kernel { f: usize, table: usize },
    /// A kernel's chunk function (its entry address and table), run in chunks on the thread
    /// pool; with a panel, it computes the matrix product it reads by panels of rows
    /// (`panels.rs`).
    Chunked { f: usize, table: usize, split: Split, panel: Option<Box<super::panels::Panel>> },
    /// Chunked kernels split into the same rows, run together: each chunk runs every part on
    /// its rows in turn (`plan/row_groups.rs`).
    RowGroup(Box<RowGroup>),
    /// `c = op(a) @ op(b)`, batched (`jit/gemm.rs`); the pointers of `a`, `b`, `c` are the
    /// run's table entries from `operands` on.
    MatMul { operands: usize, product: Product },
    /// A call of `target` (an external function, or an accelerated function's program): its
    /// inputs from the run's table entries `inputs`, with their dtypes and shapes; output `k`
    /// of the target written to entry `e` for each `(k, e)` of `outputs`.
    Call(Box<CallStep>),
    /// A factorization or solve (`linalg.rs`), boxed like the call step.
    Linalg(Box<super::linalg::LinalgStep>),
}

impl Step {
    /// Whether this step may run work on rayon's pool.
    pub(crate) fn uses_pool(&self) -> bool {
        match self {
            Step::Chunked { .. } | Step::RowGroup(_) => true,
            Step::Linalg(l) => l.dims.uses_pool(),
            Step::MatMul { product: p, .. } => !p.dtype.is_complex() && super::gemm::is_large(p.m, p.k, p.n),
            Step::Kernel { .. } | Step::Call(_) => false,
        }
    }
}

/// Chunk functions split into the same rows, run chunk by chunk (a [`Step::RowGroup`]).
#[derive(Clone, Debug)]
pub(crate) struct RowGroup {
    /// Each part's chunk function (its entry address) and the entry of the run's table its own
    /// table starts at, in the order they run within a chunk.
    pub parts: Vec<(usize, usize)>,
    /// The rows.
    pub units: usize,
    /// Rows a chunk.
    pub chunk: usize,
}

/// A call step (boxed: the other steps, on every hit path, stay small).
#[derive(Clone)]
pub(crate) struct CallStep {
    /// The target.
    pub target: Arc<dyn CallTarget>,
    /// Each operand's table entry, dtype and shape.
    pub inputs: Vec<(usize, DType, Vec<usize>)>,
    /// `(output of the target, table entry)` for each output written.
    pub outputs: Vec<(usize, usize)>,
    /// The target's native driver, asked for on the first run (`None`: it has none).
    pub driver: std::sync::OnceLock<Option<Arc<super::driver::Driver>>>,
    /// How it shares a while loop's forward run with another call step of the same program.
    pub share: StepShare,
    /// Reverse steps' driver that reads the carries the forward step's driver kept, asked for
    /// on the first run (`None`: it has none, and the step runs [`driver`](Self::driver)).
    pub after: std::sync::OnceLock<Option<Arc<super::driver::Driver>>>,
}

/// How a call step shares a while loop's forward run ([`crate::ir::SharedRun`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StepShare {
    /// It runs alone.
    Alone,
    /// A while loop that keeps its carries for the reverse steps of a later step.
    Keeps,
    /// Reverse steps through the loop that step `k` of the same program ran and kept.
    After(usize),
}

impl CallStep {
    /// A call step of `target` on the operands at `inputs` (entry, dtype, shape), writing
    /// `outputs` (output, entry), running alone.
    pub(crate) fn new(
        target: Arc<dyn CallTarget>,
        inputs: Vec<(usize, DType, Vec<usize>)>,
        outputs: Vec<(usize, usize)>,
    ) -> CallStep {
        CallStep {
            target,
            inputs,
            outputs,
            driver: Default::default(),
            share: StepShare::Alone,
            after: Default::default(),
        }
    }

    /// The outputs this step writes, by output number.
    fn wanted(&self) -> Vec<bool> {
        let mut wanted = vec![false; self.target.output_types().len()];
        for &(k, _) in &self.outputs {
            if let Some(w) = wanted.get_mut(k) {
                *w = true;
            }
        }
        wanted
    }

    /// The target's native driver for the outputs this step writes, if it has one (a while
    /// loop whose run reverse steps share: the driver that keeps its carries).
    pub(crate) fn driver(&self) -> Option<&super::driver::Driver> {
        self.driver
            .get_or_init(|| {
                let share = if self.share == StepShare::Keeps { SharedRun::Keeps } else { SharedRun::Alone };
                let any = self.target.native_driver_shared(&self.wanted(), share)?;
                any.downcast::<super::driver::Driver>().ok()
            })
            .as_deref()
    }

    /// Reverse steps' driver reading the carries kept by a forward driver with step count and
    /// store at frame words `kept` ([`Driver::kept`](super::driver::Driver::kept)).
    pub(crate) fn after_driver(&self, kept: (usize, usize)) -> Option<&Arc<super::driver::Driver>> {
        self.after
            .get_or_init(|| {
                let share = SharedRun::After { steps: kept.0, kept: kept.1 };
                let any = self.target.native_driver_shared(&self.wanted(), share)?;
                any.downcast::<super::driver::Driver>().ok()
            })
            .as_ref()
    }
}

/// Where one entry of a run's pointer table points, resolved from its slot at compile time so
/// that filling the table is one pass of additions.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Entry {
    /// The arena of temporaries, at this byte offset.
    Arena(usize),
    /// Input `k`, at this byte offset (a view of a slice of it).
    Input(usize, usize),
    /// Output `j`.
    Output(usize),
    /// Constant `k` of [`Compiled::constants`], at this byte offset.
    Const(usize, usize),
}

/// The pointer-table entries of `table` (slots of `slots`) and the constants they read.
pub(crate) struct Entries {
    pub(crate) table: Vec<Entry>,
    pub(crate) constants: Vec<Arc<Data>>,
    /// The entries that point into inputs or outputs ([`Compiled::per_call`]).
    pub(crate) per_call: Vec<usize>,
}

/// The [`Entries`] of `table`, a slot of `slots` per entry.
pub(crate) fn entries(slots: &[Slot], table: &[usize]) -> Result<Entries> {
    let mut constants: Vec<Arc<Data>> = Vec::new();
    let mut index_of: rustc_hash::FxHashMap<*const Data, usize> = Default::default();
    let mut entry = |slot: &Slot, offset: usize| match slot {
        Slot::Temp(off) => Ok(Entry::Arena(off + offset)),
        Slot::Input(k) => Ok(Entry::Input(*k, offset)),
        Slot::Output(j) if offset == 0 => Ok(Entry::Output(*j)),
        Slot::Const(d) => {
            let k = *index_of.entry(Arc::as_ptr(d)).or_insert_with(|| {
                constants.push(d.clone());
                constants.len() - 1
            });
            Ok(Entry::Const(k, offset))
        }
        _ => Err(Error::Jit(format!("a view at {offset} bytes into slot {slot:?}"))),
    };
    let entries = table
        .iter()
        .map(|&s| match slots.get(s) {
            Some(Slot::View { of, offset }) => entry(&slots[*of], *offset),
            Some(slot) => entry(slot, 0),
            None => Err(Error::Jit(format!("slot {s} does not exist"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let per_call = (0..entries.len()).filter(|&i| matches!(entries[i], Entry::Input(..) | Entry::Output(_))).collect();
    Ok(Entries { table: entries, constants, per_call })
}

#[derive(Clone, Debug)]
pub(crate) enum OutSrc {
    Input(usize),
    Const(Arc<Data>),
    Alloc(usize),
}

pub(crate) struct ModuleBox(pub(crate) JITModule);
// SAFETY: the module is only touched under the mutex (compilation, then `free_memory` on drop);
// the finalized code it owns is immutable and callable from any thread.
unsafe impl Send for ModuleBox {}

/// A graph compiled to native code. Cheap to run many times; `Send + Sync`.
pub struct Compiled {
    pub(crate) module: Mutex<Option<ModuleBox>>,
    pub(crate) steps: Vec<Step>,
    /// The constant arrays the pointer table reads ([`Entry::Const`]).
    pub(crate) constants: Vec<Arc<Data>>,
    /// Where each entry of a run's pointer table points (`Step` says which entries each step
    /// reads).
    pub(crate) table: Vec<Entry>,
    /// The entries of `table` that point into inputs or outputs: the only ones a run refills
    /// when this thread's table was last filled by this graph with the same arena.
    pub(crate) per_call: Vec<usize>,
    pub(crate) inputs: Vec<(DType, Vec<usize>)>,
    pub(crate) out_allocs: Vec<(DType, Vec<usize>)>,
    /// Whether each output allocation must start zeroed (it is not written element by element
    /// by one generated kernel).
    pub(crate) out_zeroed: Vec<bool>,
    pub(crate) outputs: Vec<OutSrc>,
    pub(crate) arena_words: usize,
    /// Arenas of finished runs, reused (a fresh large allocation costs page faults each call).
    pub(crate) arenas: Mutex<Vec<Vec<u64>>>,
    /// Per allocated output: a zeroed copy to clone, when it is small.
    pub(crate) out_prototypes: Vec<Option<Data>>,
    /// The last run's large outputs, shared with the caller: when the caller has dropped its
    /// handle by the next run, that run writes into the same memory instead of faulting in
    /// fresh pages (see `call.rs`).
    pub(crate) recycled: Mutex<Vec<Option<Arc<Data>>>>,
    /// The graph this was compiled from, to print its native code on request.
    pub(crate) source: Option<Arc<Graph>>,
    /// The number of fused loop nests (kernels).
    pub(crate) loops: usize,
    /// The number of distinct native functions compiled (functions with the same code share
    /// it, `repeats.rs`).
    pub(crate) functions: usize,
    /// The number of kernels that write over one of their operands (`plan/in_place.rs`).
    pub(crate) in_place: usize,
    /// Whether a run keeps the thread pool awake (`awake.rs`): some step uses the pool and
    /// none calls out to other code.
    pub(crate) pool_awake: bool,
    /// A number no other compiled graph of this process has: it keys the per-thread store of
    /// small outputs ([`SMALL_OUTPUTS`]).
    pub(crate) id: u64,
}

/// A fresh [`Compiled::id`].
pub(crate) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled").field("kernels", &self.loops).field("steps", &self.steps.len()).finish()
    }
}

impl Drop for Compiled {
    fn drop(&mut self) {
        let m = match self.module.get_mut() {
            Ok(m) => m.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some(ModuleBox(m)) = m {
            // SAFETY: no function pointer into this module outlives `self`.
            unsafe { m.free_memory() };
        }
    }
}

impl Compiled {
    /// The number of fused loops (generated kernels).
    pub fn loop_count(&self) -> usize {
        self.loops
    }

    /// The number of distinct native functions compiled (the kernels' functions, with those
    /// of the same code counted once).
    pub fn function_count(&self) -> usize {
        self.functions
    }

    /// The number of matrix products computed by panels of rows inside the kernel that
    /// consumes them (never written whole).
    pub fn panel_count(&self) -> usize {
        self.steps.iter().filter(|s| matches!(s, Step::Chunked { panel: Some(_), .. })).count()
    }

    /// The sizes of the groups of chunked kernels that run together, chunk by chunk of their
    /// rows (`plan/row_groups.rs`), in step order.
    pub fn row_group_sizes(&self) -> Vec<usize> {
        let sizes = self.steps.iter().map(|s| match s {
            Step::RowGroup(r) => r.parts.len(),
            _ => 0,
        });
        sizes.filter(|&n| n > 0).collect()
    }

    /// The number of kernels that write over one of their operands' buffers (an elementwise
    /// kernel over a temporary that nothing reads later).
    pub fn in_place_count(&self) -> usize {
        self.in_place
    }

    /// The dtype and shape of each output.
    pub(crate) fn output_types(&self) -> Vec<(DType, Vec<usize>)> {
        self.outputs
            .iter()
            .map(|o| match o {
                OutSrc::Alloc(j) => self.out_allocs[*j].clone(),
                OutSrc::Input(k) => self.inputs[*k].clone(),
                OutSrc::Const(d) => (d.dtype(), d.shape().to_vec()),
            })
            .collect()
    }
}
