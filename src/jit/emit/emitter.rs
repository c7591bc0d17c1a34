//! The kernel emitter: the state shared while one native function is emitted (the graph, its
//! fusion plan, the Cranelift builder, pointers and memoized element values), the element and
//! index types the lowering passes around, constants and branches. Its other methods live with
//! their concern: loop nests (`kernel.rs`), index arithmetic and memory (`index.rs`), the fused
//! expression walk (`expr.rs`), per-op scalar lowering (`lower.rs`).

use super::lanes::Lane;
use crate::array::DType;
use crate::error::{Error, Result};
use crate::ir::{BinaryOp, Graph, NodeId};
use crate::jit::plan::Plan;
use cranelift_codegen::ir::{types, AbiParam, Block, FuncRef, InstBuilder, Signature, StackSlot, Type, Value};
use cranelift_frontend::{FunctionBuilder, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};
use rustc_hash::FxHashMap as HashMap;

/// The value of one element: a real or logical scalar, or a complex pair.
#[derive(Copy, Clone, Debug)]
pub(crate) enum Elem {
    /// A real or logical element.
    Scalar(Value),
    /// A complex element: real and imaginary parts.
    Complex(Value, Value),
}

/// An index into a node's shape: a multi-index, or a row-major linear index, each with how it
/// moves along the innermost loop (its [`Lane`]). In vector mode the values are those of lane 0.
#[derive(Clone, Debug)]
pub(crate) enum Index {
    /// One index per axis.
    Multi(Vec<Value>, Lane),
    /// The row-major linear index.
    Linear(Value, Lane),
}

impl Index {
    /// How this index moves with the innermost loop variable.
    pub(crate) fn lane(&self) -> Lane {
        match self {
            Index::Multi(_, l) | Index::Linear(_, l) => *l,
        }
    }
}

/// The combining operation of a reduction kernel.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reduction {
    /// `reduce_sum`.
    Sum,
    /// `reduce_max`.
    Max,
    /// `reduce_min`.
    Min,
}

impl Reduction {
    /// The binary primitive that folds one more element into the accumulator.
    pub(crate) fn combine(self) -> BinaryOp {
        match self {
            Reduction::Sum => BinaryOp::Add,
            Reduction::Max => BinaryOp::Max,
            Reduction::Min => BinaryOp::Min,
        }
    }
}

/// How a maximum or minimum folds one more element in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fold {
    /// `RealNum::maximum` / `minimum`, from NaN.
    Exact,
    /// The processor's comparison (`extremum.rs`), from the infinity of the
    /// other side.
    Quick,
}

impl Fold {
    /// The accumulators' first value.
    pub(crate) fn start(self, kind: Reduction) -> f64 {
        match (self, kind) {
            (Fold::Exact, _) => f64::NAN,
            (Fold::Quick, Reduction::Max) => f64::NEG_INFINITY,
            (Fold::Quick, _) => f64::INFINITY,
        }
    }
}

/// A JIT error with the given message.
pub(crate) fn jerr(e: impl std::fmt::Display) -> Error {
    Error::Jit(e.to_string())
}

/// The CLIF type of one (real part of an) element.
pub(crate) fn elem_ty(d: DType) -> Type {
    match d {
        DType::Bool => types::I8,
        DType::F32 | DType::C64 => types::F32,
        DType::F64 | DType::C128 => types::F64,
    }
}

/// The kernel signature: `fn(bufs: *const *mut u8)`, `bufs` the function's pointer table.
pub(crate) fn kernel_signature(module: &JITModule) -> Signature {
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(module.target_config().pointer_type()));
    sig
}

/// The chunk function signature: `fn(bufs: *const *mut u8, lo: u64, hi: u64, part: *mut u8)`.
pub(crate) fn chunk_signature(module: &JITModule) -> Signature {
    let mut sig = kernel_signature(module);
    let ptr = module.target_config().pointer_type();
    sig.params.extend([AbiParam::new(types::I64), AbiParam::new(types::I64), AbiParam::new(ptr)]);
    sig
}

/// A kernel's first version's way out to its second (`versions.rs`).
pub(crate) struct RareLanes {
    /// The second version's first block.
    pub(crate) again: Block,
    /// Whether any rare path was met.
    pub(crate) met: bool,
}

/// Emits one native function: a run of kernels, each a loop nest over its output whose body
/// evaluates the node's fused expression at one index.
pub(crate) struct KernelEmitter<'a, 'b> {
    pub(crate) g: &'a Graph,
    pub(crate) plan: &'a Plan,
    pub(crate) b: FunctionBuilder<'b>,
    pub(crate) module: &'a mut JITModule,
    pub(crate) imports: &'a mut HashMap<String, FuncId>,
    pub(crate) ptr_ty: Type,
    /// The loaded base pointer of each buffer slot the current kernel touches.
    pub(crate) ptrs: HashMap<usize, Value>,
    /// The function's own pointer table: entry `i` is the pointer of slot `table[i]`. Slots
    /// are numbered in the order the function first reads them, so the kernels of two time
    /// steps of an unrolled loop emit the same code (`repeats.rs`).
    pub(crate) table: &'a mut Vec<usize>,
    /// Host functions declared in this function.
    pub(crate) funcs: HashMap<String, FuncRef>,
    /// The stack slot complex host calls write their result to.
    pub(crate) scratch: Option<StackSlot>,
    /// Index values made by [`KernelEmitter::offset`]: the value they add a constant to, and
    /// the constant.
    pub(crate) offsets: HashMap<Value, (Value, i64)>,
    /// How many [`KernelEmitter::branch`]es the code being emitted is inside. A load under a
    /// branch may read a valid address only when its condition holds, so it stays in place;
    /// the others are pure values Cranelift may merge and move (`index.rs`).
    pub(crate) branches: usize,
    /// Element values already computed at the current index (cleared per element).
    pub(crate) memo: HashMap<(NodeId, Vec<Value>), Elem>,
    /// In vector mode, the vector type every element value has (`F64X2`, `F32X4`).
    pub(crate) vec: Option<Type>,
    /// True while a plain elementwise kernel is emitted (no sum in its loop nest): its
    /// innermost loops run on vectors from `vector::MIN_SHORT_VECTOR_LOOP` elements on.
    pub(crate) short_vectors: bool,
    /// The static range `[lo, hi)` of the innermost loop variable being emitted.
    pub(crate) span: (i64, i64),
    /// In a chunk function, the run-time range `[lo, hi)` of the partitioned (outermost) loop,
    /// taken by the first loop emitted.
    pub(crate) range: Option<(Value, Value)>,
    /// While a kernel's first version is emitted, its way out to the second (`versions.rs`).
    pub(crate) rare_lanes: Option<RareLanes>,
    /// The one-element real results this function stores, as variables, and whether their
    /// kernel is complete so that later kernels read the variable (`forward.rs`).
    pub(crate) stored: HashMap<NodeId, (Variable, bool)>,
}

impl<'a, 'b> KernelEmitter<'a, 'b> {
    /// An emitter writing into `b`.
    pub(crate) fn new(
        g: &'a Graph,
        plan: &'a Plan,
        b: FunctionBuilder<'b>,
        module: &'a mut JITModule,
        imports: &'a mut HashMap<String, FuncId>,
        table: &'a mut Vec<usize>,
    ) -> Self {
        let ptr_ty = module.target_config().pointer_type();
        KernelEmitter {
            g,
            plan,
            b,
            module,
            imports,
            ptr_ty,
            ptrs: HashMap::default(),
            table,
            funcs: HashMap::default(),
            scratch: None,
            offsets: HashMap::default(),
            branches: 0,
            memo: HashMap::default(),
            vec: None,
            short_vectors: false,
            span: (0, 0),
            range: None,
            rare_lanes: None,
            stored: HashMap::default(),
        }
    }

    pub(crate) fn fconst(&mut self, d: DType, x: f64) -> Elem {
        let re = self.real_const(elem_ty(d), x);
        if d.is_complex() {
            let im = self.real_const(elem_ty(d), 0.0);
            Elem::Complex(re, im)
        } else {
            Elem::Scalar(re)
        }
    }

    /// A constant of element type `ty`; in vector mode a float constant is splat to every lane.
    pub(crate) fn real_const(&mut self, ty: Type, x: f64) -> Value {
        let c = if ty == types::F32 {
            self.b.ins().f32const(x as f32)
        } else if ty == types::F64 {
            self.b.ins().f64const(x)
        } else {
            return self.b.ins().iconst(ty, (x != 0.0) as i64);
        };
        match self.vec {
            Some(v) => self.b.ins().splat(v, c),
            None => c,
        }
    }

    /// The CLIF type of an element value of `d` in the current mode (vector or scalar).
    pub(crate) fn val_ty(&self, d: DType) -> Type {
        match (self.vec, d) {
            (Some(v), DType::F32 | DType::F64 | DType::C64 | DType::C128) => v,
            _ => elem_ty(d),
        }
    }

    pub(crate) fn zero(&mut self, d: DType) -> Elem {
        self.fconst(d, 0.0)
    }

    /// `cond ? then() : other()`, each computed in its own block.
    pub(crate) fn branch(
        &mut self,
        dtype: DType,
        cond: Value,
        then: &mut dyn FnMut(&mut Self) -> Result<Elem>,
        other: &mut dyn FnMut(&mut Self) -> Result<Elem>,
    ) -> Result<Elem> {
        let tb = self.b.create_block();
        let eb = self.b.create_block();
        let merge = self.b.create_block();
        let ty = self.val_ty(dtype);
        self.b.append_block_param(merge, ty);
        if dtype.is_complex() {
            self.b.append_block_param(merge, ty);
        }
        self.b.ins().brif(cond, tb, &[], eb, &[]);
        let saved = self.memo.clone();
        for (blk, first) in [(tb, true), (eb, false)] {
            self.b.switch_to_block(blk);
            self.branches += 1;
            let v = if first { then(self) } else { other(self) };
            self.branches -= 1;
            let v = v?;
            match v {
                Elem::Scalar(x) => self.b.ins().jump(merge, &[x.into()]),
                Elem::Complex(r, i) => self.b.ins().jump(merge, &[r.into(), i.into()]),
            };
            self.memo = saved.clone();
        }
        self.b.switch_to_block(merge);
        let p = self.b.block_params(merge).to_vec();
        Ok(if dtype.is_complex() { Elem::Complex(p[0], p[1]) } else { Elem::Scalar(p[0]) })
    }
}
