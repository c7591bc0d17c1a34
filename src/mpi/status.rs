//! The agreement every collective call of this module starts with: before any array data
//! moves, each rank says whether it has a tree to contribute and what the tree looks like, and
//! every rank decides from the same records whether the data exchange happens.
//!
//! Each rank sends a fixed-size record (an ok flag, a hash of its tree's description, its data's
//! size in bytes, the length of its text) in one `allgather`. When every rank is ok and the
//! hashes and sizes agree, the call goes on to the data. Otherwise every rank takes part in one
//! more `allgatherv`, of each rank's text (its error message, or the description of its tree),
//! and every rank returns the same `Err`, built from the same texts. No rank enters a
//! collective that another skips, so a fault on one rank never hangs the others.

use crate::array::{DType, Data};
use crate::error::{Error, Result};
use crate::trace::{Leaf, Tree};
use mpi::datatype::PartitionMut;
use mpi::traits::*;
use mpi::Count;
use std::fmt::Write as _;
use std::sync::Arc;

/// The longest text (error message or tree description) one rank sends, in bytes: longer ones
/// are cut at a character boundary.
const MAX_TEXT: usize = 16 * 1024;

/// The widest excerpt of two differing descriptions an error shows, in characters.
const EXCERPT: usize = 160;

/// A tree that this rank can contribute: its canonical description (containers, plain values,
/// dtypes and shapes, in visiting order) and its arrays' data.
pub(crate) struct Ready {
    /// Equal across ranks exactly when the trees have the same structure, plain values, dtypes
    /// and shapes.
    pub(crate) description: String,
    /// The arrays' data, in visiting order.
    pub(crate) data: Vec<Arc<Data>>,
    /// The data's size in bytes.
    pub(crate) bytes: usize,
}

/// What one rank brings to a collective call.
pub(crate) enum Status {
    /// A tree of numeric arrays.
    Ready(Ready),
    /// Why this rank has nothing to contribute (its function failed, an array carries an
    /// error, an array is logical, ...).
    Failed(String),
}

/// The bytes of one element of a numeric dtype.
pub(crate) fn element_bytes(dtype: DType) -> usize {
    match dtype {
        DType::Bool => 1,
        DType::F32 => 4,
        DType::F64 | DType::C64 => 8,
        DType::C128 => 16,
    }
}

impl Status {
    /// The status of `tree` on this rank (`op` names the call in local errors).
    pub(crate) fn of<T: Tree>(tree: &T, op: &str) -> Status {
        let mut description = String::new();
        let mut data = Vec::new();
        let mut failure: Option<String> = None;
        let mut separate = false;
        let mut arrays = 0usize;
        tree.visit(&mut |leaf| {
            if failure.is_some() {
                return;
            }
            if separate && !matches!(leaf, Leaf::Close) {
                description.push_str(", ");
            }
            separate = true;
            // Writing to a `String` cannot fail.
            let _ = match leaf {
                Leaf::Array(a) => {
                    let k = arrays;
                    arrays += 1;
                    match a.data() {
                        Err(e) => {
                            failure = Some(format!("array {k} of the tree carries an error: {e}"));
                            Ok(())
                        }
                        Ok(d) if d.dtype() == DType::Bool => {
                            failure = Some(format!(
                                "array {k} of the tree (shape {:?}) is logical; {op} sums numeric arrays only",
                                d.shape()
                            ));
                            Ok(())
                        }
                        Ok(d) => {
                            let written = write!(description, "{} {:?}", d.dtype(), d.shape());
                            data.push(d.clone());
                            written
                        }
                    }
                }
                Leaf::F64(v) => write!(description, "{v:?}f64#{:x}", v.to_bits()),
                Leaf::F32(v) => write!(description, "{v:?}f32#{:x}", v.to_bits()),
                Leaf::I64(v) => write!(description, "{v}i64"),
                Leaf::Usize(v) => write!(description, "{v}usize"),
                Leaf::Bool(v) => write!(description, "{v}"),
                Leaf::Str(s) => write!(description, "{s:?}"),
                Leaf::Open(kind, n) => {
                    separate = false;
                    write!(description, "{kind}/{n}(")
                }
                Leaf::Close => write!(description, ")"),
            };
        });
        match failure {
            Some(message) => Status::Failed(message),
            None => {
                let bytes = data.iter().map(|d| d.numel() * element_bytes(d.dtype())).sum();
                Status::Ready(Ready { description, data, bytes })
            }
        }
    }

    /// This rank's fixed-size record and its text.
    fn record(&self) -> ([u64; 4], &str) {
        match self {
            Status::Ready(r) => {
                let text = cut(&r.description);
                ([1, fnv1a(r.description.as_bytes()), r.bytes as u64, text.len() as u64], text)
            }
            Status::Failed(message) => {
                let text = cut(message);
                ([0, 0, 0, text.len() as u64], text)
            }
        }
    }
}

/// `s`, cut to at most [`MAX_TEXT`] bytes at a character boundary.
fn cut(s: &str) -> &str {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The 64-bit FNV-1a hash of `bytes` (the same on every rank and in every run).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// The error every rank returns from `op`.
pub(crate) fn error(op: &str, detail: String) -> Error {
    Error::Argument { op: format!("cranegrad::mpi::{op}"), detail }
}

/// Agrees with every other rank of `comm` on whether the data exchange of `op` happens:
/// `Ok(ready)` (this rank's tree, the same description on every rank) on every rank, or the
/// same `Err` on every rank (naming the failed ranks and their errors, or the ranks whose trees
/// differ from rank 0's).
pub(crate) fn agree<C: Communicator>(comm: &C, status: Status, op: &str) -> Result<Ready> {
    let size = comm.size() as usize;
    let (record, text) = status.record();
    let mut records = vec![0u64; 4 * size];
    comm.all_gather_into(&record[..], &mut records[..]);
    let records: Vec<&[u64]> = records.chunks_exact(4).collect();
    let all_ok = records.iter().all(|r| r[0] == 1 && r[1] == records[0][1] && r[2] == records[0][2]);
    if all_ok {
        return match status {
            Status::Ready(ready) => Ok(ready),
            // Unreachable: this rank's own record said ok.
            Status::Failed(message) => Err(error(op, message)),
        };
    }
    // Something is wrong somewhere: every rank gathers every rank's text, then returns the
    // same error.
    let texts = gather_texts(comm, text, &records);
    let failed: Vec<usize> = (0..size).filter(|&r| records[r][0] == 0).collect();
    let detail = if !failed.is_empty() {
        let which = failed.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ");
        let causes = failed.iter().map(|&r| format!("rank {r}: {}", texts[r])).collect::<Vec<_>>().join("; ");
        let ranks = if failed.len() == 1 { "rank" } else { "ranks" };
        format!("{ranks} {which} of {size} failed, so no rank sums: {causes}")
    } else {
        let r = (1..size).find(|&r| records[r][1..3] != records[0][1..3]).unwrap_or(0);
        let (a, b) = excerpts(&texts[0], &texts[r]);
        format!(
            "the trees differ across ranks (structure, plain values, dtypes or shapes): rank 0 has {a}, rank {r} \
             has {b}"
        )
    };
    Err(error(op, detail))
}

/// Every rank's text, gathered to every rank (`records` give their lengths).
fn gather_texts<C: Communicator>(comm: &C, text: &str, records: &[&[u64]]) -> Vec<String> {
    // Each text is at most MAX_TEXT bytes, so counts and displacements fit an MPI count for
    // up to 131071 ranks; beyond that the texts are dropped rather than overflowing.
    let lengths: Vec<usize> = records.iter().map(|r| r[3] as usize).collect();
    let total: usize = lengths.iter().sum();
    if total > i32::MAX as usize {
        return lengths.iter().map(|_| "(the texts of this many ranks do not fit one message)".into()).collect();
    }
    let counts: Vec<Count> = lengths.iter().map(|&l| l as Count).collect();
    let displs: Vec<Count> = counts.iter().scan(0, |at, &c| Some(std::mem::replace(at, *at + c))).collect();
    let mut all = vec![0u8; total];
    {
        let mut partition = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
        comm.all_gather_varcount_into(text.as_bytes(), &mut partition);
    }
    let mut at = 0;
    lengths
        .iter()
        .map(|&l| {
            let s = String::from_utf8_lossy(&all[at..at + l]).into_owned();
            at += l;
            s
        })
        .collect()
}

/// Two descriptions, whole when short, else excerpts around their first difference.
fn excerpts(a: &str, b: &str) -> (String, String) {
    if a.chars().count() <= EXCERPT && b.chars().count() <= EXCERPT {
        return (a.to_string(), b.to_string());
    }
    let first = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let start = first.saturating_sub(EXCERPT / 4);
    let excerpt = |s: &str| {
        let n = s.chars().count();
        let body: String = s.chars().skip(start).take(EXCERPT).collect();
        let head = if start > 0 { "..." } else { "" };
        let tail = if start + EXCERPT < n { "..." } else { "" };
        format!("{head}{body}{tail}")
    };
    (excerpt(a), excerpt(b))
}
