//! Output buffers of a run: allocated without zeroing when the one kernel that computes an
//! output writes every element of it (so no page is written twice), and, for large ones on
//! Linux, advised to use transparent huge pages (a fresh 80 MB output otherwise costs twenty
//! thousand page faults on its first write).

use crate::array::{pool, DType, Data, Element};
use crate::error::{Error, Result};
use ndarray::{ArrayD, IxDyn};
use num_complex::{Complex32, Complex64};

/// Bytes from which an output buffer is advised to use huge pages.
const HUGE: usize = 4 << 20;

/// The storage of one output while the kernels write it.
pub(crate) enum OutBuf {
    Bool(Vec<bool>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    C64(Vec<Complex32>),
    C128(Vec<Complex64>),
}

/// Room for `n` elements: a freed buffer of this thread's pool (`array/pool.rs`) when one fits,
/// else a fresh allocation.
fn reserve<T: Element>(n: usize, zeroed: bool) -> Result<Vec<T>> {
    let mut v: Vec<T> = pool::reuse(n).unwrap_or_default();
    v.try_reserve_exact(n)
        .map_err(|_| Error::argument("run", format!("cannot allocate an output of {n} elements: out of memory")))?;
    if zeroed {
        v.resize(n, T::default());
    }
    advise_huge(v.as_mut_ptr() as *mut u8, n * std::mem::size_of::<T>());
    Ok(v)
}

#[cfg(target_os = "linux")]
pub(super) fn advise_huge(p: *mut u8, bytes: usize) {
    const PAGE: usize = 2 << 20;
    if bytes < HUGE {
        return;
    }
    let start = (p as usize).div_ceil(PAGE) * PAGE;
    let end = (p as usize + bytes) / PAGE * PAGE;
    if end > start {
        // SAFETY: the range lies within an allocation this function's caller owns; the advice
        // only changes how its pages are backed, never their contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn advise_huge(_: *mut u8, _: usize) {}

impl OutBuf {
    /// Storage for `n` elements of `dtype`: zeroed if `zeroed`, else uninitialized (then every
    /// element must be written before [`finish`](Self::finish)).
    pub(crate) fn new(dtype: DType, n: usize, zeroed: bool) -> Result<OutBuf> {
        Ok(match dtype {
            DType::Bool => OutBuf::Bool(reserve(n, zeroed)?),
            DType::F32 => OutBuf::F32(reserve(n, zeroed)?),
            DType::F64 => OutBuf::F64(reserve(n, zeroed)?),
            DType::C64 => OutBuf::C64(reserve(n, zeroed)?),
            DType::C128 => OutBuf::C128(reserve(n, zeroed)?),
        })
    }

    /// The address kernels write to.
    pub(crate) fn ptr(&mut self) -> *mut u8 {
        match self {
            OutBuf::Bool(v) => v.as_mut_ptr() as *mut u8,
            OutBuf::F32(v) => v.as_mut_ptr() as *mut u8,
            OutBuf::F64(v) => v.as_mut_ptr() as *mut u8,
            OutBuf::C64(v) => v.as_mut_ptr() as *mut u8,
            OutBuf::C128(v) => v.as_mut_ptr() as *mut u8,
        }
    }

    /// The finished array of `shape`.
    ///
    /// # Safety
    /// Every one of the `shape`'s elements must have been written (a logical one as 0 or 1),
    /// unless the buffer was created zeroed.
    pub(crate) unsafe fn finish(self, shape: &[usize]) -> Result<Data> {
        let n: usize = shape.iter().product();
        /// # Safety
        /// The first `n` elements of `v`'s capacity must be written, `n` the product of `shape`.
        unsafe fn make<T>(mut v: Vec<T>, n: usize, shape: &[usize]) -> Result<ArrayD<T>> {
            // SAFETY: the capacity is `n` and the caller guarantees the elements are written;
            // `n` elements make exactly one row-major array of `shape`.
            unsafe {
                v.set_len(n);
                Ok(ArrayD::from_shape_vec_unchecked(IxDyn(shape), v))
            }
        }
        // SAFETY: the caller guarantees every element is written.
        unsafe {
            Ok(match self {
                OutBuf::Bool(v) => Data::Bool(make(v, n, shape)?),
                OutBuf::F32(v) => Data::F32(make(v, n, shape)?),
                OutBuf::F64(v) => Data::F64(make(v, n, shape)?),
                OutBuf::C64(v) => Data::C64(make(v, n, shape)?),
                OutBuf::C128(v) => Data::C128(make(v, n, shape)?),
            })
        }
    }
}
