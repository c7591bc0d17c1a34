//! GEMM candidates on the matrix products of the workloads (issue 10): matrixmultiply on one
//! thread (or, built with `--features bench-matrixmultiply-threading`, on its own thread pool),
//! matrixmultiply with the rows split in two halves on rayon, the `gemm` crate and `faer`, each
//! on one thread and on rayon's pool. Every product is given as strides (a transposed operand
//! is never copied), as the JIT's runtime passes them. Prints one table of medians per dtype.
//!
//! Run: `cargo bench --bench gemm` (set `QUICK=1` for a short run); the threaded matrixmultiply
//! column needs `cargo bench --bench gemm --features bench-matrixmultiply-threading`.

use std::time::{Duration, Instant};

/// One product `c = op(a) @ op(b)` repeated over a batch.
struct Shape {
    name: &'static str,
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    /// `a` is stored `[k, m]` (the product reads its transpose).
    ta: bool,
    /// `b` is stored `[n, k]`.
    tb: bool,
    /// `a` is one matrix broadcast over the batch (batch stride 0).
    a_shared: bool,
}

const fn s(name: &'static str, batch: usize, m: usize, k: usize, n: usize, ta: bool, tb: bool) -> Shape {
    Shape { name, batch, m, k, n, ta, tb, a_shared: false }
}

const SHAPES: &[Shape] = &[
    s("tiny 2x2x2", 1, 2, 2, 2, false, false),
    s("small 4x8x4", 1, 4, 8, 4, false, false),
    s("16^3", 1, 16, 16, 16, false, false),
    s("32^3", 1, 32, 32, 32, false, false),
    s("64^3", 1, 64, 64, 64, false, false),
    s("96^3", 1, 96, 96, 96, false, false),
    s("128^3", 1, 128, 128, 128, false, false),
    s("192^3", 1, 192, 192, 192, false, false),
    s("256^3", 1, 256, 256, 256, false, false),
    s("384^3", 1, 384, 384, 384, false, false),
    s("W3s X W1", 1, 128, 64, 128, false, false),
    s("W3s H W2", 1, 128, 128, 10, false, false),
    s("W3s dZ W2^T", 1, 128, 10, 128, false, true),
    s("W3s H^T dZ", 1, 128, 128, 10, true, false),
    s("W3s X^T dH", 1, 64, 128, 128, true, false),
    s("W3 X W1", 1, 256, 784, 256, false, false),
    s("W3 H W2", 1, 256, 256, 10, false, false),
    s("W3 dZ W2^T", 1, 256, 10, 256, false, true),
    s("W3 H^T dZ", 1, 256, 256, 10, true, false),
    s("W3 X^T dH", 1, 784, 256, 256, true, false),
    Shape { name: "W7 conv Wc cols", batch: 32, m: 8, k: 9, n: 784, ta: false, tb: false, a_shared: true },
    s("W7 fc P Wf^T", 1, 32, 1568, 10, false, true),
    s("W7 dZ Wf", 1, 32, 10, 1568, false, false),
    s("W7 P^T dZ", 1, 1568, 32, 10, true, false),
    s("W7 dY cols^T", 32, 8, 784, 9, false, true),
];

/// Row and column strides of a `[rows, cols]` operand stored row-major, or transposed.
fn strides(rows: usize, cols: usize, transposed: bool) -> (isize, isize) {
    if transposed {
        (1, rows as isize)
    } else {
        (cols as isize, 1)
    }
}

/// One strided product `c[m, n] = a[m, k] @ b[k, n]` (`c` row-major).
#[derive(Clone, Copy)]
struct Mat<T> {
    ptr: *const T,
    rs: isize,
    cs: isize,
}

trait Scalar: Copy + Send + Sync + 'static + PartialEq + std::fmt::Debug {
    const NAME: &'static str;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    /// # Safety
    /// The pointers and strides describe valid matrices.
    unsafe fn mm(m: usize, k: usize, n: usize, a: Mat<Self>, b: Mat<Self>, c: *mut Self);
    fn faer_par(m: usize, k: usize, n: usize, a: Mat<Self>, b: Mat<Self>, c: *mut Self, par: faer::Par);
}

impl Scalar for f32 {
    const NAME: &'static str = "f32";
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    unsafe fn mm(m: usize, k: usize, n: usize, a: Mat<Self>, b: Mat<Self>, c: *mut Self) {
        matrixmultiply::sgemm(m, k, n, 1.0, a.ptr, a.rs, a.cs, b.ptr, b.rs, b.cs, 0.0, c, n as isize, 1)
    }
    fn faer_par(m: usize, k: usize, n: usize, a: Mat<Self>, b: Mat<Self>, c: *mut Self, par: faer::Par) {
        faer_mm(m, k, n, a, b, c, par)
    }
}

impl Scalar for f64 {
    const NAME: &'static str = "f64";
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    unsafe fn mm(m: usize, k: usize, n: usize, a: Mat<Self>, b: Mat<Self>, c: *mut Self) {
        matrixmultiply::dgemm(m, k, n, 1.0, a.ptr, a.rs, a.cs, b.ptr, b.rs, b.cs, 0.0, c, n as isize, 1)
    }
    fn faer_par(m: usize, k: usize, n: usize, a: Mat<Self>, b: Mat<Self>, c: *mut Self, par: faer::Par) {
        faer_mm(m, k, n, a, b, c, par)
    }
}

fn faer_mm<T: faer::traits::ComplexField + Scalar>(
    m: usize,
    k: usize,
    n: usize,
    a: Mat<T>,
    b: Mat<T>,
    c: *mut T,
    par: faer::Par,
) {
    // SAFETY: the bench's buffers hold these matrices.
    unsafe {
        let a = faer::MatRef::from_raw_parts(a.ptr, m, k, a.rs, a.cs);
        let b = faer::MatRef::from_raw_parts(b.ptr, k, n, b.rs, b.cs);
        let c = faer::MatMut::from_raw_parts_mut(c, m, n, n as isize, 1);
        faer::linalg::matmul::matmul(c, faer::Accum::Replace, a, b, T::from_f64(1.0), par);
    }
}

/// A pointer that may cross threads (the bench's buffers outlive every call).
#[derive(Clone, Copy)]
struct P<T>(*mut T);
unsafe impl<T> Send for P<T> {}
unsafe impl<T> Sync for P<T> {}
unsafe impl<T> Send for Mat<T> {}
unsafe impl<T> Sync for Mat<T> {}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Candidate {
    /// matrixmultiply (one thread, or its own pool with the threading feature).
    Mm,
    /// matrixmultiply, the rows (or the batch) split in two on rayon.
    MmRayon,
    GemmSeq,
    GemmRayon,
    FaerSeq,
    FaerRayon,
}

const CANDIDATES: &[Candidate] = &[
    Candidate::Mm,
    Candidate::MmRayon,
    Candidate::GemmSeq,
    Candidate::GemmRayon,
    Candidate::FaerSeq,
    Candidate::FaerRayon,
];

fn gemm_crate<T: Scalar>(m: usize, k: usize, n: usize, a: Mat<T>, b: Mat<T>, c: *mut T, par: gemm::Parallelism) {
    // SAFETY: the bench's buffers hold these matrices.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            1,
            n as isize,
            false,
            a.ptr,
            a.cs,
            a.rs,
            b.ptr,
            b.cs,
            b.rs,
            T::from_f64(0.0),
            T::from_f64(1.0),
            false,
            false,
            false,
            par,
        )
    }
}

fn one<T: Scalar + faer::traits::ComplexField>(
    cand: Candidate,
    m: usize,
    k: usize,
    n: usize,
    a: Mat<T>,
    b: Mat<T>,
    c: *mut T,
) {
    let threads = rayon::current_num_threads();
    match cand {
        // SAFETY: the bench's buffers hold these matrices.
        Candidate::Mm => unsafe { T::mm(m, k, n, a, b, c) },
        Candidate::MmRayon => {
            let h = m / 2;
            let (a2, c2) = (Mat { ptr: a.ptr.wrapping_offset(h as isize * a.rs), ..a }, P(c.wrapping_add(h * n)));
            let c1 = P(c);
            rayon::join(
                // SAFETY: disjoint row blocks of `c`.
                move || unsafe { T::mm(h, k, n, a, b, { c1 }.0) },
                move || unsafe { T::mm(m - h, k, n, a2, b, { c2 }.0) },
            );
        }
        Candidate::GemmSeq => gemm_crate(m, k, n, a, b, c, gemm::Parallelism::None),
        Candidate::GemmRayon => gemm_crate(m, k, n, a, b, c, gemm::Parallelism::Rayon(threads)),
        Candidate::FaerSeq => T::faer_par(m, k, n, a, b, c, faer::Par::Seq),
        Candidate::FaerRayon => T::faer_par(m, k, n, a, b, c, faer::Par::rayon(threads)),
    }
}

struct Buffers<T> {
    a: Vec<T>,
    b: Vec<T>,
    c: Vec<T>,
}

fn run<T: Scalar + faer::traits::ComplexField>(cand: Candidate, sh: &Shape, bufs: &mut Buffers<T>) {
    let (m, k, n) = (sh.m, sh.k, sh.n);
    let (ars, acs) = strides(m, k, sh.ta);
    let (brs, bcs) = strides(k, n, sh.tb);
    let a_stride = if sh.a_shared { 0 } else { m * k };
    let c = P(bufs.c.as_mut_ptr());
    let (ap, bp) = (bufs.a.as_ptr() as usize, bufs.b.as_ptr() as usize);
    let item = move |i: usize| {
        let a = Mat { ptr: (ap as *const T).wrapping_add(i * a_stride), rs: ars, cs: acs };
        let b = Mat { ptr: (bp as *const T).wrapping_add(i * k * n), rs: brs, cs: bcs };
        (a, b, { c }.0.wrapping_add(i * m * n))
    };
    let parallel = matches!(cand, Candidate::MmRayon | Candidate::GemmRayon | Candidate::FaerRayon);
    if sh.batch > 1 && parallel {
        // Batched: split the batch across the pool, one thread per product.
        let seq = match cand {
            Candidate::MmRayon => Candidate::Mm,
            Candidate::GemmRayon => Candidate::GemmSeq,
            _ => Candidate::FaerSeq,
        };
        let half = sh.batch / 2;
        rayon::join(
            || {
                (0..half).for_each(|i| {
                    let (a, b, c) = item(i);
                    one(seq, m, k, n, a, b, c)
                })
            },
            || {
                (half..sh.batch).for_each(|i| {
                    let (a, b, c) = item(i);
                    one(seq, m, k, n, a, b, c)
                })
            },
        );
    } else {
        for i in 0..sh.batch {
            let (a, b, c) = item(i);
            one(cand, m, k, n, a, b, c);
        }
    }
}

fn median(budget: Duration, mut f: impl FnMut()) -> Duration {
    f();
    let mut t = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || t.len() < 5 {
        let s = Instant::now();
        f();
        t.push(s.elapsed());
    }
    t.sort();
    t[t.len() / 2]
}

fn show(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 10.0 {
        format!("{us:.2} us")
    } else if us < 1000.0 {
        format!("{us:.1} us")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

fn table<T: Scalar + faer::traits::ComplexField>(budget: Duration) {
    let mm = if cfg!(feature = "bench-matrixmultiply-threading") { "mm (own pool)" } else { "mm 1 thread" };
    println!("\n{} ({} rayon threads)\n", T::NAME, rayon::current_num_threads());
    println!("| product | batch x (m, k, n) | {mm} | mm halves on rayon | gemm 1 thread | gemm rayon | faer 1 thread | faer rayon | fastest |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for sh in SHAPES {
        let na = if sh.a_shared { sh.m * sh.k } else { sh.batch * sh.m * sh.k };
        let gen = |len: usize, seed: usize| -> Vec<T> {
            (0..len).map(|i| T::from_f64((((i * 7919 + seed * 104729) % 2001) as f64 - 1000.0) / 1000.0)).collect()
        };
        let mut bufs = Buffers {
            a: gen(na, 1),
            b: gen(sh.batch * sh.k * sh.n, 2),
            c: vec![T::from_f64(0.0); sh.batch * sh.m * sh.n],
        };
        run(Candidate::Mm, sh, &mut bufs);
        let reference = bufs.c.clone();
        let mut cells = Vec::new();
        for &cand in CANDIDATES {
            bufs.c.iter_mut().for_each(|v| *v = T::from_f64(f64::NAN));
            run(cand, sh, &mut bufs);
            let worst = bufs.c.iter().zip(&reference).map(|(x, y)| (x.to_f64() - y.to_f64()).abs()).fold(0.0, f64::max);
            let tol = if T::NAME == "f32" { 1e-3 } else { 1e-10 } * sh.k as f64;
            assert!(worst <= tol, "{cand:?} on {}: off by {worst:e}", sh.name);
            let d = median(budget, || run(cand, sh, &mut bufs));
            cells.push(d);
        }
        let best = (0..cells.len()).min_by_key(|&i| cells[i]).unwrap_or(0);
        let names = ["mm", "mm halves", "gemm 1", "gemm rayon", "faer 1", "faer rayon"];
        println!(
            "| {} | {} x ({}, {}, {}){}{} | {} | {} |",
            sh.name,
            sh.batch,
            sh.m,
            sh.k,
            sh.n,
            if sh.ta { " A^T" } else { "" },
            if sh.tb { " B^T" } else { "" },
            cells.iter().map(|&d| show(d)).collect::<Vec<_>>().join(" | "),
            names[best]
        );
    }
}

fn main() {
    let quick = std::env::var("QUICK").is_ok();
    if let Ok(only) = std::env::var("ONLY") {
        // A quick look at some products, e.g. ONLY=256 (names containing "256").
        let budget = Duration::from_millis(300);
        let keep: Vec<&Shape> = SHAPES.iter().filter(|s| s.name.contains(only.as_str())).collect();
        for sh in keep {
            let mut bufs = Buffers {
                a: vec![0.5f64; sh.batch * sh.m * sh.k],
                b: vec![0.25; sh.batch * sh.k * sh.n],
                c: vec![0.0; sh.batch * sh.m * sh.n],
            };
            let t: Vec<String> = [Candidate::FaerSeq, Candidate::FaerRayon, Candidate::FaerSeq, Candidate::FaerRayon]
                .iter()
                .map(|&c| show(median(budget, || run(c, sh, &mut bufs))))
                .collect();
            println!("{}: faer 1 thread / rayon / 1 thread / rayon: {}", sh.name, t.join(" / "));
        }
        return;
    }
    let budget = Duration::from_millis(if quick { 20 } else { 150 });
    table::<f64>(budget);
    table::<f32>(budget);
}
