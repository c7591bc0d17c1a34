//! Loops over compiled bodies, in place: a loop's carry lives in two sets of buffers it owns
//! (read one, write the other, swap), a scan's rows are read and its stacked outputs written
//! at their offsets in the whole arrays, and each iteration runs the body's steps on a pointer
//! table filled with those addresses: no allocation, no argument check, no array built per
//! iteration. The interpreter runs the same iterations in the same order.

use super::call::{const_ptr, mut_ptr, standard_copy};
use super::prepared::{bytes, Prepared};
use super::runtime::{Compiled, OutSrc};
use crate::array::{with_data, DType, Data};
use crate::error::{Error, Result};
use smallvec::SmallVec;
use std::sync::Arc;

/// `d` itself when in standard layout, else a standard copy (kept alive by the caller).
fn standard(d: &Arc<Data>) -> Arc<Data> {
    if with_data!(&**d, a => a.is_standard_layout()) {
        d.clone()
    } else {
        standard_copy(d)
    }
}

/// An owned standard-layout copy of `d`.
fn owned(d: &Data) -> Data {
    (*standard_copy(d)).clone()
}

impl Compiled {
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

/// A scan's operands: the initial carry, the `xs` leaves, the captures.
pub(crate) type ScanOperands<'a> = (&'a [Arc<Data>], &'a [Arc<Data>], &'a [Arc<Data>]);

/// A scan of `length` steps of `body` (`[carry.., x_t.., captures..] -> [carry.., y_t..]`) from
/// the last row when `reverse`: the last carry and each `y` stacked along a new axis 0 where
/// `stacked` says so (the others are written over one row each step, and returned as that row).
pub(crate) fn scan_native(
    body: &Compiled,
    (carry, xs, captures): ScanOperands<'_>,
    length: usize,
    reverse: bool,
    stacked: &[bool],
) -> Result<(Vec<Data>, Vec<Data>)> {
    let nc = carry.len();
    let types = body.output_types();
    let mut current: Vec<Data> = carry.iter().map(|c| owned(c)).collect();
    let mut next: Vec<Data> = types[..nc].iter().map(|(d, s)| Data::zeros(*d, s)).collect();
    let xs: Vec<Arc<Data>> = xs.iter().map(standard).collect();
    let captures: Vec<Arc<Data>> = captures.iter().map(standard).collect();
    let row_bytes: Vec<usize> = xs.iter().map(|x| x.numel() / length.max(1) * x.dtype().size_of()).collect();
    let mut ys: Vec<Data> = types[nc..]
        .iter()
        .zip(stacked.iter().chain(std::iter::repeat(&true)))
        .map(|((d, s), &all)| {
            let rows = if all { length } else { 1 };
            Data::zeros(*d, &std::iter::once(rows).chain(s.iter().copied()).collect::<Vec<_>>())
        })
        .collect();
    let y_bytes: Vec<usize> = types[nc..]
        .iter()
        .zip(stacked.iter().chain(std::iter::repeat(&true)))
        .map(|(t, &all)| if all { bytes(t) } else { 0 })
        .collect();
    let mut inputs: Vec<*mut u8> = Vec::with_capacity(nc + xs.len() + captures.len());
    let mut outputs: Vec<*mut u8> = Vec::with_capacity(types.len());
    let mut body = Prepared::new(body)?;
    for step in 0..length {
        let t = if reverse { length - 1 - step } else { step };
        inputs.clear();
        inputs.extend(current.iter_mut().map(mut_ptr));
        inputs.extend(xs.iter().zip(&row_bytes).map(|(x, b)| const_ptr(x).wrapping_add(t * b)));
        inputs.extend(captures.iter().map(|c| const_ptr(c)));
        outputs.clear();
        outputs.extend(next.iter_mut().map(mut_ptr));
        outputs.extend(ys.iter_mut().zip(&y_bytes).map(|(y, b)| mut_ptr(y).wrapping_add(t * b)));
        // SAFETY: every input is a standard-layout array of the body's input type (the carry
        // buffers, row `t` of each `xs` leaf, the captures), every output the memory of its
        // type (the other carry buffers, row `t` of each stacked `y` or the one row of an
        // unstacked one), none aliasing another.
        unsafe { body.run(&inputs, &outputs)? };
        std::mem::swap(&mut current, &mut next);
    }
    Ok((current, ys))
}

/// The carries a while loop kept for its reverse steps: each leaf's bytes, step after step, in
/// one growing buffer per leaf (no allocation per step once grown).
pub(crate) struct KeptCarries {
    /// Each leaf's bytes, and its store.
    leaves: Vec<(usize, Vec<u8>)>,
    steps: usize,
}

impl KeptCarries {
    fn new(carry: &[Data]) -> Self {
        KeptCarries { leaves: carry.iter().map(|c| (c.numel() * c.dtype().size_of(), Vec::new())).collect(), steps: 0 }
    }

    /// Appends the carry a step starts from.
    fn push(&mut self, carry: &[Data]) {
        for ((bytes, store), c) in self.leaves.iter_mut().zip(carry) {
            // SAFETY: `c` is an owned standard-layout array of `bytes` bytes.
            store.extend_from_slice(unsafe { std::slice::from_raw_parts(const_ptr(c) as *const u8, *bytes) });
        }
        self.steps += 1;
    }
}

/// A while loop `name`: `body` (`[carry.., captures..] -> [carry..]`) while `predicate`
/// (`[carry.., its captures..]`, one logical result) holds, at most `max_iterations` times: the
/// last carry and, when `keep`, every carry a step started from.
pub(crate) fn while_native(
    name: &str,
    (predicate, body): (&Compiled, &Compiled),
    carry: &[Arc<Data>],
    (predicate_captures, body_captures): (&[Arc<Data>], &[Arc<Data>]),
    max_iterations: Option<usize>,
    keep: bool,
) -> Result<(Vec<Data>, KeptCarries)> {
    let types = body.output_types();
    let mut current: Vec<Data> = carry.iter().map(|c| owned(c)).collect();
    let mut next: Vec<Data> = types.iter().map(|(d, s)| Data::zeros(*d, s)).collect();
    let predicate_captures: Vec<Arc<Data>> = predicate_captures.iter().map(standard).collect();
    let body_captures: Vec<Arc<Data>> = body_captures.iter().map(standard).collect();
    let (pdtype, pshape) =
        predicate.output_types().first().cloned().ok_or_else(|| Error::Jit("no predicate".into()))?;
    let mut verdict = Data::zeros(pdtype, &pshape);
    let mut kept = KeptCarries::new(&current);
    let (mut predicate, mut body) = (Prepared::new(predicate)?, Prepared::new(body)?);
    let mut inputs: Vec<*mut u8> = Vec::with_capacity(current.len() + body_captures.len());
    let mut steps = 0usize;
    let mut outputs: Vec<*mut u8> = Vec::with_capacity(next.len());
    let verdict_ptr = [mut_ptr(&mut verdict)];
    loop {
        inputs.clear();
        inputs.extend(current.iter_mut().map(mut_ptr));
        inputs.extend(predicate_captures.iter().map(|c| const_ptr(c)));
        // SAFETY: the inputs are the carry buffers and captures, of the predicate's input types;
        // the output is a logical array of its output's type.
        unsafe { predicate.run(&inputs, &verdict_ptr)? };
        let holds = match pdtype {
            // SAFETY: the verdict is one logical element (a `bool`, one byte) that the predicate
            // has just written, read before the next run writes it again.
            DType::Bool => unsafe { *verdict_ptr[0] != 0 },
            _ => verdict.truth(),
        };
        if !holds {
            break;
        }
        if max_iterations.is_some_and(|m| steps >= m) {
            return Err(Error::argument(
                name,
                format!("the loop ran past max_iterations ({steps}) with its predicate still true"),
            ));
        }
        if keep {
            kept.push(&current);
        }
        inputs.truncate(current.len());
        inputs.extend(body_captures.iter().map(|c| const_ptr(c)));
        outputs.clear();
        outputs.extend(next.iter_mut().map(mut_ptr));
        // SAFETY: as for the predicate; the outputs are the other carry buffers, of the body's
        // output types, aliasing no input.
        unsafe { body.run(&inputs, &outputs)? };
        std::mem::swap(&mut current, &mut next);
        steps += 1;
    }
    Ok((current, kept))
}

/// The reverse steps of a while loop: `step` (`[carry.., captures.., acc..] -> [acc..]`) from
/// the last kept carry to the first, starting from `acc`: the last `acc`.
pub(crate) fn reverse_native(
    step: &Compiled,
    kept: &mut KeptCarries,
    captures: &[Arc<Data>],
    acc: &[Arc<Data>],
) -> Result<Vec<Data>> {
    let captures: Vec<Arc<Data>> = captures.iter().map(standard).collect();
    let mut current: Vec<Data> = acc.iter().map(|a| owned(a)).collect();
    let mut next: Vec<Data> = step.output_types().iter().map(|(d, s)| Data::zeros(*d, s)).collect();
    let mut inputs: Vec<*mut u8> = Vec::new();
    let mut outputs: SmallVec<[*mut u8; 4]> = SmallVec::new();
    let mut step = Prepared::new(step)?;
    for t in (0..kept.steps).rev() {
        inputs.clear();
        inputs.extend(kept.leaves.iter_mut().map(|(bytes, store)| store.as_mut_ptr().wrapping_add(t * *bytes)));
        inputs.extend(captures.iter().map(|c| const_ptr(c)));
        inputs.extend(current.iter_mut().map(mut_ptr));
        outputs.clear();
        outputs.extend(next.iter_mut().map(mut_ptr));
        // SAFETY: the inputs are step `t`'s kept carry (its leaves' bytes in their stores), the
        // captures and the accumulated cotangents, of the step's input types; the outputs are
        // the other accumulator buffers, of its output types, aliasing no input.
        unsafe { step.run(&inputs, &outputs)? };
        std::mem::swap(&mut current, &mut next);
    }
    Ok(current)
}
