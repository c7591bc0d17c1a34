//! How a compiled program connects to the buffers of a run that someone else owns, as a loop
//! driver runs a body: which pointer-table entries point into inputs or at output
//! allocations, which allocations are an output's own memory (the others are spare buffers of
//! the instance), which start zeroed, and which outputs are copied from elsewhere once the
//! steps ran. An [`Instance`] is the part made once: the arena, the table's fixed entries and
//! the spare buffers.

use super::call::{arena_base, const_ptr, mut_ptr, zeroed_arena};
use super::runtime::{Compiled, Entry, OutSrc};
use crate::array::{DType, Data};
use crate::error::Result;

/// A type's byte size.
pub(crate) fn bytes((dtype, shape): &(DType, Vec<usize>)) -> usize {
    shape.iter().product::<usize>() * dtype.size_of()
}

/// Where an output that is not its own allocation's first output comes from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source {
    /// Output allocation `j` (written for an earlier output, or a spare buffer).
    Alloc(usize),
    /// Input `k`.
    Input(usize),
    /// A constant's elements (owned by the program).
    Const(*const u8),
}

/// The connections of one program (see the module's doc).
pub(crate) struct Wiring {
    /// `(entry, input, byte offset)`: the table entries that point into inputs.
    pub input_entries: Vec<(usize, usize, usize)>,
    /// `(entry, allocation)`: the table entries that point at output allocations.
    pub output_entries: Vec<(usize, usize)>,
    /// The output whose memory each output allocation is (`None`: a spare buffer).
    pub alloc_output: Vec<Option<usize>>,
    /// `(allocation, bytes)`: the allocations zeroed before each run.
    pub zeroed: Vec<(usize, usize)>,
    /// `(output, source, bytes)`: outputs copied from elsewhere after the steps ran.
    pub copies: Vec<(usize, Source, usize)>,
}

impl Wiring {
    /// The wiring of `program`.
    pub(crate) fn of(program: &Compiled) -> Wiring {
        let types = program.output_types();
        let mut alloc_output: Vec<Option<usize>> = vec![None; program.out_allocs.len()];
        let mut copies = Vec::new();
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
        Wiring { input_entries, output_entries, alloc_output, zeroed, copies }
    }
}

/// A program's per-run state made once: its arena, its pointer table with the arena,
/// constant and spare-buffer entries filled, and the spare buffers.
pub(crate) struct Instance {
    _arena: Vec<u64>,
    /// The pointer table (input entries and output-backed entries are filled per run).
    pub ptrs: Vec<*mut u8>,
    /// Each output allocation's spare buffer (null where an output is its memory).
    pub spare_ptrs: Vec<*mut u8>,
    _spare: Vec<Data>,
}

impl Instance {
    /// The instance of `program`, wired as `wiring` says.
    pub(crate) fn new(program: &Compiled, wiring: &Wiring) -> Result<Instance> {
        let mut arena = zeroed_arena(program.arena_words.max(1))?;
        let arena_ptr = arena_base(&mut arena);
        let mut spare = Vec::new();
        let mut spare_ptrs = Vec::with_capacity(program.out_allocs.len());
        for (j, (dtype, shape)) in program.out_allocs.iter().enumerate() {
            if wiring.alloc_output[j].is_some() {
                spare_ptrs.push(std::ptr::null_mut());
            } else {
                spare.push(Data::zeros(*dtype, shape));
                spare_ptrs.push(spare.last_mut().map(mut_ptr).unwrap_or(std::ptr::null_mut()));
            }
        }
        let ptrs = program
            .table
            .iter()
            .map(|&e| match e {
                Entry::Arena(off) => arena_ptr.wrapping_add(off),
                Entry::Const(k, off) => const_ptr(&program.constants[k]).wrapping_add(off),
                Entry::Output(j) => spare_ptrs[j],
                Entry::Input(..) => std::ptr::null_mut(),
            })
            .collect();
        Ok(Instance { _arena: arena, ptrs, spare_ptrs, _spare: spare })
    }
}
