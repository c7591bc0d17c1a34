//! Linear algebra (API section 8): values against known answers, MATLAB's semantics (singular
//! systems, least squares, triangles read), errors (complex input, shapes, `chol` of a matrix
//! that is not positive definite under `dlfeval` and from compiled code, naming the line), the
//! interpreter and compiled code bit for bit, the same bits for any number of threads, and the
//! transposes that solves read in place.

use cranegrad::prelude::*;
use ndarray::{array, Array2, Array3, ArrayD, IxDyn};

const FILE: &str = file!();

/// A small deterministic generator (xorshift), values in `[lo, hi)`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn array(&mut self, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f64> {
        ArrayD::from_shape_simple_fn(IxDyn(shape), || lo + (hi - lo) * self.next())
    }
}

fn data(x: &DlArray) -> ArrayD<f64> {
    x.extractdata::<f64>().unwrap()
}

#[track_caller]
fn assert_close(got: &ArrayD<f64>, want: &ArrayD<f64>, tol: f64) {
    assert_eq!(got.shape(), want.shape());
    for (g, w) in got.iter().zip(want.iter()) {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "got {got}, want {want}");
    }
}

/// `x x' + n I` for a random `x [.., n, n]`.
fn spd(rng: &mut Rng, batch: &[usize], n: usize) -> ArrayD<f64> {
    let mut shape = batch.to_vec();
    shape.extend([n, n]);
    let x = rng.array(&shape, -1.0, 1.0);
    let count: usize = batch.iter().product();
    let x3 = x.into_shape_with_order((count, n, n)).unwrap();
    let mut out = Array3::<f64>::zeros((count, n, n));
    for k in 0..count {
        let m = x3.index_axis(ndarray::Axis(0), k);
        let mut a = m.dot(&m.t());
        for i in 0..n {
            a[[i, i]] += n as f64;
        }
        out.index_axis_mut(ndarray::Axis(0), k).assign(&a);
    }
    out.into_shape_with_order(IxDyn(&shape)).unwrap()
}

#[test]
fn solves_reproduce_their_right_hand_sides() {
    let mut rng = Rng(7);
    let a = DlArray::from(rng.array(&[4, 4], -1.0, 1.0) + Array2::<f64>::eye(4).into_dyn() * 3.0);
    let b = DlArray::from(rng.array(&[4, 2], -1.0, 1.0));
    let x = mldivide(&a, &b);
    assert_close(&data(&a.matmul(&x)), &data(&b), 1e-12);
    assert_close(&data(&a.mldivide(&b)), &data(&x), 0.0);
    // b / a: x a = b.
    let c = DlArray::from(rng.array(&[3, 4], -1.0, 1.0));
    let y = mrdivide(&c, &a);
    assert_close(&data(&y.matmul(&a)), &data(&c), 1e-12);
    // A vector right-hand side keeps its shape; transa solves a' x = b.
    let v = DlArray::from(array![1.0, 2.0, 3.0, 4.0]);
    let xv = mldivide(&a, &v);
    assert_eq!(xv.shape(), &[4]);
    assert_close(&data(&a.matmul(&xv)), &data(&v), 1e-12);
    let xt = linsolve(&a, &b, LinsolveOptions { transa: true, ..Default::default() });
    assert_close(&data(&a.transpose().matmul(&xt)), &data(&b), 1e-12);
    // Batched, with a shared matrix broadcast over the batch of right-hand sides.
    let bb = DlArray::from(rng.array(&[3, 4, 2], -1.0, 1.0));
    let xb = mldivide(&a, &bb);
    assert_eq!(xb.shape(), &[3, 4, 2]);
    assert_close(&data(&a.matmul(&xb)), &data(&bb), 1e-12);
    // f32 too.
    let x32 = mldivide(&a.cast(DType::F32), &b.cast(DType::F32));
    assert_eq!(x32.dtype(), DType::F32);
    assert_close(&data(&x32.cast(DType::F64)), &data(&x), 1e-5);
}

#[test]
fn cholesky_factors_and_triangular_solves() {
    let mut rng = Rng(11);
    let a = spd(&mut rng, &[2], 5);
    let ad = DlArray::from(a.clone());
    let r = chol(&ad);
    // Upper, with r' r = a.
    let rd = data(&r);
    for k in 0..2 {
        for i in 0..5 {
            for j in 0..i {
                assert_eq!(rd[[k, i, j]], 0.0);
            }
        }
    }
    assert_close(&data(&r.permute(&[0, 2, 1]).matmul(&r)), &a, 1e-12);
    let l = chol_with(&ad, Triangle::Lower);
    assert_close(&data(&l.matmul(&l.permute(&[0, 2, 1]))), &a, 1e-12);
    assert_close(&data(&l), &data(&r.permute(&[0, 2, 1])), 1e-12);
    // a \ b by two triangular solves.
    let b = DlArray::from(rng.array(&[2, 5, 3], -1.0, 1.0));
    let z = linsolve(&r, &b, LinsolveOptions { ut: true, transa: true, ..Default::default() });
    let x = linsolve(&r, &z, LinsolveOptions { ut: true, ..Default::default() });
    assert_close(&data(&x), &data(&mldivide(&ad, &b)), 1e-10);
    // A triangular solve reads only its triangle: NaN in the other one changes nothing.
    let mut u = data(&r);
    for k in 0..2 {
        for i in 1..5 {
            for j in 0..i {
                u[[k, i, j]] = f64::NAN;
            }
        }
    }
    let xu = linsolve(&DlArray::from(u), &z, LinsolveOptions { ut: true, ..Default::default() });
    assert_eq!(data(&xu), data(&x));
}

#[test]
fn determinants_inverses_and_logdet() {
    let a = DlArray::from(array![[1.0, 2.0], [3.0, 4.0]]);
    assert!((det(&a).to_scalar::<f64>().unwrap() + 2.0).abs() < 1e-14);
    let p = DlArray::from(array![[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 5.0]]);
    assert!((det(&p).to_scalar::<f64>().unwrap() + 5.0).abs() < 1e-14);
    let batch = DlArray::from(array![[[2.0, 0.0], [0.0, 3.0]], [[1.0, 1.0], [1.0, 1.0]]]);
    assert_eq!(det(&batch).shape(), &[2]);
    assert_close(&data(&det(&batch)), &array![6.0, 0.0].into_dyn(), 1e-14);
    assert_close(&data(&inv(&a)), &array![[-2.0, 1.0], [1.5, -0.5]].into_dyn(), 1e-14);
    assert_close(&data(&inv(&a).matmul(&a)), &Array2::<f64>::eye(2).into_dyn(), 1e-14);
    // logdet does not overflow where det does.
    let big = DlArray::from(array![[1e200, 0.0], [0.0, -1e200]]);
    assert!(det(&big).to_scalar::<f64>().unwrap().is_infinite());
    let ld = logdet(&big).to_scalar::<f64>().unwrap();
    assert!((ld - 400.0 * 10f64.ln()).abs() < 1e-10, "{ld}");
    assert!((logdet(&a).to_scalar::<f64>().unwrap() - 2f64.ln()).abs() < 1e-14);
}

#[test]
fn symmetric_eigendecomposition() {
    let a = DlArray::from(array![[2.0, 1.0], [1.0, 2.0]]);
    let (l, v) = eig_symmetric(&a).unwrap();
    assert_close(&data(&l), &array![1.0, 3.0].into_dyn(), 1e-14);
    let h = std::f64::consts::FRAC_1_SQRT_2;
    // Columns; the first of two largest-magnitude components is positive.
    assert_close(&data(&v), &array![[h, h], [-h, h]].into_dyn(), 1e-14);
    // A random symmetric batch: v diag(l) v' = a, v' v = I, values ascending.
    let mut rng = Rng(5);
    let s = spd(&mut rng, &[3], 4) - Array3::<f64>::from_elem((3, 4, 4), 2.0).into_dyn();
    let (l, v) = a_eig(&s);
    let ld = data(&l);
    for k in 0..3 {
        for j in 1..4 {
            assert!(ld[[k, j - 1]] <= ld[[k, j]]);
        }
    }
    let vt = v.permute(&[0, 2, 1]);
    let d = l.reshape(&[3, 1, 4]);
    assert_close(&data(&(&v * &d).matmul(&vt)), &s, 1e-12);
    let eye = ndarray::Array3::from_shape_fn((3, 4, 4), |(_, i, j)| f64::from(u8::from(i == j))).into_dyn();
    assert_close(&data(&vt.matmul(&v)), &eye, 1e-12);
}

fn a_eig(s: &ArrayD<f64>) -> (DlArray, DlArray) {
    DlArray::from(s.clone()).eig_symmetric().unwrap()
}

#[test]
fn matlab_semantics_singular_and_least_squares() {
    // Exactly singular: Inf/NaN, no panic, under dlfeval and compiled alike.
    let s = DlArray::from(array![[1.0, 2.0], [2.0, 4.0]]);
    let b = DlArray::from(array![1.0, 1.0]);
    let x = data(&mldivide(&s, &b));
    assert!(x.iter().any(|v| !v.is_finite()), "{x}");
    let af = accelerate(|(a, b): (DlArray, DlArray)| Ok(mldivide(&a, &b)));
    let xc = data(&af.call((s.clone(), b.clone())).unwrap());
    assert_eq!(format!("{xc:?}"), format!("{x:?}"));
    assert!(data(&inv(&s)).iter().any(|v| !v.is_finite()));
    assert_eq!(det(&s).to_scalar::<f64>().unwrap(), 0.0);
    // A tall system: the least-squares line through (0, 1), (1, 2), (2, 2), (3, 4).
    let a = DlArray::from(array![[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]]);
    let y = DlArray::from(array![1.0, 2.0, 2.0, 4.0]);
    let coef = data(&mldivide(&a, &y));
    assert_close(&coef, &array![0.9, 0.9].into_dyn(), 1e-12);
    // A wide one: the minimum-norm solution.
    let w = DlArray::from(array![[1.0, 1.0]]);
    assert_close(&data(&mldivide(&w, &DlArray::from(array![2.0]))), &array![1.0, 1.0].into_dyn(), 1e-12);
}

#[test]
fn errors_name_the_call_the_shapes_and_real_only() {
    let a = DlArray::from(array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
    let b = DlArray::from(array![[1.0], [2.0]]);
    let e = mldivide(&a, &b).data().map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("mldivide") && e.contains("[3, 2]") && e.contains("[2, 1]"), "{e}");
    let e = mrdivide(&b, &a).data().map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("mrdivide") && e.contains("[2, 1]") && e.contains("[3, 2]"), "{e}");
    let e = chol(&a).data().map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("chol") && e.contains("[3, 2]") && e.contains("square"), "{e}");
    let e = det(&DlArray::from(array![1.0, 2.0])).data().map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("det") && e.contains("[2]"), "{e}");
    let z = DlArray::from(array![[num_complex::Complex64::new(1.0, 1.0)]]);
    let e = inv(&z).data().map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("inv") && e.contains("real"), "{e}");
    let e = dlfeval(|z: DlArray| Ok(mldivide(&z, &z)), z.clone()).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("mldivide") && e.contains("real"), "{e}");
    let both = LinsolveOptions { ut: true, lt: true, transa: false };
    assert!(linsolve(&a, &b, both).data().is_err());
    assert!(eig_symmetric(&a).is_err());
}

#[test]
fn chol_of_a_matrix_not_positive_definite_names_chol_and_its_line() {
    let bad = DlArray::from(array![[1.0, 2.0], [2.0, 1.0]]);
    // Under dlfeval.
    let mut line = 0;
    let e = dlfeval(
        |a: DlArray| {
            let (r, l) = (chol(&(&a * 1.0)), line!());
            line = l;
            Ok(r.sum_all())
        },
        bad.clone(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("chol") && e.contains(&format!("{FILE}:{line}")), "{e}");
    assert!(e.contains("positive definite"), "{e}");
    // From compiled code: the run's step returns the error.
    let line = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = line.clone();
    let af = accelerate(move |a: DlArray| {
        let (r, l) = (chol(&(&a * 1.0)), line!());
        seen.store(l, std::sync::atomic::Ordering::Relaxed);
        Ok(r.sum_all())
    });
    let good = DlArray::from(array![[2.0, 1.0], [1.0, 2.0]]);
    af.call(good.clone()).unwrap();
    let e = af.call(bad.clone()).unwrap_err().to_string();
    let l = line.load(std::sync::atomic::Ordering::Relaxed);
    assert!(e.contains("chol") && e.contains(&format!("{FILE}:{l}")), "{e}");
    assert_eq!(af.hit_rate(), 50.0, "the failing call ran the compiled program");
    // And the program still works afterwards.
    assert!(af.call(good).is_ok());
    // A chol inside a gradient that fails is an error too.
    let e = dlfeval(|a: DlArray| dlgradient(&chol(&a).sum_all(), &a), bad).unwrap_err().to_string();
    assert!(e.contains("chol"), "{e}");
}

/// The transpose of the last two axes.
fn t(x: &DlArray) -> DlArray {
    let r = x.ndim();
    let mut axes: Vec<usize> = (0..r).collect();
    axes.swap(r - 2, r - 1);
    x.permute(&axes)
}

/// A loss with every primitive, and its gradient.
fn everything(a: &DlArray, b: &DlArray) -> Result<(DlArray, DlArray)> {
    let n = a.shape()[a.ndim() - 1];
    let eye = DlArray::from(Array2::<f64>::eye(n).into_dyn());
    let s = a.matmul(&t(a)) + &eye * (n as f64);
    let r = chol(&s);
    let z = linsolve(&r, b, LinsolveOptions { ut: true, transa: true, ..Default::default() });
    let x = linsolve(&t(&r), &z, LinsolveOptions { lt: true, transa: true, ..Default::default() });
    let (l, v) = eig_symmetric(&s)?;
    let y = x.square().sum_all()
        + logdet(&s).sum_all()
        + det(&(a + &eye * 3.0)).sum_all()
        + inv(&(a + &eye * 3.0)).sum_all()
        + mldivide(&(a + &eye * 3.0), b).sum_all()
        + mrdivide(&t(b), &(a + &eye * 3.0)).sum_all()
        + l.sum_all()
        + (v.abs() * 0.1).sum_all()
        + chol_with(&s, Triangle::Lower).sum_all();
    let g = dlgradient(&y, (a, b))?;
    Ok((y, g.0 + g.1.sum_all()))
}

#[test]
fn compiled_and_interpreted_agree_bit_for_bit() {
    let mut rng = Rng(3);
    for shape in [vec![4, 4], vec![3, 5, 5]] {
        let a = DlArray::from(rng.array(&shape, -1.0, 1.0));
        let mut bshape = shape.clone();
        *bshape.last_mut().unwrap() = 2;
        let b = DlArray::from(rng.array(&bshape, -1.0, 1.0));
        let eager = dlfeval(|(a, b): (DlArray, DlArray)| everything(&a, &b), (a.clone(), b.clone())).unwrap();
        let af = accelerate(|(a, b): (DlArray, DlArray)| everything(&a, &b));
        for _ in 0..2 {
            let compiled = af.call((a.clone(), b.clone())).unwrap();
            assert_eq!(compiled.0.to_scalar::<f64>().unwrap().to_bits(), eager.0.to_scalar::<f64>().unwrap().to_bits());
            let (c, e) = (data(&compiled.1), data(&eager.1));
            assert!(c.iter().zip(e.iter()).all(|(x, y)| x.to_bits() == y.to_bits()), "{c}\n{e}");
        }
    }
}

/// `f` on a pool of `threads` threads.
fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

#[test]
fn same_bits_for_one_and_two_threads() {
    let mut rng = Rng(9);
    // 10,000 batched 3x3 solves and their gradient, eagerly and compiled.
    let a = DlArray::from(rng.array(&[10_000, 3, 3], -1.0, 1.0) + Array2::<f64>::eye(3).into_dyn() * 3.0);
    let b = DlArray::from(rng.array(&[10_000, 3, 1], -1.0, 1.0));
    let loss = |(a, b): (DlArray, DlArray)| {
        let y = mldivide(&a, &b).square().sum_all();
        let g = dlgradient(&y, &a)?;
        Ok((y, g))
    };
    let af = accelerate(loss);
    let run = |threads| {
        on_threads(threads, || {
            let eager = dlfeval(loss, (a.clone(), b.clone())).unwrap();
            let compiled = af.call((a.clone(), b.clone())).unwrap();
            (data(&eager.1), data(&compiled.1), data(&compiled.0))
        })
    };
    let (one, two) = (run(1), run(2));
    let bits = |x: &ArrayD<f64>| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&one.0), bits(&two.0));
    assert_eq!(bits(&one.1), bits(&two.1));
    assert_eq!(bits(&one.0), bits(&one.1));
    assert_eq!(bits(&one.2), bits(&two.2));
    // One large matrix, factored by faer's parallel routines.
    let s = DlArray::from(spd(&mut rng, &[], 300));
    let rhs = DlArray::from(rng.array(&[300, 300], -1.0, 1.0));
    let big = |threads| {
        on_threads(threads, || {
            let r = chol(&s);
            let x = linsolve(&r, &rhs, LinsolveOptions { ut: true, transa: true, ..Default::default() });
            [data(&r), data(&x), data(&mldivide(&s, &rhs)), data(&inv(&s))]
        })
    };
    let (one, two) = (big(1), big(2));
    for (p, q) in one.iter().zip(&two) {
        assert_eq!(bits(p), bits(q));
    }
}

#[test]
fn solves_read_transposes_in_place() {
    // linsolve(r', linsolve(r, y)) compiles to two solves of r itself: no transpose node.
    let af = accelerate(|(r, y): (DlArray, DlArray)| {
        let z = linsolve(&r.transpose(), &y, LinsolveOptions { lt: true, ..Default::default() });
        Ok(linsolve(&r, &z, LinsolveOptions { ut: true, ..Default::default() }))
    });
    let mut rng = Rng(4);
    let r = chol(&DlArray::from(spd(&mut rng, &[], 4)));
    let y = DlArray::from(rng.array(&[4, 2], -1.0, 1.0));
    let x = af.call((r.clone(), y.clone())).unwrap();
    let ir = af.ir_dump();
    assert!(!ir.contains("permute"), "{ir}");
    assert_eq!(ir.matches("linsolve").count(), 2, "{ir}");
    let want = mldivide(&r.transpose().matmul(&r), &y);
    assert_close(&data(&x), &data(&want), 1e-12);
    // The same result bit for bit as the eager one, which computes the transpose.
    let eager = linsolve(
        &r,
        &linsolve(&r.transpose(), &y, LinsolveOptions { lt: true, ..Default::default() }),
        LinsolveOptions { ut: true, ..Default::default() },
    );
    assert_eq!(data(&x), data(&eager));
}

#[test]
fn elementwise_work_around_a_factorization_fuses() {
    // A GP's kernel matrix from distances, its Cholesky factor, the log of the factor's
    // diagonal: the kernel matrix is one loop nest (distances, exp, scale, noise on the
    // diagonal, no buffer between them), the factor a step of its own, and the diagonal and
    // its log two reductions; the three hyperparameters' `exp` are scalars computed once each
    // (the planner hoists them out of the 64 x 64 nest). Six kernels, none between the
    // distances and the factor.
    let af = accelerate(|(x, p): (DlArray, DlArray)| {
        let n = x.numel();
        let eye = DlArray::from(Array2::<f64>::eye(n));
        let d2 = (x.reshape(&[n, 1]) - x.reshape(&[1, n])).square();
        let k = p.at(1).exp() * (d2 * -0.5 / p.at(0).exp()).exp() + &eye * p.at(2).exp();
        let l = chol_with(&k, Triangle::Lower);
        Ok((&l * &eye).sum_axes(&[1], false).log().sum_all())
    });
    let mut rng = Rng(8);
    let x = DlArray::from(rng.array(&[64], -3.0, 3.0));
    let p = DlArray::from(array![0.0, 0.0, -2.0]);
    let got = af.call((x.clone(), p.clone())).unwrap().to_scalar::<f64>().unwrap();
    let report = &af.build_reports()[0];
    assert!(report.kernels <= 6, "{} kernels:\n{}", report.kernels, af.ir_dump());
    let want = dlfeval(
        |(x, p): (DlArray, DlArray)| {
            let n = x.numel();
            let eye = DlArray::from(Array2::<f64>::eye(n));
            let d2 = (x.reshape(&[n, 1]) - x.reshape(&[1, n])).square();
            let k = p.at(1).exp() * (d2 * -0.5 / p.at(0).exp()).exp() + &eye * p.at(2).exp();
            Ok(logdet(&k) * 0.5)
        },
        (x, p),
    )
    .unwrap()
    .to_scalar::<f64>()
    .unwrap();
    assert!((got - want).abs() < 1e-9 * want.abs().max(1.0), "{got} vs {want}");
}
