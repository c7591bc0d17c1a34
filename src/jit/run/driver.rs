//! A loop driver: one native function that runs a whole loop or branch (`jit/drive/` emits
//! it): the iterations, the predicate, the body's steps, nested loops' drivers, all in native
//! code. It is called with its frame's words and an array of its operands' and results'
//! addresses, and returns a status: 0, or not 0 when a step failed, after which the error
//! waits in this thread's [`PENDING`] (the error channel from compiled code to the caller). The
//! `extern "C"` helpers it calls are here too.

use super::frame::{Frame, KeptStore, Word};
use super::runtime::{Compiled, ModuleBox};
use crate::error::{Error, Result};
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

/// A driver function: `(frame words, operand and result addresses) -> status`.
pub(crate) type DriverFn = unsafe extern "C" fn(*mut u64, *const *mut u8) -> u32;

thread_local! {
    /// The error of the step that made this thread's running driver return a status that is
    /// not 0.
    static PENDING: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// Records `e` as the error of this thread's running driver, and returns the failure status.
fn fail(e: Error) -> u32 {
    PENDING.with(|p| *p.borrow_mut() = Some(e));
    1
}

/// A loop's native driver (see the module's doc).
pub struct Driver {
    module: Mutex<Option<ModuleBox>>,
    entry: DriverFn,
    layout: Arc<Vec<Word>>,
    /// The drivers of the loops nested in its bodies, which its code calls.
    _children: Vec<Arc<Driver>>,
    frames: Mutex<Vec<Frame>>,
    /// The loop's name, for its errors (its address is a constant of the code).
    pub(crate) name: String,
    /// Its Cranelift IR, for the native dump.
    pub(crate) clif: String,
    /// The number of operands and results of its address array.
    pub(crate) operands: usize,
    pub(crate) results: usize,
    /// A while loop's driver that keeps its carries for reverse steps after it: the frame
    /// words of its step count and of its store of carries.
    kept: Option<(usize, usize)>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("name", &self.name).finish()
    }
}

impl Driver {
    /// A driver from its finalized module, entry address, frame layout with the drivers its
    /// code calls, name, and numbers of operands and results.
    pub(crate) fn new(
        (module, entry): (ModuleBox, usize),
        (layout, children): (Vec<Word>, Vec<Arc<Driver>>),
        (name, clif): (String, String),
        io: (usize, usize),
    ) -> Driver {
        // SAFETY: `entry` is the finalized driver function of `module`, of `DriverFn`'s
        // signature; the module lives as long as `self`.
        let entry = unsafe { std::mem::transmute::<usize, DriverFn>(entry) };
        let (operands, results) = io;
        Driver {
            module: Mutex::new(Some(module)),
            entry,
            layout: Arc::new(layout),
            _children: children,
            frames: Mutex::new(Vec::new()),
            name,
            clif,
            operands,
            results,
            kept: None,
        }
    }

    /// The same driver, keeping its carries at the frame words `kept` says (see
    /// [`kept`](Self::kept)).
    pub(crate) fn keeping(mut self, kept: Option<(usize, usize)>) -> Driver {
        self.kept = kept;
        self
    }

    /// For a while loop's driver that keeps its carries for reverse steps run after it: the
    /// frame words of its step count and of its store of carries, which those steps read.
    pub(crate) fn kept(&self) -> Option<(usize, usize)> {
        self.kept
    }

    /// Its frame layout, shared with the frames of the drivers that call it.
    pub(crate) fn layout(&self) -> Arc<Vec<Word>> {
        self.layout.clone()
    }

    /// The address of its native function.
    pub(crate) fn entry(&self) -> usize {
        self.entry as usize
    }

    /// Runs the loop on the operands and results at `io` (operands first).
    ///
    /// # Safety
    /// Each operand address must point at a standard-layout array of the operand's type, valid
    /// for reads while it runs; each result address at memory of the result's type, valid for
    /// writes, aliasing no operand (a result the driver was not asked for may be null).
    pub(crate) unsafe fn run(&self, io: &[*mut u8]) -> Result<()> {
        // SAFETY: the caller's contract.
        let frame = unsafe { self.run_held(io)? };
        self.give_back(frame);
        Ok(())
    }

    /// [`run`](Self::run), handing back the frame it ran in, its kept carries intact, for
    /// reverse steps that read them; [`give_back`](Self::give_back) returns it.
    ///
    /// # Safety
    /// As for [`run`](Self::run).
    pub(crate) unsafe fn run_held(&self, io: &[*mut u8]) -> Result<Frame> {
        if io.len() != self.operands + self.results {
            return Err(Error::Jit(format!(
                "{}: {} addresses for {}",
                self.name,
                io.len(),
                self.operands + self.results
            )));
        }
        let taken = self.frames.lock().ok().and_then(|mut f| f.pop());
        let mut frame = match taken {
            Some(f) => f,
            None => Frame::new(&self.layout)?,
        };
        // SAFETY: the frame is laid out as this driver's code reads it and used by this thread
        // only; `io` holds the addresses the caller vouched for.
        let status = unsafe { (self.entry)(frame.words_ptr(), io.as_ptr()) };
        match status {
            0 => Ok(frame),
            _ => {
                self.give_back(frame);
                Err(PENDING
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_else(|| Error::Jit(format!("{} failed", self.name))))
            }
        }
    }

    /// Returns a frame that [`run_held`](Self::run_held) handed out, for later runs.
    pub(crate) fn give_back(&self, frame: Frame) {
        if let Ok(mut f) = self.frames.lock() {
            f.push(frame);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.frames.get_mut().map(|f| f.clear()).ok();
        let m = match self.module.get_mut() {
            Ok(m) => m.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some(ModuleBox(m)) = m {
            // SAFETY: no frame is running (we own the driver), and no address into the module
            // outlives it: outer drivers hold this one by `Arc`.
            unsafe { m.free_memory() };
        }
    }
}

/// Runs step `step` of `program` on its pointer table `table` (a step the driver does not
/// emit natively: chunked kernels, GEMM, factorizations, calls of other targets).
///
/// # Safety
/// `program` must be a live program and `table` its pointer table, filled for this run.
pub(crate) unsafe extern "C" fn step_on_host(program: *const Compiled, step: usize, table: *const *mut u8) -> u32 {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the caller's contract.
        let program = unsafe { &*program };
        // SAFETY: the table has an entry per entry of the program's table.
        let ptrs = unsafe { std::slice::from_raw_parts(table, program.table.len()) };
        program.run_step(&program.steps[step], ptrs)
    }));
    match run {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => fail(e),
        Err(_) => fail(Error::Jit("a step of a loop body panicked".into())),
    }
}

/// The `Err` of a while loop named by the `len` bytes at `name` that ran `steps` steps with
/// its predicate still true.
///
/// # Safety
/// `name` must point at `len` bytes of UTF-8, valid for reads.
pub(crate) unsafe extern "C" fn ran_past(name: *const u8, len: usize, steps: u64) -> u32 {
    // SAFETY: the caller's contract.
    let name = std::str::from_utf8(unsafe { std::slice::from_raw_parts(name, len) }).unwrap_or("while_loop");
    fail(Error::argument(name, format!("the loop ran past max_iterations ({steps}) with its predicate still true")))
}

/// Grows the kept-carry store at `store` to hold `steps` steps, updating the frame's words.
///
/// # Safety
/// `store` must be the store of the frame whose words are at `words`.
pub(crate) unsafe extern "C" fn grow_kept(store: *mut KeptStore, words: *mut u64, steps: u64) -> u32 {
    // SAFETY: the caller's contract; the store's words are inside the frame.
    let store = unsafe { &mut *store };
    // SAFETY: as above: the frame has at least the store's words.
    let words = unsafe { std::slice::from_raw_parts_mut(words, store.words_end()) };
    match store.grow(words, steps as usize) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

/// Copies `n` bytes from `src` to `dst`.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `n` bytes, not overlapping.
pub(crate) unsafe extern "C" fn copy_bytes(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract.
    unsafe { std::ptr::copy_nonoverlapping(src, dst, n) }
}

/// Zeroes `n` bytes at `dst`.
///
/// # Safety
/// `dst` must be valid for writes of `n` bytes.
pub(crate) unsafe extern "C" fn zero_bytes(dst: *mut u8, n: usize) {
    // SAFETY: the caller's contract.
    unsafe { std::ptr::write_bytes(dst, 0, n) }
}
