//! Indexing: `at` (0-based row-major linear index) and `slice` with ndarray's `s!` semantics.

use crate::error::Error;
use crate::ir::{AxisSlice, Op};
use crate::trace::{emit, DlArray};
use ndarray::SliceInfoElem;

impl DlArray {
    /// The element at 0-based row-major linear index `i`, shape `[]`.
    ///
    /// ```
    /// use cranegrad::prelude::*;
    /// let x = DlArray::from(ndarray::array![[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.at(2).to_scalar::<f64>().unwrap(), 3.0);
    /// ```
    #[track_caller]
    pub fn at(&self, i: usize) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        if self.is_failed() {
            return self.clone();
        }
        let n = self.numel();
        if i >= n {
            return DlArray::failed(Error::argument(
                "at",
                format!("index {i} is out of range for {n} elements (shape {:?})", self.shape()),
            ));
        }
        let mut rest = i;
        let mut slices = vec![AxisSlice::full(0); self.ndim()];
        for (axis, &d) in self.shape().iter().enumerate().rev() {
            slices[axis] = AxisSlice { start: rest % d, len: 1, step: 1 };
            rest /= d;
        }
        let picked = if self.ndim() == 0 { self.clone() } else { emit(Op::Slice(slices), &[self]) };
        picked.reshape(&[])
    }

    /// A slice with ndarray's `s!` syntax and meaning: negative bounds count from the end, a
    /// negative step walks the selected range backwards, an index drops its axis, `NewAxis`
    /// inserts one; axes not named are taken whole.
    ///
    /// ```
    /// use cranegrad::prelude::*;
    /// use ndarray::s;
    /// let x = DlArray::from(ndarray::array![0.0, 1.0, 2.0, 3.0, 4.0]);
    /// let y = x.slice(s![..;-2]);
    /// assert_eq!(y.extractdata::<f64>().unwrap().into_raw_vec_and_offset().0, vec![4.0, 2.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn slice<S: AsRef<[SliceInfoElem]>>(&self, info: S) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        if self.is_failed() {
            return self.clone();
        }
        match plan(self.shape(), info.as_ref()) {
            Ok((slices, out_shape)) => {
                let full = slices.iter().zip(self.shape()).all(|(s, &n)| s.is_full(n));
                let sliced = if full { self.clone() } else { emit(Op::Slice(slices), &[self]) };
                sliced.reshape(&out_shape)
            }
            Err(e) => DlArray::failed(e),
        }
    }
}

/// The per-axis slices and the result shape of `info` on `shape`.
fn plan(shape: &[usize], info: &[SliceInfoElem]) -> Result<(Vec<AxisSlice>, Vec<usize>), Error> {
    let named = info.iter().filter(|e| !matches!(e, SliceInfoElem::NewAxis)).count();
    if named > shape.len() {
        return Err(Error::argument("slice", format!("{named} axes named for an array of shape {shape:?}")));
    }
    let mut slices = Vec::with_capacity(shape.len());
    let mut out_shape = Vec::new();
    let mut axis = 0;
    let resolve = |v: isize, n: usize| if v < 0 { v + n as isize } else { v };
    for e in info {
        match *e {
            SliceInfoElem::NewAxis => out_shape.push(1),
            SliceInfoElem::Index(i) => {
                let n = shape[axis];
                let j = resolve(i, n);
                if j < 0 || j as usize >= n {
                    return Err(Error::argument(
                        "slice",
                        format!("index {i} is out of range for axis {axis} of length {n}"),
                    ));
                }
                slices.push(AxisSlice { start: j as usize, len: 1, step: 1 });
                axis += 1;
            }
            SliceInfoElem::Slice { start, end, step } => {
                let n = shape[axis];
                let lo = resolve(start, n);
                let hi = end.map(|e| resolve(e, n)).unwrap_or(n as isize);
                if step == 0 || lo < 0 || lo as usize > n || hi < 0 || hi as usize > n {
                    return Err(Error::argument(
                        "slice",
                        format!("{start}..{end:?};{step} is out of range for axis {axis} of length {n}"),
                    ));
                }
                let span = (hi - lo).max(0) as usize;
                let k = step.unsigned_abs();
                let len = span.div_ceil(k);
                let s = if step > 0 || len == 0 {
                    AxisSlice { start: lo as usize, len, step: step.max(1) }
                } else {
                    AxisSlice { start: hi as usize - 1, len, step }
                };
                slices.push(s);
                out_shape.push(len);
                axis += 1;
            }
        }
    }
    for &n in &shape[axis..] {
        slices.push(AxisSlice::full(n));
        out_shape.push(n);
    }
    Ok((slices, out_shape))
}
