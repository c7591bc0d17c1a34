//! The call step of a run: a call node's target (an external function's forward, or an
//! accelerated function's program) called from the run with its operands read from their
//! buffers, its outputs written into theirs. Its `Err` (an external function's error or panic,
//! already naming the function and its line) ends the run.

use crate::array::cpu::clear_upper_vector_state;
use crate::array::{DType, Data};
use crate::error::{Error, Result};
use crate::ir::CallTarget;
use ndarray::{ArrayD, IxDyn};
use smallvec::SmallVec;
use std::sync::Arc;

/// A copy of the `dtype[shape]` array at `ptr`.
///
/// # Safety
/// `ptr` must point at `shape`'s number of elements of `dtype`, row-major, valid for reads.
unsafe fn read(ptr: *const u8, dtype: DType, shape: &[usize]) -> Result<Data> {
    let n: usize = shape.iter().product();
    macro_rules! copy {
        ($t:ty, $variant:ident) => {{
            // SAFETY: the caller's contract: `n` elements of `$t` at `ptr`.
            let v = unsafe { std::slice::from_raw_parts(ptr as *const $t, n) }.to_vec();
            Data::$variant(ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|e| Error::Jit(e.to_string()))?)
        }};
    }
    Ok(match dtype {
        DType::F32 => copy!(f32, F32),
        DType::F64 => copy!(f64, F64),
        DType::C64 => copy!(num_complex::Complex32, C64),
        DType::C128 => copy!(num_complex::Complex64, C128),
        DType::Bool => copy!(bool, Bool),
    })
}

/// Writes `d`'s elements in row-major order at `ptr`.
///
/// # Safety
/// `ptr` must point at `d.numel()` elements of `d`'s dtype, valid for writes, and alias no
/// array `d` reads.
unsafe fn write(d: &Data, ptr: *mut u8) {
    macro_rules! copy {
        ($a:expr, $t:ty) => {{
            for (i, v) in $a.iter().enumerate() {
                // SAFETY: the caller's contract: `numel` elements of `$t` at `ptr`.
                unsafe { *(ptr as *mut $t).add(i) = *v };
            }
        }};
    }
    match d {
        Data::F32(a) => copy!(a, f32),
        Data::F64(a) => copy!(a, f64),
        Data::C64(a) => copy!(a, num_complex::Complex32),
        Data::C128(a) => copy!(a, num_complex::Complex64),
        Data::Bool(a) => copy!(a, bool),
    }
}

/// Runs `target` on the buffers at `ptrs[e]` for each input entry `(e, dtype, shape)` and
/// writes its output `k` at `ptrs[e]` for each `(k, e)` of `outputs`.
pub(crate) fn run_call(
    target: &dyn CallTarget,
    inputs: &[(usize, DType, Vec<usize>)],
    outputs: &[(usize, usize)],
    ptrs: &[*mut u8],
) -> Result<()> {
    let done = run_target(target, inputs, outputs, ptrs);
    // The target's code (the caller's own function, faer) may have left the vector registers'
    // upper halves dirty; generated code runs next.
    clear_upper_vector_state();
    done
}

/// [`run_call`] before the vector state is cleared.
fn run_target(
    target: &dyn CallTarget,
    inputs: &[(usize, DType, Vec<usize>)],
    outputs: &[(usize, usize)],
    ptrs: &[*mut u8],
) -> Result<()> {
    if inputs.iter().all(|(_, d, _)| *d == DType::F64) {
        if let Some(done) = run_f64(target, inputs, outputs, ptrs) {
            return done;
        }
    }
    let mut args = Vec::with_capacity(inputs.len());
    for (e, dtype, shape) in inputs {
        // SAFETY: the plan gave each operand of the call a buffer of its node's dtype and shape,
        // at this table entry.
        args.push(Arc::new(unsafe { read(ptrs[*e], *dtype, shape) }?));
    }
    let mut wanted: SmallVec<[bool; 8]> = SmallVec::from_elem(false, target.output_types().len());
    for &(k, _) in outputs {
        if let Some(w) = wanted.get_mut(k) {
            *w = true;
        }
    }
    let results = target.run_native(&args, &wanted)?;
    for &(k, e) in outputs {
        let (dtype, shape) = &target.output_types()[k];
        let d = results.get(k).ok_or_else(|| Error::Jit(format!("{} returned no output {k}", target.name())))?;
        if d.dtype() != *dtype || d.shape() != shape.as_slice() {
            return Err(Error::Jit(format!("{} returned output {k} of another type", target.name())));
        }
        // SAFETY: the plan gave the call node a buffer of its output's dtype and shape at this
        // entry, written by no other step and read by none before this one.
        unsafe { write(d, ptrs[e]) };
    }
    Ok(())
}

/// [`run_call`] through the target's `f64` path (inputs read in place), if it has one.
fn run_f64(
    target: &dyn CallTarget,
    inputs: &[(usize, DType, Vec<usize>)],
    outputs: &[(usize, usize)],
    ptrs: &[*mut u8],
) -> Option<Result<()>> {
    let slices: SmallVec<[&[f64]; 4]> = inputs
        .iter()
        .map(|(e, _, shape)| {
            // SAFETY: the plan gave each operand of the call a buffer of `f64`s of its shape at
            // this table entry, which no step writes while the call runs.
            unsafe { std::slice::from_raw_parts(ptrs[*e] as *const f64, shape.iter().product()) }
        })
        .collect();
    let mut wrong = None;
    let mut write = |k: usize, values: &[f64]| {
        let Some((dtype, shape)) = target.output_types().get(k) else { return };
        if values.len() != shape.iter().product::<usize>() {
            wrong = Some(Error::Jit(format!("{} returned output {k} of another size", target.name())));
            return;
        }
        for &(_, e) in outputs.iter().filter(|(o, _)| *o == k) {
            let at = ptrs[e];
            for (i, &v) in values.iter().enumerate() {
                // SAFETY: the plan gave the call node a buffer of its output's dtype and shape
                // (`values.len()` elements) at this entry, written by no other step.
                unsafe {
                    match dtype {
                        DType::F32 => *(at as *mut f32).add(i) = v as f32,
                        _ => *(at as *mut f64).add(i) = v,
                    }
                }
            }
        }
    };
    let done = target.run_f64(&slices, &mut write)?;
    Some(done.and(wrong.map_or(Ok(()), Err)))
}
