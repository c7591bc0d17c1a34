//! Loops and branches run by their native drivers: a loop nested in a loop body is called
//! from native code (the driver count grows by one per loop), with the interpreter's bits, on
//! any number of threads; errors inside nested loops come back through the error channel and
//! leave the function usable.

use cranegrad::internals::jit::drivers_compiled;
use cranegrad::prelude::*;
use ndarray::{array, ArrayD};

fn bits(a: &DlArray) -> Vec<u64> {
    a.extractdata::<f64>().unwrap().iter().map(|v| v.to_bits()).collect()
}

/// A while loop whose body runs a scan whose body branches, and a gradient through all of it.
fn nested(x: DlArray) -> Result<(DlArray, DlArray)> {
    let w = DlArray::from(array![0.5, -0.25, 0.125]);
    let (y, _) = while_loop(
        (x.clone(), DlArray::scalar(0.0)),
        |(_, n): &(DlArray, DlArray)| Ok(n.lt(&DlArray::scalar(4.0))),
        |(y, n)| {
            let rows = DlArray::from(array![[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0], [0.25, -2.0, 1.0]]);
            let (z, _) = scan(y, rows, |z, r: DlArray| {
                let big = z.sum_all().gt(&DlArray::scalar(0.0));
                let z = cond(&big, z.clone(), |z| Ok((&z * 0.5 + &r).tanh()), |z| Ok((&z - &r * &w).sin()))?;
                Ok((z.clone(), z.sum_all()))
            })?;
            Ok((z, n + 1.0))
        },
    )?;
    let loss = (&y * &y).sum_all();
    let g = dlgradient(&loss, &x)?;
    Ok((loss, g))
}

#[test]
fn a_loop_nested_in_loops_runs_natively_with_the_interpreters_bits() {
    let x = DlArray::from(array![0.3, -0.7, 1.1]);
    let (want_loss, want_g) = dlfeval(nested, x.clone()).unwrap();
    let before = drivers_compiled();
    let af = accelerate(nested);
    let (loss, g) = af.call(x.clone()).unwrap();
    assert!(drivers_compiled() >= before + 3, "the while loop, the scan and the branch each compile a driver");
    assert_eq!(bits(&loss), bits(&want_loss));
    assert_eq!(bits(&g), bits(&want_g));
    let again = drivers_compiled();
    let (loss2, _) = af.call(x).unwrap();
    assert_eq!(bits(&loss2), bits(&want_loss));
    assert_eq!(drivers_compiled(), again, "a second call compiles nothing");
}

#[test]
fn native_loops_give_the_same_bits_on_every_thread() {
    let af = accelerate(nested);
    let x = DlArray::from(array![0.9, 0.1, -0.4]);
    let (want, want_g) = af.call(x.clone()).unwrap();
    let want = (bits(&want), bits(&want_g));
    let results: Vec<Vec<(Vec<u64>, Vec<u64>)>> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| (0..20).map(|_| af.call(x.clone()).unwrap()).map(|(l, g)| (bits(&l), bits(&g))).collect())
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for r in results.into_iter().flatten() {
        assert_eq!(r, want);
    }
}

#[test]
fn max_iterations_of_a_nested_loop_is_an_err_from_native_code() {
    let options = LoopOptions { max_iterations: Some(20), checkpoint_every: None };
    let af = accelerate(move |x: DlArray| {
        fori_loop(3, x, |_, x| while_loop_with(x, |x| Ok(x.gt(&DlArray::scalar(1.0))), |x| Ok(&x * 0.5), options))
    });
    let e = af.call(DlArray::scalar(1e300)).unwrap_err().to_string();
    assert!(e.contains("max_iterations") && e.contains("while_loop"), "{e}");
    assert_eq!(af.call(DlArray::scalar(8.0)).unwrap().to_scalar::<f64>().unwrap(), 1.0);
    assert!(af.call(DlArray::scalar(1e300)).is_err());
    assert_eq!(af.call(DlArray::scalar(0.5)).unwrap().to_scalar::<f64>().unwrap(), 0.5);
}

#[test]
fn an_external_functions_err_inside_a_loop_body_comes_back_from_the_call() {
    let picky = external(
        "picky",
        |shapes: &[&[usize]], dtypes: &[DType]| Ok(vec![(shapes[0].to_vec(), dtypes[0])]),
        |x: &[ArrayD<f64>]| {
            if x[0].iter().any(|&v| v > 100.0) {
                return Err(Error::msg("too large"));
            }
            if x[0].iter().any(|&v| v.is_nan()) {
                panic!("a NaN");
            }
            Ok(vec![x[0].mapv(|v| v * 2.0)])
        },
        |_x: &[DlArray], _y: &[DlArray], ct: &[DlArray]| Ok(vec![&ct[0] * 2.0]),
    );
    let af = accelerate(move |x: DlArray| fori_loop(4, x, |_, x| Ok(picky.call(&[&x])?.remove(0) + 1.0)));
    assert_eq!(af.call(DlArray::scalar(1.0)).unwrap().to_scalar::<f64>().unwrap(), 31.0);
    let e = af.call(DlArray::scalar(30.0)).unwrap_err().to_string();
    assert!(e.contains("picky") && e.contains("too large"), "{e}");
    let e = af.call(DlArray::scalar(f64::NAN)).unwrap_err().to_string();
    assert!(e.contains("picky"), "{e}");
    assert_eq!(af.call(DlArray::scalar(0.0)).unwrap().to_scalar::<f64>().unwrap(), 15.0);
}

/// A scan carrying an `f32` vector, a complex vector and a logical flag, with a branch on the
/// flag inside: the driver's copies and branches on every dtype.
fn mixed(args: (DlArray, DlArray)) -> Result<(DlArray, DlArray, DlArray)> {
    let (a, z) = args;
    let xs = DlArray::from(array![[0.5f32, -1.0], [2.0, 0.25], [-0.75, 1.5], [1.0, 1.0]]);
    let ((a, z, flag), ys) = scan(
        (a, z, DlArray::scalar(1.0).gt(&DlArray::scalar(0.0))),
        xs,
        |(a, z, flag): (DlArray, DlArray, DlArray), x: DlArray| {
            let a = cond(&flag, a, |a| Ok((&a * &x).sin()), |a| Ok(&a + &x))?;
            let z = &z * &z.conj() * 0.5 + z.exp() * 0.25;
            let flag = flag.not();
            Ok(((a.clone(), z, flag), a.sum_all()))
        },
    )?;
    Ok((a + ys.sum_all(), z, flag))
}

#[test]
fn drivers_carry_single_complex_and_logical_values_with_the_interpreters_bits() {
    let a = DlArray::from(array![0.25f32, -0.5]);
    let z = DlArray::from(array![num_complex::Complex64::new(0.5, -0.25), num_complex::Complex64::new(-0.1, 0.3)]);
    let (wa, wz, wf) = dlfeval(mixed, (a.clone(), z.clone())).unwrap();
    let (ga, gz, gf) = accelerate(mixed).call((a, z)).unwrap();
    let f32_bits = |d: &DlArray| d.extractdata::<f32>().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let c_bits = |d: &DlArray| {
        d.extractdata::<num_complex::Complex64>()
            .unwrap()
            .iter()
            .flat_map(|v| [v.re.to_bits(), v.im.to_bits()])
            .collect::<Vec<_>>()
    };
    assert_eq!(f32_bits(&ga), f32_bits(&wa));
    assert_eq!(c_bits(&gz), c_bits(&wz));
    assert_eq!(gf.extractdata::<bool>().unwrap(), wf.extractdata::<bool>().unwrap());
}

#[test]
fn the_native_dump_shows_the_bodies_and_drivers_of_nested_loops() {
    let af = accelerate(nested);
    af.call(DlArray::from(array![0.3, -0.7, 1.1])).unwrap();
    let dump = af.native_dump();
    for (what, at_least) in
        [("; driver of while_loop", 2), ("; driver of scan", 2), ("; driver of cond", 1), ("; body of scan", 2)]
    {
        assert!(dump.matches(what).count() >= at_least, "{what}:\n{dump}");
    }
    assert!(dump.contains("; else of cond") && dump.contains("; predicate of while_loop"), "{dump}");
}
