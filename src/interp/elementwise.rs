//! Kernels of the elementwise primitives: unary, binary, compare, select, cast.

use crate::array::cpu::with_cpu_features;
use crate::array::{broadcast, pool, Data, Element, Num, RealNum};
use crate::error::{Error, Result};
use crate::ir::kernels::{
    BinaryVisitor, CompareVisitor, EqualityCompare, OrderingCompare, RealBinary, RealUnary, SameBinary, SameUnary,
    ToComplexBinary, ToRealUnary, UnaryVisitor,
};
use crate::ir::{broadcast_shapes, BinaryOp, CmpOp, Lowering, UnaryOp};
use ndarray::{ArrayD, IxDyn, Zip};
use rayon::prelude::*;

/// `f` applied to `x` and `y` broadcast together (numpy rules).
pub(crate) fn zip2<A: Copy, B: Copy, C>(x: &ArrayD<A>, y: &ArrayD<B>, f: impl Fn(A, B) -> C) -> Result<ArrayD<C>> {
    if x.shape() == y.shape() {
        if let (Some(xs), Some(ys)) = (x.as_slice(), y.as_slice()) {
            let v: Vec<C> = xs.iter().zip(ys).map(|(&a, &b)| f(a, b)).collect();
            return ArrayD::from_shape_vec(IxDyn(x.shape()), v).map_err(|e| Error::argument("zip", e.to_string()));
        }
    }
    let shape = broadcast_shapes(x.shape(), y.shape())
        .ok_or_else(|| Error::shape("elementwise", &[x.shape(), y.shape()], "they do not broadcast"))?;
    let xb = x.broadcast(IxDyn(&shape)).ok_or_else(|| Error::shape("broadcast", &[x.shape(), &shape], ""))?;
    let yb = y.broadcast(IxDyn(&shape)).ok_or_else(|| Error::shape("broadcast", &[y.shape(), &shape], ""))?;
    Ok(Zip::from(&xb).and(&yb).map_collect(|&a, &b| f(a, b)))
}

/// [`zip2`] for a result of an element type, its buffer from the pool of freed buffers
/// (`array/pool.rs`): same shapes, or one operand a single element, in one pass over slices.
pub(crate) fn zip2_pooled<A: Copy + Sync, B: Copy + Sync, C: Element>(
    x: &ArrayD<A>,
    y: &ArrayD<B>,
    f: impl Fn(A, B) -> C + Sync,
) -> Result<ArrayD<C>> {
    let (xs, ys) = (x.as_slice(), y.as_slice());
    let one = |a: &ArrayD<A>, b: &ArrayD<B>| a.len() == 1 && a.ndim() <= b.ndim();
    match (xs, ys) {
        (Some(xs), Some(ys)) if x.shape() == y.shape() => Ok(pool::zip_slices(x.shape(), xs, ys, f)),
        (Some(&[a]), Some(ys)) if one(x, y) => Ok(pool::map_slice(y.shape(), ys, |b| f(a, b))),
        (Some(xs), Some(&[b])) if y.len() == 1 && y.ndim() <= x.ndim() => {
            Ok(pool::map_slice(x.shape(), xs, |a| f(a, b)))
        }
        _ => {
            let shape = broadcast_shapes(x.shape(), y.shape())
                .ok_or_else(|| Error::shape("elementwise", &[x.shape(), y.shape()], "they do not broadcast"))?;
            if shape.iter().product::<usize>() * size_of::<C>() < pool::MIN_BYTES {
                return zip2(x, y, f);
            }
            if let (Some(xs), Some(ys)) = (xs, ys) {
                return Ok(broadcast::zip(&shape, (xs, x.shape()), (ys, y.shape()), f));
            }
            let xb = x.broadcast(IxDyn(&shape)).ok_or_else(|| Error::shape("broadcast", &[x.shape(), &shape], ""))?;
            let yb = y.broadcast(IxDyn(&shape)).ok_or_else(|| Error::shape("broadcast", &[y.shape(), &shape], ""))?;
            let mut out = pool::filled(&shape, C::default());
            Zip::from(&mut out).and(&xb).and(&yb).for_each(|o, &a, &b| *o = f(a, b));
            Ok(out)
        }
    }
}

/// `u` on a real array: one loop with the kernel inlined (the op is matched once, outside).
fn unary_real<T: RealNum>(u: UnaryOp, a: &ArrayD<T>) -> Data {
    struct OnReal<'a, T>(&'a ArrayD<T>, bool);
    impl<T: RealNum> UnaryVisitor for OnReal<'_, T> {
        type Output = Data;
        fn same<K: SameUnary>(self) -> Data {
            T::into_data(map(
                self.0,
                #[inline(always)]
                |x| K::apply::<T>(x),
                self.1,
            ))
        }
        fn to_real<K: ToRealUnary>(self) -> Data {
            T::into_data(map(
                self.0,
                #[inline(always)]
                |x| K::apply::<T>(x),
                self.1,
            ))
        }
        fn real<K: RealUnary>(self) -> Data {
            T::into_data(map(
                self.0,
                #[inline(always)]
                |x| K::apply::<T>(x),
                self.1,
            ))
        }
    }
    u.visit(OnReal(a, u.lowering(false) == Lowering::Polynomial))
}

/// `f` on every element of `a`. For a transcendental (`on_cpu`), plain loops compiled for the
/// CPU's features (`array/cpu.rs`), with `f` inlined into them, on every core from
/// `pool::PARALLEL_FROM` elements ([`on_cpu_by_parts`]); other kernels as `pool::map`.
fn map<S: Copy + Sync, T: Element>(a: &ArrayD<S>, f: impl Fn(S) -> T + Sync, on_cpu: bool) -> ArrayD<T> {
    match a.as_slice() {
        Some(s) if on_cpu => on_cpu_by_parts(a.shape(), |out, at| {
            with_cpu_features(
                #[inline(always)]
                || {
                    for (o, &x) in out.iter_mut().zip(&s[at..]) {
                        *o = f(x);
                    }
                },
            )
        }),
        _ => pool::map(a, f),
    }
}

/// [`zip2_pooled`]; for a transcendental (`on_cpu`) on operands of one shape, or one operand a
/// single element, plain loops compiled for the CPU's features, as [`map`]. The loops are `for`
/// loops: through `Iterator::for_each`, LLVM kept `f` out of line in `Zip::fold`, compiled without
/// the CPU's features (`mul_add` a call to libm's `fma`, `pow` 2x slower).
fn zip<A: Copy + Sync, B: Copy + Sync, C: Element>(
    x: &ArrayD<A>,
    y: &ArrayD<B>,
    f: impl Fn(A, B) -> C + Sync,
    on_cpu: bool,
) -> Result<ArrayD<C>> {
    let single = |len: usize, ndim: usize, of: &[usize]| len == 1 && ndim <= of.len();
    let (xs, ys) = match (x.as_slice(), y.as_slice()) {
        (Some(xs), Some(ys)) if on_cpu => (xs, ys),
        _ => return zip2_pooled(x, y, f),
    };
    Ok(if x.shape() == y.shape() {
        on_cpu_by_parts(x.shape(), |out, at| {
            with_cpu_features(
                #[inline(always)]
                || {
                    for ((o, &a), &b) in out.iter_mut().zip(&xs[at..]).zip(&ys[at..]) {
                        *o = f(a, b);
                    }
                },
            )
        })
    } else if single(x.len(), x.ndim(), y.shape()) {
        on_cpu_by_parts(y.shape(), |out, at| {
            with_cpu_features(
                #[inline(always)]
                || {
                    for (o, &b) in out.iter_mut().zip(&ys[at..]) {
                        *o = f(xs[0], b);
                    }
                },
            )
        })
    } else if single(y.len(), y.ndim(), x.shape()) {
        on_cpu_by_parts(x.shape(), |out, at| {
            with_cpu_features(
                #[inline(always)]
                || {
                    for (o, &a) in out.iter_mut().zip(&xs[at..]) {
                        *o = f(a, ys[0]);
                    }
                },
            )
        })
    } else {
        return zip2_pooled(x, y, f);
    })
}

/// An array of `shape` whose elements `fill(part, at)` writes, `part` the elements from `at`
/// on: the whole array at once, or parts of `pool::PARALLEL_TASK` elements on every core from
/// `pool::PARALLEL_FROM` elements. The result is first filled with zeros: writing through a
/// slice, rather than pushing, lets LLVM vectorize the loop (2.8x on `log`, one thread).
fn on_cpu_by_parts<T: Element>(shape: &[usize], fill: impl Fn(&mut [T], usize) + Sync) -> ArrayD<T> {
    pool::array(shape, |v| {
        v.resize(shape.iter().product(), T::default());
        if pool::in_parallel(v.len()) {
            let task = pool::PARALLEL_TASK;
            v.par_chunks_mut(task).enumerate().for_each(|(k, part)| fill(part, k * task));
        } else {
            fill(v, 0);
        }
    })
}

/// `u` on a complex array (`Err` for real-only ops).
fn unary_complex<T: Num>(u: UnaryOp, a: &ArrayD<T>) -> Result<Data> {
    struct OnComplex<'a, T>(UnaryOp, &'a ArrayD<T>);
    impl<T: Num> UnaryVisitor for OnComplex<'_, T> {
        type Output = Result<Data>;
        fn same<K: SameUnary>(self) -> Result<Data> {
            Ok(T::into_data(pool::map(self.1, K::apply::<T>)))
        }
        fn to_real<K: ToRealUnary>(self) -> Result<Data> {
            Ok(<T::Real as Element>::into_data(pool::map(self.1, K::apply::<T>)))
        }
        fn real<K: RealUnary>(self) -> Result<Data> {
            Err(Error::dtype(self.0.name(), &[T::DTYPE], "defined for real operands only"))
        }
    }
    u.visit(OnComplex(u, a))
}

/// `u` applied to every element.
pub(crate) fn unary(u: UnaryOp, a: &Data) -> Result<Data> {
    match a {
        Data::F32(a) => Ok(unary_real(u, a)),
        Data::F64(a) => Ok(unary_real(u, a)),
        Data::C64(a) => unary_complex(u, a),
        Data::C128(a) => unary_complex(u, a),
        Data::Bool(_) => Err(Error::dtype(u.name(), &[a.dtype()], "needs a numeric operand")),
    }
}

/// `b` on real arrays.
fn binary_real<T: RealNum>(b: BinaryOp, x: &ArrayD<T>, y: &ArrayD<T>) -> Result<Data> {
    struct OnReal<'a, T>(&'a ArrayD<T>, &'a ArrayD<T>, bool);
    impl<T: RealNum> OnReal<'_, T> {
        /// `f` on the operands' elements ([`zip`]).
        #[inline(always)]
        fn zipped(self, f: impl Fn(T, T) -> T + Sync) -> Result<Data> {
            Ok(T::into_data(zip(self.0, self.1, f, self.2)?))
        }
    }
    impl<T: RealNum> BinaryVisitor for OnReal<'_, T> {
        type Output = Result<Data>;
        fn same<K: SameBinary>(self) -> Result<Data> {
            self.zipped(
                #[inline(always)]
                |x, y| K::apply::<T>(x, y),
            )
        }
        fn real<K: RealBinary>(self) -> Result<Data> {
            self.zipped(
                #[inline(always)]
                |x, y| K::apply::<T>(x, y),
            )
        }
        fn to_complex<K: ToComplexBinary>(self) -> Result<Data> {
            Ok(<T::Complex as Element>::into_data(zip2_pooled(self.0, self.1, K::apply::<T>)?))
        }
    }
    b.visit(OnReal(x, y, b.lowering(false) == Lowering::Polynomial))
}

/// `b` on complex arrays (`Err` for real-only ops).
fn binary_complex<T: Num>(b: BinaryOp, x: &ArrayD<T>, y: &ArrayD<T>) -> Result<Data> {
    struct OnComplex<'a, T>(BinaryOp, &'a ArrayD<T>, &'a ArrayD<T>);
    impl<T: Num> BinaryVisitor for OnComplex<'_, T> {
        type Output = Result<Data>;
        fn same<K: SameBinary>(self) -> Result<Data> {
            Ok(T::into_data(zip2_pooled(self.1, self.2, K::apply::<T>)?))
        }
        fn real<K: RealBinary>(self) -> Result<Data> {
            Err(Error::dtype(self.0.name(), &[T::DTYPE], "defined for real operands only"))
        }
        fn to_complex<K: ToComplexBinary>(self) -> Result<Data> {
            Err(Error::dtype(self.0.name(), &[T::DTYPE], "defined for real operands only"))
        }
    }
    b.visit(OnComplex(b, x, y))
}

/// `b` applied elementwise with broadcasting; both operands must have one dtype.
pub(crate) fn binary(b: BinaryOp, x: &Data, y: &Data) -> Result<Data> {
    let mismatch = || Error::dtype(b.name(), &[x.dtype(), y.dtype()], "operands must have one dtype");
    match (x, y) {
        (Data::F32(x), Data::F32(y)) => binary_real(b, x, y),
        (Data::F64(x), Data::F64(y)) => binary_real(b, x, y),
        (Data::C64(x), Data::C64(y)) => binary_complex(b, x, y),
        (Data::C128(x), Data::C128(y)) => binary_complex(b, x, y),
        (Data::Bool(_), Data::Bool(_)) => Err(Error::dtype(b.name(), &[x.dtype()], "needs numeric operands")),
        _ => Err(mismatch()),
    }
}

/// `c` on arrays of an ordered element type.
fn compare_ord<T: Element + PartialOrd>(c: CmpOp, x: &ArrayD<T>, y: &ArrayD<T>) -> Result<ArrayD<bool>> {
    struct Ordered<'a, T>(&'a ArrayD<T>, &'a ArrayD<T>);
    impl<T: Element + PartialOrd> CompareVisitor for Ordered<'_, T> {
        type Output = Result<ArrayD<bool>>;
        fn ordering<K: OrderingCompare>(self) -> Self::Output {
            zip2_pooled(self.0, self.1, |a, b| K::apply(&a, &b))
        }
        fn equality<K: EqualityCompare>(self) -> Self::Output {
            zip2_pooled(self.0, self.1, |a, b| K::apply(&a, &b))
        }
    }
    c.visit(Ordered(x, y))
}

/// `c` on arrays of an unordered (complex) element type: equality only.
fn compare_eq<T: Element>(c: CmpOp, x: &ArrayD<T>, y: &ArrayD<T>) -> Result<ArrayD<bool>> {
    struct Unordered<'a, T>(CmpOp, &'a ArrayD<T>, &'a ArrayD<T>);
    impl<T: Element> CompareVisitor for Unordered<'_, T> {
        type Output = Result<ArrayD<bool>>;
        fn ordering<K: OrderingCompare>(self) -> Self::Output {
            Err(Error::dtype(self.0.name(), &[T::DTYPE], "ordering is defined for real operands only"))
        }
        fn equality<K: EqualityCompare>(self) -> Self::Output {
            zip2_pooled(self.1, self.2, |a, b| K::apply(&a, &b))
        }
    }
    c.visit(Unordered(c, x, y))
}

/// Elementwise comparison with broadcasting; logical result.
pub(crate) fn compare(c: CmpOp, x: &Data, y: &Data) -> Result<Data> {
    let out = match (x, y) {
        (Data::Bool(x), Data::Bool(y)) => compare_ord(c, x, y)?,
        (Data::F32(x), Data::F32(y)) => compare_ord(c, x, y)?,
        (Data::F64(x), Data::F64(y)) => compare_ord(c, x, y)?,
        (Data::C64(x), Data::C64(y)) => compare_eq(c, x, y)?,
        (Data::C128(x), Data::C128(y)) => compare_eq(c, x, y)?,
        _ => return Err(Error::dtype(c.name(), &[x.dtype(), y.dtype()], "operands must have one dtype")),
    };
    Ok(Data::Bool(out))
}

/// `a` where `cond`, else `b`, all three broadcast together.
pub(crate) fn select(cond: &Data, a: &Data, b: &Data) -> Result<Data> {
    let Data::Bool(c) = cond else {
        return Err(Error::dtype("select", &[cond.dtype()], "the condition must be logical"));
    };
    fn pick<T: Element>(c: &ArrayD<bool>, a: &ArrayD<T>, b: &ArrayD<T>) -> Result<Data> {
        let ab = zip2(a, b, |x, y| (x, y))?;
        Ok(T::into_data(zip2_pooled(c, &ab, |c, (x, y)| if c { x } else { y })?))
    }
    match (a, b) {
        (Data::Bool(a), Data::Bool(b)) => pick(c, a, b),
        (Data::F32(a), Data::F32(b)) => pick(c, a, b),
        (Data::F64(a), Data::F64(b)) => pick(c, a, b),
        (Data::C64(a), Data::C64(b)) => pick(c, a, b),
        (Data::C128(a), Data::C128(b)) => pick(c, a, b),
        _ => Err(Error::dtype("select", &[a.dtype(), b.dtype()], "the branches must have one dtype")),
    }
}
