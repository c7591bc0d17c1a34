//! The seed's examples, exactly: MATLAB's dlfeval/dlgradient documentation examples.

use cranegrad::prelude::*;
use ndarray::{array, Array1, Array2};
use num_complex::Complex64;

fn rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let y = 100.0 * (x.at(1) - x.at(0).square()).square() + (1.0 - x.at(0)).square();
    let dydx = dlgradient(&y, x)?;
    Ok((y, dydx))
}

fn rosenbrock2(x1: &DlArray, x2: &DlArray) -> Result<(DlArray, DlArray, DlArray)> {
    let y = 100.0 * (x2 - x1.square()).square() + (1.0 - x1).square();
    let (dydx1, dydx2) = dlgradient(&y, (x1, x2))?;
    Ok((y, dydx1, dydx2))
}

#[test]
fn rosenbrock_value_and_gradient_at_minus_one_two() {
    let x0 = DlArray::from(array![-1.0, 2.0]);
    let (fval, gradval) = dlfeval(|x: DlArray| rosenbrock(&x), x0.clone()).unwrap();
    assert_eq!(fval.to_scalar::<f64>().unwrap(), 104.0);
    assert_eq!(gradval.extractdata::<f64>().unwrap(), array![396.0, 200.0].into_dyn());
    assert_eq!(gradval.shape(), x0.shape());
    assert_eq!(gradval.dtype(), DType::F64);
}

#[test]
fn rosenbrock2_on_a_ten_by_ten_grid_point_by_point() {
    let grid = Array1::linspace(0.0, 1.0, 10);
    for &a in grid.iter() {
        for &b in grid.iter() {
            let args = (DlArray::scalar(a), DlArray::scalar(b));
            let (y, g1, g2) = dlfeval(|(x1, x2): (DlArray, DlArray)| rosenbrock2(&x1, &x2), args).unwrap();
            let expect_y = 100.0 * (b - a * a).powi(2) + (1.0 - a).powi(2);
            let expect_g1 = -400.0 * a * (b - a * a) - 2.0 * (1.0 - a);
            let expect_g2 = 200.0 * (b - a * a);
            assert!((y.to_scalar::<f64>().unwrap() - expect_y).abs() < 1e-12);
            assert!((g1.to_scalar::<f64>().unwrap() - expect_g1).abs() < 1e-12);
            assert!((g2.to_scalar::<f64>().unwrap() - expect_g2).abs() < 1e-12);
        }
    }
}

#[test]
fn complex_gradient_on_a_hundred_by_hundred_grid_is_two_minus_three_i() {
    let x = Array1::linspace(-2.0, 2.0, 100);
    let z = Array2::from_shape_fn((100, 100), |(i, j)| Complex64::new(x[j], x[i]));
    let grad_fun = |z: DlArray| -> Result<(DlArray, DlArray)> {
        let y = (Complex64::new(2.0, 3.0) * &z).real();
        let grad = dlgradient(&y.sum_all(), &z)?;
        Ok((y, grad))
    };
    let (y, grad) = dlfeval(grad_fun, DlArray::from(z.clone())).unwrap();
    let g = grad.extractdata::<Complex64>().unwrap();
    assert_eq!(g.shape(), &[100, 100]);
    assert!(g.iter().all(|&v| v == Complex64::new(2.0, -3.0)));
    let y = y.extractdata::<f64>().unwrap();
    assert_eq!(y[[3, 7]], (Complex64::new(2.0, 3.0) * z[[3, 7]]).re);
}
