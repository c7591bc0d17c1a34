//! `examples/gp_regression.rs`: the hyperparameters fitted by L-BFGS on the accelerated
//! negative log marginal likelihood are close to the ones that generated the data, and the
//! fit's likelihood is at least as good as theirs.

#[path = "../examples/gp_regression.rs"]
mod gp_regression;

#[test]
fn the_fit_recovers_the_generating_hyperparameters() {
    let report = gp_regression::run().unwrap();
    let [l, sf2, sn2] = report.fitted;
    let [tl, tsf2, tsn2] = gp_regression::TRUE_PARAMETERS;
    // A maximum-likelihood estimate from one draw of 400 points: the lengthscale and the noise
    // are pinned down well, the signal variance (about 25 independent bumps) less so.
    assert!((l / tl).ln().abs() < 0.2, "lengthscale {l} vs {tl}");
    assert!((sn2 / tsn2).ln().abs() < 0.2, "noise variance {sn2} vs {tsn2}");
    assert!((sf2 / tsf2).ln().abs() < 0.6, "signal variance {sf2} vs {tsf2}");
    assert!(report.final_nll <= report.true_nll + 1e-9, "{} vs {}", report.final_nll, report.true_nll);
    assert!(report.final_nll < report.start_nll - 10.0);
    // The posterior passes near the data.
    let (x, y) = gp_regression::data().unwrap();
    let (mean, sd) = gp_regression::posterior(&report.p, &x, &y, &x).unwrap();
    let y = y.extractdata::<f64>().unwrap();
    let rms = (mean.iter().zip(y.iter()).map(|(m, y)| (m - y).powi(2)).sum::<f64>() / mean.len() as f64).sqrt();
    assert!(rms < 2.0 * tsn2.sqrt(), "rms residual {rms}");
    assert!(sd.iter().all(|s| s.is_finite() && *s < sf2.sqrt()));
}
