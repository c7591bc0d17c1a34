//! The blocked summation order every sum follows, in the interpreter and in compiled code
//! alike: blocks of [`SUM_BLOCK`] elements, each summed into [`SUM_ACCUMULATORS`]
//! accumulators (element `j` of a block into accumulator `j % 4`, each starting at zero)
//! combined as `(a0 + a1) + (a2 + a3)`; the block sums combined pairwise, as a binary counter
//! (block `b` merges with the partial sum of each lower level whose bit is set in `b`, older
//! partial on the left), and the remaining partials added from the lowest level up, older on
//! the left. The rounding error grows with the logarithm of the length, not the length.
//!
//! An aligned group of `2^k` blocks leaves exactly one partial, at level `k`, so such groups
//! can be summed apart (on other threads, or as chunks of a compiled kernel) and their sums fed
//! through a counter of their own ([`combine_groups`]): the order is the same addition for
//! addition.

use crate::array::pool::{in_parallel, PARALLEL_TASK};
use crate::array::Num;
use rayon::prelude::*;

/// Elements per block of a sum (a multiple of [`SUM_ACCUMULATORS`]).
pub(crate) const SUM_BLOCK: usize = 256;
/// Independent accumulators within a block.
pub(crate) const SUM_ACCUMULATORS: usize = 4;

/// Blocks per task of a sum on every core: a power of two, so each task leaves one partial.
const GROUP_BLOCKS: usize = PARALLEL_TASK / SUM_BLOCK;

/// The binary counter of block sums: the partial sum of each level, and the blocks counted.
pub(crate) struct BlockCounter<T> {
    partials: Vec<T>,
    count: usize,
}

impl<T: Num> BlockCounter<T> {
    /// A counter of no blocks.
    pub(crate) fn new() -> Self {
        BlockCounter { partials: Vec::new(), count: 0 }
    }

    /// Counts the next block, whose sum is `block`.
    pub(crate) fn push(&mut self, block: T) {
        let mut c = block;
        let mut level = 0;
        while (self.count >> level) & 1 == 1 {
            c = self.partials[level] + c;
            level += 1;
        }
        if self.partials.len() <= level {
            self.partials.resize(level + 1, T::zero());
        }
        self.partials[level] = c;
        self.count += 1;
    }

    /// The sum of every block counted (zero for none).
    pub(crate) fn total(&self) -> T {
        add_partials(&self.partials, self.count, None).unwrap_or_else(T::zero)
    }
}

/// `total` plus the partials of a counter of `count` blocks, from the lowest level up, older
/// on the left.
fn add_partials<T: Num>(partials: &[T], count: usize, mut total: Option<T>) -> Option<T> {
    for (level, &p) in partials.iter().enumerate() {
        if (count >> level) & 1 == 1 {
            total = Some(match total {
                None => p,
                Some(t) => p + t,
            });
        }
    }
    total
}

/// The sum of `blocks` blocks from what each aligned group of `group_blocks` of them (a power
/// of two) left, in order: a full group's sum (`sum_of`), and the last group's partials
/// (`partials_of`) when it is not full.
pub(crate) fn combine_groups<G, T: Num>(
    groups: &[G],
    (blocks, group_blocks): (usize, usize),
    sum_of: impl Fn(&G) -> T,
    partials_of: impl Fn(&G) -> &[T],
) -> T {
    let (full, rest) = (blocks / group_blocks, blocks % group_blocks);
    let mut counter = BlockCounter::new();
    groups[..full].iter().for_each(|g| counter.push(sum_of(g)));
    let last = (rest > 0).then(|| add_partials(partials_of(&groups[full]), rest, None)).flatten();
    add_partials(&counter.partials, counter.count, last).unwrap_or_else(T::zero)
}

/// The sum of one block (at most [`SUM_BLOCK`] elements) in its four accumulators.
fn block_sum<T: Num>(block: &[T]) -> T {
    let mut acc = [T::zero(); SUM_ACCUMULATORS];
    let mut quads = block.chunks_exact(SUM_ACCUMULATORS);
    for q in &mut quads {
        for (a, &v) in acc.iter_mut().zip(q) {
            *a = *a + v;
        }
    }
    for (a, &v) in acc.iter_mut().zip(quads.remainder()) {
        *a = *a + v;
    }
    accumulated(&acc)
}

/// A block's sum from its accumulators.
fn accumulated<T: Num>(acc: &[T; SUM_ACCUMULATORS]) -> T {
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// The counter of the blocks of `s`.
fn count_blocks<T: Num>(s: &[T]) -> BlockCounter<T> {
    let mut counter = BlockCounter::new();
    s.chunks(SUM_BLOCK).for_each(|b| counter.push(block_sum(b)));
    counter
}

/// The sum of a lane in the blocked order.
pub(crate) fn blocked_sum<T: Num>(lane: impl Iterator<Item = T>) -> T {
    let mut counter = BlockCounter::new();
    let mut acc = [T::zero(); SUM_ACCUMULATORS];
    let mut j = 0;
    for v in lane {
        acc[j % SUM_ACCUMULATORS] = acc[j % SUM_ACCUMULATORS] + v;
        j += 1;
        if j == SUM_BLOCK {
            counter.push(accumulated(&acc));
            acc = [T::zero(); SUM_ACCUMULATORS];
            j = 0;
        }
    }
    if j > 0 {
        counter.push(accumulated(&acc));
    }
    counter.total()
}

/// Columns a task of [`strided_sums`] sums side by side.
const COLUMNS: usize = 64;

/// The blocked sums of the lanes of `s` along its middle axis, `s` being `[outer, len, inner]`
/// in row-major order (lane `(o, c)` is `s[o, .., c]`), as `[outer, inner]`: `COLUMNS` lanes at a
/// time, so each row of them is read contiguously, on every core when `s` is long. Each lane is
/// added in the order of [`blocked_sum`], whichever task sums it.
pub(crate) fn strided_sums<T: Num>(s: &[T], (outer, len, inner): (usize, usize, usize)) -> Vec<T> {
    if outer == 1 && inner <= COLUMNS {
        return column_sums(s, 0, (len, inner));
    }
    let tasks: Vec<(usize, usize)> =
        (0..outer).flat_map(|o| (0..inner).step_by(COLUMNS).map(move |c| (o, c))).collect();
    let sum_task =
        |&(o, c0): &(usize, usize)| column_sums(&s[o * len * inner..(o + 1) * len * inner], c0, (len, inner));
    let sums: Vec<Vec<T>> = if in_parallel(s.len()) {
        tasks.par_iter().map(sum_task).collect()
    } else {
        tasks.iter().map(sum_task).collect()
    };
    sums.concat()
}

/// The blocked sums of columns `c0..c0 + COLUMNS` (fewer at the edge) of `s`, `len` rows of
/// `inner`: row `r` adds into accumulator `r % 4` of each column, and every [`SUM_BLOCK`] rows
/// (and after the last) each column's accumulators go to its counter.
fn column_sums<T: Num>(s: &[T], c0: usize, (len, inner): (usize, usize)) -> Vec<T> {
    let w = COLUMNS.min(inner - c0);
    let mut acc = vec![T::zero(); SUM_ACCUMULATORS * w];
    let mut counters: Vec<BlockCounter<T>> = (0..w).map(|_| BlockCounter::new()).collect();
    for r in 0..len {
        let j = r % SUM_ACCUMULATORS;
        for (a, &v) in acc[j * w..(j + 1) * w].iter_mut().zip(&s[r * inner + c0..r * inner + c0 + w]) {
            *a = *a + v;
        }
        if (r + 1) % SUM_BLOCK == 0 || r + 1 == len {
            for (c, counter) in counters.iter_mut().enumerate() {
                counter.push(accumulated(&[acc[c], acc[w + c], acc[2 * w + c], acc[3 * w + c]]));
            }
            acc.fill(T::zero());
        }
    }
    counters.iter().map(BlockCounter::total).collect()
}

/// The sum of a contiguous lane in the blocked order: on every core from
/// [`PARALLEL_FROM`](crate::array::pool::PARALLEL_FROM) elements, in groups of
/// [`GROUP_BLOCKS`] blocks, with the same bits.
pub(crate) fn blocked_sum_slice<T: Num>(s: &[T]) -> T {
    if !in_parallel(s.len()) {
        return count_blocks(s).total();
    }
    let groups: Vec<BlockCounter<T>> = s.par_chunks(GROUP_BLOCKS * SUM_BLOCK).map(count_blocks).collect();
    let blocks = s.len().div_ceil(SUM_BLOCK);
    combine_groups(&groups, (blocks, GROUP_BLOCKS), BlockCounter::total, |g| &g.partials[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_sums_add_each_lane_in_the_blocked_order() {
        for (outer, len, inner) in [(1, 1000, 70), (3, 513, 130), (2, 256, 1), (1, 0, 5), (4, 7, 64)] {
            let s: Vec<f64> = (0..outer * len * inner).map(|i| ((i * 7919) % 1000) as f64 / 7.0 - 71.0).collect();
            let want: Vec<u64> = (0..outer * inner)
                .map(|k| {
                    let (o, c) = (k / inner, k % inner);
                    blocked_sum((0..len).map(|r| s[(o * len + r) * inner + c])).to_bits()
                })
                .collect();
            let got: Vec<u64> = strided_sums(&s, (outer, len, inner)).iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "[{outer}, {len}, {inner}]");
        }
    }

    /// The order written out element by element, as the module's documentation states it.
    fn by_definition(xs: &[f64]) -> f64 {
        let blocks: Vec<f64> = xs
            .chunks(SUM_BLOCK)
            .map(|b| {
                let mut acc = [0.0; 4];
                b.iter().enumerate().for_each(|(j, &v)| acc[j % 4] += v);
                (acc[0] + acc[1]) + (acc[2] + acc[3])
            })
            .collect();
        let mut partials: Vec<Option<f64>> = Vec::new();
        for (b, &s) in blocks.iter().enumerate() {
            let mut c = s;
            let mut level = 0;
            while (b >> level) & 1 == 1 {
                c = partials[level].take().map(|older| older + c).expect("a set bit has a partial");
                level += 1;
            }
            if partials.len() <= level {
                partials.resize(level + 1, None);
            }
            partials[level] = Some(c);
        }
        partials.iter().flatten().fold(None, |t: Option<f64>, &p| Some(t.map_or(p, |t| p + t))).unwrap_or(0.0)
    }

    #[test]
    fn every_path_adds_in_the_same_order() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().expect("a pool");
        for n in [0, 1, 5, 255, 256, 257, 1000, 65536, 300_001, (1 << 18) + 3 * SUM_BLOCK + 7, 1 << 19] {
            let xs: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.7).sin() * 10f64.powi((i % 7) as i32 - 3)).collect();
            let want = by_definition(&xs).to_bits();
            assert_eq!(blocked_sum(xs.iter().copied()).to_bits(), want, "n = {n}, iterator");
            assert_eq!(blocked_sum_slice(&xs).to_bits(), want, "n = {n}, slice");
            assert_eq!(pool.install(|| blocked_sum_slice(&xs)).to_bits(), want, "n = {n}, 3 threads");
        }
    }
}
