//! Shared test harness: a small deterministic RNG, random arrays, and gradient checks against
//! central finite differences (first order, and second order as Hessian-vector products). The
//! generators and bit comparisons of the backend and optimizer tests are in [`data`].
//!
//! The checks work on any mix of real and complex arguments in single or double precision. The
//! scalar that is differentiated is `s(x) = sum(w * f(x))` for a fixed random `w` of `f`'s output
//! shape (`real(sum(w * f(x)))` with complex `w` when `f(x)` is complex), so every output element
//! contributes. For a complex argument `x = a + ib` the expected gradient is `ds/da + i ds/db`,
//! each part measured by finite differences on `a` and `b` separately.
//!
//! Second order: with higher derivatives on, `h(x) = sum(real(g(x) * conj(v)))` for the gradient
//! `g` and a random direction `v` is differentiated again; that is the Hessian-vector product
//! `H v`, compared with the finite difference `(g(x + t v) - g(x - t v)) / 2t` of the first-order
//! gradient.
#![allow(dead_code)]

pub mod data;

use cranegrad::prelude::*;
use ndarray::{ArrayD, IxDyn};
use num_complex::Complex64;

/// xorshift64*: tiny, deterministic, good enough for test inputs.
pub struct Rng(u64);

impl Rng {
    /// A generator from a nonzero seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// An array of `shape` uniform in `[lo, hi)`.
    pub fn array(&mut self, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f64> {
        ArrayD::from_shape_fn(IxDyn(shape), |_| self.uniform(lo, hi))
    }

    /// An array of `shape` whose magnitudes are uniform in `[lo, hi)` with random signs: away
    /// from zero, for functions with a kink or a pole there.
    pub fn away_from_zero(&mut self, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f64> {
        ArrayD::from_shape_fn(IxDyn(shape), |_| {
            let m = self.uniform(lo, hi);
            if self.unit() < 0.5 {
                -m
            } else {
                m
            }
        })
    }

    /// A complex array of `shape`, real and imaginary parts uniform in `[lo, hi)`.
    pub fn complex(&mut self, shape: &[usize], lo: f64, hi: f64) -> ArrayD<Complex64> {
        ArrayD::from_shape_fn(IxDyn(shape), |_| Complex64::new(self.uniform(lo, hi), self.uniform(lo, hi)))
    }
}

/// Finite-difference step and acceptance: `|got - want| <= abs + rel * max(|got|, |want|)`.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    /// The central-difference step.
    pub step: f64,
    /// Relative tolerance.
    pub rel: f64,
    /// Absolute tolerance.
    pub abs: f64,
}

impl Tol {
    /// Double precision: step 1e-5 (truncation ~1e-10, rounding ~1e-11 relative), rel and abs 1e-6.
    pub const F64: Tol = Tol { step: 1e-5, rel: 1e-6, abs: 1e-6 };
    /// Single precision: step 1e-2 (truncation ~1e-4, rounding ~1e-5 relative), rel and abs 1e-2.
    pub const F32: Tol = Tol { step: 1e-2, rel: 1e-2, abs: 1e-2 };

    fn accepts(&self, got: f64, want: f64) -> bool {
        (got - want).abs() <= self.abs + self.rel * got.abs().max(want.abs())
    }
}

/// One argument of a checked function: its value (held as complex; real arguments use the real
/// part only) and the dtype it is passed as.
#[derive(Clone, Debug)]
pub struct Arg {
    /// The value.
    pub value: ArrayD<Complex64>,
    /// The dtype the function receives.
    pub dtype: DType,
}

impl Arg {
    /// A double-precision real argument.
    pub fn f64(a: &ArrayD<f64>) -> Self {
        Arg { value: a.mapv(|v| Complex64::new(v, 0.0)), dtype: DType::F64 }
    }

    /// A single-precision real argument.
    pub fn f32(a: &ArrayD<f64>) -> Self {
        Arg { value: a.mapv(|v| Complex64::new(v, 0.0)), dtype: DType::F32 }
    }

    /// A double-precision complex argument.
    pub fn c128(a: &ArrayD<Complex64>) -> Self {
        Arg { value: a.clone(), dtype: DType::C128 }
    }

    /// A single-precision complex argument.
    pub fn c64(a: &ArrayD<Complex64>) -> Self {
        Arg { value: a.clone(), dtype: DType::C64 }
    }

    fn is_complex(&self) -> bool {
        matches!(self.dtype, DType::C64 | DType::C128)
    }

    /// The argument as an (untraced) array of its dtype.
    pub fn to_dl(&self) -> DlArray {
        let x = if self.is_complex() {
            DlArray::from(self.value.clone())
        } else {
            DlArray::from(self.value.mapv(|v| v.re))
        };
        x.cast(self.dtype)
    }

    fn shifted(&self, j: usize, by: Complex64) -> Arg {
        let mut a = self.clone();
        if let Some(v) = a.value.iter_mut().nth(j) {
            *v += by;
        }
        a
    }

    fn moved(&self, dir: &ArrayD<Complex64>, t: f64) -> Arg {
        let mut a = self.clone();
        a.value.zip_mut_with(dir, |x, d| *x += d * t);
        a
    }
}

/// A function under test: arrays in, one array out.
pub type TestFn<'a> = &'a dyn Fn(&[DlArray]) -> DlArray;

fn to_complex(a: &DlArray) -> Result<ArrayD<Complex64>, String> {
    a.cast(DType::C128).extractdata::<Complex64>().map_err(|e| e.to_string())
}

/// The weights of `s(x) = sum(w * f(x))`: random, of the output's shape, complex for a complex
/// output.
fn weights(f: TestFn<'_>, args: &[Arg], rng: &mut Rng) -> Result<DlArray, String> {
    let xs: Vec<DlArray> = args.iter().map(Arg::to_dl).collect();
    let out = f(&xs);
    out.data().map_err(|e| format!("evaluating f failed: {e}"))?;
    let shape = out.shape().to_vec();
    Ok(match out.dtype() {
        DType::C64 | DType::C128 => DlArray::from(rng.complex(&shape, -1.0, 1.0)),
        DType::Bool => return Err("f returns a logical array, which has no gradient".into()),
        _ => DlArray::from(rng.array(&shape, -1.0, 1.0)),
    })
}

/// `s(x) = sum(w * f(x))`, real part taken for complex outputs.
fn scalar(f: TestFn<'_>, xs: &[DlArray], w: &DlArray) -> DlArray {
    let s = (f(xs) * w).sum_all();
    if s.dtype() == DType::C64 || s.dtype() == DType::C128 {
        s.real()
    } else {
        s
    }
}

fn value_of(f: TestFn<'_>, args: &[Arg], w: &DlArray) -> Result<f64, String> {
    let xs: Vec<DlArray> = args.iter().map(Arg::to_dl).collect();
    scalar(f, &xs, w).cast(DType::F64).to_scalar::<f64>().map_err(|e| e.to_string())
}

/// The first-order gradient of `s` from `dlgradient`, checked for the shape and dtype of each
/// variable.
fn gradient(f: TestFn<'_>, args: &[Arg], w: &DlArray) -> Result<Vec<ArrayD<Complex64>>, String> {
    let xs: Vec<DlArray> = args.iter().map(Arg::to_dl).collect();
    let grads = dlfeval(
        |xs: Vec<DlArray>| {
            let y = scalar(f, &xs, w);
            dlgradient(&y, &xs)
        },
        xs,
    )
    .map_err(|e| format!("dlfeval/dlgradient failed: {e}"))?;
    check_like(&grads, args)?;
    grads.iter().map(to_complex).collect()
}

fn check_like(grads: &[DlArray], args: &[Arg]) -> Result<(), String> {
    if grads.len() != args.len() {
        return Err(format!("{} gradients for {} variables", grads.len(), args.len()));
    }
    for (k, (g, a)) in grads.iter().zip(args).enumerate() {
        if g.shape() != a.value.shape() || g.dtype() != a.dtype {
            return Err(format!(
                "gradient {k} is {:?} {:?}, its variable {:?} {:?}",
                g.dtype(),
                g.shape(),
                a.dtype,
                a.value.shape()
            ));
        }
    }
    Ok(())
}

fn compare(what: &str, got: &[ArrayD<Complex64>], want: &[ArrayD<Complex64>], tol: Tol) -> Result<(), String> {
    let mut bad = Vec::new();
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        for (j, (a, b)) in g.iter().zip(w.iter()).enumerate() {
            if !tol.accepts(a.re, b.re) || !tol.accepts(a.im, b.im) {
                bad.push(format!("input {k} element {j}: got {a}, finite differences {b}"));
            }
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("{what} mismatch ({} elements):\n  {}", bad.len(), bad.join("\n  ")))
    }
}

/// First-order check on any mix of arguments; `Err` describes every mismatch.
pub fn try_check_grad_args(f: TestFn<'_>, args: &[Arg], tol: Tol, seed: u64) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let w = weights(f, args, &mut rng)?;
    let got = gradient(f, args, &w)?;
    let mut want = Vec::new();
    for (k, a) in args.iter().enumerate() {
        let mut fd = ArrayD::from_elem(a.value.raw_dim(), Complex64::new(0.0, 0.0));
        for j in 0..a.value.len() {
            let parts: &[Complex64] = if a.is_complex() {
                &[Complex64::new(1.0, 0.0), Complex64::new(0.0, 1.0)]
            } else {
                &[Complex64::new(1.0, 0.0)]
            };
            let mut d = Complex64::new(0.0, 0.0);
            for &unit in parts {
                let mut plus = args.to_vec();
                let mut minus = args.to_vec();
                plus[k] = a.shifted(j, unit * tol.step);
                minus[k] = a.shifted(j, -unit * tol.step);
                let slope = (value_of(f, &plus, &w)? - value_of(f, &minus, &w)?) / (2.0 * tol.step);
                d += unit * slope;
            }
            if let Some(slot) = fd.iter_mut().nth(j) {
                *slot = d;
            }
        }
        want.push(fd);
    }
    compare("first-order gradient", &got, &want, tol)
}

/// Second-order check (Hessian-vector product) on any mix of arguments.
pub fn try_check_hvp_args(f: TestFn<'_>, args: &[Arg], tol: Tol, seed: u64) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let w = weights(f, args, &mut rng)?;
    let dirs: Vec<ArrayD<Complex64>> = args
        .iter()
        .map(|a| {
            if a.is_complex() {
                rng.complex(a.value.shape(), -1.0, 1.0)
            } else {
                rng.array(a.value.shape(), -1.0, 1.0).mapv(|v| Complex64::new(v, 0.0))
            }
        })
        .collect();
    let vs: Vec<DlArray> =
        dirs.iter().zip(args).map(|(d, a)| Arg { value: d.clone(), dtype: a.dtype }.to_dl()).collect();
    let xs: Vec<DlArray> = args.iter().map(Arg::to_dl).collect();
    let hv = dlfeval(
        |xs: Vec<DlArray>| {
            let y = scalar(f, &xs, &w);
            let higher = GradOptions { enable_higher_derivatives: Some(true), ..Default::default() };
            let g = dlgradient_with(&y, &xs, higher)?;
            check_like(&g, args).map_err(Error::Gradient)?;
            // 0 * sum(x) keeps h traced when the gradient is a constant (a zero Hessian).
            let mut h = real_part((&xs[0] * 0.0).sum_all());
            for (gk, vk) in g.iter().zip(&vs) {
                let vk = if vk.dtype() == DType::C64 || vk.dtype() == DType::C128 { vk.conj() } else { vk.clone() };
                h = h + real_part((gk * vk).sum_all());
            }
            dlgradient(&h, &xs)
        },
        xs,
    )
    .map_err(|e| format!("second-order dlfeval/dlgradient failed: {e}"))?;
    check_like(&hv, args)?;
    let got: Vec<ArrayD<Complex64>> = hv.iter().map(to_complex).collect::<Result<_, _>>()?;
    let moved = |t: f64| -> Vec<Arg> { args.iter().zip(&dirs).map(|(a, d)| a.moved(d, t)).collect() };
    let plus = gradient(f, &moved(tol.step), &w)?;
    let minus = gradient(f, &moved(-tol.step), &w)?;
    let want: Vec<ArrayD<Complex64>> =
        plus.iter().zip(&minus).map(|(p, m)| (p - m).mapv(|v| v / (2.0 * tol.step))).collect();
    compare("Hessian-vector product", &got, &want, tol)
}

fn real_part(x: DlArray) -> DlArray {
    if x.dtype() == DType::C64 || x.dtype() == DType::C128 {
        x.real()
    } else {
        x
    }
}

/// First-order check of `f` at double-precision real `inputs`; panics with every mismatch.
#[track_caller]
pub fn check_grad(f: impl Fn(&[DlArray]) -> DlArray, inputs: &[ArrayD<f64>], tol: Tol) {
    let args: Vec<Arg> = inputs.iter().map(Arg::f64).collect();
    if let Err(e) = try_check_grad_args(&f, &args, tol, 7) {
        panic!("{e}");
    }
}

/// First-order check of `f` at double-precision complex `inputs`.
#[track_caller]
pub fn check_grad_complex(f: impl Fn(&[DlArray]) -> DlArray, inputs: &[ArrayD<Complex64>], tol: Tol) {
    let args: Vec<Arg> = inputs.iter().map(Arg::c128).collect();
    if let Err(e) = try_check_grad_args(&f, &args, tol, 11) {
        panic!("{e}");
    }
}

/// Second-order check (Hessian-vector product) of `f` at double-precision real `inputs`.
#[track_caller]
pub fn check_hvp(f: impl Fn(&[DlArray]) -> DlArray, inputs: &[ArrayD<f64>], tol: Tol) {
    let args: Vec<Arg> = inputs.iter().map(Arg::f64).collect();
    if let Err(e) = try_check_hvp_args(&f, &args, tol, 13) {
        panic!("{e}");
    }
}

/// Second-order check of `f` at double-precision complex `inputs`.
#[track_caller]
pub fn check_hvp_complex(f: impl Fn(&[DlArray]) -> DlArray, inputs: &[ArrayD<Complex64>], tol: Tol) {
    let args: Vec<Arg> = inputs.iter().map(Arg::c128).collect();
    if let Err(e) = try_check_hvp_args(&f, &args, tol, 17) {
        panic!("{e}");
    }
}

/// First- and second-order checks of `f` at double-precision real `inputs`.
#[track_caller]
pub fn check_both(f: impl Fn(&[DlArray]) -> DlArray, inputs: &[ArrayD<f64>], tol: Tol) {
    check_grad(&f, inputs, tol);
    check_hvp(&f, inputs, tol);
}

/// Collects labelled failures so one test can check many ops and report all of them.
#[derive(Default)]
pub struct Failures(Vec<String>);

impl Failures {
    /// Records `result` under `label`.
    pub fn record(&mut self, label: &str, result: Result<(), String>) {
        if let Err(e) = result {
            self.0.push(format!("[{label}] {e}"));
        }
    }

    /// Panics listing every failure, if any.
    #[track_caller]
    pub fn assert_none(self) {
        assert!(self.0.is_empty(), "{} failures:\n{}", self.0.len(), self.0.join("\n"));
    }
}

/// `|a - b| <= tol * (1 + max(|a|, |b|))` elementwise, with a message naming the element.
#[track_caller]
pub fn assert_close(got: &ArrayD<f64>, want: &ArrayD<f64>, tol: f64) {
    assert_eq!(got.shape(), want.shape(), "shapes differ");
    for (j, (a, b)) in got.iter().zip(want.iter()).enumerate() {
        let ok = (a.is_nan() && b.is_nan()) || (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()));
        assert!(ok, "element {j}: got {a}, want {b}\n got  {got}\n want {want}");
    }
}

/// The resident set size of this process in KiB (0 where `/proc` is unavailable).
pub fn rss_kib() -> usize {
    status_kib("VmRSS:")
}

/// The peak resident set size of this process in KiB (0 where `/proc` is unavailable).
pub fn peak_rss_kib() -> usize {
    status_kib("VmHWM:")
}

/// A `kB` line of `/proc/self/status`.
fn status_kib(key: &str) -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
