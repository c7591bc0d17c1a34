//! The crate's error type.

/// The crate's result alias; `E` defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong across the public API. Each message says what happened and,
/// where there is one, what to do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// An operation got arrays whose shapes do not fit together.
    #[error("{op}: incompatible shapes {shapes}: {detail}")]
    Shape {
        /// The operation, as named in the IR.
        op: String,
        /// The input shapes, formatted.
        shapes: String,
        /// What rule the shapes broke.
        detail: String,
    },
    /// An operation got an element type it does not support.
    #[error("{op}: unsupported element type {dtypes}: {detail}")]
    DType {
        /// The operation, as named in the IR.
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
        /// The call that refused the argument.
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
    #[error("{op}: the array holds {actual:?}, not {requested:?}")]
    WrongType {
        /// The accessor.
        op: String,
        /// The dtype asked for.
        requested: crate::DType,
        /// The dtype the array holds.
        actual: crate::DType,
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
}

impl Error {
    /// A shape error for `op` with the given input shapes.
    pub(crate) fn shape(op: impl Into<String>, shapes: &[&[usize]], detail: impl Into<String>) -> Self {
        let shapes = shapes.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(" and ");
        Error::Shape { op: op.into(), shapes, detail: detail.into() }
    }

    /// A dtype error for `op` with the given input dtypes.
    pub(crate) fn dtype(op: impl Into<String>, dtypes: &[crate::DType], detail: impl Into<String>) -> Self {
        let dtypes = dtypes.iter().map(|d| format!("{d}")).collect::<Vec<_>>().join(" and ");
        Error::DType { op: op.into(), dtypes, detail: detail.into() }
    }

    /// An argument error for `op`.
    pub(crate) fn argument(op: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Argument { op: op.into(), detail: detail.into() }
    }
}
