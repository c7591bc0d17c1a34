//! The deep-learning operations against values worked out independently: by hand, or by
//! plain loops over the published formulas (MATLAB's documentation), never from the crate.

use cranegrad::internals::dlconv_shifted;
use cranegrad::prelude::*;
use ndarray::{array, ArrayD, IxDyn};

/// A deterministic pseudo-random array with values in `[-1, 1)`.
fn rand(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    })
}

fn data(x: &DlArray) -> ArrayD<f64> {
    x.extractdata::<f64>().unwrap()
}

fn close(actual: &ArrayD<f64>, expected: &ArrayD<f64>, tol: f64) {
    assert_eq!(actual.shape(), expected.shape(), "shapes differ");
    for (i, (a, e)) in actual.iter().zip(expected.iter()).enumerate() {
        let ok = (a.is_nan() && e.is_nan()) || (a - e).abs() <= tol * (1.0 + e.abs());
        assert!(ok, "element {i}: got {a}, expected {e}");
    }
}

fn sig(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

#[test]
fn activations_match_their_formulas() {
    let x: ArrayD<f64> = array![-2.0, -0.5, 0.0, 0.5, 3.0].into_dyn();
    let dx = DlArray::from(x.clone());
    close(&data(&relu(&dx)), &x.mapv(|v| v.max(0.0)), 0.0);
    close(&data(&leakyrelu(&dx, 0.1)), &x.mapv(|v| if v > 0.0 { v } else { 0.1 * v }), 1e-15);
    close(&data(&sigmoid(&dx)), &x.mapv(sig), 1e-15);
    // gelu(1) = 0.5 (1 + erf(1/sqrt 2)) = 0.8413447460685429 (Phi(1) from tables).
    let g = data(&gelu(&DlArray::from(array![1.0, -1.0, 0.0])));
    close(&g, &array![0.8413447460685429, -0.15865525393145707, 0.0].into_dyn(), 1e-14);
}

#[test]
fn softmax_and_log_softmax_are_stable_for_logits_near_a_thousand() {
    let x = array![[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]];
    let s = data(&softmax(&DlArray::from(x.clone()), 1));
    let ls = data(&log_softmax(&DlArray::from(x.clone()), 1));
    // Row 0 is softmax([0, 1, 2]); row 1 is (0, 0, 1) to double precision.
    let z: f64 = (0.0f64).exp() + 1f64.exp() + 2f64.exp();
    let expect = array![[1.0 / z, 1f64.exp() / z, 2f64.exp() / z], [0.0, (-1000f64).exp(), 1.0]].into_dyn();
    close(&s, &expect, 1e-14);
    let expect_log = array![[-z.ln(), 1.0 - z.ln(), 2.0 - z.ln()], [-2000.0, -1000.0, 0.0]].into_dyn();
    close(&ls, &expect_log, 1e-14);
    assert!(s.iter().chain(ls.iter()).all(|v| v.is_finite()));
    // Along axis 0 too.
    let s0 = data(&softmax(&DlArray::from(x), 0));
    // Column 0 is (1000, -1000); column 2 is (1002, 1000).
    assert!((s0[[0, 0]] - 1.0).abs() < 1e-15);
    assert!((s0[[1, 2]] - 1.0 / (1.0 + 2f64.exp())).abs() < 1e-15);
}

#[test]
fn crossentropy_of_softmax_of_huge_logits_is_finite_and_correct() {
    let logits = array![[1000.0, 1001.0, 1002.0], [3.0, 1.0, 0.0]];
    let t = array![[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]];
    let p = softmax(&DlArray::from(logits.clone()), 1);
    let loss = crossentropy(&p, &DlArray::from(t)).to_scalar::<f64>().unwrap();
    let lse0 = 2.0 + ((-2f64).exp() + (-1f64).exp() + 1.0).ln();
    let lse1 = 3.0 + (1.0 + (-2f64).exp() + (-3f64).exp()).ln();
    let expect = ((lse0 - 2.0) + (lse1 - 3.0)) / 2.0;
    assert!((loss - expect).abs() < 1e-14, "{loss} vs {expect}");
}

#[test]
fn crossentropy_bounds_zero_probabilities_at_eps() {
    let p = DlArray::from(array![[0.0, 1.0]]);
    let t = DlArray::from(array![[1.0, 0.0]]);
    let loss = crossentropy(&p, &t).to_scalar::<f64>().unwrap();
    assert!((loss - (-(f64::EPSILON).ln())).abs() < 1e-12, "{loss}");
    let p32 = DlArray::from(array![[0.0f32, 1.0]]);
    let loss32 = crossentropy(&p32, &DlArray::from(array![[1.0f32, 0.0]])).to_scalar::<f32>().unwrap();
    assert!((loss32 - 15.942385).abs() < 1e-4, "{loss32}");
}

#[test]
fn regression_losses_divide_by_the_number_of_observations() {
    let y = array![[1.0, 2.0], [3.0, 4.0], [0.0, -1.0]];
    let t = array![[1.5, 2.0], [1.0, 4.0], [0.0, 2.0]];
    let (dy, dt) = (DlArray::from(y.clone()), DlArray::from(t.clone()));
    // Residuals: -0.5, 0, 2, 0, 0, -3; N = 3.
    assert!((mse(&dy, &dt).to_scalar::<f64>().unwrap() - (0.25 + 4.0 + 9.0) / 6.0).abs() < 1e-15);
    assert!((l1loss(&dy, &dt).to_scalar::<f64>().unwrap() - 5.5 / 3.0).abs() < 1e-15);
    // Huber with delta 1: 0.125, 0, 1.5, 0, 0, 2.5.
    assert!((huber(&dy, &dt, 1.0).to_scalar::<f64>().unwrap() - 4.125 / 3.0).abs() < 1e-15);
}

#[test]
fn fullyconnect_matches_the_loop() {
    let (x, w, b) = (rand(&[3, 4], 1), rand(&[2, 4], 2), rand(&[2], 3));
    let y = data(&fullyconnect(&DlArray::from(x.clone()), &DlArray::from(w.clone()), &DlArray::from(b.clone())));
    let expect =
        ArrayD::from_shape_fn(IxDyn(&[3, 2]), |i| b[i[1]] + (0..4).map(|c| x[[i[0], c]] * w[[i[1], c]]).sum::<f64>());
    close(&y, &expect, 1e-14);
}

/// A naive 2-D convolution: padding, stride, dilation, groups, written from the definition.
#[allow(clippy::too_many_arguments)]
fn naive_conv2d(
    x: &ArrayD<f64>,
    w: &ArrayD<f64>,
    b: &ArrayD<f64>,
    stride: [usize; 2],
    pad: [usize; 2],
    dil: [usize; 2],
    groups: usize,
) -> ArrayD<f64> {
    let (n, cin, h, wd) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (cout, cg, kh, kw) = (w.shape()[0], w.shape()[1], w.shape()[2], w.shape()[3]);
    let oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) / stride[0] + 1;
    let ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) / stride[1] + 1;
    let per_group_out = cout / groups;
    let mut y = ArrayD::zeros(IxDyn(&[n, cout, oh, ow]));
    for ni in 0..n {
        for co in 0..cout {
            let g = co / per_group_out;
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = b[co];
                    for c in 0..cg {
                        for u in 0..kh {
                            for v in 0..kw {
                                let r = (i * stride[0] + u * dil[0]) as isize - pad[0] as isize;
                                let s = (j * stride[1] + v * dil[1]) as isize - pad[1] as isize;
                                if r >= 0 && s >= 0 && (r as usize) < h && (s as usize) < wd {
                                    acc += w[[co, c, u, v]] * x[[ni, g * cg + c, r as usize, s as usize]];
                                }
                            }
                        }
                    }
                    y[[ni, co, i, j]] = acc;
                }
            }
        }
    }
    assert_eq!(cin, cg * groups);
    y
}

#[test]
fn conv2d_matches_the_naive_loops_with_every_option() {
    let cases = [
        ([1, 1], [0, 0], [1, 1], 1),
        ([2, 1], [1, 2], [1, 1], 1),
        ([1, 2], [2, 1], [2, 1], 2),
        ([2, 2], [1, 1], [1, 2], 2),
    ];
    for (k, (stride, pad, dil, groups)) in cases.into_iter().enumerate() {
        let x = rand(&[2, 4, 7, 6], 10 + k as u64);
        let w = rand(&[6, 4 / groups, 3, 2], 20 + k as u64);
        let b = rand(&[6], 30 + k as u64);
        let opts = ConvOptions::default().stride(&stride).padding(&pad).dilation(&dil).groups(groups);
        let (dx, dw, db) = (DlArray::from(x.clone()), DlArray::from(w.clone()), DlArray::from(b.clone()));
        let expect = naive_conv2d(&x, &w, &b, stride, pad, dil, groups);
        close(&data(&dlconv(&dx, &dw, &db, &opts)), &expect, 1e-13);
        close(&data(&dlconv_shifted(&dx, &dw, &db, &opts)), &expect, 1e-13);
    }
}

#[test]
fn conv1d_matches_a_hand_computed_example() {
    // x = [1 2 3 4], kernel [1 0 -1], padding 1, stride 2: windows [0 1 2], [2 3 4] -> -2, -2.
    let x = DlArray::from(array![[[1.0, 2.0, 3.0, 4.0]]]);
    let w = DlArray::from(array![[[1.0, 0.0, -1.0]]]);
    let y = dlconv(&x, &w, &DlArray::scalar(0.5), &ConvOptions::default().stride(&[2]).padding(&[1]));
    close(&data(&y), &array![[[-1.5, -1.5]]].into_dyn(), 0.0);
}

#[test]
fn pooling_matches_hand_computed_examples() {
    let x = DlArray::from(array![[[[1.0, 2.0, -3.0], [4.0, -5.0, 6.0], [-7.0, 8.0, 9.0]]]]);
    let max2 = maxpool(&x, &PoolOptions::new(&[2, 2]));
    close(&data(&max2), &array![[[[4.0, 6.0], [8.0, 9.0]]]].into_dyn(), 0.0);
    // Padding 1, stride 2, size 2: windows at rows/cols {-1,0} and {1,2}; -Inf padding never wins.
    let maxp = maxpool(&x, &PoolOptions::new(&[2]).stride(&[2]).padding(&[1]));
    close(&data(&maxp), &array![[[[1.0, 2.0], [4.0, 9.0]]]].into_dyn(), 0.0);
    let avg = avgpool(&x, &PoolOptions::new(&[2]).stride(&[2]).padding(&[1]));
    // Zero padding counts in the mean: (0+0+0+1)/4, (0+0+2-3)/4, (0+4+0-7)/4, (-5+6+8+9)/4.
    close(&data(&avg), &array![[[[0.25, -0.25], [-0.75, 4.5]]]].into_dyn(), 1e-15);
    let one_d = DlArray::from(array![[[3.0, 1.0, 4.0, 1.0, 5.0]]]);
    close(&data(&maxpool(&one_d, &PoolOptions::new(&[3]))), &array![[[4.0, 4.0, 5.0]]].into_dyn(), 0.0);
    close(&data(&avgpool(&one_d, &PoolOptions::new(&[2]).stride(&[2]))), &array![[[2.0, 2.5]]].into_dyn(), 0.0);
}

#[test]
fn batchnorm_uses_per_channel_batch_statistics_and_inference_reuses_them() {
    let x = rand(&[3, 2, 4], 5);
    let (offset, scale) = (array![0.5, -1.0], array![2.0, 0.25]);
    let dx = DlArray::from(x.clone());
    let (y, mean, var) = batchnorm(&dx, &DlArray::from(offset.clone()), &DlArray::from(scale.clone()));
    let mut expect = ArrayD::zeros(IxDyn(&[3, 2, 4]));
    for c in 0..2 {
        let vals: Vec<f64> = (0..3).flat_map(|n| (0..4).map(move |l| (n, l))).map(|(n, l)| x[[n, c, l]]).collect();
        let mu = vals.iter().sum::<f64>() / 12.0;
        let v = vals.iter().map(|a| (a - mu).powi(2)).sum::<f64>() / 12.0;
        assert!((data(&mean)[[c]] - mu).abs() < 1e-15 && (data(&var)[[c]] - v).abs() < 1e-15);
        for n in 0..3 {
            for l in 0..4 {
                expect[[n, c, l]] = scale[c] * (x[[n, c, l]] - mu) / (v + 1e-5).sqrt() + offset[c];
            }
        }
    }
    close(&data(&y), &expect, 1e-14);
    let yi = batchnorm_inference(&dx, &DlArray::from(offset), &DlArray::from(scale), &mean, &var);
    close(&data(&yi), &expect, 1e-14);
}

#[test]
fn layernorm_normalizes_each_observation_over_the_given_axes() {
    let x = rand(&[2, 3, 4], 6);
    let (offset, scale) = (rand(&[4], 7), rand(&[4], 8));
    let y = layernorm(&DlArray::from(x.clone()), &DlArray::from(offset.clone()), &DlArray::from(scale.clone()), &[2]);
    let mut expect = ArrayD::zeros(IxDyn(&[2, 3, 4]));
    for n in 0..2 {
        for t in 0..3 {
            let mu = (0..4).map(|c| x[[n, t, c]]).sum::<f64>() / 4.0;
            let v = (0..4).map(|c| (x[[n, t, c]] - mu).powi(2)).sum::<f64>() / 4.0;
            for c in 0..4 {
                expect[[n, t, c]] = scale[c] * (x[[n, t, c]] - mu) / (v + 1e-5).sqrt() + offset[c];
            }
        }
    }
    close(&data(&y), &expect, 1e-14);
}

#[test]
fn embed_picks_rows() {
    let w = rand(&[5, 3], 9);
    let idx = array![[4.0, 0.0], [2.0, 2.0]];
    let y = data(&embed(&DlArray::from(idx.clone()), &DlArray::from(w.clone())));
    let expect = ArrayD::from_shape_fn(IxDyn(&[2, 2, 3]), |i| w[[idx[[i[0], i[1]]] as usize, i[2]]]);
    close(&y, &expect, 0.0);
    assert!(embed(&DlArray::from(array![5.0]), &DlArray::from(w.clone())).data().is_err());
    assert!(embed(&DlArray::from(array![1.5]), &DlArray::from(w)).data().is_err());
}

/// One LSTM step from MATLAB's documented equations, gate order i, f, g, o.
#[allow(clippy::too_many_arguments)]
fn naive_lstm(
    x: &ArrayD<f64>,
    h0: &ArrayD<f64>,
    c0: &ArrayD<f64>,
    w: &ArrayD<f64>,
    r: &ArrayD<f64>,
    b: &ArrayD<f64>,
) -> (ArrayD<f64>, ArrayD<f64>, ArrayD<f64>) {
    let (n, t, c) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let hs = r.shape()[1];
    let (mut h, mut cell) = (h0.clone(), c0.clone());
    let mut y = ArrayD::zeros(IxDyn(&[n, t, hs]));
    for step in 0..t {
        let (mut hn, mut cn) = (h.clone(), cell.clone());
        for bi in 0..n {
            let pre = |row: usize| -> f64 {
                b[row]
                    + (0..c).map(|k| w[[row, k]] * x[[bi, step, k]]).sum::<f64>()
                    + (0..hs).map(|k| r[[row, k]] * h[[bi, k]]).sum::<f64>()
            };
            for j in 0..hs {
                let ig = sig(pre(j));
                let fg = sig(pre(hs + j));
                let gg = pre(2 * hs + j).tanh();
                let og = sig(pre(3 * hs + j));
                cn[[bi, j]] = fg * cell[[bi, j]] + ig * gg;
                hn[[bi, j]] = og * cn[[bi, j]].tanh();
                y[[bi, step, j]] = hn[[bi, j]];
            }
        }
        h = hn;
        cell = cn;
    }
    (y, h, cell)
}

#[test]
fn lstm_matches_matlabs_equations() {
    let (n, t, c, hs) = (2, 4, 3, 5);
    let (x, h0, c0) = (rand(&[n, t, c], 11), rand(&[n, hs], 12), rand(&[n, hs], 13));
    let (w, r, b) = (rand(&[4 * hs, c], 14), rand(&[4 * hs, hs], 15), rand(&[4 * hs], 16));
    let (y, h, cell) = lstm(
        &DlArray::from(x.clone()),
        &DlArray::from(h0.clone()),
        &DlArray::from(c0.clone()),
        &DlArray::from(w.clone()),
        &DlArray::from(r.clone()),
        &DlArray::from(b.clone()),
    );
    let (ey, eh, ec) = naive_lstm(&x, &h0, &c0, &w, &r, &b);
    close(&data(&y), &ey, 1e-14);
    close(&data(&h), &eh, 1e-14);
    close(&data(&cell), &ec, 1e-14);
}

#[test]
fn gru_matches_matlabs_equations_with_reset_after_multiplication() {
    let (n, t, c, hs) = (2, 3, 4, 3);
    let (x, h0) = (rand(&[n, t, c], 21), rand(&[n, hs], 22));
    let (w, r, b) = (rand(&[3 * hs, c], 23), rand(&[3 * hs, hs], 24), rand(&[3 * hs], 25));
    let (y, h) = gru(
        &DlArray::from(x.clone()),
        &DlArray::from(h0.clone()),
        &DlArray::from(w.clone()),
        &DlArray::from(r.clone()),
        &DlArray::from(b.clone()),
    );
    let mut hp = h0.clone();
    let mut ey = ArrayD::zeros(IxDyn(&[n, t, hs]));
    for step in 0..t {
        let mut hn = hp.clone();
        for bi in 0..n {
            let wx = |row: usize| b[row] + (0..c).map(|k| w[[row, k]] * x[[bi, step, k]]).sum::<f64>();
            let rh = |row: usize| (0..hs).map(|k| r[[row, k]] * hp[[bi, k]]).sum::<f64>();
            for j in 0..hs {
                let rg = sig(wx(j) + rh(j));
                let zg = sig(wx(hs + j) + rh(hs + j));
                let cand = (wx(2 * hs + j) + rg * rh(2 * hs + j)).tanh();
                hn[[bi, j]] = (1.0 - zg) * cand + zg * hp[[bi, j]];
                ey[[bi, step, j]] = hn[[bi, j]];
            }
        }
        hp = hn;
    }
    close(&data(&y), &ey, 1e-14);
    close(&data(&h), &hp, 1e-14);
}

#[test]
fn attention_matches_per_head_loops_with_a_causal_mask() {
    let (n, tq, tk, d, dv, heads) = (2, 3, 3, 4, 6, 2);
    let (q, k, v) = (rand(&[n, tq, d], 31), rand(&[n, tk, d], 32), rand(&[n, tk, dv], 33));
    let mask = ndarray::Array2::from_shape_fn((tq, tk), |(i, j)| j <= i);
    let y = attention(
        &DlArray::from(q.clone()),
        &DlArray::from(k.clone()),
        &DlArray::from(v.clone()),
        heads,
        Some(&DlArray::from(mask.clone())),
    );
    let (dh, dvh) = (d / heads, dv / heads);
    let mut expect = ArrayD::zeros(IxDyn(&[n, tq, dv]));
    for b in 0..n {
        for hd in 0..heads {
            for i in 0..tq {
                let scores: Vec<f64> = (0..tk)
                    .map(|j| {
                        (0..dh).map(|e| q[[b, i, hd * dh + e]] * k[[b, j, hd * dh + e]]).sum::<f64>()
                            / (dh as f64).sqrt()
                    })
                    .collect();
                let keep: Vec<usize> = (0..tk).filter(|&j| mask[[i, j]]).collect();
                let z: f64 = keep.iter().map(|&j| scores[j].exp()).sum();
                for e in 0..dvh {
                    expect[[b, i, hd * dvh + e]] =
                        keep.iter().map(|&j| scores[j].exp() / z * v[[b, j, hd * dvh + e]]).sum::<f64>();
                }
            }
        }
    }
    close(&data(&y), &expect, 1e-14);
}

#[test]
fn dropout_keeps_about_one_minus_p_scales_and_changes_with_the_key() {
    let x = DlArray::from(ArrayD::from_elem(IxDyn(&[100, 100]), 1.0));
    let a = data(&dropout(&x, 0.3, &DlArray::scalar(1.0)));
    let b = data(&dropout(&x, 0.3, &DlArray::scalar(2.0)));
    let again = data(&dropout(&x, 0.3, &DlArray::scalar(1.0)));
    assert_eq!(a, again, "same key, same mask");
    assert!(a.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-12));
    let kept = a.iter().filter(|&&v| v != 0.0).count() as f64 / 10000.0;
    assert!((kept - 0.7).abs() < 0.02, "kept fraction {kept}");
    let differ = a.iter().zip(b.iter()).filter(|(p, q)| p != q).count();
    assert!(differ > 3000, "masks of different keys differ in {differ} places");
    // Neighbouring elements are not correlated: the fraction of kept pairs is about 0.49.
    let pairs = a.iter().zip(a.iter().skip(1)).filter(|(p, q)| **p != 0.0 && **q != 0.0).count() as f64 / 9999.0;
    assert!((pairs - 0.49).abs() < 0.03, "kept pairs {pairs}");
    assert!(dropout(&x, 1.0, &DlArray::scalar(1.0)).data().is_err());
}

#[test]
fn dropout_inside_a_traced_function_depends_on_the_key_input() {
    let x = DlArray::from(ArrayD::from_elem(IxDyn(&[50]), 1.0));
    let run = |key: f64| {
        dlfeval(|(x, k): (DlArray, DlArray)| Ok(dropout(&x, 0.5, &k)), (x.clone(), DlArray::scalar(key))).unwrap()
    };
    let ir = make_ir(|(x, k): (DlArray, DlArray)| Ok(dropout(&x, 0.5, &k)), (x.clone(), DlArray::scalar(3.0))).unwrap();
    assert!(ir.contains("sin"), "the hash is computed in the trace:\n{ir}");
    assert_ne!(data(&run(3.0)), data(&run(4.0)));
}

#[test]
fn prod_cumsum_norm_match_loops() {
    let x = rand(&[3, 5, 2], 41);
    let p = data(&prod(&DlArray::from(x.clone()), &[1], false));
    let expect = ArrayD::from_shape_fn(IxDyn(&[3, 2]), |i| (0..5).map(|j| x[[i[0], j, i[1]]]).product::<f64>());
    close(&p, &expect, 1e-14);
    let pall = prod(&DlArray::from(x.clone()), &[0, 1, 2], false).to_scalar::<f64>().unwrap();
    assert!((pall - x.iter().product::<f64>()).abs() < 1e-15);
    let pk = prod(&DlArray::from(x.clone()), &[0, 2], true);
    assert_eq!(pk.shape(), &[1, 5, 1]);
    let c = data(&cumsum(&DlArray::from(x.clone()), 1));
    let expect = ArrayD::from_shape_fn(IxDyn(&[3, 5, 2]), |i| (0..=i[1]).map(|j| x[[i[0], j, i[2]]]).sum::<f64>());
    close(&c, &expect, 1e-14);
    let v = DlArray::from(array![[3.0, -4.0], [1.0, 0.0]]);
    close(&data(&norm(&v, 2.0, &[1])), &array![5.0, 1.0].into_dyn(), 1e-15);
    close(&data(&norm(&v, 1.0, &[0])), &array![4.0, 4.0].into_dyn(), 0.0);
    close(&data(&norm(&v, f64::INFINITY, &[])), &ndarray::arr0(4.0).into_dyn(), 0.0);
    close(&data(&norm(&v, 3.0, &[1])), &array![(27.0f64 + 64.0).cbrt(), 1.0].into_dyn(), 1e-15);
}

#[test]
fn interp1_is_linear_inside_and_nan_outside() {
    let x = DlArray::from(array![0.0, 1.0, 3.0]);
    let y = DlArray::from(array![10.0, 20.0, 0.0]);
    let xq = DlArray::from(array![[0.0, 0.5, 1.0], [2.0, 3.0, 3.5], [-0.1, f64::NAN, 2.5]]);
    let expect = array![[10.0, 15.0, 20.0], [10.0, 0.0, f64::NAN], [f64::NAN, f64::NAN, 5.0]].into_dyn();
    close(&data(&interp1(&x, &y, &xq)), &expect, 1e-15);
    assert!(interp1(&DlArray::from(array![0.0, 0.0]), &DlArray::from(array![1.0, 2.0]), &xq).data().is_err());
}

#[test]
fn bad_shapes_give_errors_not_panics() {
    let a = DlArray::from(rand(&[2, 3], 1));
    let b = DlArray::from(rand(&[4, 5], 2));
    let bias = DlArray::from(rand(&[4], 3));
    assert!(fullyconnect(&a, &b, &bias).data().is_err());
    assert!(softmax(&a, 2).data().is_err());
    assert!(mse(&a, &b).data().is_err());
    assert!(crossentropy(&DlArray::from(array![0.5, 0.5]), &DlArray::from(array![1.0, 0.0])).data().is_err());
    assert!(dlconv(&a, &b, &bias, &ConvOptions::default()).data().is_err());
    let img = DlArray::from(rand(&[1, 2, 3, 3], 4));
    let w = DlArray::from(rand(&[2, 2, 4, 4], 5));
    assert!(dlconv(&img, &w, &DlArray::from(rand(&[2], 6)), &ConvOptions::default()).data().is_err());
    assert!(dlconv(
        &img,
        &DlArray::from(rand(&[3, 1, 2, 2], 6)),
        &DlArray::scalar(0.0),
        &ConvOptions::default().groups(2)
    )
    .data()
    .is_err());
    assert!(maxpool(&img, &PoolOptions::default()).data().is_err());
    assert!(maxpool(&img, &PoolOptions::new(&[4])).data().is_err());
    assert!(batchnorm(&img, &DlArray::from(rand(&[3], 1)), &DlArray::from(rand(&[3], 2))).0.data().is_err());
    let seq = DlArray::from(rand(&[2, 3, 4], 7));
    let h = DlArray::from(rand(&[2, 5], 8));
    let err = lstm(
        &seq,
        &h,
        &h,
        &DlArray::from(rand(&[20, 3], 9)),
        &DlArray::from(rand(&[20, 5], 1)),
        &DlArray::from(rand(&[20], 2)),
    )
    .0;
    let msg = err.data().unwrap_err().to_string();
    assert!(msg.contains("lstm") && msg.contains("[20, 4]"), "{msg}");
    assert!(attention(&seq, &seq, &seq, 3, None).data().is_err());
    assert!(prod(&seq, &[3], false).data().is_err());
    assert!(cumsum(&seq, 3).data().is_err());
    let e = dlfeval(|x: DlArray| Ok(fullyconnect(&x, &b, &bias).sum_all()), a.clone());
    assert!(e.is_err());
}

#[test]
fn single_precision_stays_single() {
    let x32 = DlArray::from(rand(&[2, 3, 5, 5], 51).mapv(|v| v as f32));
    let w32 = DlArray::from(rand(&[4, 3, 3, 3], 52).mapv(|v| v as f32));
    let y = dlconv(&x32, &w32, &DlArray::from(ndarray::Array1::<f32>::zeros(4)), &ConvOptions::default().padding(&[1]));
    assert_eq!(y.dtype(), DType::F32);
    // Same values as double precision, to single precision.
    let y64 = dlconv(
        &x32.cast(DType::F64),
        &w32.cast(DType::F64),
        &DlArray::scalar(0.0),
        &ConvOptions::default().padding(&[1]),
    );
    let (a, e) = (y.cast(DType::F64), y64);
    close(&data(&a), &data(&e), 1e-5);
    let logits = DlArray::from(array![[1000.0f32, 1001.0, 1002.0]]);
    let s = softmax(&logits, 1);
    assert_eq!(s.dtype(), DType::F32);
    assert!(s.extractdata::<f32>().unwrap().iter().all(|v| v.is_finite()));
    for out in [
        gelu(&x32),
        leakyrelu(&x32, 0.2),
        maxpool(&x32, &PoolOptions::new(&[2])),
        avgpool(&x32, &PoolOptions::new(&[2])),
        batchnorm(
            &x32,
            &DlArray::from(ndarray::Array1::<f32>::zeros(3)),
            &DlArray::from(ndarray::Array1::<f32>::ones(3)),
        )
        .0,
        dropout(&x32, 0.5, &DlArray::scalar(3.0)),
        cumsum(&x32, 3),
        prod(&x32, &[3], false),
    ] {
        assert_eq!(out.dtype(), DType::F32, "{out:?}");
    }
}

#[test]
fn one_d_asymmetric_padding_and_degenerate_sizes() {
    // Padding [2, 0] on a 1-D signal: [0 0 1 2 3] with kernel [1 1] -> 0 1 3 5.
    let x = DlArray::from(array![[[1.0, 2.0, 3.0]]]);
    let w = DlArray::from(array![[[1.0, 1.0]]]);
    let y = dlconv(&x, &w, &DlArray::scalar(0.0), &ConvOptions::default().padding(&[2, 0]));
    close(&data(&y), &array![[[0.0, 1.0, 3.0, 5.0]]].into_dyn(), 0.0);
    let p = maxpool(&x, &PoolOptions::new(&[2]).padding(&[0, 1]));
    close(&data(&p), &array![[[2.0, 3.0, 3.0]]].into_dyn(), 0.0);
    // A zero hidden size is an error, not a division by zero.
    let seq = DlArray::from(rand(&[1, 2, 3], 1));
    let empty = DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[0, 3])));
    let r = DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[0, 0])));
    let b = DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[0])));
    assert!(gru(&seq, &b, &empty, &r, &b).0.data().is_err());
}
