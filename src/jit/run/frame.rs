//! A loop driver's frame: the words its native code loads (pointer tables, buffers, child
//! frames, scratch for a nested call's operands, the store of kept carries), laid out as the
//! driver's [`Word`] list says, and the memory those words point at, owned here. A frame is
//! made once and reused by every run of its driver on one thread at a time.

use super::runtime::Compiled;
use super::wiring::{Instance, Wiring};
use crate::array::{DType, Data};
use crate::error::{Error, Result};
use std::sync::Arc;

/// One item of a frame's layout, and the words it takes.
pub(crate) enum Word {
    /// An instance of a program: the address of its pointer table, then the spare buffer of
    /// each of its output allocations (null where an output is the memory): `1 + allocations`
    /// words.
    Program(*const Compiled),
    /// A zeroed buffer of this type: its address.
    Buffer(DType, Vec<usize>),
    /// A frame of a nested loop's driver, laid out as this says: the address of its words.
    Child(Arc<Vec<Word>>),
    /// This many words of scratch, zeroed (a nested call's operand and result addresses).
    Scratch(usize),
    /// A store of carries, one growing buffer per leaf of these byte sizes: its address, its
    /// capacity in steps, then each leaf's buffer address: `2 + leaves` words.
    Kept(Vec<usize>),
}

// SAFETY: the program a `Word::Program` points at is owned by the loop target that owns the
// driver holding this layout, and is immutable; it outlives the layout.
unsafe impl Send for Word {}
// SAFETY: as for `Send`: the pointer is only read.
unsafe impl Sync for Word {}

impl Word {
    /// The number of words it takes.
    pub(crate) fn words(&self) -> usize {
        match self {
            // SAFETY: the program outlives the layout (see `Send`).
            Word::Program(p) => 1 + unsafe { &**p }.out_allocs.len(),
            Word::Buffer(..) | Word::Child(_) => 1,
            Word::Scratch(n) => *n,
            Word::Kept(leaves) => 2 + leaves.len(),
        }
    }
}

/// The carries a while loop keeps for its reverse steps, step after step, one growing buffer
/// per leaf; its native code calls [`KeptStore::grow`] when a step would pass the capacity.
pub(crate) struct KeptStore {
    leaves: Vec<(usize, Vec<u8>)>,
    capacity: usize,
    /// The frame word that holds the capacity (the leaves' addresses follow it).
    at: usize,
}

impl KeptStore {
    /// One past the last frame word it updates.
    pub(crate) fn words_end(&self) -> usize {
        self.at + 1 + self.leaves.len()
    }

    /// Room for at least `steps` steps, the frame's words `words` updated.
    pub(crate) fn grow(&mut self, words: &mut [u64], steps: usize) -> Result<()> {
        let capacity = steps.max(2 * self.capacity).max(16);
        for (k, (bytes, store)) in self.leaves.iter_mut().enumerate() {
            let want = capacity.checked_mul(*bytes).ok_or_else(|| Error::Jit("kept carries overflow".into()))?;
            store.try_reserve_exact(want.saturating_sub(store.len())).map_err(|_| {
                Error::argument("while_loop", format!("cannot keep {steps} carries of {bytes} bytes: out of memory"))
            })?;
            store.resize(want, 0);
            words[self.at + 1 + k] = store.as_mut_ptr() as u64;
        }
        self.capacity = capacity;
        words[self.at] = capacity as u64;
        Ok(())
    }
}

/// The memory of a driver's frame (see the module's doc).
pub(crate) struct Frame {
    words: Vec<u64>,
    _instances: Vec<Instance>,
    _buffers: Vec<Data>,
    _children: Vec<Frame>,
    /// Boxed: native code holds each store's address.
    #[allow(clippy::vec_box)]
    _kept: Vec<Box<KeptStore>>,
}

// SAFETY: every pointer in a frame points at memory the frame owns or at a program's
// constants, which outlive it; a frame is used by one thread at a time (its driver's pool).
unsafe impl Send for Frame {}

impl Frame {
    /// A frame laid out as `layout` says.
    pub(crate) fn new(layout: &[Word]) -> Result<Frame> {
        let total = layout.iter().map(Word::words).sum();
        let mut f = Frame {
            words: vec![0; total],
            _instances: Vec::new(),
            _buffers: Vec::new(),
            _children: Vec::new(),
            _kept: Vec::new(),
        };
        let mut at = 0;
        for w in layout {
            match w {
                Word::Program(p) => {
                    // SAFETY: the program outlives the layout (see `Word`'s `Send`).
                    let program = unsafe { &**p };
                    let instance = Instance::new(program, &Wiring::of(program))?;
                    f.words[at] = instance.ptrs.as_ptr() as u64;
                    for (j, s) in instance.spare_ptrs.iter().enumerate() {
                        f.words[at + 1 + j] = *s as u64;
                    }
                    f._instances.push(instance);
                }
                Word::Buffer(dtype, shape) => {
                    let mut d = Data::zeros(*dtype, shape);
                    f.words[at] = super::call::mut_ptr(&mut d) as u64;
                    f._buffers.push(d);
                }
                Word::Child(layout) => {
                    let mut child = Frame::new(layout)?;
                    f.words[at] = child.words.as_mut_ptr() as u64;
                    f._children.push(child);
                }
                Word::Scratch(_) => {}
                Word::Kept(leaves) => {
                    let mut store = Box::new(KeptStore {
                        leaves: leaves.iter().map(|&b| (b, Vec::new())).collect(),
                        capacity: 0,
                        at: at + 1,
                    });
                    f.words[at] = (&mut *store as *mut KeptStore) as u64;
                    store.grow(&mut f.words, 0)?;
                    f._kept.push(store);
                }
            }
            at += w.words();
        }
        Ok(f)
    }

    /// The address of the words, as the driver's native code takes it.
    pub(crate) fn words_ptr(&mut self) -> *mut u64 {
        self.words.as_mut_ptr()
    }
}
