//! The per-thread pool of freed array buffers: a large [`Data`](super::Data) dropped on a thread
//! gives its `Vec` to that thread's pool (by element type and power-of-two size class), and
//! the kernels that make a large result take their buffer from it, so an eager loop reuses
//! memory already faulted in instead of faulting in fresh pages for every op. Buffers under
//! [`MIN_BYTES`] are left to the allocator (cheap there); a thread holds at most its limit
//! ([`DEFAULT_LIMIT`] unless set): to make room for a freed buffer, the buffers freed least
//! recently go back to the allocator first, so what an earlier phase of the program left does
//! not crowd out the working set of the loop running now.
//!
//! A buffer comes out empty (length 0, capacity at least the request): a kernel pushes every
//! element of its result, so no stale value can be read and results do not depend on reuse.

use super::{Data, Element};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use num_complex::{Complex32, Complex64};
use rayon::prelude::*;
use std::cell::RefCell;

/// Buffers smaller than this (in bytes) are neither pooled nor taken from the pool.
pub const MIN_BYTES: usize = 64 << 10;

/// The bytes a thread's pool holds at most, unless [`set_limit`] says otherwise.
pub const DEFAULT_LIMIT: usize = 1 << 30;

/// Size classes: class `k` holds buffers of `2^k` to `2^(k+1) - 1` bytes of capacity.
const CLASSES: usize = usize::BITS as usize;

/// The free buffers of one element type, by size class, each with the time it was freed (the
/// pool's clock).
pub struct Classes<T> {
    lists: Vec<Vec<(u64, Vec<T>)>>,
}

impl<T> Classes<T> {
    fn new() -> Self {
        Classes { lists: (0..CLASSES).map(|_| Vec::new()).collect() }
    }

    /// A buffer with room for `len` elements (`bytes` of them): the smallest one large enough
    /// of class `floor(log2(bytes))`, else of the next class (at most four times the request);
    /// among equals the last freed. Best fit keeps a slightly larger buffer for the request
    /// that needs it (an `n`-element gradient after `n - 1`-element slices).
    fn take(&mut self, len: usize, bytes: usize) -> Option<Vec<T>> {
        let k = class(bytes);
        for list in self.lists[k..(k + 2).min(CLASSES)].iter_mut() {
            let best = (list.iter().enumerate())
                .filter(|(_, (_, v))| v.capacity() >= len)
                .min_by_key(|(_, (freed, v))| (v.capacity(), std::cmp::Reverse(*freed)))
                .map(|(pos, _)| pos);
            if let Some(pos) = best {
                return Some(list.swap_remove(pos).1);
            }
        }
        None
    }

    /// When the least recently freed buffer was freed, and where it is (class, position).
    fn oldest(&self) -> Option<(u64, usize, usize)> {
        let entries =
            self.lists.iter().enumerate().flat_map(|(k, l)| l.iter().enumerate().map(move |(p, e)| (e.0, k, p)));
        entries.min()
    }

    /// Frees the buffer at `(class, position)`, giving its bytes of capacity.
    fn evict(&mut self, (k, p): (usize, usize)) -> usize {
        self.lists[k].swap_remove(p).1.capacity() * size_of::<T>()
    }

    fn clear(&mut self) {
        self.lists.iter_mut().for_each(Vec::clear);
    }
}

/// The size class of `bytes` (> 0): `floor(log2(bytes))`.
fn class(bytes: usize) -> usize {
    (usize::BITS - 1 - bytes.leading_zeros()) as usize
}

/// What a thread's pool has done so far, and holds now.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Large buffers taken from the pool.
    pub hits: u64,
    /// Large buffers the pool could not supply (allocated fresh).
    pub misses: u64,
    /// Large buffers freed into the pool.
    pub returned: u64,
    /// Large buffers given to the allocator because the pool was at its limit (the least
    /// recently freed first, or the one freed when it alone is over the limit).
    pub overflowed: u64,
    /// Bytes of capacity held now.
    pub held_bytes: usize,
    /// The most bytes the pool holds.
    pub limit_bytes: usize,
}

/// One thread's pool.
pub struct Pools {
    bools: Classes<bool>,
    f32s: Classes<f32>,
    f64s: Classes<f64>,
    c64s: Classes<Complex32>,
    c128s: Classes<Complex64>,
    stats: PoolStats,
    /// Buffers freed into the pool so far: the time of the next.
    clock: u64,
}

impl Pools {
    fn new() -> Self {
        Pools {
            bools: Classes::new(),
            f32s: Classes::new(),
            f64s: Classes::new(),
            c64s: Classes::new(),
            c128s: Classes::new(),
            stats: PoolStats { limit_bytes: DEFAULT_LIMIT, ..PoolStats::default() },
            clock: 0,
        }
    }

    fn take<T: Element>(&mut self, len: usize, bytes: usize) -> Option<Vec<T>> {
        let v = T::classes(self).take(len, bytes);
        match &v {
            Some(v) => {
                self.stats.hits += 1;
                self.stats.held_bytes -= v.capacity() * size_of::<T>();
            }
            None => self.stats.misses += 1,
        }
        v
    }

    fn give<T: Element>(&mut self, mut v: Vec<T>, bytes: usize) {
        if bytes > self.stats.limit_bytes {
            self.stats.overflowed += 1;
            return;
        }
        while self.stats.held_bytes + bytes > self.stats.limit_bytes {
            let freed = self.evict_oldest();
            self.stats.held_bytes -= freed;
            self.stats.overflowed += 1;
            if freed == 0 {
                return;
            }
        }
        v.clear();
        self.stats.returned += 1;
        self.stats.held_bytes += bytes;
        self.clock += 1;
        let freed = self.clock;
        T::classes(self).lists[class(bytes)].push((freed, v));
    }

    /// Frees the least recently freed buffer of any element type, giving its bytes (0 when
    /// the pool is empty).
    fn evict_oldest(&mut self) -> usize {
        let candidates =
            [self.bools.oldest(), self.f32s.oldest(), self.f64s.oldest(), self.c64s.oldest(), self.c128s.oldest()];
        let oldest = candidates.iter().enumerate().filter_map(|(i, c)| c.map(|c| (c, i))).min();
        match oldest {
            Some(((_, k, p), 0)) => self.bools.evict((k, p)),
            Some(((_, k, p), 1)) => self.f32s.evict((k, p)),
            Some(((_, k, p), 2)) => self.f64s.evict((k, p)),
            Some(((_, k, p), 3)) => self.c64s.evict((k, p)),
            Some(((_, k, p), _)) => self.c128s.evict((k, p)),
            None => 0,
        }
    }

    fn clear(&mut self) {
        self.bools.clear();
        self.f32s.clear();
        self.f64s.clear();
        self.c64s.clear();
        self.c128s.clear();
        self.stats.held_bytes = 0;
    }
}

/// Picks the free list of an element type out of a thread's pools (sealed: a supertrait of
/// [`Element`]).
pub trait Pooled: Sized {
    /// This type's free lists.
    fn classes(p: &mut Pools) -> &mut Classes<Self>;
}

macro_rules! pooled {
    ($t:ty, $field:ident) => {
        impl Pooled for $t {
            fn classes(p: &mut Pools) -> &mut Classes<Self> {
                &mut p.$field
            }
        }
    };
}
pooled!(bool, bools);
pooled!(f32, f32s);
pooled!(f64, f64s);
pooled!(Complex32, c64s);
pooled!(Complex64, c128s);

thread_local! {
    static POOL: RefCell<Pools> = RefCell::new(Pools::new());
}

/// Runs `f` on this thread's pool; `None` while it is busy or gone (the thread is exiting).
fn with_pool<R>(f: impl FnOnce(&mut Pools) -> R) -> Option<R> {
    POOL.try_with(|p| p.try_borrow_mut().ok().map(|mut p| f(&mut p))).ok().flatten()
}

/// An empty vector with room for `len` elements: a freed buffer of this thread when the
/// request is large and one fits, else a fresh allocation.
pub(crate) fn vec<T: Element>(len: usize) -> Vec<T> {
    reuse(len).unwrap_or_else(|| Vec::with_capacity(len))
}

/// A freed buffer of this thread with room for `len` elements (empty), if the request is large
/// and one fits.
pub(crate) fn reuse<T: Element>(len: usize) -> Option<Vec<T>> {
    let bytes = len.saturating_mul(size_of::<T>());
    if bytes < MIN_BYTES {
        return None;
    }
    with_pool(|p| p.take::<T>(len, bytes)).flatten()
}

/// Gives `v`'s memory to this thread's pool if it is large and the pool has room; else frees it.
pub(crate) fn recycle<T: Element>(v: Vec<T>) {
    let bytes = v.capacity() * size_of::<T>();
    if bytes >= MIN_BYTES {
        with_pool(|p| p.give(v, bytes));
    }
}

/// Gives the buffer of the array inside `d` to the pool, leaving an empty array in its place.
pub(crate) fn recycle_data(d: &mut Data) {
    fn give<T: Element>(a: &mut ArrayD<T>) {
        if a.len() * size_of::<T>() >= MIN_BYTES {
            let (v, _) = std::mem::replace(a, empty()).into_raw_vec_and_offset();
            recycle(v);
        }
    }
    super::with_data!(d, a => give(a))
}

/// An array of no elements (its buffer allocates nothing).
pub(crate) fn empty<T>() -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(&[0]), Vec::new()).expect("no elements fit shape [0]")
}

/// A row-major array of `shape` whose elements `fill` pushes, in order, onto a vector from
/// [`vec`]. `fill` must push exactly one element per element of `shape`.
pub(crate) fn array<T: Element>(shape: &[usize], fill: impl FnOnce(&mut Vec<T>)) -> ArrayD<T> {
    let n = shape.iter().product();
    let mut v = vec::<T>(n);
    fill(&mut v);
    assert_eq!(v.len(), n, "a pooled kernel must write every element of its result");
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("the length matches the shape")
}

/// Elements from which an elementwise kernel over slices fills its result on every core.
pub(crate) const PARALLEL_FROM: usize = 1 << 18;

/// Elements a task of such a fill takes at least.
pub(crate) const PARALLEL_TASK: usize = 1 << 15;

/// True when a result of `n` elements is filled on every core.
pub(crate) fn in_parallel(n: usize) -> bool {
    n >= PARALLEL_FROM && rayon::current_num_threads() > 1
}

/// `f` applied to every element of `a`, row-major.
pub(crate) fn map<S: Copy + Sync, T: Element>(a: &ArrayD<S>, f: impl Fn(S) -> T + Sync) -> ArrayD<T> {
    match a.as_slice() {
        Some(s) => map_slice(a.shape(), s, f),
        None => array(a.shape(), |v| a.iter().for_each(|&x| v.push(f(x)))),
    }
}

/// `f` applied to every element of `s`, as an array of `shape` (of `s.len()` elements): on
/// every core from [`PARALLEL_FROM`] elements. Each element is computed by the same code
/// whichever task holds it, so the bits do not depend on the number of threads.
pub(crate) fn map_slice<S: Copy + Sync, T: Element>(shape: &[usize], s: &[S], f: impl Fn(S) -> T + Sync) -> ArrayD<T> {
    array(shape, |v| {
        if in_parallel(s.len()) {
            s.par_iter().with_min_len(PARALLEL_TASK).map(|&x| f(x)).collect_into_vec(v);
        } else {
            v.extend(s.iter().map(|&x| f(x)));
        }
    })
}

/// `f` applied to the elements of `xs` and `ys` (of one length) pairwise, as an array of
/// `shape`: on every core from [`PARALLEL_FROM`] elements, as [`map_slice`].
pub(crate) fn zip_slices<A: Copy + Sync, B: Copy + Sync, T: Element>(
    shape: &[usize],
    xs: &[A],
    ys: &[B],
    f: impl Fn(A, B) -> T + Sync,
) -> ArrayD<T> {
    array(shape, |v| {
        if in_parallel(xs.len()) {
            xs.par_iter().zip(ys).with_min_len(PARALLEL_TASK).map(|(&a, &b)| f(a, b)).collect_into_vec(v);
        } else {
            v.extend(xs.iter().zip(ys).map(|(&a, &b)| f(a, b)));
        }
    })
}

/// A row-major copy of `a` (any strides, broadcast included).
pub(crate) fn copy<T: Element>(a: ArrayViewD<'_, T>) -> ArrayD<T> {
    array(a.shape(), |v| match a.as_slice() {
        Some(s) => v.extend_from_slice(s),
        None if a.strides().iter().all(|&s| s == 0) => {
            if let Some(&x) = a.iter().next() {
                v.resize(a.len(), x)
            }
        }
        None => a.iter().for_each(|&x| v.push(x)),
    })
}

/// A row-major copy of `a`, a view into the elements of `src` (a slice, a transpose): the
/// offsets walked with a counter over the leading axes, each row of the last axis copied as one
/// slice where it is contiguous. ndarray's iterator over every axis at once took a third of a
/// small convolutional net's eager gradient (short rows of slices and transposes).
pub(crate) fn copy_within<T: Element>(src: &[T], a: ArrayViewD<'_, T>) -> ArrayD<T> {
    let start = (a.as_ptr() as usize).wrapping_sub(src.as_ptr() as usize) / std::mem::size_of::<T>();
    let (shape, strides) = (a.shape(), a.strides());
    array(shape, |v| {
        let Some((&n, lead)) = shape.split_last() else {
            v.push(src[start]);
            return;
        };
        if a.is_empty() {
            return;
        }
        let step = strides[lead.len()];
        let mut at = vec![0; lead.len()];
        let mut offset = start as isize;
        for _ in 0..lead.iter().product::<usize>() {
            let first = offset as usize;
            if step == 1 {
                v.extend_from_slice(&src[first..first + n]);
            } else {
                v.extend((0..n as isize).map(|k| src[(offset + k * step) as usize]));
            }
            for d in (0..lead.len()).rev() {
                at[d] += 1;
                offset += strides[d];
                if at[d] < lead[d] {
                    break;
                }
                offset -= strides[d] * lead[d] as isize;
                at[d] = 0;
            }
        }
    })
}

/// An array of `shape` with every element `x`.
pub(crate) fn filled<T: Element>(shape: &[usize], x: T) -> ArrayD<T> {
    array(shape, |v| v.resize(shape.iter().product(), x))
}

/// This thread's pool statistics.
pub fn stats() -> PoolStats {
    with_pool(|p| p.stats).unwrap_or_default()
}

/// Sets the most bytes this thread's pool holds (0 turns reuse off), freeing what it holds
/// beyond that (all of it when it shrinks).
pub fn set_limit(bytes: usize) {
    with_pool(|p| {
        if bytes < p.stats.held_bytes {
            p.clear();
        }
        p.stats.limit_bytes = bytes;
    });
}

/// Frees every buffer this thread's pool holds (the statistics stay).
pub fn release() {
    with_pool(Pools::clear);
}
