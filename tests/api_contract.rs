//! The snippets of docs/API.md, as written there: if a name or signature drifts from the
//! contract, this file stops compiling.

use cranegrad::prelude::*;
use ndarray::{array, s, ArrayD};
use num_complex::{Complex32, Complex64};
use std::collections::BTreeMap;

fn rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let y = 100.0 * (x.at(1) - x.at(0).square()).square() + (1.0 - x.at(0)).square();
    let dydx = dlgradient(&y, x)?;
    Ok((y, dydx))
}

#[test]
fn section_1_values() -> Result<()> {
    let x = DlArray::from(array![[1.0f32, 2.0], [3.0, 4.0]]);
    assert_eq!((x.shape(), x.ndim(), x.numel(), x.dtype()), (&[2usize, 2][..], 2, 4, DType::F32));
    let _: ArrayD<f32> = x.extractdata::<f32>()?;
    assert!(x.extractdata::<f64>().is_err());
    assert_eq!(DlArray::scalar(2.0).to_scalar::<f64>()?, 2.0);
    assert!(x.to_scalar::<f32>().is_err());
    assert_eq!(x.cast(DType::C128).dtype(), DType::C128);
    let _ = DlArray::from(array![true, false]);
    let _ = DlArray::from(array![Complex32::new(1.0, 2.0)]);
    assert!(format!("{x}").contains("2x2"));
    fn send_sync<T: Send + Sync>() {}
    send_sync::<DlArray>();
    Ok(())
}

#[test]
fn section_2_operations() -> Result<()> {
    let x = DlArray::from(array![1.0, 2.0, 3.0]);
    let c = Complex64::new(1.0, 1.0);
    let _ = (&x + &x, &x - 1.0, 2.0 * &x, &x / c, c * &x, -&x, x.clone() + x.clone(), 1.0 / x.clone());
    for y in [x.exp(), x.log(), x.sin(), x.cos(), x.tan(), x.tanh(), x.sqrt(), x.abs(), x.square(), x.sigmoid()] {
        y.data()?;
    }
    let _ = (x.relu(), x.powf(2.0), x.pow(&x), x.real(), x.imag(), x.conj());
    assert_eq!(x.slice(s![..;-1]).at(0).to_scalar::<f64>()?, 3.0);
    let m = x.reshape(&[3, 1]);
    let _ = (m.transpose(), m.permute(&[1, 0]), concat(&[&m, &m], 1));
    let _ = (x.sum_all(), x.mean_all(), m.sum_axes(&[0], true), m.mean_axes(&[1], false));
    assert_eq!(m.transpose().matmul(&m).to_scalar::<f64>()?, 14.0);
    Ok(())
}

#[test]
fn section_3_gradients() -> Result<()> {
    let x0 = DlArray::from(array![-1.0, 2.0]);
    let (fval, gradval) = dlfeval(|x: DlArray| rosenbrock(&x), x0.clone())?; // 104, [396, 200]
    assert_eq!(fval.to_scalar::<f64>()?, 104.0);
    assert_eq!(gradval.extractdata::<f64>()?, array![396.0, 200.0].into_dyn());
    let (g1, g2) =
        dlfeval(|(a, b): (DlArray, DlArray)| dlgradient(&(&a * &b).sum_all(), (&a, &b)), (x0.clone(), x0.clone()))?;
    assert_eq!((g1.shape(), g2.shape()), (&[2usize][..], &[2usize][..]));
    let mut tree = BTreeMap::new();
    tree.insert("w".to_string(), vec![x0.clone()]);
    let g = dlfeval(|t: BTreeMap<String, Vec<DlArray>>| dlgradient(&t["w"][0].sum_all(), &t), tree)?;
    assert_eq!(g["w"][0].shape(), &[2]);
    let options = GradOptions { retain_data: true, enable_higher_derivatives: Some(true), allow_complex: false };
    let _ = dlfeval(|x: DlArray| dlgradient_with(&x.sum_all(), &x, options), x0.clone())?;
    assert!(make_ir(|x: DlArray| rosenbrock(&x), x0)?.contains("backward"));
    Ok(())
}

#[test]
fn section_4_acceleration() -> Result<()> {
    let x0 = DlArray::from(array![-1.0, 2.0]);
    let af = accelerate(|x: DlArray| rosenbrock(&x));
    let (_f, _g) = af.call(x0.clone())?;
    let (_f, _g) = af.call(x0.clone())?;
    let (f, _g) = dlfeval(|x: DlArray| af.call(x), x0.clone())?;
    assert_eq!(f.to_scalar::<f64>()?, 104.0);
    let _ = (af.hit_rate(), af.occupancy(), af.cache_size(), af.enabled(), af.check_mode(), af.check_failures());
    af.set_cache_size(10);
    af.set_enabled(true);
    af.set_check_mode(CheckMode::Tolerance(1e-4));
    assert!(af.ir_dump().contains("hits"));
    af.clear_cache();
    fn send_sync<T: Send + Sync>(_: &T) {}
    send_sync(&af);
    Ok(())
}

#[test]
fn section_5_training_loop_pieces() -> Result<()> {
    let mut params = ParamTable::new();
    params.push("fc", "Weights", DlArray::from(array![[0.5, -0.5]]));
    params.push("fc", "Bias", DlArray::from(array![0.1]));
    let x = DlArray::from(array![[1.0, 2.0]]);
    let grads = dlfeval(
        |p: ParamTable| {
            let y = fullyconnect(&x, p.get("fc", "Weights").expect("row"), p.get("fc", "Bias").expect("row"));
            dlgradient(&mse(&y, &DlArray::from(array![[1.0]])), &p)
        },
        params.clone(),
    )?;
    let mut adam = AdamState::default();
    let mut velocity = SgdmState::default();
    let mut avg_sq = RmspropState::default();
    params = adamupdate(&params, &grads, &mut adam, 1, &AdamOptions::default())?;
    params = sgdmupdate(&params, &grads, &mut velocity, &SgdmOptions::default())?;
    params = rmspropupdate(&params, &grads, &mut avg_sq, &RmspropOptions::default())?;
    params = dlupdate(|p: &DlArray, g: &DlArray| p - 0.01 * g, &params, &grads)?;
    assert_eq!(params.iter().count(), 2);
    Ok(())
}
