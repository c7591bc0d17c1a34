//! Host functions the generated code calls: transcendentals and the complex operations that are
//! not inlined. The table is generated from the primitive lists (`ir/primitives.rs`): one row
//! per primitive, one trampoline per dtype whose lowering is `Host`, each calling the
//! interpreter's own scalar kernel, so the two can never disagree. Nothing here is edited to
//! add a primitive.

use crate::array::DType;
use crate::interp::{
    binary_complex_element, binary_real_element, unary_complex_element, unary_complex_to_real, unary_real_element,
};
use crate::ir::primitives::{binary_primitives, unary_primitives};
use crate::ir::{BinaryOp, UnaryOp};
use num_complex::{Complex32, Complex64};
use std::sync::OnceLock;

const fn unary_op(k: usize) -> UnaryOp {
    UnaryOp::ALL[k]
}

const fn binary_op(k: usize) -> BinaryOp {
    BinaryOp::ALL[k]
}

extern "C" fn ur32<const K: usize>(x: f32) -> f32 {
    unary_real_element(unary_op(K), x)
}
extern "C" fn ur64<const K: usize>(x: f64) -> f64 {
    unary_real_element(unary_op(K), x)
}
/// Complex unary: `(re, im, out)`, writes `out[0..2]`.
extern "C" fn uc64<const K: usize>(re: f32, im: f32, out: *mut f32) {
    let x = Complex32::new(re, im);
    let r = unary_complex_element(unary_op(K), x).unwrap_or(x);
    // SAFETY: generated code passes `out` pointing at a two-element scratch slot of this
    // element type that it owns for the duration of the call.
    unsafe {
        *out = r.re;
        *out.add(1) = r.im;
    }
}
extern "C" fn uc128<const K: usize>(re: f64, im: f64, out: *mut f64) {
    let x = Complex64::new(re, im);
    let r = unary_complex_element(unary_op(K), x).unwrap_or(x);
    // SAFETY: generated code passes `out` pointing at a two-element scratch slot of this
    // element type that it owns for the duration of the call.
    unsafe {
        *out = r.re;
        *out.add(1) = r.im;
    }
}
/// A complex-to-real unary op (`|z|`): `(re, im) -> real`.
extern "C" fn ucr64<const K: usize>(re: f32, im: f32) -> f32 {
    unary_complex_to_real(unary_op(K), Complex32::new(re, im)).unwrap_or(f32::NAN)
}
extern "C" fn ucr128<const K: usize>(re: f64, im: f64) -> f64 {
    unary_complex_to_real(unary_op(K), Complex64::new(re, im)).unwrap_or(f64::NAN)
}
extern "C" fn br32<const K: usize>(x: f32, y: f32) -> f32 {
    binary_real_element(binary_op(K), x, y).unwrap_or(f32::NAN)
}
extern "C" fn br64<const K: usize>(x: f64, y: f64) -> f64 {
    binary_real_element(binary_op(K), x, y).unwrap_or(f64::NAN)
}
/// Complex binary: `(are, aim, bre, bim, out)`, writes `out[0..2]`.
extern "C" fn bc64<const K: usize>(ar: f32, ai: f32, br: f32, bi: f32, out: *mut f32) {
    let (x, y) = (Complex32::new(ar, ai), Complex32::new(br, bi));
    let r = binary_complex_element(binary_op(K), x, y).unwrap_or(x);
    // SAFETY: generated code passes `out` pointing at a two-element scratch slot of this
    // element type that it owns for the duration of the call.
    unsafe {
        *out = r.re;
        *out.add(1) = r.im;
    }
}
extern "C" fn bc128<const K: usize>(ar: f64, ai: f64, br: f64, bi: f64, out: *mut f64) {
    let (x, y) = (Complex64::new(ar, ai), Complex64::new(br, bi));
    let r = binary_complex_element(binary_op(K), x, y).unwrap_or(x);
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

fn hf(name: &str, d: &str, addr: usize, convention: Convention) -> Option<HostFn> {
    Some(HostFn { name: format!("cranegrad_{name}_{d}"), addr, convention })
}

/// The unary rows, generated from `ir::primitives::unary_primitives`: a trampoline for every
/// dtype whose lowering is `Host`.
macro_rules! unary_rows {
    ($($(#[$doc:meta])* $v:ident $name:literal $kind:ident($kernel:ident) real: $rl:ident, complex: $cl:ident;)*) => {
        vec![$({
            #[allow(dead_code)]
            const K: usize = UnaryOp::$v as usize;
            Row {
                op: UnaryOp::$v,
                by_dtype: [
                    unary_rows!(@real $rl $name "f32" ur32::<K>, f32),
                    unary_rows!(@real $rl $name "f64" ur64::<K>, f64),
                    unary_rows!(@complex $cl $kind $name "c64" uc64::<K>, ucr64::<K>, f32),
                    unary_rows!(@complex $cl $kind $name "c128" uc128::<K>, ucr128::<K>, f64),
                ],
            }
        },)*]
    };
    (@real Host $name:literal $d:literal $f:expr, $t:ty) => {
        hf($name, $d, ($f as extern "C" fn($t) -> $t) as usize, Convention::RealUnary)
    };
    (@real $other:ident $name:literal $d:literal $f:expr, $t:ty) => { None };
    (@complex Host to_real $name:literal $d:literal $f:expr, $g:expr, $t:ty) => {
        hf($name, $d, ($g as extern "C" fn($t, $t) -> $t) as usize, Convention::ComplexToReal)
    };
    (@complex Host $kind:ident $name:literal $d:literal $f:expr, $g:expr, $t:ty) => {
        hf($name, $d, ($f as extern "C" fn($t, $t, *mut $t)) as usize, Convention::ComplexUnary)
    };
    (@complex $other:ident $kind:ident $name:literal $d:literal $f:expr, $g:expr, $t:ty) => { None };
}

/// The binary rows, generated from `ir::primitives::binary_primitives`.
macro_rules! binary_rows {
    ($($(#[$doc:meta])* $v:ident $name:literal $kind:ident($kernel:ident) real: $rl:ident, complex: $cl:ident;)*) => {
        vec![$({
            #[allow(dead_code)]
            const K: usize = BinaryOp::$v as usize;
            Row {
                op: BinaryOp::$v,
                by_dtype: [
                    binary_rows!(@real $rl $name "f32" br32::<K>, f32),
                    binary_rows!(@real $rl $name "f64" br64::<K>, f64),
                    binary_rows!(@complex $cl $name "c64" bc64::<K>, f32),
                    binary_rows!(@complex $cl $name "c128" bc128::<K>, f64),
                ],
            }
        },)*]
    };
    (@real Host $name:literal $d:literal $f:expr, $t:ty) => {
        hf($name, $d, ($f as extern "C" fn($t, $t) -> $t) as usize, Convention::RealBinary)
    };
    (@real $other:ident $name:literal $d:literal $f:expr, $t:ty) => { None };
    (@complex Host $name:literal $d:literal $f:expr, $t:ty) => {
        hf($name, $d, ($f as extern "C" fn($t, $t, $t, $t, *mut $t)) as usize, Convention::ComplexBinary)
    };
    (@complex $other:ident $name:literal $d:literal $f:expr, $t:ty) => { None };
}

fn build() -> Table {
    Table { unary: unary_primitives!(unary_rows), binary: binary_primitives!(binary_rows) }
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
