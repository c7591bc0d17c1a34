//! A while loop's predicate that is one comparison of two real scalars (operands or constants),
//! `g > tol` or `i < n`, evaluated in the driver's own code: a load or two and a compare,
//! where the general path calls the predicate's kernel and reads its byte back. The compare is
//! the kernel's (`fcmp` with the same condition, on the same loaded values), so the verdict is
//! the same.

use super::emitter::DriverEmitter;
use crate::array::DType;
use crate::error::Result;
use crate::ir::{CmpOp, Graph, NodeId, Op};
use crate::jit::emit::{float_cc, jerr};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

/// One side of the comparison.
enum Side {
    /// Operand `k` of the predicate.
    Operand(usize),
    /// A constant.
    Constant(f64),
}

/// How the driver evaluates a while loop's predicate.
pub(super) enum Verdict {
    /// Compared in the driver's own code.
    InLine(ScalarVerdict),
    /// By the predicate's kernel, which writes its byte to this buffer.
    Kernel(Value),
}

/// A predicate `a cmp b` of two real scalars of one dtype.
pub(super) struct ScalarVerdict {
    cmp: CmpOp,
    dtype: DType,
    sides: [Side; 2],
}

impl ScalarVerdict {
    /// The comparison `g` computes, when its one output is a comparison of two one-element
    /// real operands, each an input or a constant; `None` for any other predicate.
    pub(super) fn of(g: &Graph) -> Option<ScalarVerdict> {
        let [out] = g.outputs[..] else { return None };
        let node = &g.nodes[out];
        let Op::Compare(cmp) = node.op else { return None };
        let [a, b] = node.inputs[..] else { return None };
        let dtype = g.nodes[a].dtype;
        let scalar = |n: NodeId| g.nodes[n].shape.iter().product::<usize>() == 1 && g.nodes[n].dtype == dtype;
        if !matches!(dtype, DType::F64 | DType::F32) || !scalar(a) || !scalar(b) {
            return None;
        }
        let side = |n: NodeId| match &g.nodes[n].op {
            Op::Input(k) => Some(Side::Operand(*k)),
            Op::Constant(d) => d.get_c128(0).map(|c| Side::Constant(c.re)),
            _ => None,
        };
        Some(ScalarVerdict { cmp, dtype, sides: [side(a)?, side(b)?] })
    }
}

impl DriverEmitter<'_> {
    /// Emits `v` on the predicate's operand addresses `inputs`: the verdict as an `i8`, 1 when
    /// the loop goes on.
    pub(super) fn scalar_verdict(&mut self, v: &ScalarVerdict, inputs: &[Value]) -> Result<Value> {
        let ty = if v.dtype == DType::F32 { types::F32 } else { types::F64 };
        let mut side = |s: &Side| match *s {
            Side::Operand(k) => match inputs.get(k) {
                Some(&p) => Ok(self.b.ins().load(ty, MemFlagsData::trusted(), p, 0)),
                None => Err(jerr(format!("internal: a predicate reads operand {k} of {}", inputs.len()))),
            },
            Side::Constant(c) if ty == types::F32 => Ok(self.b.ins().f32const(c as f32)),
            Side::Constant(c) => Ok(self.b.ins().f64const(c)),
        };
        let (a, b) = (side(&v.sides[0])?, side(&v.sides[1])?);
        Ok(self.b.ins().fcmp(float_cc(v.cmp), a, b))
    }
}
