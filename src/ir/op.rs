//! The primitive set: one enum. Everything else is a composition of these.
//!
//! A primitive lives in exactly four places: its variant and type rule here and in
//! `infer.rs`, its kernel in `interp/`, its VJP rule in `autodiff/vjp.rs`, and its lowering in
//! `jit/`. Elementwise binary primitives broadcast their operands numpy-style; their dtypes must
//! already agree (the ops layer inserts `cast`).

use crate::array::{DType, Data};
use std::fmt;
use std::sync::Arc;

/// Elementwise functions of one argument.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`.
    Neg,
    /// `e^x`.
    Exp,
    /// `ln x` (principal branch for complex).
    Log,
    /// `sin x`.
    Sin,
    /// `cos x`.
    Cos,
    /// `tanh x`.
    Tanh,
    /// `sqrt x`.
    Sqrt,
    /// `|x|`; real result for complex input.
    Abs,
    /// `x / |x|`, 0 at 0.
    Sign,
    /// `1 / x`.
    Recip,
    /// Real part; real result.
    Real,
    /// Imaginary part; real result.
    Imag,
    /// Complex conjugate.
    Conj,
    /// Error function (real only).
    Erf,
    /// Round toward -inf (real only; zero gradient).
    Floor,
    /// Round toward +inf (real only; zero gradient).
    Ceil,
    /// Round half away from zero, as MATLAB's `round` (real only; zero gradient).
    Round,
    /// `ln(1 + x)`, accurate near 0.
    Log1p,
    /// `e^x - 1`, accurate near 0.
    Expm1,
    /// Inverse sine.
    Asin,
    /// Inverse cosine.
    Acos,
    /// Inverse tangent.
    Atan,
    /// Inverse hyperbolic sine.
    Asinh,
    /// Inverse hyperbolic cosine.
    Acosh,
    /// Inverse hyperbolic tangent.
    Atanh,
}

impl UnaryOp {
    /// Every unary primitive.
    pub const ALL: [UnaryOp; 25] = [
        UnaryOp::Neg,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sin,
        UnaryOp::Cos,
        UnaryOp::Tanh,
        UnaryOp::Sqrt,
        UnaryOp::Abs,
        UnaryOp::Sign,
        UnaryOp::Recip,
        UnaryOp::Real,
        UnaryOp::Imag,
        UnaryOp::Conj,
        UnaryOp::Erf,
        UnaryOp::Floor,
        UnaryOp::Ceil,
        UnaryOp::Round,
        UnaryOp::Log1p,
        UnaryOp::Expm1,
        UnaryOp::Asin,
        UnaryOp::Acos,
        UnaryOp::Atan,
        UnaryOp::Asinh,
        UnaryOp::Acosh,
        UnaryOp::Atanh,
    ];

    /// The name used in the IR.
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Abs => "abs",
            UnaryOp::Sign => "sign",
            UnaryOp::Recip => "recip",
            UnaryOp::Real => "real",
            UnaryOp::Imag => "imag",
            UnaryOp::Conj => "conj",
            UnaryOp::Erf => "erf",
            UnaryOp::Floor => "floor",
            UnaryOp::Ceil => "ceil",
            UnaryOp::Round => "round",
            UnaryOp::Log1p => "log1p",
            UnaryOp::Expm1 => "expm1",
            UnaryOp::Asin => "asin",
            UnaryOp::Acos => "acos",
            UnaryOp::Atan => "atan",
            UnaryOp::Asinh => "asinh",
            UnaryOp::Acosh => "acosh",
            UnaryOp::Atanh => "atanh",
        }
    }

    /// True when the result of a complex input is real (`abs`, `real`, `imag`).
    pub fn to_real(self) -> bool {
        matches!(self, UnaryOp::Abs | UnaryOp::Real | UnaryOp::Imag)
    }

    /// True when the op is defined on real inputs only.
    pub fn real_only(self) -> bool {
        matches!(self, UnaryOp::Erf | UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round)
    }
}

/// Elementwise functions of two arguments (numpy broadcasting, equal dtypes).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// `a ^ b`.
    Pow,
    /// The larger, ignoring NaN (MATLAB); real only.
    Max,
    /// The smaller, ignoring NaN (MATLAB); real only.
    Min,
    /// `a + i b` from two reals.
    Complex,
    /// Four-quadrant inverse tangent of `a / b` (real only).
    Atan2,
}

impl BinaryOp {
    /// Every binary primitive.
    pub const ALL: [BinaryOp; 9] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Pow,
        BinaryOp::Max,
        BinaryOp::Min,
        BinaryOp::Complex,
        BinaryOp::Atan2,
    ];

    /// The name used in the IR.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Max => "max",
            BinaryOp::Min => "min",
            BinaryOp::Complex => "complex",
            BinaryOp::Atan2 => "atan2",
        }
    }

    /// True when the op is defined on real inputs only.
    pub fn real_only(self) -> bool {
        matches!(self, BinaryOp::Max | BinaryOp::Min | BinaryOp::Complex | BinaryOp::Atan2)
    }
}

/// Elementwise comparisons; the result is logical.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `a < b`.
    Lt,
    /// `a <= b`.
    Le,
    /// `a > b`.
    Gt,
    /// `a >= b`.
    Ge,
    /// `a == b`.
    Eq,
    /// `a != b`.
    Ne,
}

impl CmpOp {
    /// Every comparison.
    pub const ALL: [CmpOp; 6] = [CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge, CmpOp::Eq, CmpOp::Ne];

    /// The name used in the IR.
    pub fn name(self) -> &'static str {
        match self {
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
        }
    }

    /// True for the ordering comparisons (real only).
    pub fn ordering(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

/// One axis of a strided slice: element `i` of the result is element `start + i * step` of the
/// input, for `i` in `0..len`. A negative step walks backwards from `start`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct AxisSlice {
    /// First input index taken.
    pub start: usize,
    /// Number of elements taken.
    pub len: usize,
    /// Distance between taken elements (never 0).
    pub step: isize,
}

impl AxisSlice {
    /// The whole axis of length `n`.
    pub fn full(n: usize) -> Self {
        AxisSlice { start: 0, len: n, step: 1 }
    }

    /// The input index of result element `i`.
    pub fn index(&self, i: usize) -> usize {
        (self.start as isize + i as isize * self.step) as usize
    }

    /// True when this takes the whole axis of length `n` in order.
    pub fn is_full(&self, n: usize) -> bool {
        self.start == 0 && self.len == n && self.step == 1
    }
}

/// A primitive operation: a node of the IR.
#[derive(Clone, Debug)]
pub enum Op {
    /// The `k`-th input of the graph.
    Input(usize),
    /// A constant array.
    Constant(Arc<Data>),
    /// An elementwise function of one argument.
    Unary(UnaryOp),
    /// An elementwise function of two arguments.
    Binary(BinaryOp),
    /// An elementwise comparison.
    Compare(CmpOp),
    /// `select(cond, a, b)`: `a` where `cond`, else `b` (all three broadcast).
    Select,
    /// Element type conversion.
    Cast(DType),
    /// numpy broadcast to a shape.
    Broadcast(Vec<usize>),
    /// Same elements, new shape (row-major).
    Reshape(Vec<usize>),
    /// Axis permutation: result axis `i` is input axis `axes[i]`.
    Permute(Vec<usize>),
    /// Strided slice, one entry per axis.
    Slice(Vec<AxisSlice>),
    /// The transpose of `Slice`: a zero array of `shape` with the input placed at the positions
    /// the slice would take.
    Pad {
        /// The result shape.
        shape: Vec<usize>,
        /// Where the input goes, one entry per axis.
        slices: Vec<AxisSlice>,
    },
    /// Concatenation of the inputs along an axis.
    Concat(usize),
    /// Sum over the given axes (removed).
    ReduceSum(Vec<usize>),
    /// Maximum over the given axes (removed); real only.
    ReduceMax(Vec<usize>),
    /// Minimum over the given axes (removed); real only.
    ReduceMin(Vec<usize>),
    /// Matrix product of the last two axes, batched over equal leading axes.
    MatMul,
    /// One output of a call to an accelerated function (eager traces only; see `call.rs`).
    Call(super::Call),
}

impl Op {
    /// The name used in the IR.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input(_) => "input",
            Op::Constant(_) => "constant",
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Compare(c) => c.name(),
            Op::Select => "select",
            Op::Cast(_) => "cast",
            Op::Broadcast(_) => "broadcast",
            Op::Reshape(_) => "reshape",
            Op::Permute(_) => "permute",
            Op::Slice(_) => "slice",
            Op::Pad { .. } => "pad",
            Op::Concat(_) => "concat",
            Op::ReduceSum(_) => "reduce_sum",
            Op::ReduceMax(_) => "reduce_max",
            Op::ReduceMin(_) => "reduce_min",
            Op::MatMul => "matmul",
            Op::Call(_) => "call",
        }
    }

    /// True for elementwise primitives (unary, binary, compare, select, cast).
    pub fn is_elementwise(&self) -> bool {
        matches!(self, Op::Unary(_) | Op::Binary(_) | Op::Compare(_) | Op::Select | Op::Cast(_))
    }

    /// The attributes printed after the operands in the IR text (empty when none).
    pub fn attributes(&self) -> String {
        fn slices(s: &[AxisSlice]) -> String {
            let parts: Vec<String> = s
                .iter()
                .map(|a| {
                    if a.step == 1 {
                        format!("{}:{}", a.start, a.start + a.len)
                    } else {
                        format!("{}:+{}*{}", a.start, a.len, a.step)
                    }
                })
                .collect();
            format!("[{}]", parts.join(", "))
        }
        match self {
            Op::Input(k) => format!("{k}"),
            Op::Cast(d) => format!("{d}"),
            Op::Broadcast(s) | Op::Reshape(s) => format!("{s:?}"),
            Op::Permute(a) => format!("{a:?}"),
            Op::ReduceSum(a) | Op::ReduceMax(a) | Op::ReduceMin(a) => format!("axes={a:?}"),
            Op::Concat(axis) => format!("axis={axis}"),
            Op::Slice(s) => slices(s),
            Op::Pad { shape, slices: s } => format!("{} into {shape:?}", slices(s)),
            Op::Call(c) => format!("{}#{}", c.target.name(), c.output),
            Op::Constant(_) | Op::Unary(_) | Op::Binary(_) | Op::Compare(_) | Op::Select | Op::MatMul => String::new(),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
