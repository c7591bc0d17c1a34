//! The seed's first example: the Rosenbrock function's value and gradient at [-1, 2] with
//! `dlfeval` and `dlgradient` (MATLAB's `dlfeval(@rosenbrock, dlarray([-1, 2]))`).

use cranegrad::prelude::*;
use ndarray::array;

fn rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let y = 100.0 * (x.at(1) - x.at(0).square()).square() + (1.0 - x.at(0)).square();
    let dydx = dlgradient(&y, x)?;
    Ok((y, dydx))
}

fn main() -> Result<()> {
    let x0 = DlArray::from(array![-1.0, 2.0]);
    let (fval, gradval) = dlfeval(|x: DlArray| rosenbrock(&x), x0.clone())?;
    println!("fval =\n{fval}");
    println!("gradval =\n{gradval}");
    println!("{}", make_ir(|x: DlArray| rosenbrock(&x), x0)?);
    Ok(())
}
