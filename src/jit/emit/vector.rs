//! Vector lowering: which loops run on 128-bit vectors (`F64X2`, `F32X4`), and the static
//! facts about the innermost loop that both the vector code and the guard splitting rely on.
//!
//! Every index the expression walk passes down carries a [`Lane`]: how it moves with the
//! innermost loop variable `i`. The rules here say how a lane moves through each layout op
//! (the same rules the walk in `expr.rs` follows when it emits the index arithmetic), and
//! [`KernelEmitter::scan`] walks a fused expression without emitting anything to find
//!
//! - the *cuts*: the values of `i` at which a pad or a concatenation along the innermost loop
//!   changes piece, so that the loop can be split into pieces whose guards are known statically
//!   (the interior of a pad has no guard at all), and
//! - whether the expression can be evaluated on `W` consecutive values of `i` at once: every
//!   element is a real float of the kernel's dtype (comparison masks and logical constants
//!   aside), every buffer is read contiguously along `i` or at one element for all lanes, and no
//!   guard depends on the lane. Host-lowered ops (transcendentals) are called once per lane.
//!
//! Vector code computes each lane with the same instructions, in the same order, as the scalar
//! code computes that element, so results are the interpreter's bit for bit. No multiply-add is
//! ever fused (`fma` would round once where the interpreter rounds twice).

use super::emitter::KernelEmitter;
use super::index::pure_load;
use super::lanes::{
    bcast_lane, concat_part, concat_parts_of, keeps_last_axis, linear_lane, multi_lane, pad_guard, permute_lane,
    slice_lane, Guard, Lane,
};
use crate::array::DType;
use crate::ir::{materialized_op, AxisSlice as Slice, NodeId, Op};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use rustc_hash::FxHashSet as HashSet;

/// The vector type for elements of `d`, if loops over `d` are vectorized (a complex element
/// is a pair of such vectors: real parts and imaginary parts).
pub(crate) fn vector_type(d: DType) -> Option<Type> {
    match d {
        DType::F64 | DType::C128 => Some(types::F64X2),
        DType::F32 | DType::C64 => Some(types::F32X4),
        DType::Bool => None,
    }
}

/// Byte masks of two-vector shuffles (bytes 0..16 from the first vector, 16..32 from the
/// second): the even or odd 64-bit (32-bit) lanes of the pair, and the interleaving of the low
/// or high halves.
const EVEN64: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
const ODD64: [u8; 16] = [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31];
const EVEN32: [u8; 16] = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
const ODD32: [u8; 16] = [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31];
const LOW64: [u8; 16] = EVEN64;
const HIGH64: [u8; 16] = ODD64;
const LOW32: [u8; 16] = [0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23];
const HIGH32: [u8; 16] = [8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31];

/// What [`KernelEmitter::scan`] found.
pub(crate) struct Scan {
    /// Values of `i` where a guard on the innermost loop changes.
    pub cuts: Vec<i64>,
    /// Whether the expression can be computed on a vector of consecutive `i`.
    pub vector: bool,
    /// The real dtype of the vector lanes (elements are of it, or complex of it).
    pub dtype: DType,
    seen: HashSet<(NodeId, Lane, bool)>,
}

impl Scan {
    /// A scan of expressions whose elements are of `dtype`.
    pub(crate) fn new(dtype: DType) -> Self {
        Scan { cuts: Vec::new(), vector: vector_type(dtype).is_some(), dtype: dtype.real(), seen: HashSet::default() }
    }

    /// Whether vector code handles elements of `d`.
    fn lanes(&self, d: DType) -> bool {
        d != DType::Bool && d.real() == self.dtype
    }
}

impl KernelEmitter<'_, '_> {
    /// Scans the expression of `n` at an index with lane `lane` over the current span; `own`
    /// computes `n` from its operands even if it has a buffer (a kernel's root).
    pub(crate) fn scan(&self, n: NodeId, lane: Lane, own: bool, s: &mut Scan) {
        if !s.seen.insert((n, lane, own)) {
            return;
        }
        let g = self.g;
        let node = &g.nodes[n];
        let float = s.lanes(node.dtype);
        if !own && self.plan.buffer[n].is_some() {
            let contiguous = match lane {
                Lane::Fixed | Lane::Flat => true,
                Lane::Axis(a, _) => node.shape[a + 1..].iter().all(|&d| d == 1),
                Lane::Unknown => false,
            };
            s.vector &= float && contiguous;
            return;
        }
        if self.plan.inline_const[n] {
            s.vector &= float || node.dtype == DType::Bool;
            return;
        }
        let in_dtype = |k: usize| g.nodes[node.inputs[k]].dtype;
        let operand = |k: usize| -> Lane {
            let inp = &g.nodes[node.inputs[k]].shape;
            bcast_lane(lane, &node.shape, inp)
        };
        match &node.op {
            Op::Unary(_) | Op::Binary(_) => {
                // Inline on vectors, or a host call per lane for a real operand.
                let d = in_dtype(0);
                let inline = !node.op.calls_host(d.is_complex());
                s.vector &=
                    float && s.lanes(d) && inline || (!d.is_complex() && node.op.calls_host(false) && s.lanes(d));
                for k in 0..node.inputs.len() {
                    self.scan(node.inputs[k], operand(k), false, s);
                }
            }
            Op::Compare(_) => {
                s.vector &= s.lanes(in_dtype(0));
                self.scan(node.inputs[0], operand(0), false, s);
                self.scan(node.inputs[1], operand(1), false, s);
            }
            Op::Select => {
                s.vector &= float;
                for k in 0..3 {
                    self.scan(node.inputs[k], operand(k), false, s);
                }
            }
            Op::Cast(to) => {
                s.vector &= s.lanes(*to) && (s.lanes(in_dtype(0)) || in_dtype(0) == DType::Bool);
                self.scan(node.inputs[0], operand(0), false, s);
            }
            Op::Broadcast(_) | Op::CustomVjp(_) => self.scan(node.inputs[0], operand(0), false, s),
            Op::Reshape(_) => {
                let inp = &g.nodes[node.inputs[0]].shape;
                let l = match lane {
                    Lane::Axis(_, off) if keeps_last_axis(lane, &node.shape, inp) => Lane::Axis(inp.len() - 1, off),
                    _ => linear_lane(lane, &node.shape),
                };
                self.scan(node.inputs[0], l, false, s);
            }
            Op::Permute(axes) => self.scan(node.inputs[0], permute_lane(lane, &node.shape, axes), false, s),
            Op::Slice(slices) => {
                let l = slice_lane(multi_lane(lane, &node.shape), slices, &g.nodes[node.inputs[0]].shape);
                self.scan(node.inputs[0], l, false, s);
            }
            Op::Pad { shape, slices } => self.scan_pad(node.inputs[0], lane, (shape, slices), s),
            Op::Concat(axis) => self.scan_concat(n, lane, *axis, s),
            materialized_op!() => s.vector = false,
        }
    }

    /// [`scan`](Self::scan) of a pad of `operand` at `lane`: its cuts, and its operand at the
    /// lane the guard leaves.
    fn scan_pad(&self, operand: NodeId, lane: Lane, (shape, slices): (&[usize], &[Slice]), s: &mut Scan) {
        if slices.iter().any(|x| x.len == 0) {
            return;
        }
        let lane = multi_lane(lane, shape);
        let (guard, cuts) = pad_guard(lane, slices, shape, self.span);
        s.cuts.extend(cuts.iter().flatten());
        let l = match guard {
            Guard::Outside => return,
            Guard::Inside(l) => l,
            Guard::Other => lane,
            Guard::Mixed => {
                s.vector = false;
                Lane::Unknown
            }
        };
        if matches!(l, Lane::Unknown) && slices.iter().enumerate().any(|(a, x)| !x.is_full(shape[a])) {
            s.vector = false;
        }
        self.scan(operand, l, false, s);
    }

    /// [`scan`](Self::scan) of concatenation `n` along `axis` at `lane`: the part that covers
    /// the span, or every part (with the cuts between them).
    fn scan_concat(&self, n: NodeId, lane: Lane, axis: usize, s: &mut Scan) {
        let node = &self.g.nodes[n];
        let parts = concat_parts_of(self.g, n, axis);
        let lane = multi_lane(lane, &node.shape);
        match concat_part(lane, axis, &parts, self.span) {
            Ok(Some(p)) => {
                let (i, at, _) = parts[p];
                let l = match lane {
                    Lane::Axis(a, off) => Lane::Axis(a, off.map(|o| o - at as i64)),
                    other => other,
                };
                self.scan(i, l, false, s);
            }
            Ok(None) => {
                if matches!(lane, Lane::Unknown) && parts.len() > 1 {
                    s.vector = false;
                }
                for &(i, _, _) in &parts {
                    self.scan(i, lane, false, s);
                }
            }
            Err(cuts) => {
                s.cuts.extend(cuts);
                s.vector = false;
                for &(i, _, _) in &parts {
                    self.scan(i, Lane::Unknown, false, s);
                }
            }
        }
    }

    /// Loads the element(s) at address `at`: a vector of consecutive elements when `lane` moves
    /// with the vector loop, otherwise one element (splat to every lane in vector mode).
    pub(crate) fn load_lanes(&mut self, at: Value, ty: Type, lane: Lane, pure: bool) -> Value {
        let (vector, element) =
            (pure_load(MemFlagsData::new().with_notrap(), pure), pure_load(MemFlagsData::trusted(), pure));
        match self.vec {
            Some(v) if lane != Lane::Fixed => self.b.ins().load(v, vector, at, 0),
            Some(v) => {
                let x = self.b.ins().load(ty, element, at, 0);
                self.b.ins().splat(v, x)
            }
            None => self.b.ins().load(ty, element, at, 0),
        }
    }

    /// The complex elements at `at` and after it, one per lane, split into a vector of real
    /// parts and one of imaginary parts (or one element, splat, for a `Fixed` lane).
    pub(crate) fn load_complex_lanes(&mut self, at: Value, ty: Type, lane: Lane, pure: bool) -> (Value, Value) {
        let Some(v) = self.vec else {
            let f = pure_load(MemFlagsData::trusted(), pure);
            return (self.b.ins().load(ty, f, at, 0), self.b.ins().load(ty, f, at, ty.bytes() as i32));
        };
        if lane == Lane::Fixed {
            let f = pure_load(MemFlagsData::trusted(), pure);
            let (re, im) = (self.b.ins().load(ty, f, at, 0), self.b.ins().load(ty, f, at, ty.bytes() as i32));
            return (self.b.ins().splat(v, re), self.b.ins().splat(v, im));
        }
        let f = pure_load(MemFlagsData::new().with_notrap(), pure);
        let a = self.b.ins().load(v, f, at, 0);
        let b = self.b.ins().load(v, f, at, 16);
        // f64: [r0 i0] [r1 i1]; f32: [r0 i0 r1 i1] [r2 i2 r3 i3].
        (self.even_lanes(v, a, b), self.odd_lanes(v, a, b))
    }

    /// Stores vectors of real and imaginary parts as consecutive complex elements at `at`.
    pub(crate) fn store_complex_lanes(&mut self, at: Value, re: Value, im: Value) {
        let v = self.b.func.dfg.value_type(re);
        let (lo, hi) = if v == types::F64X2 { (LOW64, HIGH64) } else { (LOW32, HIGH32) };
        let a = self.shuffle(v, re, im, lo);
        let b = self.shuffle(v, re, im, hi);
        let f = MemFlagsData::new().with_notrap();
        self.b.ins().store(f, a, at, 0);
        self.b.ins().store(f, b, at, 16);
    }

    /// The even elements of `a` then of `b` (vectors of type `v`).
    pub(crate) fn even_lanes(&mut self, v: Type, a: Value, b: Value) -> Value {
        self.shuffle(v, a, b, if v == types::F64X2 { EVEN64 } else { EVEN32 })
    }

    /// The odd elements of `a` then of `b` (vectors of type `v`).
    pub(crate) fn odd_lanes(&mut self, v: Type, a: Value, b: Value) -> Value {
        self.shuffle(v, a, b, if v == types::F64X2 { ODD64 } else { ODD32 })
    }

    /// A two-vector byte shuffle of vectors of type `v`.
    fn shuffle(&mut self, v: Type, a: Value, b: Value, mask: [u8; 16]) -> Value {
        let a = self.reinterpret(types::I8X16, a);
        let b = self.reinterpret(types::I8X16, b);
        let m = self.b.func.dfg.immediates.push(cranelift_codegen::ir::ConstantData::from(&mask[..]));
        let r = self.b.ins().shuffle(a, b, m);
        self.reinterpret(v, r)
    }

    /// The bits of vector `v` as a vector of type `ty`, whose lanes may be of another width
    /// (little-endian order: lane 0 holds the lowest bytes).
    pub(crate) fn reinterpret(&mut self, ty: Type, v: Value) -> Value {
        let le = MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little);
        self.b.ins().bitcast(ty, le, v)
    }

    /// `c ? x : y` per lane: a `select` on a scalar condition, a `bitselect` on a vector mask.
    pub(crate) fn sel(&mut self, c: Value, x: Value, y: Value) -> Value {
        let ct = self.b.func.dfg.value_type(c);
        if ct.is_vector() {
            let xt = self.b.func.dfg.value_type(x);
            let mask = if ct == xt { c } else { self.b.ins().bitcast(xt, MemFlagsData::new(), c) };
            self.b.ins().bitselect(mask, x, y)
        } else {
            self.b.ins().select(c, x, y)
        }
    }

    /// `-x`: for a vector, an `xor` with a sign-bit mask, a constant that Cranelift hoists out
    /// of the loop (x64's vector `fneg` rebuilds its mask at every use).
    pub(crate) fn negate(&mut self, x: Value) -> Value {
        match self.sign_mask(x, true) {
            Some(m) => self.b.ins().bxor(x, m),
            None => self.b.ins().fneg(x),
        }
    }

    /// `|x|`: for a vector, an `and` with a constant mask of every bit but the sign (as
    /// [`KernelEmitter::negate`]).
    pub(crate) fn absolute(&mut self, x: Value) -> Value {
        match self.sign_mask(x, false) {
            Some(m) => self.b.ins().band(x, m),
            None => self.b.ins().fabs(x),
        }
    }

    /// For a float vector `x`, a vector of its type whose lanes have only the sign bit set
    /// (`sign`) or every bit but the sign; `None` for a scalar.
    fn sign_mask(&mut self, x: Value, sign: bool) -> Option<Value> {
        let ty = self.b.func.dfg.value_type(x);
        if !ty.is_vector() {
            return None;
        }
        let lane = if ty.lane_type() == types::F32 {
            let bits = if sign { 1u32 << 31 } else { !(1u32 << 31) };
            self.b.ins().f32const(Ieee32::with_bits(bits))
        } else {
            let bits = if sign { 1u64 << 63 } else { !(1u64 << 63) };
            self.b.ins().f64const(Ieee64::with_bits(bits))
        };
        Some(self.b.ins().splat(ty, lane))
    }

    /// A host function of scalars applied to each lane of vector arguments.
    pub(crate) fn per_lane(
        &mut self,
        v: Type,
        args: &[Value],
        call: &mut dyn FnMut(&mut Self, &[Value]) -> Value,
    ) -> Value {
        let mut out: Option<Value> = None;
        for l in 0..v.lane_count() as u8 {
            let xs: Vec<Value> = args.iter().map(|&a| self.b.ins().extractlane(a, l)).collect();
            let r = call(self, &xs);
            out = Some(match out {
                None => self.b.ins().scalar_to_vector(v, r),
                Some(acc) => self.b.ins().insertlane(acc, r, l),
            });
        }
        out.expect("a vector has lanes")
    }
}
