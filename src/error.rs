//! The crate's error type. It depends on nothing else in the crate: what it reports (dtypes,
//! origins) comes in formatted.

use std::fmt::Display;

/// The crate's result alias; `E` defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong across the public API. Each message says what happened and,
/// where there is one, what to do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// An operation got arrays whose shapes do not fit together.
    #[error("{op}: incompatible shapes {shapes}: {detail}")]
    Shape {
        /// The operation, as named in the IR, followed by `at FILE:LINE` (the user's call) when
        /// that is known.
        op: String,
        /// The input shapes, formatted.
        shapes: String,
        /// What rule the shapes broke.
        detail: String,
    },
    /// An operation got an element type it does not support.
    #[error("{op}: unsupported element type {dtypes}: {detail}")]
    DType {
        /// The operation, as named in the IR, followed by `at FILE:LINE` (the user's call) when
        /// that is known.
        op: String,
        /// The input dtypes, formatted.
        dtypes: String,
        /// What rule the dtypes broke.
        detail: String,
    },
    /// A call was made with an argument outside its domain (an index out of range, an empty
    /// axis list where one is required, ...).
    #[error("{op}: {detail}")]
    Argument {
        /// The call that refused the argument, followed by `at FILE:LINE` (the user's call) when
        /// that is known.
        op: String,
        /// Why.
        detail: String,
    },
    /// `dlgradient` was used in a way its contract rules out.
    #[error("dlgradient: {0}")]
    Gradient(String),
    /// A part of the trace that this gradient needs was released by an earlier `dlgradient`.
    #[error(
        "dlgradient: the trace this gradient needs was released by an earlier dlgradient call; \
         pass GradOptions {{ retain_data: true, .. }} to that earlier call to keep it"
    )]
    Released,
    /// A value was read as a type it does not have.
    #[error("{op}: the array holds {actual}, not {requested}")]
    WrongType {
        /// The accessor.
        op: String,
        /// The name of the dtype asked for (`"f32"`, ...).
        requested: String,
        /// The name of the dtype the array holds.
        actual: String,
    },
    /// Native code generation or execution failed.
    #[error("jit: {0}")]
    Jit(String),
    /// The user's function panicked while it was being traced or evaluated.
    #[error("the traced function panicked: {0}")]
    Panicked(String),
    /// Reading or writing a file failed.
    #[error("{0}")]
    Io(String),
    /// An error a user closure returned ([`Error::msg`]).
    #[error("{0}")]
    Message(String),
    /// An external function failed: its `Err` or its panic, with the function's name and the
    /// line of its call.
    #[error("external function {function}: {cause}")]
    External {
        /// The function's name, followed by `at FILE:LINE` (the call).
        function: String,
        /// What it returned or panicked with.
        cause: String,
    },
}

impl Error {
    /// A shape error for `op` with the given input shapes.
    pub(crate) fn shape(op: impl Into<String>, shapes: &[&[usize]], detail: impl Into<String>) -> Self {
        let shapes = shapes.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(" and ");
        Error::Shape { op: op.into(), shapes, detail: detail.into() }
    }

    /// A dtype error for `op` with the given input dtypes.
    pub(crate) fn dtype(op: impl Into<String>, dtypes: &[impl Display], detail: impl Into<String>) -> Self {
        let dtypes = dtypes.iter().map(|d| format!("{d}")).collect::<Vec<_>>().join(" and ");
        Error::DType { op: op.into(), dtypes, detail: detail.into() }
    }

    /// The error with `origin` (the user's call) after the op's name, for the errors that
    /// name an op: `add at src/model.rs:42: incompatible shapes [3] and [2]: ...`. An error
    /// that already names a place is unchanged.
    pub(crate) fn at(self, origin: impl Display) -> Self {
        let place = |op: String| if op.contains(" at ") { op } else { format!("{op} at {origin}") };
        match self {
            Error::Shape { op, shapes, detail } => Error::Shape { op: place(op), shapes, detail },
            Error::DType { op, dtypes, detail } => Error::DType { op: place(op), dtypes, detail },
            Error::Argument { op, detail } => Error::Argument { op: place(op), detail },
            other => other,
        }
    }

    /// The error a user closure returns (an external function's forward, a derivative rule):
    /// `Err(Error::msg("the solver did not converge"))`.
    pub fn msg(text: impl Into<String>) -> Self {
        Error::Message(text.into())
    }

    /// An argument error for `op`.
    pub(crate) fn argument(op: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Argument { op: op.into(), detail: detail.into() }
    }
}
