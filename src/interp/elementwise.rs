//! Kernels of the elementwise primitives: unary, binary, compare, select, cast.

use crate::array::{Data, Element, Num, RealNum};
use crate::error::{Error, Result};
use crate::ir::primitives::{binary_primitives, compare_primitives, unary_primitives};
use crate::ir::{broadcast_shapes, BinaryOp, CmpOp, UnaryOp};
use ndarray::{ArrayD, IxDyn, Zip};

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

/// Generates the unary kernels from the rows of `ir::primitives::unary_primitives`: one
/// whole-array kernel per dtype (the match on the op is outside the element loop), and the
/// scalar functions the JIT's host trampolines call.
macro_rules! unary_kernels {
    ($($(#[$doc:meta])* $v:ident $name:literal $kind:ident($kernel:ident) real: $rl:ident, complex: $cl:ident;)*) => {
        /// `u` on a real array.
        fn unary_real<T: RealNum>(u: UnaryOp, a: &ArrayD<T>) -> Data {
            match u {
                $(UnaryOp::$v => T::into_data(a.mapv(unary_kernels!(@real $kind $kernel))),)*
            }
        }

        /// `u` on a complex array (`Err` for real-only ops).
        fn unary_complex<T: Num>(u: UnaryOp, a: &ArrayD<T>) -> Result<Data> {
            Ok(match u {
                $(UnaryOp::$v => unary_kernels!(@complex $kind $kernel u a),)*
            })
        }

        /// `u` of one real element (every unary op is defined on reals).
        pub(crate) fn unary_real_element<T: RealNum>(u: UnaryOp, x: T) -> T {
            match u {
                $(UnaryOp::$v => unary_kernels!(@real $kind $kernel)(x),)*
            }
        }

        /// `u` of one complex element, for the ops whose result is complex (`None` otherwise).
        pub(crate) fn unary_complex_element<T: Num>(u: UnaryOp, x: T) -> Option<T> {
            match u {
                $(UnaryOp::$v => unary_kernels!(@complex_element $kind $kernel x),)*
            }
        }

        /// `u` of one complex element, for the ops whose result is real (`None` otherwise).
        pub(crate) fn unary_complex_to_real<T: Num>(u: UnaryOp, x: T) -> Option<T::Real> {
            match u {
                $(UnaryOp::$v => unary_kernels!(@complex_to_real $kind $kernel x),)*
            }
        }
    };
    (@real same $k:ident) => { Num::$k };
    (@real to_real $k:ident) => { Num::$k };
    (@real real $k:ident) => { RealNum::$k };
    (@complex same $k:ident $u:ident $a:ident) => { T::into_data($a.mapv(Num::$k)) };
    (@complex to_real $k:ident $u:ident $a:ident) => { <T::Real as Element>::into_data($a.mapv(Num::$k)) };
    (@complex real $k:ident $u:ident $a:ident) => {
        return Err(Error::dtype($u.name(), &[T::DTYPE], "defined for real operands only"))
    };
    (@complex_element same $k:ident $x:ident) => { Some(Num::$k($x)) };
    (@complex_element $other:ident $k:ident $x:ident) => { None };
    (@complex_to_real to_real $k:ident $x:ident) => { Some(Num::$k($x)) };
    (@complex_to_real $other:ident $k:ident $x:ident) => { None };
}

unary_primitives!(unary_kernels);

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

/// Generates the binary kernels from the rows of `ir::primitives::binary_primitives`.
macro_rules! binary_kernels {
    ($($(#[$doc:meta])* $v:ident $name:literal $kind:ident($kernel:ident) real: $rl:ident, complex: $cl:ident;)*) => {
        /// `b` on real arrays.
        fn binary_real<T: RealNum>(b: BinaryOp, x: &ArrayD<T>, y: &ArrayD<T>) -> Result<Data> {
            Ok(match b {
                $(BinaryOp::$v => binary_kernels!(@real $kind $kernel x y),)*
            })
        }

        /// `b` on complex arrays (`Err` for real-only ops).
        fn binary_complex<T: Num>(b: BinaryOp, x: &ArrayD<T>, y: &ArrayD<T>) -> Result<Data> {
            Ok(match b {
                $(BinaryOp::$v => binary_kernels!(@complex $kind $kernel b x y),)*
            })
        }

        /// `b` of two real elements, for the ops with a real result (`None` for `complex`).
        pub(crate) fn binary_real_element<T: RealNum>(b: BinaryOp, x: T, y: T) -> Option<T> {
            match b {
                $(BinaryOp::$v => binary_kernels!(@real_element $kind $kernel x y),)*
            }
        }

        /// `b` of two complex elements (`None` for real-only ops).
        pub(crate) fn binary_complex_element<T: Num>(b: BinaryOp, x: T, y: T) -> Option<T> {
            match b {
                $(BinaryOp::$v => binary_kernels!(@complex_element $kind $kernel x y),)*
            }
        }
    };
    (@real same $k:ident $x:ident $y:ident) => { T::into_data(zip2($x, $y, Num::$k)?) };
    (@real real $k:ident $x:ident $y:ident) => { T::into_data(zip2($x, $y, RealNum::$k)?) };
    (@real to_complex $k:ident $x:ident $y:ident) => {
        <T::Complex as Element>::into_data(zip2($x, $y, <T as RealNum>::$k)?)
    };
    (@complex same $k:ident $b:ident $x:ident $y:ident) => { T::into_data(zip2($x, $y, Num::$k)?) };
    (@complex $other:ident $k:ident $b:ident $x:ident $y:ident) => {
        return Err(Error::dtype($b.name(), &[T::DTYPE], "defined for real operands only"))
    };
    (@real_element same $k:ident $x:ident $y:ident) => { Some(Num::$k($x, $y)) };
    (@real_element real $k:ident $x:ident $y:ident) => { Some(RealNum::$k($x, $y)) };
    (@real_element to_complex $k:ident $x:ident $y:ident) => { None };
    (@complex_element same $k:ident $x:ident $y:ident) => { Some(Num::$k($x, $y)) };
    (@complex_element $other:ident $k:ident $x:ident $y:ident) => { None };
}

binary_primitives!(binary_kernels);

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

/// Generates the comparison kernels from the rows of `ir::primitives::compare_primitives`.
macro_rules! compare_kernels {
    ($($(#[$doc:meta])* $v:ident $name:literal $kind:ident($kernel:ident);)*) => {
        /// `c` on arrays of an ordered element type.
        fn compare_ord<T: Element + PartialOrd>(c: CmpOp, x: &ArrayD<T>, y: &ArrayD<T>) -> Result<ArrayD<bool>> {
            match c {
                $(CmpOp::$v => zip2(x, y, |a, b| compare_kernels!(@ord $kind $kernel a b)),)*
            }
        }

        /// `c` on arrays of an unordered (complex) element type: equality only.
        fn compare_eq<T: Element>(c: CmpOp, x: &ArrayD<T>, y: &ArrayD<T>) -> Result<ArrayD<bool>> {
            match c {
                $(CmpOp::$v => compare_kernels!(@eq $kind $kernel c x y),)*
            }
        }
    };
    (@ord ordering $k:ident $a:ident $b:ident) => { PartialOrd::$k(&$a, &$b) };
    (@ord equality $k:ident $a:ident $b:ident) => { PartialEq::$k(&$a, &$b) };
    (@eq equality $k:ident $c:ident $x:ident $y:ident) => { zip2($x, $y, |a, b| PartialEq::$k(&a, &b)) };
    (@eq ordering $k:ident $c:ident $x:ident $y:ident) => {
        Err(Error::dtype($c.name(), &[T::DTYPE], "ordering is defined for real operands only"))
    };
}

compare_primitives!(compare_kernels);

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
        Ok(T::into_data(zip2(c, &ab, |c, (x, y)| if c { x } else { y })?))
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
