//! `DlArray`: a cheap handle to a value and, inside a trace, the node that computed it.

use super::context::{with_top, NodeRef};
use crate::array::{DType, Data, Element};
use crate::error::{Error, Result};
use crate::ir::{Op, Shape};
use ndarray::{Array, ArrayD, Dimension};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// An n-dimensional array of `bool`, `f32`, `f64`, `Complex32` or `Complex64` that records the
/// operations applied to it while a trace is active (inside [`dlfeval`](crate::dlfeval) or an
/// accelerated function), so [`dlgradient`](crate::dlgradient) can differentiate them.
///
/// Cloning is cheap (the data is shared). An operation that fails (for example, shapes that do
/// not broadcast) returns an array carrying the error; reading it (`extractdata`, `to_scalar`)
/// or finishing the trace (`dlfeval`, `dlgradient`, `call`) returns that error. A failed array
/// reports shape `[]` and dtype `F64`.
///
/// ```
/// use cranegrad::prelude::*;
/// use ndarray::array;
/// let x = DlArray::from(array![[1.0, 2.0], [3.0, 4.0]]);
/// assert_eq!(x.shape(), &[2, 2]);
/// assert_eq!((&x * 2.0).sum_all().to_scalar::<f64>().unwrap(), 20.0);
/// ```
#[derive(Clone)]
pub struct DlArray {
    pub(crate) value: std::result::Result<Value, Arc<Error>>,
    pub(crate) node: Option<NodeRef>,
}

/// An array's dtype and shape (what checks read without computing a pending value).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ArrayType<'a> {
    dtype: DType,
    shape: &'a [usize],
}

impl ArrayType<'_> {
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn shape(&self) -> &[usize] {
        self.shape
    }
}

/// What an array holds: its data, or (inside a lazy trace) the node that will compute it.
#[derive(Clone)]
pub(crate) enum Value {
    Ready(Arc<Data>),
    Pending(Arc<Pending>),
}

/// A value not computed yet: the dtype and shape its type rule gave, the node of a lazy trace
/// that computes it, and the data once something asked for it.
pub(crate) struct Pending {
    dtype: DType,
    shape: Shape,
    at: NodeRef,
    data: OnceLock<Arc<Data>>,
}

impl Value {
    /// A value to be computed by node `at` of a lazy trace.
    pub fn pending(dtype: DType, shape: impl Into<Shape>, at: NodeRef) -> Value {
        Value::Pending(Arc::new(Pending { dtype, shape: shape.into(), at, data: OnceLock::new() }))
    }

    fn dtype(&self) -> DType {
        match self {
            Value::Ready(d) => d.dtype(),
            Value::Pending(p) => p.dtype,
        }
    }

    fn shape(&self) -> &[usize] {
        match self {
            Value::Ready(d) => d.shape(),
            Value::Pending(p) => &p.shape,
        }
    }

    /// The data, computed now (with what it depends on) if it is pending.
    fn data(&self) -> Result<&Arc<Data>> {
        match self {
            Value::Ready(d) => Ok(d),
            Value::Pending(p) => {
                if let Some(d) = p.data.get() {
                    return Ok(d);
                }
                let d = super::context::evaluate(p.at)?;
                Ok(p.data.get_or_init(|| d))
            }
        }
    }

    /// The data if it is at hand, without computing anything.
    fn ready(&self) -> Option<&Arc<Data>> {
        match self {
            Value::Ready(d) => Some(d),
            Value::Pending(p) => p.data.get(),
        }
    }
}

impl DlArray {
    /// An untraced array holding `data`.
    pub(crate) fn from_data(data: Arc<Data>) -> Self {
        DlArray { value: Ok(Value::Ready(data)), node: None }
    }

    /// An array holding `data` that, inside a trace, is a constant node of it (so it can be a
    /// `dlgradient` variable).
    #[track_caller]
    pub fn from_data_traced(data: Data) -> Self {
        let _origin = super::current_origin::user_call();
        let data = Arc::new(data);
        let node = with_top(|t| t.record(Op::Constant(data.clone()), vec![], data.clone()));
        DlArray { value: Ok(Value::Ready(data)), node }
    }

    /// An array that carries `e`, with the current origin (the user's call) in its message;
    /// inside a trace the trace records it too.
    pub(crate) fn failed(e: Error) -> Self {
        let e = match super::current_origin::current() {
            Some(origin) => e.at(origin),
            None => e,
        };
        with_top(|t| t.fail(&e));
        DlArray { value: Err(Arc::new(e)), node: None }
    }

    /// A double-precision scalar (shape `[]`).
    #[track_caller]
    pub fn scalar(v: f64) -> Self {
        DlArray::from_data_traced(Data::F64(ndarray::arr0(v).into_dyn()))
    }

    /// The data, or the error this array carries. Inside an accelerated function's first
    /// call, values are computed only when asked for: this computes it (and only what it
    /// depends on).
    pub fn data(&self) -> Result<&Arc<Data>> {
        match &self.value {
            Ok(v) => v.data(),
            Err(e) => Err((**e).clone()),
        }
    }

    /// The dtype and shape as one value, or the error this array carries (computes nothing).
    pub(crate) fn array_type(&self) -> Result<ArrayType<'_>> {
        self.meta().map(|(dtype, shape)| ArrayType { dtype, shape })
    }

    /// The data if it is at hand (computes nothing).
    pub(crate) fn ready_data(&self) -> Option<&Arc<Data>> {
        self.value.as_ref().ok().and_then(Value::ready)
    }

    /// `Ok` unless this array carries an error (computes nothing).
    pub(crate) fn check(&self) -> Result<()> {
        match &self.value {
            Ok(_) => Ok(()),
            Err(e) => Err((**e).clone()),
        }
    }

    /// True when this array carries an error.
    pub(crate) fn is_failed(&self) -> bool {
        self.value.is_err()
    }

    /// The dtype and shape, or `None` when this array carries an error (computes nothing).
    pub(crate) fn dtype_and_shape(&self) -> Option<(DType, &[usize])> {
        self.value.as_ref().ok().map(|v| (v.dtype(), v.shape()))
    }

    /// The dtype and shape, or the error this array carries (computes nothing).
    pub(crate) fn meta(&self) -> Result<(DType, &[usize])> {
        match &self.value {
            Ok(v) => Ok((v.dtype(), v.shape())),
            Err(e) => Err((**e).clone()),
        }
    }

    /// The same value as a new node of the innermost trace (a reshape to its own shape) when
    /// it is traced there: a variable whose derivatives see only the paths from it.
    pub(crate) fn fresh(&self) -> DlArray {
        if with_top(|t| t.resolves(self)).unwrap_or(false) {
            let shape = self.shape().to_vec();
            super::emit(Op::Reshape(shape), &[self])
        } else {
            self.clone()
        }
    }

    /// The same value with no trace.
    pub fn untraced(&self) -> Result<DlArray> {
        Ok(DlArray::from_data(self.data()?.clone()))
    }

    /// True when this array is a node of the innermost active trace on this thread (inside a
    /// loop body, also a node of a trace enclosing the body, which the body then reads).
    pub fn is_traced(&self) -> bool {
        with_top(|t| t.resolves(self)).unwrap_or(false)
    }

    /// The shape, row-major; `[]` for a scalar.
    pub fn shape(&self) -> &[usize] {
        match &self.value {
            Ok(v) => v.shape(),
            Err(_) => &[],
        }
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.shape().iter().product()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match &self.value {
            Ok(v) => v.dtype(),
            Err(_) => DType::F64,
        }
    }

    /// The data as an `ArrayD<T>`, with no trace. `Err` when `T` is not the dtype, or when this
    /// array carries an error.
    ///
    /// ```
    /// use cranegrad::prelude::*;
    /// let x = DlArray::scalar(2.5);
    /// assert_eq!(x.extractdata::<f64>().unwrap()[[]], 2.5);
    /// assert!(x.extractdata::<f32>().is_err());
    /// ```
    pub fn extractdata<T: Element>(&self) -> Result<ArrayD<T>> {
        let d = self.data()?;
        T::view(d).cloned().ok_or(Error::WrongType {
            op: "extractdata".into(),
            requested: T::DTYPE.to_string(),
            actual: d.dtype().to_string(),
        })
    }

    /// The single element. `Err` when `numel() != 1`, when `T` is not the dtype, or when this
    /// array carries an error.
    pub fn to_scalar<T: Element>(&self) -> Result<T> {
        let d = self.data()?;
        let a = T::view(d).ok_or(Error::WrongType {
            op: "to_scalar".into(),
            requested: T::DTYPE.to_string(),
            actual: d.dtype().to_string(),
        })?;
        if a.len() != 1 {
            return Err(Error::argument(
                "to_scalar",
                format!("the array has {} elements (shape {:?}); index it with at(i) first", a.len(), a.shape()),
            ));
        }
        a.iter().next().copied().ok_or_else(|| Error::argument("to_scalar", "empty array"))
    }
}

impl<T: Element, D: Dimension> From<Array<T, D>> for DlArray {
    #[track_caller]
    fn from(a: Array<T, D>) -> Self {
        DlArray::from_data_traced(Data::new(a.into_dyn()))
    }
}

impl From<Data> for DlArray {
    #[track_caller]
    fn from(d: Data) -> Self {
        DlArray::from_data_traced(d)
    }
}

impl fmt::Display for DlArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.data() {
            Ok(d) => write!(f, "{d}"),
            Err(e) => write!(f, "  dlarray carrying an error: {e}"),
        }
    }
}

impl fmt::Debug for DlArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Ok(v) => write!(f, "DlArray({} {:?}, traced: {})", v.dtype(), v.shape(), self.node.is_some()),
            Err(e) => write!(f, "DlArray(error: {e})"),
        }
    }
}
