//! Random programs over the public API, run differentially ("fuzzing" with proptest on the
//! stable toolchain). A program is a few inputs (real, single or complex; shapes that may or
//! may not broadcast) and a list of steps (elementwise math, operators with broadcasting,
//! slices with negative steps, reductions, reshapes, transposes, matrix products), reduced to a
//! real scalar whose gradient is taken, and optionally differentiated again (second order).
//!
//! Every program runs through `dlfeval`, `accelerate` (first call and hit), and the interpreter
//! on the traced graph before and after `opt::optimize`; all must agree: the same values, or
//! the same `Err` (an ill-typed program fails the same way everywhere). Smooth double-precision
//! programs also have their gradients (and Hessian-vector products) checked against finite
//! differences. proptest shrinks a failure to a minimal program and saves its seed in
//! `tests/fuzz_programs.proptest-regressions`, replayed on every run.
//!
//! CI runs `FUZZ_CASES` programs (default 16,384, from a fixed seed, about 15 s);
//! `cargo test --release --test fuzz_programs -- --ignored fuzz` runs a long campaign of new
//! programs on every run (`FUZZ_LONG_CASES`, default 5,000).

mod common;

use common::{try_check_grad_args, try_check_hvp_args, Arg, Rng, Tol};
use cranegrad::internals::Data;
use cranegrad::prelude::*;
use cranegrad::{internals::interp, internals::opt, trace_graph};
use ndarray::s;
use num_complex::Complex64;
use proptest::prelude::*;
use std::sync::Arc;

/// Elementwise functions (all smooth except `Abs` and `Relu`).
#[derive(Clone, Copy, Debug)]
enum Unary {
    Sin,
    Cos,
    Tanh,
    Square,
    Sigmoid,
    ExpOfTanh,
    Neg,
    Conj,
    Abs,
    Relu,
}

/// Binary operators with numpy broadcasting.
#[derive(Clone, Copy, Debug)]
enum Binary {
    Add,
    Sub,
    Mul,
    /// `a / (b * b + 1.5)` for real operands (a denominator away from zero); `a * b` otherwise.
    SafeDiv,
}

/// Linear algebra on symmetric positive definite matrices built from a value `a`
/// (`spd(a) = m m' + n I`, `m` the value as a matrix), so that `chol` succeeds.
#[derive(Clone, Copy, Debug)]
enum Linalg {
    /// `mldivide(spd(a), b)` (an error when `b` does not fit).
    Solve,
    /// `mrdivide(b, spd(a))`.
    Mrdivide,
    /// `r \ (r' \ m)` with `r = chol(spd(a))`, two triangular solves (`linsolve`).
    CholSolve,
    /// `chol(spd(a))`, lower or upper by the parity of `b`.
    Chol,
    /// `logdet(spd(a))`.
    LogDet,
    /// `det(spd(a) / n)`.
    Det,
    /// `inv(spd(a))`.
    Inv,
    /// The eigenvalues of `spd(a) + diag(0, 1, ..)` (`eig_symmetric`; distinct eigenvalues).
    EigValues,
}

/// `a` as a matrix (a scalar `[1, 1]`, a vector a column).
fn as_matrix(a: &DlArray) -> DlArray {
    match a.ndim() {
        0 => a.reshape(&[1, 1]),
        1 => a.reshape(&[a.numel(), 1]),
        _ => a.clone(),
    }
}

/// `m m' + n I` for `m = as_matrix(a)`: symmetric positive definite for real `a`.
fn spd(a: &DlArray) -> DlArray {
    let m = as_matrix(a);
    let Some(&n) = m.shape().first() else { return m };
    let eye = DlArray::from(ndarray::Array2::<f64>::eye(n)).cast(a.dtype());
    m.matmul(&m.transpose()) + eye * (n as f64)
}

/// One step: its operands are earlier values, picked modulo the number of values so far.
#[derive(Clone, Debug)]
enum Step {
    Unary(Unary, usize),
    Binary(Binary, usize, usize),
    /// `slice` with a negative step on one axis (`s![..;-1]`, or `s![..;-2]`).
    Reverse {
        value: usize,
        axis: usize,
        step2: bool,
    },
    /// Drops the first element of one axis (`s![1..]`).
    DropFirst {
        value: usize,
        axis: usize,
    },
    /// `sum_axes(&[axis], keepdims)`.
    SumAxis {
        value: usize,
        axis: usize,
        keepdims: bool,
    },
    MeanAll(usize),
    Transpose(usize),
    Flatten(usize),
    MatMul(usize, usize),
    /// `a * 2.0 + 0.5` (scalars on both sides of operators).
    Affine(usize),
    /// `fori_loop` of `trips` steps on a value: `c -> u(c) * 0.7 + c * 0.2 + sum(captured) * 0.1`.
    Loop {
        value: usize,
        trips: usize,
        unary: Unary,
        captured: usize,
    },
    /// The same steps as `Loop` by `while_loop` on a counter carried beside the value (real
    /// parts of complex values: forward mode and second derivatives through a `while_loop` are
    /// real).
    While {
        value: usize,
        trips: usize,
        unary: Unary,
        captured: usize,
    },
    /// `cond(sum(real(p)) > 0, a, sin, square)`.
    Branch {
        pred: usize,
        value: usize,
    },
    /// `scan` over axis 0 of a value (carry `s + sum(x) * 0.5`, outputs `tanh(x)`): `ys + s`.
    Scan(usize),
    /// A factorization or solve of matrices built from `a` (and `b`).
    Linalg(Linalg, usize, usize),
}

/// A random program: input dtype and shapes, steps, whether to take a second derivative.
#[derive(Clone, Debug)]
struct Program {
    dtype: DType,
    shapes: Vec<Vec<usize>>,
    steps: Vec<Step>,
    second_order: bool,
    seed: u64,
    /// Loops and branches written as Rust loops and `if`s instead (the unrolled program).
    unrolled: bool,
}

const SHAPES: &[&[usize]] = &[&[], &[3], &[4], &[2, 3], &[3, 2], &[1, 3], &[2, 1], &[3, 3]];

fn unary() -> impl Strategy<Value = Unary> {
    prop_oneof![
        Just(Unary::Sin),
        Just(Unary::Cos),
        Just(Unary::Tanh),
        Just(Unary::Square),
        Just(Unary::Sigmoid),
        Just(Unary::ExpOfTanh),
        Just(Unary::Neg),
        Just(Unary::Conj),
        Just(Unary::Abs),
        Just(Unary::Relu),
    ]
}

fn binary() -> impl Strategy<Value = Binary> {
    prop_oneof![Just(Binary::Add), Just(Binary::Sub), Just(Binary::Mul), Just(Binary::SafeDiv)]
}

fn linalg() -> impl Strategy<Value = Linalg> {
    prop_oneof![
        Just(Linalg::Solve),
        Just(Linalg::Mrdivide),
        Just(Linalg::CholSolve),
        Just(Linalg::Chol),
        Just(Linalg::LogDet),
        Just(Linalg::Det),
        Just(Linalg::Inv),
        Just(Linalg::EigValues),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let v = 0usize..8;
    prop_oneof![
        3 => (unary(), v.clone()).prop_map(|(u, a)| Step::Unary(u, a)),
        3 => (binary(), v.clone(), v.clone()).prop_map(|(b, x, y)| Step::Binary(b, x, y)),
        1 => (v.clone(), 0usize..2, any::<bool>()).prop_map(|(value, axis, step2)| Step::Reverse { value, axis, step2 }),
        1 => (v.clone(), 0usize..2).prop_map(|(value, axis)| Step::DropFirst { value, axis }),
        1 => (v.clone(), 0usize..2, any::<bool>()).prop_map(|(value, axis, keepdims)| Step::SumAxis { value, axis, keepdims }),
        1 => v.clone().prop_map(Step::MeanAll),
        1 => v.clone().prop_map(Step::Transpose),
        1 => v.clone().prop_map(Step::Flatten),
        1 => (v.clone(), v.clone()).prop_map(|(a, b)| Step::MatMul(a, b)),
        1 => v.clone().prop_map(Step::Affine),
        1 => (v.clone(), 0usize..4, unary(), v.clone()).prop_map(|(value, trips, unary, captured)| Step::Loop { value, trips, unary, captured }),
        1 => (v.clone(), 0usize..4, unary(), v.clone()).prop_map(|(value, trips, unary, captured)| Step::While { value, trips, unary, captured }),
        1 => (v.clone(), v.clone()).prop_map(|(pred, value)| Step::Branch { pred, value }),
        1 => v.clone().prop_map(Step::Scan),
        2 => (linalg(), v.clone(), v).prop_map(|(l, a, b)| Step::Linalg(l, a, b)),
    ]
}

fn program() -> impl Strategy<Value = Program> {
    let dtype = prop_oneof![4 => Just(DType::F64), 1 => Just(DType::F32), 2 => Just(DType::C128)];
    let shape = (0..SHAPES.len()).prop_map(|i| SHAPES[i].to_vec());
    (dtype, prop::collection::vec(shape, 1..=3), prop::collection::vec(step(), 1..=6), any::<bool>(), any::<u64>())
        .prop_map(|(dtype, shapes, steps, second_order, seed)| Program {
            dtype,
            shapes,
            steps,
            second_order,
            seed,
            unrolled: false,
        })
}

/// The elementwise function `u` on `a`.
fn apply(u: Unary, a: &DlArray) -> DlArray {
    match u {
        Unary::Sin => a.sin(),
        Unary::Cos => a.cos(),
        Unary::Tanh => a.tanh(),
        Unary::Square => a.square(),
        Unary::Sigmoid => a.sigmoid(),
        Unary::ExpOfTanh => a.tanh().exp(),
        Unary::Neg => -a,
        Unary::Conj => a.conj(),
        Unary::Abs => a.abs(),
        Unary::Relu if is_complex(a.dtype()) => a.abs(),
        Unary::Relu => a.relu(),
    }
}

fn is_complex(d: DType) -> bool {
    matches!(d, DType::C64 | DType::C128)
}

impl Program {
    /// True when every step is differentiable everywhere (finite differences apply).
    fn smooth(&self) -> bool {
        !self.steps.iter().any(|s| {
            matches!(
                s,
                Step::Unary(Unary::Abs | Unary::Relu, _)
                    | Step::Loop { unary: Unary::Abs | Unary::Relu, .. }
                    | Step::While { unary: Unary::Abs | Unary::Relu, .. }
                    | Step::Branch { .. }
            )
        })
    }

    /// The last value of the program on `xs` (before the final reduction).
    fn value(&self, xs: &[DlArray]) -> Result<DlArray> {
        let mut vals: Vec<DlArray> = xs.to_vec();
        for st in &self.steps {
            let pick = |i: usize| vals[i % vals.len()].clone();
            let out = match st {
                Step::Unary(u, a) => apply(*u, &pick(*a)),
                Step::Binary(b, x, y) => {
                    let (x, y) = (pick(*x), pick(*y));
                    match b {
                        Binary::Add => &x + &y,
                        Binary::Sub => &x - &y,
                        Binary::Mul => &x * &y,
                        Binary::SafeDiv if is_complex(y.dtype()) || is_complex(x.dtype()) => &x * &y,
                        Binary::SafeDiv => &x / (y.square() + 1.5),
                    }
                }
                Step::Reverse { value, axis, step2 } => {
                    let a = pick(*value);
                    let step = if *step2 { -2 } else { -1 };
                    match (a.ndim(), axis) {
                        (0, _) => a,
                        (1, _) => a.slice(s![..;step]),
                        (_, 0) => a.slice(s![..;step, ..]),
                        _ => a.slice(s![.., ..;step]),
                    }
                }
                Step::DropFirst { value, axis } => {
                    let a = pick(*value);
                    match (a.ndim(), axis) {
                        (0, _) => a,
                        (1, _) => a.slice(s![1..]),
                        (_, 0) => a.slice(s![1.., ..]),
                        _ => a.slice(s![.., 1..]),
                    }
                }
                Step::SumAxis { value, axis, keepdims } => {
                    let a = pick(*value);
                    // An axis past the rank is an error every path must report alike.
                    a.sum_axes(&[*axis], *keepdims)
                }
                Step::MeanAll(a) => pick(*a).mean_all(),
                Step::Transpose(a) => pick(*a).transpose(),
                Step::Flatten(a) => {
                    let a = pick(*a);
                    let n = a.numel();
                    a.reshape(&[n])
                }
                Step::MatMul(a, b) => pick(*a).matmul(&pick(*b)),
                Step::Affine(a) => 0.5 + pick(*a) * 2.0,
                Step::Loop { value, trips, unary, captured } => {
                    let (c, w) = (pick(*value), pick(*captured));
                    let step = |c: &DlArray| apply(*unary, c) * 0.7 + c * 0.2 + w.sum_all() * 0.1;
                    if self.unrolled {
                        (0..*trips).fold(c, |c, _| step(&c))
                    } else {
                        fori_loop(*trips, c, |_, c| Ok(step(&c)))?
                    }
                }
                Step::While { value, trips, unary, captured } => {
                    let real = |a: DlArray| if is_complex(a.dtype()) { a.real() } else { a };
                    let (c, w) = (real(pick(*value)), real(pick(*captured)));
                    let step = |c: &DlArray| apply(*unary, c) * 0.7 + c * 0.2 + w.sum_all() * 0.1;
                    if self.unrolled {
                        (0..*trips).fold(c, |c, _| step(&c))
                    } else {
                        let bound = DlArray::scalar(*trips as f64 - 0.5);
                        let more = |(_, k): &(DlArray, DlArray)| Ok(k.lt(&bound));
                        while_loop((c, DlArray::scalar(0.0)), more, |(c, k)| Ok((step(&c), k + 1.0)))?.0
                    }
                }
                Step::Branch { pred, value } => {
                    let (p, a) = (pick(*pred), pick(*value));
                    let p = p.real().sum_all().gt(&DlArray::scalar(0.0));
                    if self.unrolled {
                        if p.to_scalar::<bool>().unwrap_or(false) {
                            a.sin()
                        } else {
                            a.square()
                        }
                    } else {
                        cond(&p, a, |x| Ok(x.sin()), |x| Ok(x.square()))?
                    }
                }
                Step::Scan(a) => {
                    let a = pick(*a);
                    if a.ndim() == 0 {
                        a
                    } else if self.unrolled {
                        let mut total = a.sum_all() * 0.0;
                        let mut ys = Vec::new();
                        for t in 0..a.shape()[0] {
                            let x = a.at(t);
                            total = &total + x.sum_all() * 0.5;
                            ys.push(x.tanh().reshape(&[&[1], &a.shape()[1..]].concat()));
                        }
                        concat(&ys.iter().collect::<Vec<_>>(), 0) + total
                    } else {
                        let body = |s: DlArray, x: DlArray| Ok((&s + x.sum_all() * 0.5, x.tanh()));
                        let (s, ys) = scan(a.sum_all() * 0.0, a, body)?;
                        ys + s
                    }
                }
                Step::Linalg(l, a, b) => linalg_step(*l, &pick(*a), &pick(*b), *b),
            };
            vals.push(out);
        }
        Ok(vals.pop().unwrap_or_else(|| DlArray::scalar(0.0)))
    }

    /// The real scalar the program reduces to.
    fn scalar(&self, xs: &[DlArray]) -> Result<DlArray> {
        let out = self.value(xs)?.sum_all();
        Ok(if is_complex(out.dtype()) { out.real() + out.imag() * 0.5 } else { out })
    }

    /// `[y, dy/dx_k.., (d sum|dy/dx|^2 / dx_k)..]`, differentiated inside the current trace.
    fn outputs(&self, xs: &[DlArray]) -> Result<Vec<DlArray>> {
        let y = self.scalar(xs)?;
        let higher = GradOptions { enable_higher_derivatives: Some(self.second_order), ..GradOptions::default() };
        let grads = dlgradient_with(&y, &xs.to_vec(), higher)?;
        let mut out = vec![y];
        if self.second_order {
            let mut h = (&xs[0] * 0.0).sum_all().real();
            for g in &grads {
                h = h + (g * g.conj()).real().sum_all();
            }
            out.extend(dlgradient(&h, &xs.to_vec())?);
        }
        out.extend(grads);
        Ok(out)
    }

    fn args(&self) -> Vec<Arg> {
        let mut rng = Rng::new(self.seed | 1);
        self.shapes
            .iter()
            .map(|s| match self.dtype {
                DType::C128 => Arg::c128(&rng.complex(s, -1.0, 1.0)),
                DType::F32 => Arg::f32(&rng.array(s, -1.0, 1.0)),
                _ => Arg::f64(&rng.array(s, -1.0, 1.0)),
            })
            .collect()
    }
}

/// The value of a linear-algebra step on `a` and `b` (`b`'s index picks the triangle of `chol`).
fn linalg_step(l: Linalg, a: &DlArray, b: &DlArray, which: usize) -> DlArray {
    let s = spd(a);
    let Some(&n) = s.shape().first() else { return s };
    match l {
        Linalg::Solve => mldivide(&s, b),
        Linalg::Mrdivide => mrdivide(b, &s),
        Linalg::CholSolve => {
            let r = chol(&s);
            let z = linsolve(&r, &as_matrix(a), LinsolveOptions { ut: true, transa: true, ..Default::default() });
            linsolve(&r, &z, LinsolveOptions { ut: true, ..Default::default() })
        }
        Linalg::Chol if which % 2 == 0 => chol(&s),
        Linalg::Chol => chol_with(&s, Triangle::Lower),
        Linalg::LogDet => logdet(&s),
        Linalg::Det => det(&(s / n as f64)),
        Linalg::Inv => inv(&s),
        // Distinct eigenvalues (the rule divides by their differences): `m m'` has one
        // eigenvalue 0 of multiplicity `n - rank`, split by a diagonal of distinct values.
        Linalg::EigValues => match eig_symmetric(&(&s + distinct_diagonal(n, &s))) {
            Ok((values, _)) => values,
            Err(_) => s.chol(),
        },
    }
}

/// `diag(0, 1, .., n - 1)` in `like`'s dtype.
fn distinct_diagonal(n: usize, like: &DlArray) -> DlArray {
    let d = ndarray::Array2::from_shape_fn((n, n), |(i, j)| if i == j { i as f64 } else { 0.0 });
    DlArray::from(d).cast(like.dtype())
}

/// What one path produced: values as complex numbers with their shapes, or the error text.
type Outcome = std::result::Result<Vec<(Vec<usize>, Vec<Complex64>)>, String>;

fn outcome_of(r: Result<Vec<DlArray>>) -> Outcome {
    let arrays = r.map_err(|e| e.to_string())?;
    arrays.iter().map(|a| Ok((a.shape().to_vec(), a.data().map_err(|e| e.to_string())?.to_c128_vec()))).collect()
}

fn outcome_of_data(r: Result<Vec<Arc<Data>>>) -> Outcome {
    let datas = r.map_err(|e| e.to_string())?;
    Ok(datas.iter().map(|d| (d.shape().to_vec(), d.to_c128_vec())).collect())
}

/// Agreement of two outcomes: both errors with one message, or values within `rel`.
fn agree(what: &str, a: &Outcome, b: &Outcome, rel: f64) -> std::result::Result<(), String> {
    match (a, b) {
        (Err(x), Err(y)) if x == y => Ok(()),
        (Ok(x), Ok(y)) if x.len() == y.len() => {
            for (k, ((sx, vx), (sy, vy))) in x.iter().zip(y).enumerate() {
                if sx != sy {
                    return Err(format!("{what}: output {k} has shape {sx:?} vs {sy:?}"));
                }
                for (p, q) in vx.iter().zip(vy) {
                    let finite = |z: &Complex64| if z.norm().is_finite() { z.norm() } else { 0.0 };
                    let scale = 1.0 + finite(p).max(finite(q));
                    let close = |u: f64, v: f64| (u.is_nan() && v.is_nan()) || (u - v).abs() <= rel * scale;
                    if !close(p.re, q.re) || !close(p.im, q.im) {
                        return Err(format!("{what}: output {k}: {p} vs {q}"));
                    }
                }
            }
            Ok(())
        }
        _ => Err(format!("{what}: {a:?} vs {b:?}")),
    }
}

/// Runs `p` through every path and checks that they agree (and, where smooth, against finite
/// differences). Returns a description of the first disagreement.
fn check(p: &Program) -> std::result::Result<(), String> {
    let args = p.args();
    let xs: Vec<DlArray> = args.iter().map(Arg::to_dl).collect();
    let rel = if p.dtype == DType::F32 { 2e-4 } else { 1e-10 };

    let eager = outcome_of(dlfeval(|xs: Vec<DlArray>| p.outputs(&xs), xs.clone()));
    let program = p.clone();
    let af = accelerate(move |xs: Vec<DlArray>| program.outputs(&xs));
    let first = outcome_of(af.call(xs.clone()));
    let hit = outcome_of(af.call(xs.clone()));
    agree("dlfeval vs accelerate (first call)", &eager, &first, rel)?;
    agree("dlfeval vs accelerate (hit)", &eager, &hit, rel)?;
    if eager.is_ok() && af.hit_rate() != 50.0 {
        return Err(format!("the second call was not a hit: hit rate {}", af.hit_rate()));
    }
    if eager.is_err() && af.occupancy() != 0.0 {
        return Err("a failed trace was cached".into());
    }

    let inputs: Vec<Arc<Data>> =
        xs.iter().map(|x| x.data().cloned()).collect::<Result<_>>().map_err(|e| e.to_string())?;
    let program = p.clone();
    let graph = trace_graph(move |xs: Vec<DlArray>| program.outputs(&xs), xs.clone());
    let interpreted = outcome_of_data(graph.as_ref().map_err(Clone::clone).and_then(|g| interp::run(g, &inputs)));
    agree("dlfeval vs interpreter", &eager, &interpreted, rel)?;
    let optimized = outcome_of_data(
        graph.as_ref().map_err(Clone::clone).and_then(opt::optimize).and_then(|g| interp::run(&g, &inputs)),
    );
    agree("dlfeval vs optimized graph in the interpreter", &eager, &optimized, rel)?;
    if eager.is_ok() {
        let unrolled_program = Program { unrolled: true, ..p.clone() };
        let unrolled = outcome_of(dlfeval(|xs: Vec<DlArray>| unrolled_program.outputs(&xs), xs.clone()));
        if unrolled.is_ok() {
            agree("loops vs the same program unrolled", &eager, &unrolled, rel)?;
        }
    }

    if std::env::var("FUZZ_STATS").is_ok() {
        eprintln!(
            "{} {:?} smooth {} second {} {:?}",
            if eager.is_ok() { "ok " } else { "err" },
            p.dtype,
            p.smooth(),
            p.second_order,
            eager.as_ref().err()
        );
    }
    // Finite differences need a finite, smooth, well-conditioned function: a mean over an empty
    // slice is NaN, and near a pole of complex tanh the derivatives grow so fast that a
    // central difference's truncation error exceeds any fixed tolerance.
    let finite = eager.as_ref().is_ok_and(|o| o.iter().all(|(_, v)| v.iter().all(|z| z.norm() < 1e4)));
    if finite && p.smooth() && p.dtype != DType::F32 {
        let f = |xs: &[DlArray]| p.value(xs).expect("the program ran without error");
        let tol = Tol { step: 1e-5, rel: 1e-5, abs: 1e-6 };
        try_check_grad_args(&f, &args, tol, p.seed)?;
        if p.second_order {
            try_check_hvp_args(&f, &args, Tol { step: 1e-4, rel: 1e-4, abs: 1e-5 }, p.seed)?;
        }
    }
    Ok(())
}

fn cases(var: &str, default: u32) -> u32 {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

proptest! {
    // A fixed seed: CI runs the same programs every time (reproducible, never flaky); the long
    // campaign below draws new ones on every run.
    #![proptest_config(ProptestConfig {
        cases: cases("FUZZ_CASES", 16_384),
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_F022),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_programs_agree_everywhere(p in program()) {
        if let Err(e) = check(&p) {
            prop_assert!(false, "{e}\nprogram: {p:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases("FUZZ_LONG_CASES", 5_000), ..ProptestConfig::default() })]

    /// The long campaign: `cargo test --release --test fuzz_programs -- --ignored fuzz`.
    #[test]
    #[ignore]
    fn fuzz_long_campaign(p in program()) {
        if let Err(e) = check(&p) {
            prop_assert!(false, "{e}\nprogram: {p:?}");
        }
    }
}

/// Ill-typed programs exist in the generated space: shapes that do not broadcast give the same
/// `Err` in every path (checked above); this pins one down explicitly.
#[test]
fn an_ill_typed_program_fails_alike_everywhere() {
    let p = Program {
        dtype: DType::F64,
        shapes: vec![vec![3], vec![4]],
        steps: vec![Step::Binary(Binary::Add, 0, 1)],
        second_order: false,
        seed: 3,
        unrolled: false,
    };
    check(&p).unwrap();
    let xs: Vec<DlArray> = p.args().iter().map(Arg::to_dl).collect();
    let e = dlfeval(|xs: Vec<DlArray>| p.outputs(&xs), xs).unwrap_err();
    assert!(e.to_string().contains("add"), "{e}");
}

/// A program the loop steps found: the reverse pass makes a kernel of shape `[2, 0]` whose sum
/// over its empty axis was paired with it, so it ran in a loop nest of no iterations and left
/// its temporary unwritten; after another program had used this thread's arena, the gradient
/// read what that program left there.
#[test]
fn an_empty_axis_sum_is_written_whatever_the_arena_held() {
    let dirty = accelerate(|x: DlArray| Ok(((&x * 1.7).sin().sum_axes(&[1], false) + 3.0).exp().sum_axes(&[0], false)));
    dirty.call(DlArray::from(ndarray::Array2::from_elem((40, 30), 0.7))).unwrap();
    let p = Program {
        dtype: DType::F64,
        shapes: vec![vec![2, 1]],
        steps: vec![
            Step::DropFirst { value: 0, axis: 1 },
            Step::Loop { value: 1, trips: 0, unary: Unary::Sin, captured: 0 },
            Step::Unary(Unary::Sin, 0),
            Step::Loop { value: 1, trips: 0, unary: Unary::Sin, captured: 0 },
            Step::Binary(Binary::Add, 2, 0),
            Step::Scan(5),
        ],
        second_order: true,
        seed: 7325646569624372623,
        unrolled: false,
    };
    check(&p).unwrap();
}
