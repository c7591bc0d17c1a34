//! The primitive set: one enum. Everything else is a composition of these.
//!
//! A primitive lives in exactly four places: its declaration (the elementwise ones as one row
//! of `primitives.rs`, the structural ones as a variant here with their type rule in
//! `infer.rs`), its kernel in `interp/`, its VJP rule in `autodiff/vjp.rs`, and its lowering in
//! `jit/`. Elementwise binary primitives broadcast their operands numpy-style; their dtypes must
//! already agree (the ops layer inserts `cast`).

use crate::array::{DType, Data};
use std::fmt;
use std::sync::Arc;

use super::kernels::{BinaryVisitor, CompareVisitor, UnaryVisitor};
use super::primitives::{binary_primitives, compare_primitives, unary_primitives, Lowering};

/// Generates `enum $subset` of the rows whose lowering is `Inline` (from `$v $lowering;`
/// pairs) and `$op::$getter`, the conversion: the JIT's inline lowering matches on the subset
/// exhaustively, so a row declared `Inline` without a lowering does not compile.
macro_rules! inline_subset {
    ($want:ident $subset:ident, $op:ident, $getter:ident, [$($acc:ident)*];) => {
        /// The primitives of one family whose JIT lowering, for one kind of operand, is the one
        /// this subset is named for.
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        pub(crate) enum $subset {
            $($acc,)*
        }

        impl $op {
            /// This op as one of the subset, if it is.
            pub(crate) fn $getter(self) -> Option<$subset> {
                match self {
                    $($op::$acc => Some($subset::$acc),)*
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        }
    };
    (Inline $subset:ident, $op:ident, $getter:ident, [$($acc:ident)*]; $v:ident Inline; $($rest:tt)*) => {
        inline_subset!(Inline $subset, $op, $getter, [$($acc)* $v]; $($rest)*);
    };
    (Polynomial $subset:ident, $op:ident, $getter:ident, [$($acc:ident)*]; $v:ident Polynomial; $($rest:tt)*) => {
        inline_subset!(Polynomial $subset, $op, $getter, [$($acc)* $v]; $($rest)*);
    };
    ($want:ident $subset:ident, $op:ident, $getter:ident, [$($acc:ident)*]; $v:ident $other:ident; $($rest:tt)*) => {
        inline_subset!($want $subset, $op, $getter, [$($acc)*]; $($rest)*);
    };
}

/// The pattern of the ops that are always materialized in a buffer, never fused into their
/// consumer's loop: inputs, constants, and the kernels of their own (reductions, matrix
/// products, factorizations and solves, calls). A pattern, so matches that use it stay exhaustive; `Op::is_own_kernel`
/// names the same kernels as a method.
macro_rules! materialized_op {
    () => {
        $crate::ir::Op::Input(_)
            | $crate::ir::Op::Constant(_)
            | $crate::ir::Op::ReduceSum(_)
            | $crate::ir::Op::ReduceMax(_)
            | $crate::ir::Op::ReduceMin(_)
            | $crate::ir::Op::MatMul
            | $crate::ir::Op::Linalg(_)
            | $crate::ir::Op::Call(_)
    };
}
pub(crate) use materialized_op;

/// One primitive's kernel type (a zero-sized type implementing the trait of its kind, calling
/// its scalar kernel), and the visitor call that hands it over.
macro_rules! kernel_type {
    (unary same $v:ident $k:ident) => {
        #[doc = concat!("The kernel of `", stringify!($v), "`.")]
        pub(crate) struct $v;
        impl SameUnary for $v {
            #[inline(always)]
            fn apply<T: Num>(x: T) -> T {
                Num::$k(x)
            }
        }
    };
    (unary to_real $v:ident $k:ident) => {
        #[doc = concat!("The kernel of `", stringify!($v), "`.")]
        pub(crate) struct $v;
        impl ToRealUnary for $v {
            #[inline(always)]
            fn apply<T: Num>(x: T) -> T::Real {
                Num::$k(x)
            }
        }
    };
    (unary real $v:ident $k:ident) => {
        #[doc = concat!("The kernel of `", stringify!($v), "`.")]
        pub(crate) struct $v;
        impl RealUnary for $v {
            #[inline(always)]
            fn apply<T: RealNum>(x: T) -> T {
                RealNum::$k(x)
            }
        }
    };
    (binary same $v:ident $k:ident) => {
        #[doc = concat!("The kernel of `", stringify!($v), "`.")]
        pub(crate) struct $v;
        impl SameBinary for $v {
            #[inline(always)]
            fn apply<T: Num>(x: T, y: T) -> T {
                Num::$k(x, y)
            }
        }
    };
    (binary real $v:ident $k:ident) => {
        #[doc = concat!("The kernel of `", stringify!($v), "`.")]
        pub(crate) struct $v;
        impl RealBinary for $v {
            #[inline(always)]
            fn apply<T: RealNum>(x: T, y: T) -> T {
                RealNum::$k(x, y)
            }
        }
    };
    (binary to_complex $v:ident $k:ident) => {
        #[doc = concat!("The kernel of `", stringify!($v), "`.")]
        pub(crate) struct $v;
        impl ToComplexBinary for $v {
            #[inline(always)]
            fn apply<T: RealNum>(x: T, y: T) -> T::Complex {
                <T as RealNum>::$k(x, y)
            }
        }
    };
    (compare ordering $v:ident $k:ident) => {
        #[doc = concat!("The kernel of `", stringify!($v), "`.")]
        pub(crate) struct $v;
        impl OrderingCompare for $v {
            #[inline(always)]
            fn apply<T: PartialOrd>(x: &T, y: &T) -> bool {
                PartialOrd::$k(x, y)
            }
        }
    };
    (compare equality $v:ident $k:ident) => {
        #[doc = concat!("The kernel of `", stringify!($v), "`.")]
        pub(crate) struct $v;
        impl EqualityCompare for $v {
            #[inline(always)]
            fn apply<T: PartialEq>(x: &T, y: &T) -> bool {
                PartialEq::$k(x, y)
            }
        }
    };
}

/// Generates an elementwise op enum (`$op`) and its tables from the rows of a primitive list:
/// the one place that reads the rows of `unary_primitives` and `binary_primitives`. `$family`
/// (`unary` or `binary`) picks the kernel traits; the other arguments name what is generated.
macro_rules! define_elementwise_op {
    (
        $family:ident $op:ident $visitor:ident $kernels:ident [$($kernel_trait:ident),*]
        ($inline_real:ident, $inline_complex:ident, $poly_real:ident) $enum_doc:literal;
        $($(#[$doc:meta])* $v:ident $name:literal $kind:ident($kernel:ident) real: $rl:ident, complex: $cl:ident;)*
    ) => {
        #[doc = $enum_doc]
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $op {
            $($(#[$doc])* $v,)*
        }

        impl $op {
            /// Every primitive of the family, in declaration order.
            pub const ALL: [$op; [$(stringify!($v)),*].len()] = [$($op::$v),*];

            /// The name used in the IR.
            pub fn name(self) -> &'static str {
                match self {
                    $($op::$v => $name,)*
                }
            }

            /// True when the op is defined on real inputs only.
            pub fn real_only(self) -> bool {
                match self {
                    $($op::$v => matches!(stringify!($kind).as_bytes(), b"real" | b"to_complex"),)*
                }
            }

            /// True when the result of a complex input is real (unary `abs`, `real`, `imag`).
            pub fn to_real(self) -> bool {
                match self {
                    $($op::$v => stringify!($kind) == "to_real",)*
                }
            }

            /// How the JIT computes the op on real or on complex operands.
            pub fn lowering(self, complex: bool) -> Lowering {
                match self {
                    $($op::$v => if complex { Lowering::$cl } else { Lowering::$rl },)*
                }
            }

            /// Hands this op's kernel type to `v` (by its kind).
            pub(crate) fn visit<V: $visitor>(self, v: V) -> V::Output {
                match self {
                    $($op::$v => v.$kind::<$kernels::$v>(),)*
                }
            }
        }

        inline_subset!(Inline $inline_real, $op, inline_real, []; $($v $rl;)*);
        inline_subset!(Inline $inline_complex, $op, inline_complex, []; $($v $cl;)*);
        inline_subset!(Polynomial $poly_real, $op, polynomial_real, []; $($v $rl;)*);

        /// The kernel types of the family's primitives.
        pub(crate) mod $kernels {
            #[allow(unused_imports)]
            use crate::array::{Num, RealNum};
            use crate::ir::kernels::{$($kernel_trait),*};
            $(kernel_type!($family $kind $v $kernel);)*
        }
    };
}

/// `UnaryOp` from the rows of [`unary_primitives`].
macro_rules! define_unary_op {
    ($($rows:tt)*) => {
        define_elementwise_op! {
            unary UnaryOp UnaryVisitor unary_kernels [RealUnary, SameUnary, ToRealUnary]
            (InlineUnary, InlineComplexUnary, PolynomialUnary) "Elementwise functions of one argument (declared in `ir/primitives.rs`).";
            $($rows)*
        }
    };
}

unary_primitives!(define_unary_op);

/// `BinaryOp` from the rows of [`binary_primitives`].
macro_rules! define_binary_op {
    ($($rows:tt)*) => {
        define_elementwise_op! {
            binary BinaryOp BinaryVisitor binary_kernels [RealBinary, SameBinary, ToComplexBinary]
            (InlineBinary, InlineComplexBinary, PolynomialBinary)
            "Elementwise functions of two arguments (numpy broadcasting, equal dtypes; declared in `ir/primitives.rs`).";
            $($rows)*
        }
    };
}

binary_primitives!(define_binary_op);

/// Generates `CmpOp` from the rows of [`compare_primitives`].
macro_rules! define_compare_op {
    ($($(#[$doc:meta])* $v:ident $name:literal $kind:ident($kernel:ident);)*) => {
        /// Elementwise comparisons; the result is logical (declared in `ir/primitives.rs`).
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum CmpOp {
            $($(#[$doc])* $v,)*
        }

        impl CmpOp {
            /// Every comparison, in declaration order.
            pub const ALL: [CmpOp; [$(stringify!($v)),*].len()] = [$(CmpOp::$v),*];

            /// The name used in the IR.
            pub fn name(self) -> &'static str {
                match self {
                    $(CmpOp::$v => $name,)*
                }
            }

            /// True for the ordering comparisons (real only).
            pub fn ordering(self) -> bool {
                match self {
                    $(CmpOp::$v => stringify!($kind) == "ordering",)*
                }
            }

            /// Hands this comparison's kernel type to `v` (by its kind).
            pub(crate) fn visit<V: CompareVisitor>(self, v: V) -> V::Output {
                match self {
                    $(CmpOp::$v => v.$kind::<compare_kernels::$v>(),)*
                }
            }
        }

        /// The kernel types of the comparisons.
        pub(crate) mod compare_kernels {
            use crate::ir::kernels::{EqualityCompare, OrderingCompare};
            $(kernel_type!(compare $kind $v $kernel);)*
        }
    };
}

compare_primitives!(define_compare_op);

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

/// A primitive operation: a node of the IR. Equality and hashing are structural (constants
/// bitwise, calls by target identity), which is what common-subexpression elimination merges
/// on, after [`Op::canonical`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
    /// A factorization or solve of the last two axes, batched over equal leading axes
    /// (`linalg.rs`): a kernel of its own, computed by the interpreter's routine in compiled
    /// code too.
    Linalg(super::LinalgOp),
    /// One output of a call to an accelerated function (eager traces only; see `call.rs`).
    Call(super::Call),
    /// One output of a function with a derivative rule of the user's (`custom.rs`): the value
    /// of operand 0.
    CustomVjp(super::CustomVjp),
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
            Op::Linalg(l) => l.name(),
            Op::Call(_) => "call",
            Op::CustomVjp(_) => "custom_vjp",
        }
    }

    /// The same op in a canonical form: the axes of a reduction sorted (a sum does not depend
    /// on their order), so equal computations compare equal.
    pub fn canonical(&self) -> Op {
        let sorted = |axes: &[usize]| {
            let mut v = axes.to_vec();
            v.sort_unstable();
            v
        };
        match self {
            Op::ReduceSum(a) => Op::ReduceSum(sorted(a)),
            Op::ReduceMax(a) => Op::ReduceMax(sorted(a)),
            Op::ReduceMin(a) => Op::ReduceMin(sorted(a)),
            op => op.clone(),
        }
    }

    /// True when swapping the two operands gives the same bits (NaN payloads aside): IEEE
    /// addition and multiplication commute exactly, and so do complex `+` and `*` (each
    /// component is a commutative sum of commutative products); `==` and `!=` too. Not
    /// `max`/`min` (`max(-0, +0)` may return either zero) nor anything else.
    pub fn commutes(&self) -> bool {
        matches!(self, Op::Binary(BinaryOp::Add | BinaryOp::Mul) | Op::Compare(CmpOp::Eq | CmpOp::Ne))
    }

    /// True for elementwise primitives (unary, binary, compare, select, cast).
    pub fn is_elementwise(&self) -> bool {
        matches!(self, Op::Unary(_) | Op::Binary(_) | Op::Compare(_) | Op::Select | Op::Cast(_))
    }

    /// The axes a reduction (`reduce_sum`, `reduce_max`, `reduce_min`) reduces; `None` for every
    /// other op. The one place that names the reductions.
    pub fn reduced_axes(&self) -> Option<&[usize]> {
        match self {
            Op::ReduceSum(a) | Op::ReduceMax(a) | Op::ReduceMin(a) => Some(a),
            _ => None,
        }
    }

    /// True for the reductions (`reduce_sum`, `reduce_max`, `reduce_min`).
    pub fn is_reduction(&self) -> bool {
        self.reduced_axes().is_some()
    }

    /// True for the ops that are kernels of their own whatever consumes them: reductions, matrix
    /// products, factorizations and solves, and calls (compiled code materializes each of them
    /// in a buffer).
    pub fn is_own_kernel(&self) -> bool {
        matches!(self, Op::MatMul | Op::Linalg(_) | Op::Call(_)) || self.is_reduction()
    }

    /// True for the pure layout ops (broadcast, reshape, permute, slice): index arithmetic on
    /// their operand, no arithmetic on elements.
    pub fn is_layout(&self) -> bool {
        matches!(self, Op::Broadcast(_) | Op::Reshape(_) | Op::Permute(_) | Op::Slice(_))
    }

    /// True when compiled code evaluates this elementwise op by a host call per element (a
    /// transcendental without an inline lowering) for operands of which the first is complex
    /// when `complex` is set.
    pub fn calls_host(&self, complex: bool) -> bool {
        match self {
            Op::Unary(u) => u.lowering(complex) == Lowering::Host,
            Op::Binary(b) => b.lowering(complex) == Lowering::Host,
            _ => false,
        }
    }

    /// True when compiled code evaluates this elementwise op by a host call or by an inline
    /// polynomial ([`Lowering::Polynomial`]): tens of instructions an element, priced as a host
    /// call by the planner (a buffer rather than a recomputation per use).
    pub fn is_costly(&self, complex: bool) -> bool {
        match self {
            Op::Unary(u) => matches!(u.lowering(complex), Lowering::Host | Lowering::Polynomial),
            Op::Binary(b) => matches!(b.lowering(complex), Lowering::Host | Lowering::Polynomial),
            _ => false,
        }
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
            Op::CustomVjp(c) => format!("{}#{}", c.name, c.output),
            Op::Linalg(l) => l.attributes(),
            Op::Constant(_) | Op::Unary(_) | Op::Binary(_) | Op::Compare(_) | Op::Select | Op::MatMul => String::new(),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
