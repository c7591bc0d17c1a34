//! CLIF emission: one function per kernel, `fn(bufs: *const *mut u8)`, a loop nest over the
//! kernel's output (and, for reductions, over the reduced axes) whose body evaluates the fused
//! expression tree at one multi-index. Every bound and stride is a constant.

use super::host::{self, HostFn, Shape as HostShape};
use super::plan::Plan;
use crate::array::DType;
use crate::error::{Error, Result};
use crate::ir::{BinaryOp, CmpOp, Graph, NodeId, Op, UnaryOp};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    types, AbiParam, InstBuilder, MemFlagsData, Signature, StackSlotData, StackSlotKind, Type, Value,
};
use cranelift_codegen::ir::{Block, FuncRef, StackSlot};
use cranelift_frontend::{FunctionBuilder, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Linkage, Module};
use std::collections::HashMap;

/// A value of one element: real / logical scalar, or a complex pair.
#[derive(Copy, Clone, Debug)]
pub(crate) enum V {
    S(Value),
    C(Value, Value),
}

/// An index into a node's shape: a multi-index, or a row-major linear index.
#[derive(Clone, Debug)]
enum Idx {
    M(Vec<Value>),
    L(Value),
}

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

fn strides(shape: &[usize]) -> Vec<i64> {
    let mut s = vec![1i64; shape.len()];
    for a in (0..shape.len().saturating_sub(1)).rev() {
        s[a] = s[a + 1] * shape[a + 1] as i64;
    }
    s
}

/// Emits the body of one kernel.
pub(crate) struct Kc<'a, 'b> {
    pub g: &'a Graph,
    pub plan: &'a Plan,
    pub b: FunctionBuilder<'b>,
    pub module: &'a mut JITModule,
    pub imports: &'a mut HashMap<String, FuncId>,
    pub ptr_ty: Type,
    ptrs: HashMap<usize, Value>,
    funcs: HashMap<String, FuncRef>,
    scratch: Option<StackSlot>,
    memo: HashMap<(NodeId, Vec<Value>), V>,
}

impl<'a, 'b> Kc<'a, 'b> {
    pub fn new(
        g: &'a Graph,
        plan: &'a Plan,
        b: FunctionBuilder<'b>,
        module: &'a mut JITModule,
        imports: &'a mut HashMap<String, FuncId>,
    ) -> Self {
        let ptr_ty = module.target_config().pointer_type();
        Kc {
            g,
            plan,
            b,
            module,
            imports,
            ptr_ty,
            ptrs: HashMap::new(),
            funcs: HashMap::new(),
            scratch: None,
            memo: HashMap::new(),
        }
    }

    /// The slots a kernel rooted at `root` reads (not its own).
    /// Walks the fused expression with an explicit stack, visiting each node once.
    fn collect_slots(&self, root: NodeId, out: &mut Vec<usize>) {
        let mut seen = std::collections::HashSet::new();
        let mut stack: Vec<NodeId> = self.g.nodes[root].inputs.iter().rev().copied().collect();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            if let Some(s) = self.plan.buffer[n] {
                if !out.contains(&s) {
                    out.push(s);
                }
                continue;
            }
            if self.plan.inline_const[n] {
                continue;
            }
            stack.extend(self.g.nodes[n].inputs.iter().rev());
        }
    }

    /// Emits one function that runs the kernels `roots` (materialized, computed nodes) in
    /// order, each a loop nest of its own.
    pub fn emit_kernels(mut self, roots: &[NodeId]) -> Result<()> {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let bufs = self.b.block_params(entry)[0];
        for &root in roots {
            // Pointers are loaded again for each kernel, in the block it starts in, so each
            // load dominates its uses.
            self.ptrs.clear();
            self.memo.clear();
            self.emit_kernel(bufs, root)?;
        }
        self.b.ins().return_(&[]);
        self.b.seal_all_blocks();
        let cfg = self.module.target_config();
        self.b.finalize(cfg);
        Ok(())
    }

    /// Emits the loop nest of kernel `root` at the current position.
    fn emit_kernel(&mut self, bufs: Value, root: NodeId) -> Result<()> {
        let node = &self.g.nodes[root];
        if let Op::Concat(axis) = node.op {
            return self.emit_concat_pieces(bufs, root, axis);
        }
        self.load_pointers(bufs, root, root)?;
        match &node.op {
            Op::ReduceSum(axes) | Op::ReduceMax(axes) | Op::ReduceMin(axes) => {
                let axes = axes.clone();
                self.emit_reduce(root, &axes)?;
            }
            _ => {
                let shape = node.shape.clone();
                let mut body = |k: &mut Self, idx: &[Value]| -> Result<()> {
                    k.memo.clear();
                    let v = k.expr_op(root, Idx::M(idx.to_vec()))?;
                    k.store(root, idx, v);
                    Ok(())
                };
                self.nest(&shape, &[], &mut body)?;
            }
        }
        Ok(())
    }

    /// Loads the buffer pointers that kernel `root` needs to compute `expr` (its own
    /// expression, or one piece of it) at the current position.
    fn load_pointers(&mut self, bufs: Value, root: NodeId, expr: NodeId) -> Result<()> {
        let mut slots = vec![self.plan.buffer[root].ok_or_else(|| jerr("kernel root without a buffer"))?];
        if expr == root {
            self.collect_slots(root, &mut slots);
        } else if let Some(s) = self.plan.buffer[expr] {
            slots.push(s);
        } else {
            self.collect_slots(expr, &mut slots);
        }
        self.ptrs.clear();
        for s in slots {
            let p = self.b.ins().load(self.ptr_ty, MemFlagsData::trusted().with_readonly(), bufs, (s * 8) as i32);
            self.ptrs.insert(s, p);
        }
        Ok(())
    }

    /// A materialized concatenation: one loop nest per operand, each writing its own range of
    /// the output, with no test per element (and no nesting that grows with the operands).
    fn emit_concat_pieces(&mut self, bufs: Value, root: NodeId, axis: usize) -> Result<()> {
        let mut offset = 0usize;
        for &part in &self.g.nodes[root].inputs {
            let shape = self.g.nodes[part].shape.clone();
            let len = shape[axis];
            if len > 0 {
                self.load_pointers(bufs, root, part)?;
                let mut body = |k: &mut Self, idx: &[Value]| -> Result<()> {
                    k.memo.clear();
                    let v = k.expr(part, Idx::M(idx.to_vec()))?;
                    let mut out_idx = idx.to_vec();
                    if offset != 0 {
                        out_idx[axis] = k.b.ins().iadd_imm_s(idx[axis], offset as i64);
                    }
                    k.store(root, &out_idx, v);
                    Ok(())
                };
                self.nest(&shape, &[], &mut body)?;
            }
            offset += len;
        }
        Ok(())
    }

    /// A loop over `0..n`: `body(i)`. Nothing for `n == 0`, no loop for `n == 1`.
    fn emit_loop(&mut self, n: usize, body: &mut dyn FnMut(&mut Self, Value) -> Result<()>) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        if n == 1 {
            let z = self.b.ins().iconst(types::I64, 0);
            return body(self, z);
        }
        let head = self.b.create_block();
        let exit = self.b.create_block();
        self.b.append_block_param(head, types::I64);
        let z = self.b.ins().iconst(types::I64, 0);
        self.b.ins().jump(head, &[z.into()]);
        self.b.switch_to_block(head);
        let i = self.b.block_params(head)[0];
        body(self, i)?;
        let i1 = self.b.ins().iadd_imm_s(i, 1);
        let c = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, i1, n as i64);
        self.b.ins().brif(c, head, &[i1.into()], exit, &[]);
        self.b.switch_to_block(exit);
        Ok(())
    }

    fn nest(
        &mut self,
        dims: &[usize],
        idx: &[Value],
        body: &mut dyn FnMut(&mut Self, &[Value]) -> Result<()>,
    ) -> Result<()> {
        if idx.len() == dims.len() {
            return body(self, idx);
        }
        let n = dims[idx.len()];
        let mut inner = |k: &mut Self, i: Value| -> Result<()> {
            let mut idx2 = idx.to_vec();
            idx2.push(i);
            k.nest(dims, &idx2, body)
        };
        self.emit_loop(n, &mut inner)
    }

    fn emit_reduce(&mut self, root: NodeId, axes: &[usize]) -> Result<()> {
        let node = &self.g.nodes[root];
        let operand = node.inputs[0];
        let in_shape = self.g.nodes[operand].shape.clone();
        let out_shape = node.shape.clone();
        let dtype = node.dtype;
        let kind = match node.op {
            Op::ReduceSum(_) => 0,
            Op::ReduceMax(_) => 1,
            _ => 2,
        };
        let mut sorted = axes.to_vec();
        sorted.sort_unstable();
        let keep: Vec<usize> = (0..in_shape.len()).filter(|a| !sorted.contains(a)).collect();
        let mut body = |k: &mut Self, out_idx: &[Value]| -> Result<()> {
            let mut full: Vec<Option<Value>> = vec![None; in_shape.len()];
            for (p, &a) in keep.iter().enumerate() {
                full[a] = Some(out_idx[p]);
            }
            let v = if sorted.is_empty() {
                k.memo.clear();
                let idx: Vec<Value> = full.iter().map(|v| v.expect("every axis kept")).collect();
                k.expr(operand, Idx::M(idx))?
            } else {
                let vars: Vec<Vec<Variable>> = (0..sorted.len())
                    .map(|_| {
                        let n = if dtype.is_complex() { 2 } else { 1 };
                        (0..n).map(|_| k.b.declare_var(elem_ty(dtype))).collect()
                    })
                    .collect();
                k.reduce_level(0, &sorted, &in_shape, &full, &vars, operand, dtype, kind)?;
                k.read_vars(&vars[0])
            };
            k.store(root, out_idx, v);
            Ok(())
        };
        self.nest(&out_shape, &[], &mut body)
    }

    fn read_vars(&mut self, vars: &[Variable]) -> V {
        if vars.len() == 2 {
            V::C(self.b.use_var(vars[0]), self.b.use_var(vars[1]))
        } else {
            V::S(self.b.use_var(vars[0]))
        }
    }

    fn write_vars(&mut self, vars: &[Variable], v: V) {
        match v {
            V::S(x) => self.b.def_var(vars[0], x),
            V::C(r, i) => {
                self.b.def_var(vars[0], r);
                self.b.def_var(vars[1], i);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn reduce_level(
        &mut self,
        level: usize,
        axes: &[usize],
        in_shape: &[usize],
        full: &[Option<Value>],
        vars: &[Vec<Variable>],
        operand: NodeId,
        dtype: DType,
        kind: u8,
    ) -> Result<()> {
        let init = if kind == 0 { self.zero(dtype) } else { self.fconst(dtype, f64::NAN) };
        self.write_vars(&vars[level], init);
        let n = in_shape[axes[level]];
        let mut body = |k: &mut Self, i: Value| -> Result<()> {
            let mut full2 = full.to_vec();
            full2[axes[level]] = Some(i);
            let v = if level + 1 < axes.len() {
                k.reduce_level(level + 1, axes, in_shape, &full2, vars, operand, dtype, kind)?;
                k.read_vars(&vars[level + 1])
            } else {
                k.memo.clear();
                let idx: Vec<Value> = full2.iter().map(|v| v.expect("every axis set")).collect();
                k.expr(operand, Idx::M(idx))?
            };
            let acc = k.read_vars(&vars[level]);
            let r = match kind {
                0 => k.binary(BinaryOp::Add, dtype, acc, v)?,
                1 => k.binary(BinaryOp::Max, dtype, acc, v)?,
                _ => k.binary(BinaryOp::Min, dtype, acc, v)?,
            };
            k.write_vars(&vars[level], r);
            Ok(())
        };
        self.emit_loop(n, &mut body)
    }

    // ----- constants -----

    fn fconst(&mut self, d: DType, x: f64) -> V {
        let re = self.real_const(elem_ty(d), x);
        if d.is_complex() {
            let im = self.real_const(elem_ty(d), 0.0);
            V::C(re, im)
        } else {
            V::S(re)
        }
    }

    fn real_const(&mut self, ty: Type, x: f64) -> Value {
        if ty == types::F32 {
            self.b.ins().f32const(x as f32)
        } else if ty == types::F64 {
            self.b.ins().f64const(x)
        } else {
            self.b.ins().iconst(ty, (x != 0.0) as i64)
        }
    }

    fn zero(&mut self, d: DType) -> V {
        self.fconst(d, 0.0)
    }

    // ----- memory -----

    fn linear(&mut self, idx: &Idx, shape: &[usize]) -> Value {
        match idx {
            Idx::L(l) => *l,
            Idx::M(m) => {
                let st = strides(shape);
                let mut acc: Option<Value> = None;
                for a in 0..shape.len() {
                    if shape[a] == 1 {
                        continue;
                    }
                    let t = if st[a] == 1 { m[a] } else { self.b.ins().imul_imm_s(m[a], st[a]) };
                    acc = Some(match acc {
                        None => t,
                        Some(x) => self.b.ins().iadd(x, t),
                    });
                }
                acc.unwrap_or_else(|| self.b.ins().iconst(types::I64, 0))
            }
        }
    }

    fn multi_index(&mut self, idx: &Idx, shape: &[usize]) -> Vec<Value> {
        match idx {
            Idx::M(m) => m.clone(),
            Idx::L(l) => {
                let mut out = vec![*l; shape.len()];
                let mut rest = *l;
                for a in (0..shape.len()).rev() {
                    let d = shape[a] as i64;
                    if d == 1 {
                        out[a] = self.b.ins().iconst(types::I64, 0);
                    } else if a == 0 {
                        out[a] = rest;
                    } else {
                        out[a] = self.b.ins().urem_imm_s(rest, d);
                        rest = self.b.ins().udiv_imm_s(rest, d);
                    }
                }
                out
            }
        }
    }

    fn addr(&mut self, n: NodeId, lin: Value) -> Value {
        let slot = self.plan.buffer[n].expect("materialized");
        let p = self.ptrs[&slot];
        let size = self.g.nodes[n].dtype.size_of() as i64;
        let off = if size == 1 { lin } else { self.b.ins().imul_imm_s(lin, size) };
        self.b.ins().iadd(p, off)
    }

    fn load(&mut self, n: NodeId, idx: &Idx) -> V {
        let shape = self.g.nodes[n].shape.clone();
        let d = self.g.nodes[n].dtype;
        let lin = self.linear(idx, &shape);
        let a = self.addr(n, lin);
        let ty = elem_ty(d);
        let f = MemFlagsData::trusted();
        if d.is_complex() {
            let half = (d.size_of() / 2) as i32;
            V::C(self.b.ins().load(ty, f, a, 0), self.b.ins().load(ty, f, a, half))
        } else {
            V::S(self.b.ins().load(ty, f, a, 0))
        }
    }

    fn store(&mut self, n: NodeId, idx: &[Value], v: V) {
        let shape = self.g.nodes[n].shape.clone();
        let d = self.g.nodes[n].dtype;
        let lin = self.linear(&Idx::M(idx.to_vec()), &shape);
        let a = self.addr(n, lin);
        let f = MemFlagsData::trusted();
        match v {
            V::S(x) => {
                self.b.ins().store(f, x, a, 0);
            }
            V::C(r, i) => {
                let half = (d.size_of() / 2) as i32;
                self.b.ins().store(f, r, a, 0);
                self.b.ins().store(f, i, a, half);
            }
        }
    }

    // ----- expressions -----

    fn expr(&mut self, n: NodeId, idx: Idx) -> Result<V> {
        if self.plan.buffer[n].is_some() {
            return Ok(self.load(n, &idx));
        }
        if self.plan.inline_const[n] {
            if let Op::Constant(d) = &self.g.nodes[n].op {
                let c = d.get_c128(0).ok_or_else(|| jerr("empty scalar constant"))?;
                let dt = d.dtype();
                let ty = elem_ty(dt);
                return Ok(match dt {
                    DType::Bool => V::S(self.b.ins().iconst(types::I8, (c.re != 0.0 || c.im != 0.0) as i64)),
                    DType::F32 | DType::F64 => V::S(self.real_const(ty, c.re)),
                    _ => V::C(self.real_const(ty, c.re), self.real_const(ty, c.im)),
                });
            }
        }
        if let Idx::M(m) = &idx {
            if let Some(v) = self.memo.get(&(n, m.clone())) {
                return Ok(*v);
            }
        }
        let key = if let Idx::M(m) = &idx { Some(m.clone()) } else { None };
        let v = self.expr_op(n, idx)?;
        if let Some(m) = key {
            self.memo.insert((n, m), v);
        }
        Ok(v)
    }

    /// The index of operand `i` of `n` under numpy broadcasting.
    fn bcast(&mut self, idx: &Idx, out: &[usize], inp: &[usize]) -> Idx {
        if out == inp {
            return idx.clone();
        }
        let m = self.multi_index(idx, out);
        let off = out.len() - inp.len();
        let v = inp
            .iter()
            .enumerate()
            .map(|(j, &d)| if d == 1 && out[off + j] != 1 { self.b.ins().iconst(types::I64, 0) } else { m[off + j] })
            .collect();
        Idx::M(v)
    }

    fn operand(&mut self, n: NodeId, k: usize, idx: &Idx) -> Result<V> {
        let i = self.g.nodes[n].inputs[k];
        let out = self.g.nodes[n].shape.clone();
        let inp = self.g.nodes[i].shape.clone();
        let ii = self.bcast(idx, &out, &inp);
        self.expr(i, ii)
    }

    /// The value of `n` at `idx` computed from its operands (never from its own buffer).
    fn expr_op(&mut self, n: NodeId, idx: Idx) -> Result<V> {
        let g = self.g;
        let node = &g.nodes[n];
        let in_dtype = |k: usize| g.nodes[node.inputs[k]].dtype;
        match &node.op {
            Op::Unary(u) => {
                let a = self.operand(n, 0, &idx)?;
                self.unary(*u, in_dtype(0), a)
            }
            Op::Binary(bop) => {
                let a = self.operand(n, 0, &idx)?;
                let c = self.operand(n, 1, &idx)?;
                self.binary(*bop, in_dtype(0), a, c)
            }
            Op::Compare(c) => {
                let a = self.operand(n, 0, &idx)?;
                let b2 = self.operand(n, 1, &idx)?;
                Ok(V::S(self.compare(*c, in_dtype(0), a, b2)))
            }
            Op::Select => {
                let c = self.operand(n, 0, &idx)?;
                let a = self.operand(n, 1, &idx)?;
                let e = self.operand(n, 2, &idx)?;
                let V::S(c) = c else { return Err(jerr("select condition")) };
                Ok(match (a, e) {
                    (V::S(x), V::S(y)) => V::S(self.b.ins().select(c, x, y)),
                    (V::C(xr, xi), V::C(yr, yi)) => {
                        V::C(self.b.ins().select(c, xr, yr), self.b.ins().select(c, xi, yi))
                    }
                    _ => return Err(jerr("select branches")),
                })
            }
            Op::Cast(to) => {
                let a = self.operand(n, 0, &idx)?;
                Ok(self.cast(in_dtype(0), *to, a))
            }
            Op::Broadcast(_) => self.operand(n, 0, &idx),
            Op::Reshape(_) => {
                let l = self.linear(&idx, &node.shape.clone());
                self.expr(node.inputs[0], Idx::L(l))
            }
            Op::Permute(axes) => {
                let m = self.multi_index(&idx, &node.shape.clone());
                let mut inner = m.clone();
                for (i, &a) in axes.iter().enumerate() {
                    inner[a] = m[i];
                }
                self.expr(node.inputs[0], Idx::M(inner))
            }
            Op::Slice(slices) => {
                let in_shape = g.nodes[node.inputs[0]].shape.clone();
                let m = self.multi_index(&idx, &node.shape.clone());
                let mut inner = Vec::with_capacity(m.len());
                for (a, s) in slices.iter().enumerate() {
                    if s.is_full(in_shape[a]) {
                        inner.push(m[a]);
                    } else if s.len == 1 {
                        inner.push(self.b.ins().iconst(types::I64, s.start as i64));
                    } else {
                        let t = if s.step == 1 { m[a] } else { self.b.ins().imul_imm_s(m[a], s.step as i64) };
                        let t = if s.start == 0 { t } else { self.b.ins().iadd_imm_s(t, s.start as i64) };
                        inner.push(t);
                    }
                }
                self.expr(node.inputs[0], Idx::M(inner))
            }
            Op::Pad { shape, slices } => {
                let dtype = node.dtype;
                if slices.iter().any(|s| s.len == 0) {
                    return Ok(self.zero(dtype));
                }
                let m = self.multi_index(&idx, shape);
                let mut cond: Option<Value> = None;
                let mut inner = Vec::new();
                for (a, s) in slices.iter().enumerate() {
                    if s.is_full(shape[a]) {
                        inner.push(m[a]);
                        continue;
                    }
                    let st = s.step.unsigned_abs() as i64;
                    let rel = if s.step > 0 {
                        if s.start == 0 {
                            m[a]
                        } else {
                            self.b.ins().iadd_imm_s(m[a], -(s.start as i64))
                        }
                    } else {
                        let c = self.b.ins().iconst(types::I64, s.start as i64);
                        self.b.ins().isub(c, m[a])
                    };
                    let span = (s.len as i64 - 1) * st + 1;
                    let mut c = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, rel, span);
                    let q = if st > 1 {
                        let r = self.b.ins().urem_imm_s(rel, st);
                        let c2 = self.b.ins().icmp_imm_s(IntCC::Equal, r, 0);
                        c = self.b.ins().band(c, c2);
                        self.b.ins().udiv_imm_s(rel, st)
                    } else {
                        rel
                    };
                    cond = Some(match cond {
                        None => c,
                        Some(x) => self.b.ins().band(x, c),
                    });
                    inner.push(q);
                }
                let Some(cond) = cond else {
                    return self.expr(node.inputs[0], Idx::M(inner));
                };
                let operand = node.inputs[0];
                if self.plan.buffer[operand].is_some() || self.plan.cost[operand] <= super::plan::CHEAP {
                    // Branch-free: read at a clamped (valid) index, then select.
                    let zero_i = self.b.ins().iconst(types::I64, 0);
                    let clamped: Vec<Value> = inner.iter().map(|&q| self.b.ins().select(cond, q, zero_i)).collect();
                    let v = self.expr(operand, Idx::M(clamped))?;
                    let z = self.zero(dtype);
                    return Ok(match (v, z) {
                        (V::S(x), V::S(y)) => V::S(self.b.ins().select(cond, x, y)),
                        (V::C(xr, xi), V::C(yr, yi)) => {
                            V::C(self.b.ins().select(cond, xr, yr), self.b.ins().select(cond, xi, yi))
                        }
                        _ => return Err(jerr("pad kinds")),
                    });
                }
                self.branch(dtype, cond, &mut |k| k.expr(operand, Idx::M(inner.clone())), &mut |k| Ok(k.zero(dtype)))
            }
            Op::Concat(axis) => {
                let axis = *axis;
                let dtype = node.dtype;
                let m = self.multi_index(&idx, &node.shape.clone());
                let mut parts = Vec::new();
                let mut off = 0usize;
                for &i in &node.inputs {
                    let len = g.nodes[i].shape[axis];
                    if len > 0 {
                        parts.push((i, off, len));
                    }
                    off += len;
                }
                self.concat_parts(&parts, axis, &m, dtype)
            }
            Op::Input(_)
            | Op::Constant(_)
            | Op::ReduceSum(_)
            | Op::ReduceMax(_)
            | Op::ReduceMin(_)
            | Op::MatMul
            | Op::Call(_) => Err(jerr(format!("%{n} = {} must be materialized", node.op))),
        }
    }

    fn concat_parts(&mut self, parts: &[(NodeId, usize, usize)], axis: usize, m: &[Value], dtype: DType) -> Result<V> {
        match parts {
            [] => Ok(self.zero(dtype)),
            [(i, off, _)] => {
                let mut inner = m.to_vec();
                if *off != 0 {
                    inner[axis] = self.b.ins().iadd_imm_s(m[axis], -(*off as i64));
                }
                self.expr(*i, Idx::M(inner))
            }
            _ => {
                // Binary search over the parts: the nesting grows with log2(parts), not parts.
                let (low, high) = parts.split_at(parts.len() / 2);
                let (_, off, _) = high[0];
                let c = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, m[axis], off as i64);
                self.branch(dtype, c, &mut |k| k.concat_parts(low, axis, m, dtype), &mut |k| {
                    k.concat_parts(high, axis, m, dtype)
                })
            }
        }
    }

    /// `cond ? then() : other()`, each computed in its own block.
    fn branch(
        &mut self,
        dtype: DType,
        cond: Value,
        then: &mut dyn FnMut(&mut Self) -> Result<V>,
        other: &mut dyn FnMut(&mut Self) -> Result<V>,
    ) -> Result<V> {
        let tb = self.b.create_block();
        let eb = self.b.create_block();
        let merge = self.b.create_block();
        let ty = elem_ty(dtype);
        self.b.append_block_param(merge, ty);
        if dtype.is_complex() {
            self.b.append_block_param(merge, ty);
        }
        self.b.ins().brif(cond, tb, &[], eb, &[]);
        let saved = self.memo.clone();
        for (blk, first) in [(tb, true), (eb, false)] {
            self.b.switch_to_block(blk);
            let v = if first { then(self)? } else { other(self)? };
            match v {
                V::S(x) => self.b.ins().jump(merge, &[x.into()]),
                V::C(r, i) => self.b.ins().jump(merge, &[r.into(), i.into()]),
            };
            self.memo = saved.clone();
        }
        self.b.switch_to_block(merge);
        let p = self.b.block_params(merge).to_vec();
        Ok(if dtype.is_complex() { V::C(p[0], p[1]) } else { V::S(p[0]) })
    }

    // ----- host calls -----

    fn host(&mut self, f: &HostFn, real_ty: Type, args: &[Value]) -> Result<V> {
        let fr = match self.funcs.get(&f.name) {
            Some(fr) => *fr,
            None => {
                let mut sig = Signature::new(self.module.isa().default_call_conv());
                let p = AbiParam::new(real_ty);
                match f.shape {
                    HostShape::RealUnary => {
                        sig.params.push(p);
                        sig.returns.push(p);
                    }
                    HostShape::ComplexUnary => {
                        sig.params.extend([p, p, AbiParam::new(self.ptr_ty)]);
                    }
                    HostShape::ComplexToReal => {
                        sig.params.extend([p, p]);
                        sig.returns.push(p);
                    }
                    HostShape::RealBinary => {
                        sig.params.extend([p, p]);
                        sig.returns.push(p);
                    }
                    HostShape::ComplexBinary => {
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
        match f.shape {
            HostShape::RealUnary | HostShape::ComplexToReal | HostShape::RealBinary => {
                let call = self.b.ins().call(fr, args);
                Ok(V::S(self.b.inst_results(call)[0]))
            }
            HostShape::ComplexUnary | HostShape::ComplexBinary => {
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
                Ok(V::C(
                    self.b.ins().stack_load(self.ptr_ty, real_ty, ss, 0),
                    self.b.ins().stack_load(self.ptr_ty, real_ty, ss, half),
                ))
            }
        }
    }

    // ----- elementwise -----

    fn unary(&mut self, u: UnaryOp, d: DType, a: V) -> Result<V> {
        let ty = elem_ty(d);
        match a {
            V::S(x) => {
                let r = match u {
                    UnaryOp::Neg => self.b.ins().fneg(x),
                    UnaryOp::Abs => self.b.ins().fabs(x),
                    UnaryOp::Sqrt => self.b.ins().sqrt(x),
                    UnaryOp::Floor => self.b.ins().floor(x),
                    UnaryOp::Ceil => self.b.ins().ceil(x),
                    UnaryOp::Recip => {
                        let one = self.real_const(ty, 1.0);
                        self.b.ins().fdiv(one, x)
                    }
                    UnaryOp::Real | UnaryOp::Conj => x,
                    UnaryOp::Imag => self.real_const(ty, 0.0),
                    UnaryOp::Sign => {
                        let zero = self.real_const(ty, 0.0);
                        let one = self.real_const(ty, 1.0);
                        let m1 = self.real_const(ty, -1.0);
                        let x0 = self.b.ins().fmul(x, zero);
                        let lt = self.b.ins().fcmp(FloatCC::LessThan, x, zero);
                        let t = self.b.ins().select(lt, m1, x0);
                        let gt = self.b.ins().fcmp(FloatCC::GreaterThan, x, zero);
                        self.b.ins().select(gt, one, t)
                    }
                    _ => {
                        let f =
                            host::unary_fn(u, d).ok_or_else(|| jerr(format!("no host function for {u:?} on {d}")))?;
                        return self.host(f, ty, &[x]);
                    }
                };
                Ok(V::S(r))
            }
            V::C(re, im) => Ok(match u {
                UnaryOp::Neg => V::C(self.b.ins().fneg(re), self.b.ins().fneg(im)),
                UnaryOp::Conj => V::C(re, self.b.ins().fneg(im)),
                UnaryOp::Real => V::S(re),
                UnaryOp::Imag => V::S(im),
                _ => {
                    let f = host::unary_fn(u, d).ok_or_else(|| jerr(format!("no host function for {u:?} on {d}")))?;
                    return self.host(f, ty, &[re, im]);
                }
            }),
        }
    }

    fn binary(&mut self, op: BinaryOp, d: DType, a: V, c: V) -> Result<V> {
        let ty = elem_ty(d);
        match (a, c) {
            (V::S(x), V::S(y)) => {
                let r = match op {
                    BinaryOp::Add => self.b.ins().fadd(x, y),
                    BinaryOp::Sub => self.b.ins().fsub(x, y),
                    BinaryOp::Mul => self.b.ins().fmul(x, y),
                    BinaryOp::Div => self.b.ins().fdiv(x, y),
                    // Rust's f64::max / min: NaN ignored; on a tie (+0 / -0) the first wins.
                    BinaryOp::Max | BinaryOp::Min => {
                        let cc = if op == BinaryOp::Max { FloatCC::GreaterThan } else { FloatCC::LessThan };
                        let better = self.b.ins().fcmp(cc, y, x);
                        let t = self.b.ins().select(better, y, x);
                        let xnan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
                        self.b.ins().select(xnan, y, t)
                    }
                    BinaryOp::Complex => return Ok(V::C(x, y)),
                    BinaryOp::Pow | BinaryOp::Atan2 => {
                        let f = host::binary_fn(op, d).ok_or_else(|| jerr(format!("no host function for {op:?}")))?;
                        return self.host(f, ty, &[x, y]);
                    }
                };
                Ok(V::S(r))
            }
            (V::C(ar, ai), V::C(br, bi)) => Ok(match op {
                BinaryOp::Add => V::C(self.b.ins().fadd(ar, br), self.b.ins().fadd(ai, bi)),
                BinaryOp::Sub => V::C(self.b.ins().fsub(ar, br), self.b.ins().fsub(ai, bi)),
                BinaryOp::Mul => {
                    let t1 = self.b.ins().fmul(ar, br);
                    let t2 = self.b.ins().fmul(ai, bi);
                    let t3 = self.b.ins().fmul(ar, bi);
                    let t4 = self.b.ins().fmul(ai, br);
                    V::C(self.b.ins().fsub(t1, t2), self.b.ins().fadd(t3, t4))
                }
                _ => {
                    let f =
                        host::binary_fn(op, d).ok_or_else(|| jerr(format!("no host function for {op:?} on {d}")))?;
                    return self.host(f, ty, &[ar, ai, br, bi]);
                }
            }),
            _ => Err(jerr("binary operands of mixed kinds")),
        }
    }

    fn compare(&mut self, c: CmpOp, d: DType, a: V, b: V) -> Value {
        match (a, b) {
            (V::S(x), V::S(y)) if d == DType::Bool => {
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
            (V::S(x), V::S(y)) => {
                let cc = match c {
                    CmpOp::Lt => FloatCC::LessThan,
                    CmpOp::Le => FloatCC::LessThanOrEqual,
                    CmpOp::Gt => FloatCC::GreaterThan,
                    CmpOp::Ge => FloatCC::GreaterThanOrEqual,
                    CmpOp::Eq => FloatCC::Equal,
                    CmpOp::Ne => FloatCC::NotEqual,
                };
                self.b.ins().fcmp(cc, x, y)
            }
            (V::C(ar, ai), V::C(br, bi)) => {
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

    fn conv_real(&mut self, x: Value, from: Type, to: Type) -> Value {
        if from == to {
            x
        } else if to == types::F64 {
            self.b.ins().fpromote(types::F64, x)
        } else {
            self.b.ins().fdemote(types::F32, x)
        }
    }

    fn cast(&mut self, from: DType, to: DType, a: V) -> V {
        if from == to {
            return a;
        }
        let (ft, tt) = (elem_ty(from), elem_ty(to));
        if to == DType::Bool {
            return V::S(match a {
                V::S(x) => {
                    let z = self.real_const(ft, 0.0);
                    self.b.ins().fcmp(FloatCC::NotEqual, x, z)
                }
                V::C(r, i) => {
                    let z = self.real_const(ft, 0.0);
                    let cr = self.b.ins().fcmp(FloatCC::NotEqual, r, z);
                    let ci = self.b.ins().fcmp(FloatCC::NotEqual, i, z);
                    self.b.ins().bor(cr, ci)
                }
            });
        }
        let re = match a {
            V::S(x) if from == DType::Bool => {
                let one = self.real_const(tt, 1.0);
                let zero = self.real_const(tt, 0.0);
                self.b.ins().select(x, one, zero)
            }
            V::S(x) => self.conv_real(x, ft, tt),
            V::C(r, _) => self.conv_real(r, ft, tt),
        };
        if to.is_complex() {
            let im = match a {
                V::C(_, i) => self.conv_real(i, ft, tt),
                V::S(_) => self.real_const(tt, 0.0),
            };
            V::C(re, im)
        } else {
            V::S(re)
        }
    }
}

/// The kernel signature: `fn(bufs: *const *mut u8)`.
pub(crate) fn kernel_signature(module: &JITModule) -> Signature {
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(module.target_config().pointer_type()));
    sig
}

#[allow(dead_code)]
fn _unused(_: Block) {}
