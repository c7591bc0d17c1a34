//! Per-op scalar lowering, one table per primitive family keyed by op: what the JIT emits for
//! one element of a unary, binary, comparison or cast. An op declared `Inline` in
//! `ir/primitives.rs` has its arm here; one declared `Host` calls its trampoline (`host.rs`).

use super::emitter::{elem_ty, jerr, Elem, KernelEmitter};
use crate::array::DType;
use crate::error::Result;
use crate::ir::{
    BinaryOp, CmpOp, InlineBinary, InlineComplexBinary, InlineComplexUnary, InlineUnary, Lowering, UnaryOp,
};
use crate::jit::run::host::{self, Convention, HostFn};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, Signature, StackSlotData, StackSlotKind, Type, Value};
use cranelift_module::{Linkage, Module};

impl KernelEmitter<'_, '_> {
    pub(crate) fn host(&mut self, f: &HostFn, real_ty: Type, args: &[Value]) -> Result<Elem> {
        let fr = match self.funcs.get(&f.name) {
            Some(fr) => *fr,
            None => {
                let mut sig = Signature::new(self.module.isa().default_call_conv());
                let p = AbiParam::new(real_ty);
                match f.convention {
                    Convention::RealUnary => {
                        sig.params.push(p);
                        sig.returns.push(p);
                    }
                    Convention::ComplexUnary => {
                        sig.params.extend([p, p, AbiParam::new(self.ptr_ty)]);
                    }
                    Convention::ComplexToReal => {
                        sig.params.extend([p, p]);
                        sig.returns.push(p);
                    }
                    Convention::RealBinary => {
                        sig.params.extend([p, p]);
                        sig.returns.push(p);
                    }
                    Convention::ComplexBinary => {
                        sig.params.extend([p, p, p, p, AbiParam::new(self.ptr_ty)]);
                    }
                }
                let id = match self.imports.get(&f.name) {
                    Some(id) => *id,
                    None => {
                        let id = self.module.declare_function(&f.name, Linkage::Import, &sig).map_err(jerr)?;
                        self.imports.insert(f.name.clone(), id);
                        id
                    }
                };
                let fr = self.module.declare_func_in_func(id, self.b.func);
                self.funcs.insert(f.name.clone(), fr);
                fr
            }
        };
        match f.convention {
            Convention::RealUnary | Convention::RealBinary if self.vec.is_some() => {
                // Vector mode: one call per lane.
                let v = self.b.func.dfg.value_type(args[0]);
                Ok(Elem::Scalar(self.per_lane(v, args, &mut |k, xs| {
                    let call = k.b.ins().call(fr, xs);
                    k.b.inst_results(call)[0]
                })))
            }
            Convention::RealUnary | Convention::ComplexToReal | Convention::RealBinary => {
                let call = self.b.ins().call(fr, args);
                Ok(Elem::Scalar(self.b.inst_results(call)[0]))
            }
            Convention::ComplexUnary | Convention::ComplexBinary => {
                let ss = match self.scratch {
                    Some(s) => s,
                    None => {
                        let s = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 16, 4));
                        self.scratch = Some(s);
                        s
                    }
                };
                let p = self.b.ins().stack_addr(self.ptr_ty, ss, 0);
                let mut a = args.to_vec();
                a.push(p);
                self.b.ins().call(fr, &a);
                let half = real_ty.bytes() as i32;
                Ok(Elem::Complex(
                    self.b.ins().stack_load(self.ptr_ty, real_ty, ss, 0),
                    self.b.ins().stack_load(self.ptr_ty, real_ty, ss, half),
                ))
            }
        }
    }

    /// One element of unary `u` on dtype `d`, by the lowering its row declares.
    pub(crate) fn unary(&mut self, u: UnaryOp, d: DType, a: Elem) -> Result<Elem> {
        match u.lowering(d.is_complex()) {
            Lowering::Host => {
                let f = host::unary_fn(u, d).ok_or_else(|| missing(u.name(), d, "a host trampoline (host.rs)"))?;
                match a {
                    Elem::Scalar(x) => self.host(f, elem_ty(d), &[x]),
                    Elem::Complex(re, im) => self.host(f, elem_ty(d), &[re, im]),
                }
            }
            Lowering::Inline => self.unary_inline(u, d, a),
            Lowering::Polynomial => match a {
                Elem::Scalar(x) => Ok(Elem::Scalar(self.unary_polynomial(u, d, x)?)),
                Elem::Complex(..) => Err(missing(u.name(), d, "a complex polynomial")),
            },
            Lowering::Undefined => Err(jerr(format!("{} is not defined on {d}", u.name()))),
        }
    }

    /// The inline lowering of the unary ops declared `Inline` (an exhaustive match on the rows
    /// so declared: a new one does not compile without its arm).
    fn unary_inline(&mut self, u: UnaryOp, d: DType, a: Elem) -> Result<Elem> {
        let ty = elem_ty(d);
        match a {
            Elem::Scalar(x) => {
                let Some(u) = u.inline_real() else { return Err(missing(u.name(), d, "an inline lowering")) };
                let r = match u {
                    InlineUnary::Neg => self.negate(x),
                    InlineUnary::Abs => self.absolute(x),
                    InlineUnary::Sqrt => self.b.ins().sqrt(x),
                    InlineUnary::Floor => self.b.ins().floor(x),
                    InlineUnary::Ceil => self.b.ins().ceil(x),
                    InlineUnary::Recip => {
                        let one = self.real_const(ty, 1.0);
                        self.b.ins().fdiv(one, x)
                    }
                    InlineUnary::Real | InlineUnary::Conj | InlineUnary::StopGradient => x,
                    InlineUnary::Imag => self.real_const(ty, 0.0),
                    InlineUnary::Sign => self.sign(ty, x),
                };
                Ok(Elem::Scalar(r))
            }
            Elem::Complex(re, im) => {
                let Some(u) = u.inline_complex() else { return Err(missing(u.name(), d, "an inline lowering")) };
                Ok(match u {
                    InlineComplexUnary::Neg => Elem::Complex(self.negate(re), self.negate(im)),
                    InlineComplexUnary::Conj => Elem::Complex(re, self.negate(im)),
                    InlineComplexUnary::StopGradient => Elem::Complex(re, im),
                    InlineComplexUnary::Real => Elem::Scalar(re),
                    InlineComplexUnary::Imag => Elem::Scalar(im),
                })
            }
        }
    }

    /// `sign(x)`: -1, 1, or `x * 0` (a signed zero, or NaN).
    fn sign(&mut self, ty: Type, x: Value) -> Value {
        let zero = self.real_const(ty, 0.0);
        let one = self.real_const(ty, 1.0);
        let m1 = self.real_const(ty, -1.0);
        let x0 = self.b.ins().fmul(x, zero);
        let lt = self.b.ins().fcmp(FloatCC::LessThan, x, zero);
        let t = self.sel(lt, m1, x0);
        let gt = self.b.ins().fcmp(FloatCC::GreaterThan, x, zero);
        self.sel(gt, one, t)
    }

    /// One element of binary `op` on dtype `d`, by the lowering its row declares.
    pub(crate) fn binary(&mut self, op: BinaryOp, d: DType, a: Elem, c: Elem) -> Result<Elem> {
        match op.lowering(d.is_complex()) {
            Lowering::Host => {
                let f = host::binary_fn(op, d).ok_or_else(|| missing(op.name(), d, "a host trampoline (host.rs)"))?;
                match (a, c) {
                    (Elem::Scalar(x), Elem::Scalar(y)) => self.host(f, elem_ty(d), &[x, y]),
                    (Elem::Complex(ar, ai), Elem::Complex(br, bi)) => self.host(f, elem_ty(d), &[ar, ai, br, bi]),
                    _ => Err(jerr("binary operands of mixed kinds")),
                }
            }
            Lowering::Inline => self.binary_inline(op, d, a, c),
            Lowering::Polynomial => match (a, c) {
                (Elem::Scalar(x), Elem::Scalar(y)) => Ok(Elem::Scalar(self.binary_polynomial(op, d, x, y)?)),
                _ => Err(missing(op.name(), d, "a complex polynomial")),
            },
            Lowering::Undefined => Err(jerr(format!("{} is not defined on {d}", op.name()))),
        }
    }

    /// The inline lowering of the binary ops declared `Inline` (exhaustive, as for unary ops).
    fn binary_inline(&mut self, op: BinaryOp, d: DType, a: Elem, c: Elem) -> Result<Elem> {
        match (a, c) {
            (Elem::Scalar(x), Elem::Scalar(y)) => {
                let Some(op) = op.inline_real() else { return Err(missing(op.name(), d, "an inline lowering")) };
                let r = match op {
                    InlineBinary::Add => self.b.ins().fadd(x, y),
                    InlineBinary::Sub => self.b.ins().fsub(x, y),
                    InlineBinary::Mul => self.b.ins().fmul(x, y),
                    InlineBinary::Div => self.b.ins().fdiv(x, y),
                    // `RealNum::maximum` / `minimum`: NaN ignored; on a tie the and (max: +0 over
                    // -0) or the or (min) of the bits, whatever the order.
                    InlineBinary::Max | InlineBinary::Min => {
                        let max = op == InlineBinary::Max;
                        let cc = if max { FloatCC::GreaterThan } else { FloatCC::LessThan };
                        let better = self.b.ins().fcmp(cc, y, x);
                        let t = self.sel(better, y, x);
                        let equal = self.b.ins().fcmp(FloatCC::Equal, x, y);
                        let tie = if max { self.b.ins().band(x, y) } else { self.b.ins().bor(x, y) };
                        let t = self.sel(equal, tie, t);
                        let xnan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
                        self.sel(xnan, y, t)
                    }
                    InlineBinary::Complex => return Ok(Elem::Complex(x, y)),
                };
                Ok(Elem::Scalar(r))
            }
            (Elem::Complex(ar, ai), Elem::Complex(br, bi)) => {
                let Some(op) = op.inline_complex() else { return Err(missing(op.name(), d, "an inline lowering")) };
                Ok(match op {
                    InlineComplexBinary::Add => Elem::Complex(self.b.ins().fadd(ar, br), self.b.ins().fadd(ai, bi)),
                    InlineComplexBinary::Sub => Elem::Complex(self.b.ins().fsub(ar, br), self.b.ins().fsub(ai, bi)),
                    InlineComplexBinary::Mul => {
                        let t1 = self.b.ins().fmul(ar, br);
                        let t2 = self.b.ins().fmul(ai, bi);
                        let t3 = self.b.ins().fmul(ar, bi);
                        let t4 = self.b.ins().fmul(ai, br);
                        Elem::Complex(self.b.ins().fsub(t1, t2), self.b.ins().fadd(t3, t4))
                    }
                })
            }
            _ => Err(jerr("binary operands of mixed kinds")),
        }
    }

    pub(crate) fn compare(&mut self, c: CmpOp, d: DType, a: Elem, b: Elem) -> Value {
        match (a, b) {
            (Elem::Scalar(x), Elem::Scalar(y)) if d == DType::Bool => {
                let cc = match c {
                    CmpOp::Lt => IntCC::UnsignedLessThan,
                    CmpOp::Le => IntCC::UnsignedLessThanOrEqual,
                    CmpOp::Gt => IntCC::UnsignedGreaterThan,
                    CmpOp::Ge => IntCC::UnsignedGreaterThanOrEqual,
                    CmpOp::Eq => IntCC::Equal,
                    CmpOp::Ne => IntCC::NotEqual,
                };
                self.b.ins().icmp(cc, x, y)
            }
            (Elem::Scalar(x), Elem::Scalar(y)) => self.b.ins().fcmp(float_cc(c), x, y),
            (Elem::Complex(ar, ai), Elem::Complex(br, bi)) => {
                if c == CmpOp::Ne {
                    let r = self.b.ins().fcmp(FloatCC::NotEqual, ar, br);
                    let i = self.b.ins().fcmp(FloatCC::NotEqual, ai, bi);
                    self.b.ins().bor(r, i)
                } else {
                    let r = self.b.ins().fcmp(FloatCC::Equal, ar, br);
                    let i = self.b.ins().fcmp(FloatCC::Equal, ai, bi);
                    self.b.ins().band(r, i)
                }
            }
            _ => self.b.ins().iconst(types::I8, 0),
        }
    }

    pub(crate) fn conv_real(&mut self, x: Value, from: Type, to: Type) -> Value {
        if from == to {
            x
        } else if to == types::F64 {
            self.b.ins().fpromote(types::F64, x)
        } else {
            self.b.ins().fdemote(types::F32, x)
        }
    }

    pub(crate) fn cast(&mut self, from: DType, to: DType, a: Elem) -> Elem {
        if from == to {
            return a;
        }
        let (ft, tt) = (elem_ty(from), elem_ty(to));
        if to == DType::Bool {
            return Elem::Scalar(match a {
                Elem::Scalar(x) => {
                    let z = self.real_const(ft, 0.0);
                    self.b.ins().fcmp(FloatCC::NotEqual, x, z)
                }
                Elem::Complex(r, i) => {
                    let z = self.real_const(ft, 0.0);
                    let cr = self.b.ins().fcmp(FloatCC::NotEqual, r, z);
                    let ci = self.b.ins().fcmp(FloatCC::NotEqual, i, z);
                    self.b.ins().bor(cr, ci)
                }
            });
        }
        let re = match a {
            Elem::Scalar(x) if from == DType::Bool => {
                let one = self.real_const(tt, 1.0);
                let zero = self.real_const(tt, 0.0);
                self.sel(x, one, zero)
            }
            Elem::Scalar(x) => self.conv_real(x, ft, tt),
            Elem::Complex(r, _) => self.conv_real(r, ft, tt),
        };
        if to.is_complex() {
            let im = match a {
                Elem::Complex(_, i) => self.conv_real(i, ft, tt),
                Elem::Scalar(_) => self.real_const(tt, 0.0),
            };
            Elem::Complex(re, im)
        } else {
            Elem::Scalar(re)
        }
    }
}

/// The error for a primitive row whose declared lowering the JIT lacks: it names the op, the
/// dtype and the missing place.
fn missing(op: &str, d: DType, place: &str) -> crate::error::Error {
    jerr(format!(
        "{op} on {d}: its row in src/ir/primitives.rs declares a lowering, but src/jit lacks {place} for it \
         (see docs/ARCHITECTURE.md, \"Adding a primitive\")"
    ))
}

/// The condition of comparison `c` on real operands (false when either is NaN, but `Ne`).
pub(crate) fn float_cc(c: CmpOp) -> FloatCC {
    match c {
        CmpOp::Lt => FloatCC::LessThan,
        CmpOp::Le => FloatCC::LessThanOrEqual,
        CmpOp::Gt => FloatCC::GreaterThan,
        CmpOp::Ge => FloatCC::GreaterThanOrEqual,
        CmpOp::Eq => FloatCC::Equal,
        CmpOp::Ne => FloatCC::NotEqual,
    }
}
