//! Typed, owned, row-major storage: one `ndarray::ArrayD` per element type.

use super::DType;
use ndarray::{ArrayD, IxDyn};
use num_complex::{Complex32, Complex64};

/// The data of an array: an owned, standard-layout (row-major, contiguous) `ArrayD` of one of
/// the five element types.
///
/// Equality and hashing are bitwise: two values are equal when their dtype, shape and every
/// element's bits agree (so `NaN == NaN` with the same payload, and `-0.0 != 0.0`). That is
/// the identity the optimizer needs to merge constants, and the "same bits" the JIT promises.
#[derive(Debug)]
pub enum Data {
    /// Logical.
    Bool(ArrayD<bool>),
    /// Single precision.
    F32(ArrayD<f32>),
    /// Double precision.
    F64(ArrayD<f64>),
    /// Single-precision complex.
    C64(ArrayD<Complex32>),
    /// Double-precision complex.
    C128(ArrayD<Complex64>),
}

/// Runs `$body` with `$a` bound to the typed array inside any `Data` (by reference).
macro_rules! with_data {
    ($data:expr, $a:ident => $body:expr) => {
        match $data {
            $crate::array::Data::Bool($a) => $body,
            $crate::array::Data::F32($a) => $body,
            $crate::array::Data::F64($a) => $body,
            $crate::array::Data::C64($a) => $body,
            $crate::array::Data::C128($a) => $body,
        }
    };
}
pub(crate) use with_data;

mod sealed {
    pub trait Sealed {}
    impl Sealed for bool {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for num_complex::Complex32 {}
    impl Sealed for num_complex::Complex64 {}
}

/// An element type a [`DlArray`](crate::DlArray) can hold: `bool`, `f32`, `f64`, `Complex32`,
/// `Complex64`. Sealed.
pub trait Element:
    Copy + Send + Sync + std::fmt::Debug + PartialEq + Default + 'static + sealed::Sealed + super::pool::Pooled
{
    /// The dtype of this element type.
    const DTYPE: DType;
    /// Wraps an array of this type.
    fn into_data(a: ArrayD<Self>) -> Data;
    /// The typed array inside `d`, if `d` holds this type.
    fn view(d: &Data) -> Option<&ArrayD<Self>>;
    /// The typed array inside `d`, if `d` holds this type.
    fn take(d: Data) -> Option<ArrayD<Self>>;
    /// Exact widening to `Complex64` (logical true is 1).
    fn to_c128(self) -> Complex64;
    /// Narrowing from `Complex64`: real types keep the real part, logical is "not zero".
    fn from_c128(c: Complex64) -> Self;
}

macro_rules! element {
    ($t:ty, $variant:ident, $to:expr, $from:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn into_data(a: ArrayD<Self>) -> Data {
                Data::$variant(a)
            }
            fn view(d: &Data) -> Option<&ArrayD<Self>> {
                match d {
                    Data::$variant(a) => Some(a),
                    _ => None,
                }
            }
            fn take(mut d: Data) -> Option<ArrayD<Self>> {
                match &mut d {
                    Data::$variant(a) => Some(std::mem::replace(a, super::pool::empty())),
                    _ => None,
                }
            }
            #[allow(clippy::redundant_closure_call)]
            fn to_c128(self) -> Complex64 {
                ($to)(self)
            }
            #[allow(clippy::redundant_closure_call)]
            fn from_c128(c: Complex64) -> Self {
                ($from)(c)
            }
        }
    };
}

element!(bool, Bool, |v: bool| Complex64::new(v as u8 as f64, 0.0), |c: Complex64| c.re != 0.0 || c.im != 0.0);
element!(f32, F32, |v: f32| Complex64::new(v as f64, 0.0), |c: Complex64| c.re as f32);
element!(f64, F64, |v: f64| Complex64::new(v, 0.0), |c: Complex64| c.re);
element!(Complex32, C64, |v: Complex32| Complex64::new(v.re as f64, v.im as f64), |c: Complex64| {
    Complex32::new(c.re as f32, c.im as f32)
});
element!(Complex64, C128, |v: Complex64| v, |c: Complex64| c);

/// Makes `a` standard layout without copying when it already is.
pub(crate) fn standard<T: Clone>(a: ArrayD<T>) -> ArrayD<T> {
    if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    }
}

impl Data {
    /// Wraps a typed array (made row-major if it is not).
    pub fn new<T: Element>(a: ArrayD<T>) -> Data {
        T::into_data(standard(a))
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Data::Bool(_) => DType::Bool,
            Data::F32(_) => DType::F32,
            Data::F64(_) => DType::F64,
            Data::C64(_) => DType::C64,
            Data::C128(_) => DType::C128,
        }
    }

    /// The shape, row-major.
    pub fn shape(&self) -> &[usize] {
        with_data!(self, a => a.shape())
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        with_data!(self, a => a.len())
    }

    /// An array of `shape` with every element `v` converted to `dtype`.
    pub fn full(dtype: DType, shape: &[usize], v: Complex64) -> Data {
        fn make<T: Element>(shape: &[usize], v: Complex64) -> Data {
            T::into_data(super::pool::filled(shape, T::from_c128(v)))
        }
        match dtype {
            DType::Bool => make::<bool>(shape, v),
            DType::F32 => make::<f32>(shape, v),
            DType::F64 => make::<f64>(shape, v),
            DType::C64 => make::<Complex32>(shape, v),
            DType::C128 => make::<Complex64>(shape, v),
        }
    }

    /// Zeros of `dtype` and `shape`.
    pub fn zeros(dtype: DType, shape: &[usize]) -> Data {
        Data::full(dtype, shape, Complex64::new(0.0, 0.0))
    }

    /// A scalar (shape `[]`) of `dtype` holding `v`.
    pub fn scalar(dtype: DType, v: Complex64) -> Data {
        Data::full(dtype, &[], v)
    }

    /// Converts every element to `dtype` (see [`Element::from_c128`]).
    pub fn cast(&self, dtype: DType) -> Data {
        if self.dtype() == dtype {
            return self.clone();
        }
        fn to<T: Element, S: Element>(a: &ArrayD<S>) -> Data {
            T::into_data(super::pool::map(a, |v| T::from_c128(v.to_c128())))
        }
        with_data!(self, a => match dtype {
            DType::Bool => to::<bool, _>(a),
            DType::F32 => to::<f32, _>(a),
            DType::F64 => to::<f64, _>(a),
            DType::C64 => to::<Complex32, _>(a),
            DType::C128 => to::<Complex64, _>(a),
        })
    }

    /// Every element widened to `Complex64`, row-major (for tests and comparisons).
    pub fn to_c128_vec(&self) -> Vec<Complex64> {
        with_data!(self, a => a.iter().map(|v| v.to_c128()).collect())
    }

    /// The truth of a one-element array: a logical's value, else whether it is nonzero (the
    /// first element of a larger one; `false` for an empty one).
    pub(crate) fn truth(&self) -> bool {
        match self {
            Data::Bool(a) => a.iter().next().copied().unwrap_or(false),
            other => other.get_c128(0).is_some_and(|v| v.re != 0.0 || v.im != 0.0),
        }
    }

    /// The element at row-major linear index `i`, widened to `Complex64`.
    pub fn get_c128(&self, i: usize) -> Option<Complex64> {
        with_data!(self, a => a.as_slice().and_then(|s| s.get(i)).map(|v| v.to_c128()))
    }

    /// The same elements under a new shape; a shape with another number of elements is an
    /// `Err` naming both shapes.
    pub fn reshaped(&self, shape: &[usize]) -> crate::error::Result<Data> {
        with_data!(self, a => super::pool::copy(a.view()).into_shape_with_order(IxDyn(shape)).map(Element::into_data).map_err(|_| {
            crate::error::Error::shape("reshape", &[a.shape(), shape], "element counts differ")
        }))
    }
}

impl Data {
    /// The bits of every element, row-major (a complex element gives two words, re then im).
    pub fn element_bits(&self) -> Vec<u64> {
        let mut bits = Vec::with_capacity(self.numel() * if self.dtype().is_complex() { 2 } else { 1 });
        self.for_each_bits(|w| bits.push(w));
        bits
    }

    /// Calls `f` with the words of [`element_bits`](Self::element_bits) in order, without
    /// collecting them.
    pub(crate) fn for_each_bits(&self, mut f: impl FnMut(u64)) {
        match self {
            Data::Bool(a) => a.iter().for_each(|&v| f(v as u64)),
            Data::F32(a) => a.iter().for_each(|v| f(v.to_bits() as u64)),
            Data::F64(a) => a.iter().for_each(|v| f(v.to_bits())),
            Data::C64(a) => a.iter().for_each(|v| {
                f(v.re.to_bits() as u64);
                f(v.im.to_bits() as u64)
            }),
            Data::C128(a) => a.iter().for_each(|v| {
                f(v.re.to_bits());
                f(v.im.to_bits())
            }),
        }
    }

    /// True when every element has the bits of the first (complex: both parts), and there is
    /// at least one.
    pub(crate) fn is_splat(&self) -> bool {
        let words = if self.dtype().is_complex() { 2 } else { 1 };
        let (mut first, mut k, mut same) = ([0u64; 2], 0usize, true);
        self.for_each_bits(|w| {
            if k < words {
                first[k] = w;
            } else {
                same &= w == first[k % words];
            }
            k += 1;
        });
        k > 0 && same
    }
}

/// A copy whose buffer, when large, comes from this thread's pool of freed buffers.
impl Clone for Data {
    fn clone(&self) -> Self {
        with_data!(self, a => Element::into_data(super::pool::copy(a.view())))
    }
}

/// A large array's buffer goes to this thread's pool of freed buffers (see `array/pool.rs`), for
/// the next kernel that needs one of its size.
impl Drop for Data {
    fn drop(&mut self) {
        super::pool::recycle_data(self);
    }
}

impl PartialEq for Data {
    fn eq(&self, other: &Self) -> bool {
        fn same<T>(a: &ndarray::ArrayD<T>, b: &ndarray::ArrayD<T>, bits: impl Fn(&T) -> u128) -> bool {
            a.shape() == b.shape() && a.iter().zip(b.iter()).all(|(x, y)| bits(x) == bits(y))
        }
        match (self, other) {
            (Data::Bool(a), Data::Bool(b)) => same(a, b, |&v| v as u128),
            (Data::F32(a), Data::F32(b)) => same(a, b, |v| v.to_bits() as u128),
            (Data::F64(a), Data::F64(b)) => same(a, b, |v| v.to_bits() as u128),
            (Data::C64(a), Data::C64(b)) => same(a, b, |v| (v.re.to_bits() as u128) << 64 | v.im.to_bits() as u128),
            (Data::C128(a), Data::C128(b)) => same(a, b, |v| (v.re.to_bits() as u128) << 64 | v.im.to_bits() as u128),
            _ => false,
        }
    }
}

impl Eq for Data {}

impl std::hash::Hash for Data {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.dtype().hash(state);
        self.shape().hash(state);
        self.for_each_bits(|w| state.write_u64(w));
    }
}
