//! Binary kernels over operands broadcast to a larger shape (`[n, k] - [n, 1]`, `[n, k] + [1, k]`):
//! the result is written in row-major order straight into its buffer from the pool (no fill pass
//! first), on every core from [`pool::PARALLEL_FROM`] elements. Each run of a result row is a
//! plain loop over the operands' slices, one of them possibly a single element held for the row.
//! Every element is `f` of the same two elements whichever task writes it, so the bits do not
//! depend on the number of threads.

use super::{pool, Element};
use rayon::iter::plumbing::{bridge, Consumer, Folder, Producer, ProducerCallback, UnindexedConsumer};
use rayon::prelude::*;

/// One operand, contiguous in row-major order, read along the result.
struct Operand<'a, T> {
    data: &'a [T],
    /// For each leading axis of the result, the elements between consecutive indices (0 where the
    /// operand is broadcast).
    strides: Vec<usize>,
    /// 1 when the operand runs along the result's last axis, 0 when it is broadcast along it.
    step: usize,
}

impl<'a, T> Operand<'a, T> {
    /// `data` of `shape` (at most the result's rank) read along a result of `shape` `out`.
    fn new(data: &'a [T], shape: &[usize], out: &[usize]) -> Self {
        let padded: Vec<usize> = std::iter::repeat_n(1, out.len() - shape.len()).chain(shape.iter().copied()).collect();
        let mut standard = vec![0; padded.len()];
        let mut size = 1;
        for (d, &len) in padded.iter().enumerate().rev() {
            standard[d] = if len == 1 { 0 } else { size };
            size *= len;
        }
        let step = standard.pop().map_or(0, |s| s.min(1));
        Operand { data, strides: standard, step }
    }

    /// The offset of the row at the leading indices `index`.
    fn offset(&self, index: &[usize]) -> usize {
        index.iter().zip(&self.strides).map(|(i, s)| i * s).sum()
    }
}

/// The result's shape as leading axes and a last one, and its two operands.
struct Layout<'a, A, B> {
    leading: Vec<usize>,
    /// The length of the last axis (1 for a scalar result).
    inner: usize,
    x: Operand<'a, A>,
    y: Operand<'a, B>,
}

impl<A, B> Layout<'_, A, B> {
    /// The leading indices of result row `row`.
    fn unravel(&self, mut row: usize) -> Vec<usize> {
        let mut index = vec![0; self.leading.len()];
        for (d, &len) in self.leading.iter().enumerate().rev() {
            index[d] = row % len;
            row /= len;
        }
        index
    }

    /// Moves `index` and the operands' row offsets to the next result row.
    fn advance(&self, index: &mut [usize], xo: &mut usize, yo: &mut usize) {
        for d in (0..index.len()).rev() {
            index[d] += 1;
            *xo += self.x.strides[d];
            *yo += self.y.strides[d];
            if index[d] < self.leading[d] {
                return;
            }
            index[d] = 0;
            *xo -= self.x.strides[d] * self.leading[d];
            *yo -= self.y.strides[d] * self.leading[d];
        }
    }
}

/// `f` over the result elements `start..end` of a [`Layout`]: the unit a task writes.
struct Pairs<'a, A, B, F> {
    layout: &'a Layout<'a, A, B>,
    f: &'a F,
    start: usize,
    end: usize,
}

impl<A: Copy, B: Copy, C, F: Fn(A, B) -> C> Pairs<'_, A, B, F> {
    /// Element `i` of the result, computed on its own (the producer's iterator).
    fn element(&self, i: usize) -> C {
        let l = self.layout;
        let index = l.unravel(i / l.inner);
        let c = i % l.inner;
        (self.f)(l.x.data[l.x.offset(&index) + c * l.x.step], l.y.data[l.y.offset(&index) + c * l.y.step])
    }

    /// Feeds the elements `start..end` to `folder`, a run of a row at a time.
    fn fold_runs<G: Folder<C>>(&self, mut folder: G) -> G {
        let (l, f) = (self.layout, self.f);
        if self.start >= self.end {
            return folder;
        }
        let mut index = l.unravel(self.start / l.inner);
        let (mut xo, mut yo) = (l.x.offset(&index), l.y.offset(&index));
        let (mut i, mut c) = (self.start, self.start % l.inner);
        while i < self.end && !folder.full() {
            let len = (l.inner - c).min(self.end - i);
            let (xs, ys) = (&l.x.data[xo..], &l.y.data[yo..]);
            folder = match (l.x.step, l.y.step) {
                (1, 1) => folder.consume_iter(xs[c..c + len].iter().zip(&ys[c..c + len]).map(|(&a, &b)| f(a, b))),
                (0, 1) => {
                    let a = xs[0];
                    folder.consume_iter(ys[c..c + len].iter().map(|&b| f(a, b)))
                }
                (1, 0) => {
                    let b = ys[0];
                    folder.consume_iter(xs[c..c + len].iter().map(|&a| f(a, b)))
                }
                _ => {
                    let (a, b) = (xs[0], ys[0]);
                    folder.consume_iter((0..len).map(|_| f(a, b)))
                }
            };
            i += len;
            c = 0;
            l.advance(&mut index, &mut xo, &mut yo);
        }
        folder
    }
}

impl<'a, A, B, C, F> Producer for Pairs<'a, A, B, F>
where
    A: Copy + Sync,
    B: Copy + Sync,
    C: Send,
    F: Fn(A, B) -> C + Sync,
{
    type Item = C;
    type IntoIter = Elements<'a, A, B, F>;

    fn into_iter(self) -> Self::IntoIter {
        Elements(self)
    }

    fn min_len(&self) -> usize {
        pool::PARALLEL_TASK
    }

    fn split_at(self, index: usize) -> (Self, Self) {
        let mid = self.start + index;
        (Pairs { end: mid, ..self }, Pairs { start: mid, ..self })
    }

    fn fold_with<G: Folder<C>>(self, folder: G) -> G {
        self.fold_runs(folder)
    }
}

impl<A, B, F> Clone for Pairs<'_, A, B, F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A, B, F> Copy for Pairs<'_, A, B, F> {}

/// The elements of a [`Pairs`] one at a time (each located on its own; the runs of
/// [`Pairs::fold_runs`] are the fast way).
struct Elements<'a, A, B, F>(Pairs<'a, A, B, F>);

impl<A: Copy, B: Copy, C, F: Fn(A, B) -> C> Iterator for Elements<'_, A, B, F> {
    type Item = C;

    fn next(&mut self) -> Option<C> {
        (self.0.start < self.0.end).then(|| {
            self.0.start += 1;
            self.0.element(self.0.start - 1)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.end - self.0.start;
        (n, Some(n))
    }
}

impl<A: Copy, B: Copy, C, F: Fn(A, B) -> C> DoubleEndedIterator for Elements<'_, A, B, F> {
    fn next_back(&mut self) -> Option<C> {
        (self.0.start < self.0.end).then(|| {
            self.0.end -= 1;
            self.0.element(self.0.end)
        })
    }
}

impl<A: Copy, B: Copy, C, F: Fn(A, B) -> C> ExactSizeIterator for Elements<'_, A, B, F> {}

impl<A, B, C, F> ParallelIterator for Pairs<'_, A, B, F>
where
    A: Copy + Sync,
    B: Copy + Sync,
    C: Send,
    F: Fn(A, B) -> C + Sync,
{
    type Item = C;

    fn drive_unindexed<K: UnindexedConsumer<C>>(self, consumer: K) -> K::Result {
        bridge(self, consumer)
    }

    fn opt_len(&self) -> Option<usize> {
        Some(self.end - self.start)
    }
}

impl<A, B, C, F> IndexedParallelIterator for Pairs<'_, A, B, F>
where
    A: Copy + Sync,
    B: Copy + Sync,
    C: Send,
    F: Fn(A, B) -> C + Sync,
{
    fn drive<K: Consumer<C>>(self, consumer: K) -> K::Result {
        bridge(self, consumer)
    }

    fn len(&self) -> usize {
        self.end - self.start
    }

    fn with_producer<CB: ProducerCallback<C>>(self, callback: CB) -> CB::Output {
        callback.callback(self)
    }
}

/// A [`Folder`] that appends to a vector (the one-thread fill: each run an `extend`).
struct Append<'v, T>(&'v mut Vec<T>);

impl<T> Folder<T> for Append<'_, T> {
    type Result = ();

    fn consume(self, item: T) -> Self {
        self.0.push(item);
        self
    }

    fn consume_iter<I: IntoIterator<Item = T>>(self, iter: I) -> Self {
        self.0.extend(iter);
        self
    }

    fn complete(self) {}

    fn full(&self) -> bool {
        false
    }
}

/// `f` of `x` (`xs` of shape `x_shape`) and `y` broadcast to `shape` (numpy rules, which the
/// caller has checked), as a row-major array from the pool. `xs` and `ys` are row-major.
pub(crate) fn zip<A, B, C, F>(
    shape: &[usize],
    (xs, x_shape): (&[A], &[usize]),
    (ys, y_shape): (&[B], &[usize]),
    f: F,
) -> ndarray::ArrayD<C>
where
    A: Copy + Sync,
    B: Copy + Sync,
    C: Element,
    F: Fn(A, B) -> C + Sync,
{
    let (leading, inner) = match shape.split_last() {
        Some((&last, leading)) => (leading.to_vec(), last),
        None => (Vec::new(), 1),
    };
    let out_shape: Vec<usize> = leading.iter().copied().chain([inner]).collect();
    let layout =
        Layout { leading, inner, x: Operand::new(xs, x_shape, &out_shape), y: Operand::new(ys, y_shape, &out_shape) };
    let n: usize = shape.iter().product();
    let pairs = Pairs { layout: &layout, f: &f, start: 0, end: n };
    pool::array(shape, |v| {
        if pool::in_parallel(n) {
            pairs.collect_into_vec(v);
        } else {
            pairs.fold_runs(Append(v));
        }
    })
}

/// `xs` (row-major, of shape `x_shape`) broadcast to `shape` (numpy rules, which the caller has
/// checked), as a row-major array from the pool.
pub(crate) fn copy<T: Element>(shape: &[usize], xs: &[T], x_shape: &[usize]) -> ndarray::ArrayD<T> {
    zip(shape, (xs, x_shape), (&[()], &[]), |x, ()| x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn, Zip};

    fn reference(x: &ArrayD<f64>, y: &ArrayD<f64>, shape: &[usize]) -> ArrayD<f64> {
        let (xb, yb) = (x.broadcast(IxDyn(shape)).unwrap(), y.broadcast(IxDyn(shape)).unwrap());
        Zip::from(&xb).and(&yb).map_collect(|&a, &b| a * 3.0 - b)
    }

    fn array(shape: &[usize], seed: f64) -> ArrayD<f64> {
        let n = shape.iter().product::<usize>();
        ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|i| (i as f64 * 0.37 + seed).sin()).collect()).unwrap()
    }

    #[test]
    fn broadcasts_match_ndarray_on_one_and_many_threads() {
        let cases: [(&[usize], &[usize], &[usize]); 8] = [
            (&[700, 600], &[700, 1], &[700, 600]),
            (&[1, 600], &[700, 600], &[700, 600]),
            (&[700, 600], &[600], &[700, 600]),
            (&[3, 1, 5], &[4, 1], &[3, 4, 5]),
            (&[1], &[2, 3], &[2, 3]),
            (&[40, 1, 130], &[1, 70, 1], &[40, 70, 130]),
            (&[300_000, 1], &[1, 1], &[300_000, 1]),
            (&[], &[5, 1], &[5, 1]),
        ];
        for (xs, ys, out) in cases {
            let (x, y) = (array(xs, 0.5), array(ys, 1.5));
            let want = reference(&x, &y, out);
            let f = |a: f64, b: f64| a * 3.0 - b;
            let got = zip(out, (x.as_slice().unwrap(), xs), (y.as_slice().unwrap(), ys), f);
            assert_eq!(got, want, "{xs:?} with {ys:?}");
            let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
            let alone = one.install(|| zip(out, (x.as_slice().unwrap(), xs), (y.as_slice().unwrap(), ys), f));
            assert_eq!(alone, want, "{xs:?} with {ys:?} on one thread");
        }
    }

    #[test]
    fn copies_match_ndarray() {
        for (xs, out) in
            [(&[700, 1][..], &[700, 600][..]), (&[600], &[700, 600]), (&[3, 1, 5], &[2, 3, 4, 5]), (&[], &[4])]
        {
            let x = array(xs, 0.25);
            let want = x.broadcast(IxDyn(out)).unwrap().to_owned();
            assert_eq!(copy(out, x.as_slice().unwrap(), xs), want, "{xs:?} to {out:?}");
        }
    }

    #[test]
    fn a_producer_split_anywhere_gives_every_element_once() {
        let (x, y) = (array(&[3, 1, 7], 0.1), array(&[5, 1], 0.2));
        let out = [3, 5, 7];
        let layout = Layout {
            leading: vec![3, 5],
            inner: 7,
            x: Operand::new(x.as_slice().unwrap(), &[3, 1, 7], &out),
            y: Operand::new(y.as_slice().unwrap(), &[5, 1], &out),
        };
        let f = |a: f64, b: f64| a * 3.0 - b;
        let want: Vec<f64> = reference(&x, &y, &out).iter().copied().collect();
        for at in [0, 1, 6, 7, 8, 34, 35, 36, 104, 105] {
            let (left, right) = Pairs { layout: &layout, f: &f, start: 0, end: 105 }.split_at(at);
            let mut v = Vec::new();
            left.fold_runs(Append(&mut v));
            right.fold_runs(Append(&mut v));
            assert_eq!(v, want, "split at {at}");
            let by_one: Vec<f64> =
                left.into_iter().chain(right.into_iter().rev().collect::<Vec<_>>().into_iter().rev()).collect();
            assert_eq!(by_one, want, "element by element, split at {at}");
        }
    }
}
