//! Test data and bit comparisons shared by the backend and optimizer tests: two deterministic
//! generators (xorshift and a linear congruential one), arrays of special values, the bits of
//! arrays (every NaN alike, or exactly), and compiled graphs checked against the interpreter on
//! pools of several threads.

use cranegrad::internals::{interp, jit, Data};
use cranegrad::ir::Graph;
use cranegrad::DType;
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

/// Marsaglia's xorshift (13, 7, 17) on 64 bits; the field is the state (a zero state stays
/// zero).
pub struct XorShift(pub u64);

impl XorShift {
    /// The generator whose state is `seed` times the golden ratio constant, made odd.
    pub fn golden(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Steps the state and returns it.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `[0, 1)`: the top 53 bits of the next state.
    pub fn unit(&mut self) -> f64 {
        unit_of(self.next_u64())
    }

    /// The next state modulo `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// One step of Knuth's MMIX linear congruential generator.
pub fn lcg_step(s: u64) -> u64 {
    s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407)
}

/// Knuth's MMIX linear congruential generator; the field is the state.
pub struct Lcg(pub u64);

impl Lcg {
    /// Uniform in `[0, 1)`: the top 53 bits of the next state.
    pub fn unit(&mut self) -> f64 {
        self.0 = lcg_step(self.0);
        unit_of(self.0)
    }
}

/// The top 53 bits of `s` as a value in `[0, 1)`.
pub fn unit_of(s: u64) -> f64 {
    (s >> 11) as f64 / (1u64 << 53) as f64
}

/// `values` as an array of `shape` in `dtype`: rounded to `f32` for `F32`, `f64` otherwise.
pub fn real_data(dtype: DType, shape: &[usize], values: Vec<f64>) -> Arc<Data> {
    let a = ArrayD::from_shape_vec(IxDyn(shape), values).unwrap();
    Arc::new(match dtype {
        DType::F32 => Data::F32(a.mapv(|x| x as f32)),
        _ => Data::F64(a),
    })
}

/// Signed zeros, NaN, infinities, ordinary values and a subnormal.
pub const SPECIAL: [f64; 8] = [-0.0, 0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.5, -2.25, 1e-310];

/// An `f64` array of `shape` cycling through [`SPECIAL`] from position `offset`.
pub fn f64_data(shape: &[usize], offset: usize) -> Arc<Data> {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|i| SPECIAL[(i + offset) % SPECIAL.len()]).collect();
    Arc::new(Data::F64(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()))
}

/// The bits of `x`, every NaN as `u64::MAX`.
pub fn canon32(x: f32) -> u64 {
    if x.is_nan() {
        u64::MAX
    } else {
        x.to_bits() as u64
    }
}

/// The bits of `x`, every NaN as `u64::MAX`.
pub fn canon64(x: f64) -> u64 {
    if x.is_nan() {
        u64::MAX
    } else {
        x.to_bits()
    }
}

/// The bits of each element (real and imaginary part; a real element's second is 0, a bool is
/// 0 or 1), every NaN alike.
pub fn canonical_bits(d: &Data) -> Vec<(u64, u64)> {
    match d {
        Data::Bool(a) => a.iter().map(|&v| (v as u64, 0)).collect(),
        Data::F32(a) => a.iter().map(|v| (canon32(*v), 0)).collect(),
        Data::F64(a) => a.iter().map(|v| (canon64(*v), 0)).collect(),
        Data::C64(a) => a.iter().map(|v| (canon32(v.re), canon32(v.im))).collect(),
        Data::C128(a) => a.iter().map(|v| (canon64(v.re), canon64(v.im))).collect(),
    }
}

/// The exact bits of each element of real data, NaN payloads included (panics on other data).
pub fn exact_bits(d: &Data) -> Vec<u64> {
    match d {
        Data::F32(a) => a.iter().map(|x| x.to_bits() as u64).collect(),
        Data::F64(a) => a.iter().map(|x| x.to_bits()).collect(),
        _ => panic!("real data only"),
    }
}

/// Bit-for-bit equality of two arrays: dtype, shape and elements (any NaN equals any NaN).
pub fn same_bits(a: &Data, b: &Data) -> bool {
    let bits = |v: f64| if v.is_nan() { u64::MAX } else { v.to_bits() };
    a.dtype() == b.dtype()
        && a.shape() == b.shape()
        && a.to_c128_vec()
            .iter()
            .zip(b.to_c128_vec())
            .all(|(x, y)| bits(x.re) == bits(y.re) && bits(x.im) == bits(y.im))
}

/// Compiles `g`, runs it on `inputs` under pools of 1, 2 and 3 threads and checks every
/// output's bits against the interpreter's; returns the compiled graph.
pub fn compiled_like_the_interpreter(g: &Graph, inputs: &[Arc<Data>], what: &str) -> jit::Compiled {
    let c = jit::compile_shared(&Arc::new(g.clone())).unwrap();
    let want = interp::run(g, inputs).unwrap();
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let got = pool.install(|| c.run(inputs).unwrap());
        assert_eq!(got.len(), want.len());
        for (k, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(
                a.element_bits() == b.element_bits(),
                "{what}: output {k} differs from the interpreter ({threads} threads)"
            );
        }
    }
    c
}
