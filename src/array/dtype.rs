//! Element types and MATLAB's type promotion.

use std::fmt;

/// The element type of a [`DlArray`](crate::DlArray).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum DType {
    /// Logical (`bool`).
    Bool,
    /// Single precision (`f32`).
    F32,
    /// Double precision (`f64`).
    F64,
    /// Single-precision complex (`Complex<f32>`).
    C64,
    /// Double-precision complex (`Complex<f64>`).
    C128,
}

impl DType {
    /// Every dtype, in declaration order.
    pub const ALL: [DType; 5] = [DType::Bool, DType::F32, DType::F64, DType::C64, DType::C128];

    /// True for `C64` and `C128`.
    pub fn is_complex(self) -> bool {
        matches!(self, DType::C64 | DType::C128)
    }

    /// True for the four numeric types.
    pub fn is_float(self) -> bool {
        self != DType::Bool
    }

    /// True for `F32` and `C64`.
    pub fn is_single(self) -> bool {
        matches!(self, DType::F32 | DType::C64)
    }

    /// The real type of the same precision (`C64 -> F32`, `C128 -> F64`; `Bool -> F64`).
    pub fn real(self) -> DType {
        match self {
            DType::F32 | DType::C64 => DType::F32,
            DType::F64 | DType::C128 | DType::Bool => DType::F64,
        }
    }

    /// The complex type of the same precision (`F32 -> C64`, `F64 -> C128`; `Bool -> C128`).
    pub fn complex(self) -> DType {
        match self {
            DType::F32 | DType::C64 => DType::C64,
            DType::F64 | DType::C128 | DType::Bool => DType::C128,
        }
    }

    /// The type an arithmetic function of this type computes in: `Bool` becomes `F64`.
    pub fn arithmetic(self) -> DType {
        if self == DType::Bool {
            DType::F64
        } else {
            self
        }
    }

    /// Size of one element in bytes.
    pub fn size_of(self) -> usize {
        match self {
            DType::Bool => 1,
            DType::F32 => 4,
            DType::F64 | DType::C64 => 8,
            DType::C128 => 16,
        }
    }

    /// The short name used in the IR (`bool`, `f32`, `f64`, `c64`, `c128`).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::C64 => "c64",
            DType::C128 => "c128",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// MATLAB's rule for the result type of a binary arithmetic operation: single wins over double,
/// logical takes the other side's type (two logicals give double), and real with complex gives
/// complex of the winning precision.
pub fn promote(a: DType, b: DType) -> DType {
    if a == b {
        return a.arithmetic();
    }
    let complex = a.is_complex() || b.is_complex();
    let single = a.is_single() || b.is_single();
    match (complex, single) {
        (false, false) => DType::F64,
        (false, true) => DType::F32,
        (true, false) => DType::C128,
        (true, true) => DType::C64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matlab_promotion() {
        use DType::*;
        assert_eq!(promote(F32, F64), F32);
        assert_eq!(promote(Bool, F32), F32);
        assert_eq!(promote(Bool, Bool), F64);
        assert_eq!(promote(F64, C128), C128);
        assert_eq!(promote(F64, C64), C64);
        assert_eq!(promote(F32, C128), C64);
        assert_eq!(promote(Bool, C64), C64);
        assert_eq!(promote(C128, C128), C128);
    }
}
