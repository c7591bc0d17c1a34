//! A compiled program prepared to run many times in a row, as a loop runs its body: the
//! arena, the pointer table (its arena and constant entries), the spare buffers of outputs
//! the loop does not keep, and which outputs are copies of others are all settled once, so
//! that an iteration only points the table's input and output entries at this iteration's
//! buffers and runs the steps.

use super::call::{const_ptr, mut_ptr, zeroed_arena};
use super::runtime::{Compiled, Entry, OutSrc};
use crate::array::{DType, Data};
use crate::error::Result;
use smallvec::SmallVec;

/// A type's byte size.
pub(super) fn bytes((dtype, shape): &(DType, Vec<usize>)) -> usize {
    shape.iter().product::<usize>() * dtype.size_of()
}

/// Where an output that is not its own buffer's first output comes from.
#[derive(Clone, Copy)]
enum Source {
    /// Output allocation `j` (written for an earlier output).
    Alloc(usize),
    /// Input `k`.
    Input(usize),
    /// A constant's elements.
    Const(*const u8),
}

/// A compiled program with its per-run state made once (see the module's doc).
pub(crate) struct Prepared<'a> {
    program: &'a Compiled,
    /// The arena of temporaries, owned for the whole loop (nested runs take their own).
    _arena: Vec<u64>,
    /// The pointer table: arena and constant entries filled once, the others per run.
    ptrs: Vec<*mut u8>,
    /// `(allocation, output)`: the output allocations that are an output's memory (the others
    /// live in `spare`, their entries of `alloc_ptrs` fixed).
    output_backed: SmallVec<[(usize, usize); 4]>,
    /// Each output allocation's memory in this run (the output-backed ones refilled per run).
    alloc_ptrs: Vec<*mut u8>,
    /// The output allocations to zero before each run, with their byte sizes.
    zeroed: SmallVec<[(usize, usize); 2]>,
    _spare: Vec<Data>,
    /// The table entries that point into inputs: `(entry, input, byte offset)`.
    input_entries: Vec<(usize, usize, usize)>,
    /// The table entries that point at output allocations: `(entry, allocation)`.
    output_entries: Vec<(usize, usize)>,
    /// Outputs copied from elsewhere after the steps ran, with their byte sizes.
    copies: SmallVec<[(usize, Source, usize); 2]>,
}

impl<'a> Prepared<'a> {
    /// `program` prepared: its arena allocated and its table's fixed entries filled.
    pub(crate) fn new(program: &'a Compiled) -> Result<Prepared<'a>> {
        let mut arena = zeroed_arena(program.arena_words.max(1))?;
        let arena_ptr = arena.as_mut_ptr() as *mut u8;
        let ptrs = program
            .table
            .iter()
            .map(|&e| match e {
                Entry::Arena(off) => arena_ptr.wrapping_add(off),
                Entry::Const(k, off) => const_ptr(&program.constants[k]).wrapping_add(off),
                Entry::Input(..) | Entry::Output(_) => std::ptr::null_mut(),
            })
            .collect();
        let types = program.output_types();
        let mut alloc_output: SmallVec<[Option<usize>; 4]> = SmallVec::from_elem(None, program.out_allocs.len());
        let mut copies = SmallVec::new();
        for (i, o) in program.outputs.iter().enumerate() {
            let source = match o {
                OutSrc::Alloc(j) if alloc_output[*j].is_none() => {
                    alloc_output[*j] = Some(i);
                    continue;
                }
                OutSrc::Alloc(j) => Source::Alloc(*j),
                OutSrc::Input(k) => Source::Input(*k),
                OutSrc::Const(d) => Source::Const(const_ptr(d)),
            };
            copies.push((i, source, bytes(&types[i])));
        }
        let mut spare = Vec::new();
        let mut alloc_ptrs = Vec::with_capacity(program.out_allocs.len());
        for (j, (dtype, shape)) in program.out_allocs.iter().enumerate() {
            if alloc_output[j].is_some() {
                alloc_ptrs.push(std::ptr::null_mut());
            } else {
                spare.push(Data::zeros(*dtype, shape));
                alloc_ptrs.push(spare.last_mut().map(mut_ptr).unwrap_or(std::ptr::null_mut()));
            }
        }
        let output_backed = alloc_output.iter().enumerate().filter_map(|(j, o)| o.map(|i| (j, i))).collect();
        let zeroed = (program.out_zeroed.iter().enumerate())
            .filter(|(_, &z)| z)
            .map(|(j, _)| (j, bytes(&program.out_allocs[j])))
            .collect();
        let (mut input_entries, mut output_entries) = (Vec::new(), Vec::new());
        for &i in &program.per_call {
            match program.table[i] {
                Entry::Input(k, off) => input_entries.push((i, k, off)),
                Entry::Output(j) => output_entries.push((i, j)),
                Entry::Arena(_) | Entry::Const(..) => {}
            }
        }
        Ok(Prepared {
            program,
            _arena: arena,
            ptrs,
            output_backed,
            alloc_ptrs,
            zeroed,
            _spare: spare,
            input_entries,
            output_entries,
            copies,
        })
    }

    /// Runs the steps with input `k` read at `inputs[k]` and output `i` written at
    /// `outputs[i]`.
    ///
    /// # Safety
    /// `inputs[k]` must point at a standard-layout array of input `k`'s dtype and shape, valid
    /// for reads; `outputs[i]` at memory for output `i`'s type, valid for writes, aliasing no
    /// input and no other output.
    pub(crate) unsafe fn run(&mut self, inputs: &[*mut u8], outputs: &[*mut u8]) -> Result<()> {
        let program = self.program;
        let alloc_ptrs = &mut self.alloc_ptrs;
        for &(j, i) in &self.output_backed {
            alloc_ptrs[j] = outputs[i];
        }
        for &(j, n) in &self.zeroed {
            // SAFETY: the caller's contract (or a spare buffer of this type): memory for
            // output allocation `j` (`n` bytes), valid for writes.
            unsafe { std::ptr::write_bytes(alloc_ptrs[j], 0, n) };
        }
        for &(i, k, off) in &self.input_entries {
            self.ptrs[i] = inputs[k].wrapping_add(off);
        }
        for &(i, j) in &self.output_entries {
            self.ptrs[i] = alloc_ptrs[j];
        }
        program.run_steps(&self.ptrs)?;
        for &(i, source, n) in &self.copies {
            let from = match source {
                Source::Alloc(j) => alloc_ptrs[j] as *const u8,
                Source::Input(k) => inputs[k] as *const u8,
                Source::Const(p) => p,
            };
            // SAFETY: the source is an input, a constant or an output of output `i`'s type (`n`
            // bytes), and the destination is output `i`'s memory (the caller's contract); they
            // do not overlap.
            unsafe { std::ptr::copy_nonoverlapping(from, outputs[i], n) };
        }
        Ok(())
    }
}
