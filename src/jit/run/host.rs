//! Host functions the generated code calls: transcendentals and the complex operations that are
//! not inlined. The table is built from the primitives' kernel types (`ir/kernels.rs`): one row
//! per primitive, one trampoline per dtype whose lowering is `Host`, each generic over the
//! kernel type and calling the interpreter's own scalar kernel, so the two can never disagree.
//! Nothing here is edited to add a primitive.

use crate::array::{DType, RealNum};
use crate::ir::kernels::{
    BinaryVisitor, RealBinary, RealUnary, SameBinary, SameUnary, ToComplexBinary, ToRealUnary, UnaryVisitor,
};
use crate::ir::{BinaryOp, Lowering, UnaryOp};
use num_complex::{Complex32, Complex64};
use std::marker::PhantomData;
use std::sync::OnceLock;

/// A unary kernel on real operands, whatever its kind.
trait RealUnaryFn {
    fn apply<T: RealNum>(x: T) -> T;
}

/// A kernel of kind `same`, `to_real` or `real` seen as a [`RealUnaryFn`].
struct Same<K>(PhantomData<K>);
struct ToReal<K>(PhantomData<K>);
struct Real<K>(PhantomData<K>);

impl<K: SameUnary> RealUnaryFn for Same<K> {
    fn apply<T: RealNum>(x: T) -> T {
        K::apply(x)
    }
}
impl<K: ToRealUnary> RealUnaryFn for ToReal<K> {
    fn apply<T: RealNum>(x: T) -> T {
        K::apply(x)
    }
}
impl<K: RealUnary> RealUnaryFn for Real<K> {
    fn apply<T: RealNum>(x: T) -> T {
        K::apply(x)
    }
}

/// A binary kernel on real operands with a real result, whatever its kind.
trait RealBinaryFn {
    fn apply<T: RealNum>(x: T, y: T) -> T;
}

impl<K: SameBinary> RealBinaryFn for Same<K> {
    fn apply<T: RealNum>(x: T, y: T) -> T {
        K::apply(x, y)
    }
}
impl<K: RealBinary> RealBinaryFn for Real<K> {
    fn apply<T: RealNum>(x: T, y: T) -> T {
        K::apply(x, y)
    }
}

extern "C" fn ur32<F: RealUnaryFn>(x: f32) -> f32 {
    F::apply(x)
}
extern "C" fn ur64<F: RealUnaryFn>(x: f64) -> f64 {
    F::apply(x)
}
extern "C" fn uc64<K: SameUnary>(re: f32, im: f32, out: *mut f32) {
    let r = K::apply(Complex32::new(re, im));
    // SAFETY: generated code passes `out` pointing at a two-element scratch slot of this
    // element type that it owns for the duration of the call.
    unsafe {
        *out = r.re;
        *out.add(1) = r.im;
    }
}
extern "C" fn uc128<K: SameUnary>(re: f64, im: f64, out: *mut f64) {
    let r = K::apply(Complex64::new(re, im));
    // SAFETY: generated code passes `out` pointing at a two-element scratch slot of this
    // element type that it owns for the duration of the call.
    unsafe {
        *out = r.re;
        *out.add(1) = r.im;
    }
}
extern "C" fn ucr64<K: ToRealUnary>(re: f32, im: f32) -> f32 {
    K::apply(Complex32::new(re, im))
}
extern "C" fn ucr128<K: ToRealUnary>(re: f64, im: f64) -> f64 {
    K::apply(Complex64::new(re, im))
}
extern "C" fn br32<F: RealBinaryFn>(x: f32, y: f32) -> f32 {
    F::apply(x, y)
}
extern "C" fn br64<F: RealBinaryFn>(x: f64, y: f64) -> f64 {
    F::apply(x, y)
}
extern "C" fn bc64<K: SameBinary>(ar: f32, ai: f32, br: f32, bi: f32, out: *mut f32) {
    let r = K::apply(Complex32::new(ar, ai), Complex32::new(br, bi));
    // SAFETY: generated code passes `out` pointing at a two-element scratch slot of this
    // element type that it owns for the duration of the call.
    unsafe {
        *out = r.re;
        *out.add(1) = r.im;
    }
}
extern "C" fn bc128<K: SameBinary>(ar: f64, ai: f64, br: f64, bi: f64, out: *mut f64) {
    let r = K::apply(Complex64::new(ar, ai), Complex64::new(br, bi));
    // SAFETY: generated code passes `out` pointing at a two-element scratch slot of this
    // element type that it owns for the duration of the call.
    unsafe {
        *out = r.re;
        *out.add(1) = r.im;
    }
}

/// The calling convention of a host function.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Convention {
    /// `(x: T) -> T` for a real `T`.
    RealUnary,
    /// `(re, im, out: *mut R)`.
    ComplexUnary,
    /// `(re, im) -> R`.
    ComplexToReal,
    /// `(x: T, y: T) -> T`.
    RealBinary,
    /// `(are, aim, bre, bim, out: *mut R)`.
    ComplexBinary,
}

/// One host function: its symbol, address and convention.
#[derive(Clone, Debug)]
pub(crate) struct HostFn {
    pub name: String,
    pub addr: usize,
    pub convention: Convention,
}

/// One row of the table: a primitive and its host function per dtype (F32, F64, C64, C128).
pub(crate) struct Row<O> {
    pub op: O,
    pub by_dtype: [Option<HostFn>; 4],
}

/// The host-function tables.
pub(crate) struct Table {
    pub unary: Vec<Row<UnaryOp>>,
    pub binary: Vec<Row<BinaryOp>>,
}

fn dtype_slot(d: DType) -> Option<usize> {
    match d {
        DType::F32 => Some(0),
        DType::F64 => Some(1),
        DType::C64 => Some(2),
        DType::C128 => Some(3),
        DType::Bool => None,
    }
}

/// The host function named `cranegrad_{name}_{dtype}` at `addr`, when `lowering` is `Host`.
fn host(lowering: Lowering, name: &str, dtype: &str, addr: usize, convention: Convention) -> Option<HostFn> {
    (lowering == Lowering::Host).then(|| HostFn { name: format!("cranegrad_{name}_{dtype}"), addr, convention })
}

/// The row of a unary op: its real trampolines (`F` the kernel as a real function) and the
/// complex ones the visitor passes.
fn unary_row<F: RealUnaryFn>(u: UnaryOp, complex: [Option<HostFn>; 2]) -> Row<UnaryOp> {
    let (name, real) = (u.name(), u.lowering(false));
    let [c64, c128] = complex;
    let r32 = host(real, name, "f32", ur32::<F> as extern "C" fn(f32) -> f32 as usize, Convention::RealUnary);
    let r64 = host(real, name, "f64", ur64::<F> as extern "C" fn(f64) -> f64 as usize, Convention::RealUnary);
    Row { op: u, by_dtype: [r32, r64, c64, c128] }
}

/// Builds a unary op's row from its kernel type.
struct UnaryRow(UnaryOp);

impl UnaryVisitor for UnaryRow {
    type Output = Row<UnaryOp>;
    fn same<K: SameUnary>(self) -> Row<UnaryOp> {
        let (u, name, c) = (self.0, self.0.name(), self.0.lowering(true));
        let c64 =
            host(c, name, "c64", uc64::<K> as extern "C" fn(f32, f32, *mut f32) as usize, Convention::ComplexUnary);
        let c128 =
            host(c, name, "c128", uc128::<K> as extern "C" fn(f64, f64, *mut f64) as usize, Convention::ComplexUnary);
        unary_row::<Same<K>>(u, [c64, c128])
    }
    fn to_real<K: ToRealUnary>(self) -> Row<UnaryOp> {
        let (u, name, c) = (self.0, self.0.name(), self.0.lowering(true));
        let c64 =
            host(c, name, "c64", ucr64::<K> as extern "C" fn(f32, f32) -> f32 as usize, Convention::ComplexToReal);
        let c128 =
            host(c, name, "c128", ucr128::<K> as extern "C" fn(f64, f64) -> f64 as usize, Convention::ComplexToReal);
        unary_row::<ToReal<K>>(u, [c64, c128])
    }
    fn real<K: RealUnary>(self) -> Row<UnaryOp> {
        unary_row::<Real<K>>(self.0, [None, None])
    }
}

/// The row of a binary op: its real trampolines (`F` the kernel as a real function) and the
/// complex ones the visitor passes.
fn binary_row<F: RealBinaryFn>(b: BinaryOp, complex: [Option<HostFn>; 2]) -> Row<BinaryOp> {
    let (name, real) = (b.name(), b.lowering(false));
    let [c64, c128] = complex;
    let r32 = host(real, name, "f32", br32::<F> as extern "C" fn(f32, f32) -> f32 as usize, Convention::RealBinary);
    let r64 = host(real, name, "f64", br64::<F> as extern "C" fn(f64, f64) -> f64 as usize, Convention::RealBinary);
    Row { op: b, by_dtype: [r32, r64, c64, c128] }
}

/// Builds a binary op's row from its kernel type.
struct BinaryRow(BinaryOp);

impl BinaryVisitor for BinaryRow {
    type Output = Row<BinaryOp>;
    fn same<K: SameBinary>(self) -> Row<BinaryOp> {
        let (b, name, c) = (self.0, self.0.name(), self.0.lowering(true));
        let f64s = bc64::<K> as extern "C" fn(f32, f32, f32, f32, *mut f32) as usize;
        let f128s = bc128::<K> as extern "C" fn(f64, f64, f64, f64, *mut f64) as usize;
        let complex = [
            host(c, name, "c64", f64s, Convention::ComplexBinary),
            host(c, name, "c128", f128s, Convention::ComplexBinary),
        ];
        binary_row::<Same<K>>(b, complex)
    }
    fn real<K: RealBinary>(self) -> Row<BinaryOp> {
        binary_row::<Real<K>>(self.0, [None, None])
    }
    fn to_complex<K: ToComplexBinary>(self) -> Row<BinaryOp> {
        // Two reals to a complex: always inline, never a host call.
        Row { op: self.0, by_dtype: [None, None, None, None] }
    }
}

fn build() -> Table {
    Table {
        unary: UnaryOp::ALL.iter().map(|&u| u.visit(UnaryRow(u))).collect(),
        binary: BinaryOp::ALL.iter().map(|&b| b.visit(BinaryRow(b))).collect(),
    }
}

/// The table (built once).
pub(crate) fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(build)
}

/// The host function of `u` on `d`, if the table has one.
pub(crate) fn unary_fn(u: UnaryOp, d: DType) -> Option<&'static HostFn> {
    let s = dtype_slot(d)?;
    table().unary.iter().find(|r| r.op == u).and_then(|r| r.by_dtype[s].as_ref())
}

/// The host function of `b` on `d`, if the table has one.
pub(crate) fn binary_fn(b: BinaryOp, d: DType) -> Option<&'static HostFn> {
    let s = dtype_slot(d)?;
    table().binary.iter().find(|r| r.op == b).and_then(|r| r.by_dtype[s].as_ref())
}

/// Every host function, for `JITBuilder::symbol`.
pub(crate) fn all() -> impl Iterator<Item = &'static HostFn> {
    let t = table();
    t.unary
        .iter()
        .flat_map(|r| r.by_dtype.iter().flatten())
        .chain(t.binary.iter().flat_map(|r| r.by_dtype.iter().flatten()))
}
