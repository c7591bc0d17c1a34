//! Host functions the generated code calls: transcendentals and the complex operations that are
//! not inlined. The table is data: one row per primitive, one entry per dtype. Adding a unary
//! primitive that needs a host function is one `urow!` line here (plus its kernel in
//! `interp/`, which `unary_num`/`unary_real` below reuse through the `Num` traits).

use crate::array::{DType, Num, RealNum};
use crate::ir::{BinaryOp, UnaryOp};
use num_complex::{Complex32, Complex64};
use std::sync::OnceLock;

/// `u` of a numeric element, as the interpreter computes it (ops whose result is real for a
/// complex input are not here: see `cabs`).
fn unary_num<T: Num>(u: UnaryOp, x: T) -> T {
    match u {
        UnaryOp::Neg => -x,
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sin => x.sin(),
        UnaryOp::Cos => x.cos(),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Sign => x.sign(),
        UnaryOp::Recip => T::one() / x,
        UnaryOp::Conj => x.conj(),
        UnaryOp::Log1p => x.ln_1p(),
        UnaryOp::Expm1 => x.exp_m1(),
        UnaryOp::Asin => x.asin(),
        UnaryOp::Acos => x.acos(),
        UnaryOp::Atan => x.atan(),
        UnaryOp::Asinh => x.asinh(),
        UnaryOp::Acosh => x.acosh(),
        UnaryOp::Atanh => x.atanh(),
        // Not reached through the table for complex types.
        UnaryOp::Abs
        | UnaryOp::Real
        | UnaryOp::Imag
        | UnaryOp::Erf
        | UnaryOp::Floor
        | UnaryOp::Ceil
        | UnaryOp::Round => x,
    }
}

fn unary_real<T: RealNum>(u: UnaryOp, x: T) -> T {
    match u {
        UnaryOp::Erf => x.erf(),
        UnaryOp::Floor => x.floor(),
        UnaryOp::Ceil => x.ceil(),
        UnaryOp::Round => x.round(),
        UnaryOp::Abs => Num::abs(x),
        _ => unary_num(u, x),
    }
}

fn binary_num<T: Num>(b: BinaryOp, x: T, y: T) -> T {
    match b {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div => x / y,
        BinaryOp::Pow => x.pow(y),
        _ => x,
    }
}

fn binary_real<T: RealNum>(b: BinaryOp, x: T, y: T) -> T {
    match b {
        BinaryOp::Atan2 => x.atan2(y),
        BinaryOp::Max => x.maximum(y),
        BinaryOp::Min => x.minimum(y),
        _ => binary_num(b, x, y),
    }
}

const fn unary_op(k: usize) -> UnaryOp {
    UnaryOp::ALL[k]
}

const fn binary_op(k: usize) -> BinaryOp {
    BinaryOp::ALL[k]
}

extern "C" fn ur32<const K: usize>(x: f32) -> f32 {
    unary_real(unary_op(K), x)
}
extern "C" fn ur64<const K: usize>(x: f64) -> f64 {
    unary_real(unary_op(K), x)
}
/// Complex unary: `(re, im, out)`, writes `out[0..2]`.
extern "C" fn uc64<const K: usize>(re: f32, im: f32, out: *mut f32) {
    let r = unary_num(unary_op(K), Complex32::new(re, im));
    // SAFETY: generated code passes `out` pointing at a two-element scratch slot of this
    // element type that it owns for the duration of the call.
    unsafe {
        *out = r.re;
        *out.add(1) = r.im;
    }
}
extern "C" fn uc128<const K: usize>(re: f64, im: f64, out: *mut f64) {
    let r = unary_num(unary_op(K), Complex64::new(re, im));
    // SAFETY: generated code passes `out` pointing at a two-element scratch slot of this
    // element type that it owns for the duration of the call.
    unsafe {
        *out = r.re;
        *out.add(1) = r.im;
    }
}
/// `|z|` of a complex number: `(re, im) -> real`.
extern "C" fn cabs64(re: f32, im: f32) -> f32 {
    Num::abs(Complex32::new(re, im))
}
extern "C" fn cabs128(re: f64, im: f64) -> f64 {
    Num::abs(Complex64::new(re, im))
}
extern "C" fn br32<const K: usize>(x: f32, y: f32) -> f32 {
    binary_real(binary_op(K), x, y)
}
extern "C" fn br64<const K: usize>(x: f64, y: f64) -> f64 {
    binary_real(binary_op(K), x, y)
}
/// Complex binary: `(are, aim, bre, bim, out)`, writes `out[0..2]`.
extern "C" fn bc64<const K: usize>(ar: f32, ai: f32, br: f32, bi: f32, out: *mut f32) {
    let r = binary_num(binary_op(K), Complex32::new(ar, ai), Complex32::new(br, bi));
    // SAFETY: generated code passes `out` pointing at a two-element scratch slot of this
    // element type that it owns for the duration of the call.
    unsafe {
        *out = r.re;
        *out.add(1) = r.im;
    }
}
extern "C" fn bc128<const K: usize>(ar: f64, ai: f64, br: f64, bi: f64, out: *mut f64) {
    let r = binary_num(binary_op(K), Complex64::new(ar, ai), Complex64::new(br, bi));
    // SAFETY: generated code passes `out` pointing at a two-element scratch slot of this
    // element type that it owns for the duration of the call.
    unsafe {
        *out = r.re;
        *out.add(1) = r.im;
    }
}

/// The calling convention of a host function.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
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
    pub shape: Shape,
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

fn hf(name: &str, d: &str, addr: usize, shape: Shape) -> Option<HostFn> {
    Some(HostFn { name: format!("cranegrad_{name}_{d}"), addr, shape })
}

/// A unary row: `real` / `complex` say which dtypes have a host function.
macro_rules! urow {
    ($op:ident, real) => {
        urow!(@ $op, true, false)
    };
    ($op:ident, complex) => {
        urow!(@ $op, false, true)
    };
    ($op:ident, both) => {
        urow!(@ $op, true, true)
    };
    (@ $op:ident, $r:expr, $c:expr) => {{
        const K: usize = UnaryOp::$op as usize;
        let n = UnaryOp::$op.name();
        Row {
            op: UnaryOp::$op,
            by_dtype: [
                if $r { hf(n, "f32", (ur32::<K> as extern "C" fn(f32) -> f32) as usize, Shape::RealUnary) } else { None },
                if $r { hf(n, "f64", (ur64::<K> as extern "C" fn(f64) -> f64) as usize, Shape::RealUnary) } else { None },
                if $c { hf(n, "c64", (uc64::<K> as extern "C" fn(f32, f32, *mut f32)) as usize, Shape::ComplexUnary) } else { None },
                if $c { hf(n, "c128", (uc128::<K> as extern "C" fn(f64, f64, *mut f64)) as usize, Shape::ComplexUnary) } else { None },
            ],
        }
    }};
}

macro_rules! brow {
    ($op:ident, $r:expr, $c:expr) => {{
        const K: usize = BinaryOp::$op as usize;
        let n = BinaryOp::$op.name();
        Row {
            op: BinaryOp::$op,
            by_dtype: [
                if $r {
                    hf(n, "f32", (br32::<K> as extern "C" fn(f32, f32) -> f32) as usize, Shape::RealBinary)
                } else {
                    None
                },
                if $r {
                    hf(n, "f64", (br64::<K> as extern "C" fn(f64, f64) -> f64) as usize, Shape::RealBinary)
                } else {
                    None
                },
                if $c {
                    hf(
                        n,
                        "c64",
                        (bc64::<K> as extern "C" fn(f32, f32, f32, f32, *mut f32)) as usize,
                        Shape::ComplexBinary,
                    )
                } else {
                    None
                },
                if $c {
                    hf(
                        n,
                        "c128",
                        (bc128::<K> as extern "C" fn(f64, f64, f64, f64, *mut f64)) as usize,
                        Shape::ComplexBinary,
                    )
                } else {
                    None
                },
            ],
        }
    }};
}

fn build() -> Table {
    let unary = vec![
        urow!(Exp, both),
        urow!(Log, both),
        urow!(Sin, both),
        urow!(Cos, both),
        urow!(Tanh, both),
        urow!(Sqrt, complex),
        urow!(Sign, complex),
        urow!(Recip, complex),
        urow!(Erf, real),
        urow!(Round, real),
        urow!(Log1p, both),
        urow!(Expm1, both),
        urow!(Asin, both),
        urow!(Acos, both),
        urow!(Atan, both),
        urow!(Asinh, both),
        urow!(Acosh, both),
        urow!(Atanh, both),
        Row {
            op: UnaryOp::Abs,
            by_dtype: [
                None,
                None,
                hf("abs", "c64", (cabs64 as extern "C" fn(f32, f32) -> f32) as usize, Shape::ComplexToReal),
                hf("abs", "c128", (cabs128 as extern "C" fn(f64, f64) -> f64) as usize, Shape::ComplexToReal),
            ],
        },
    ];
    let binary = vec![brow!(Pow, true, true), brow!(Atan2, true, false), brow!(Div, false, true)];
    Table { unary, binary }
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
