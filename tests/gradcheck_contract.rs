//! The `dlgradient` contract (docs/API.md section 3): every variable structure, zero gradients,
//! `retain_data`, `enable_higher_derivatives`, `allow_complex`; and `make_ir`'s text.

use cranegrad::prelude::*;
use ndarray::{array, ArrayD};
use num_complex::{Complex32, Complex64};
use std::collections::BTreeMap;

fn data(x: &DlArray) -> ArrayD<f64> {
    x.extractdata::<f64>().unwrap_or_else(|e| panic!("{e}"))
}

fn higher() -> GradOptions {
    GradOptions { enable_higher_derivatives: Some(true), ..Default::default() }
}

#[test]
fn one_variable_by_reference() {
    let x0 = DlArray::from(array![[1.0, 2.0], [3.0, 4.0]]);
    let g = dlfeval(|x: DlArray| dlgradient(&(&x * &x).sum_all(), &x), x0).unwrap();
    assert_eq!(data(&g), array![[2.0, 4.0], [6.0, 8.0]].into_dyn());
    assert!(!g.is_traced());
}

#[test]
fn tuples_of_up_to_eight_variables() {
    let xs: Vec<DlArray> = (1..=8).map(|k| DlArray::from(array![k as f64])).collect();
    let args = (
        xs[0].clone(),
        xs[1].clone(),
        xs[2].clone(),
        xs[3].clone(),
        xs[4].clone(),
        xs[5].clone(),
        xs[6].clone(),
        xs[7].clone(),
    );
    let grads = dlfeval(
        |(a, b, c, d, e, f, g, h): (DlArray, DlArray, DlArray, DlArray, DlArray, DlArray, DlArray, DlArray)| {
            // y = sum_k k * x_k^2, so dy/dx_k = 2 k x_k = 2 k^2.
            let all = [&a, &b, &c, &d, &e, &f, &g, &h];
            let mut y = DlArray::scalar(0.0);
            for (k, x) in all.iter().enumerate() {
                y = y + ((k + 1) as f64 * x.square()).sum_all();
            }
            dlgradient(&y, (&a, &b, &c, &d, &e, &f, &g, &h))
        },
        args,
    )
    .unwrap();
    let got = [grads.0, grads.1, grads.2, grads.3, grads.4, grads.5, grads.6, grads.7];
    for (k, g) in got.iter().enumerate() {
        let k = (k + 1) as f64;
        assert_eq!(data(g), array![2.0 * k * k].into_dyn());
    }
    // Two- and three-element tuples mixing trees.
    let (ga, (gb, gc)) = dlfeval(
        |(a, v): (DlArray, Vec<DlArray>)| {
            let y = (&a * &v[0] + &v[1]).sum_all();
            let (ga, gv) = dlgradient(&y, (&a, &v))?;
            Ok((ga, (gv[0].clone(), gv[1].clone())))
        },
        (DlArray::scalar(2.0), vec![DlArray::from(array![3.0, 4.0]), DlArray::scalar(5.0)]),
    )
    .unwrap();
    assert_eq!(ga.to_scalar::<f64>().unwrap(), 7.0);
    assert_eq!(data(&gb), array![2.0, 2.0].into_dyn());
    assert_eq!(gc.to_scalar::<f64>().unwrap(), 2.0, "v[1] is broadcast over two elements");
}

#[test]
fn vec_array_and_map_variables() {
    let v0 = vec![DlArray::from(array![1.0, 2.0]), DlArray::from(array![[3.0]])];
    let g = dlfeval(|v: Vec<DlArray>| dlgradient(&(v[0].sum_all() * v[1].sum_all()), &v), v0).unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(data(&g[0]), array![3.0, 3.0].into_dyn());
    assert_eq!(data(&g[1]), array![[3.0]].into_dyn());

    let a0 = [DlArray::scalar(1.0), DlArray::scalar(2.0), DlArray::scalar(3.0)];
    let g = dlfeval(|a: [DlArray; 3]| dlgradient(&(&a[0] * &a[1] * &a[2]), &a), a0).unwrap();
    let got: Vec<f64> = g.iter().map(|x| x.to_scalar::<f64>().unwrap()).collect();
    assert_eq!(got, vec![6.0, 3.0, 2.0]);

    let mut m0 = BTreeMap::new();
    m0.insert("w".to_string(), DlArray::from(array![[1.0, 2.0]]));
    m0.insert("b".to_string(), DlArray::scalar(0.5));
    let g = dlfeval(
        |m: BTreeMap<String, DlArray>| {
            let y = (m["w"].square() + &m["b"]).sum_all();
            dlgradient(&y, &m)
        },
        m0,
    )
    .unwrap();
    assert_eq!(g.keys().collect::<Vec<_>>(), vec!["b", "w"]);
    assert_eq!(g["b"].to_scalar::<f64>().unwrap(), 2.0);
    assert_eq!(data(&g["w"]), array![[2.0, 4.0]].into_dyn());
}

#[test]
fn nested_trees_keep_their_structure() {
    type Layer = (DlArray, BTreeMap<String, DlArray>);
    let layer = |w: f64, b: f64| -> Layer {
        let mut m = BTreeMap::new();
        m.insert("bias".to_string(), DlArray::from(array![b, b]));
        (DlArray::from(array![[w, w], [w, w]]), m)
    };
    let net = vec![layer(1.0, 0.1), layer(2.0, 0.2)];
    let grads = dlfeval(
        |net: Vec<Layer>| {
            let mut h = DlArray::from(array![1.0, -1.0]);
            for (w, m) in &net {
                h = (w.matmul(&h) + &m["bias"]).tanh();
            }
            let y = h.sum_all();
            dlgradient(&y, &net)
        },
        net.clone(),
    )
    .unwrap();
    assert_eq!(grads.len(), 2);
    for ((gw, gm), (w, m)) in grads.iter().zip(&net) {
        assert_eq!(gw.shape(), w.shape());
        assert_eq!(gm.keys().collect::<Vec<_>>(), m.keys().collect::<Vec<_>>());
        assert_eq!(gm["bias"].shape(), &[2]);
    }
    // The last bias gradient is 1 - tanh^2 of the output, which is below 1 and positive.
    let last = data(&grads[1].1["bias"]);
    assert!(last.iter().all(|&v| v > 0.0 && v < 1.0), "{last}");
}

#[test]
fn param_table_gradients_have_the_same_rows() {
    let mut t = ParamTable::new();
    t.push("fc1", "Weights", DlArray::from(array![[1.0, 2.0], [3.0, 4.0]]));
    t.push("fc1", "Bias", DlArray::from(array![0.5, -0.5]));
    t.push("fc2", "Weights", DlArray::from(array![1.0f32, 1.0]));
    let g = dlfeval(
        |t: ParamTable| {
            let w = t.get("fc1", "Weights").unwrap();
            let b = t.get("fc1", "Bias").unwrap();
            let v = t.get("fc2", "Weights").unwrap();
            let h = w.matmul(&DlArray::from(array![1.0, 1.0])) + b;
            let y = (v * &h).sum_all();
            dlgradient(&y, &t)
        },
        t.clone(),
    )
    .unwrap();
    assert_eq!(g.len(), 3);
    for (row, orig) in g.iter().zip(t.iter()) {
        assert_eq!((&row.layer, &row.parameter), (&orig.layer, &orig.parameter));
        assert_eq!(row.value.shape(), orig.value.shape());
        assert_eq!(row.value.dtype(), orig.value.dtype());
    }
    assert_eq!(
        g.get("fc1", "Weights").unwrap().extractdata::<f64>().unwrap(),
        array![[1.0, 1.0], [1.0, 1.0]].into_dyn()
    );
    assert_eq!(g.get("fc1", "Bias").unwrap().extractdata::<f64>().unwrap(), array![1.0, 1.0].into_dyn());
    // h = [3.5, 6.5], so dy/dv = h, in single precision like v.
    assert_eq!(g.get("fc2", "Weights").unwrap().extractdata::<f32>().unwrap(), array![3.5f32, 6.5].into_dyn());
}

#[test]
fn gradients_have_their_variables_shape_and_dtype() {
    let args = (
        DlArray::from(array![1.0f32, 2.0]),
        DlArray::from(array![[Complex64::new(1.0, 1.0)]]),
        DlArray::from(array![Complex32::new(0.5, -0.5)]),
        DlArray::scalar(3.0),
    );
    let (ga, gb, gc, gd) = dlfeval(
        |(a, b, c, d): (DlArray, DlArray, DlArray, DlArray)| {
            let y = (a.sum_all() * &d + b.abs().sum_all() + c.real().sum_all()).cast(DType::F64);
            dlgradient(&y, (&a, &b, &c, &d))
        },
        args,
    )
    .unwrap();
    assert_eq!((ga.dtype(), ga.shape()), (DType::F32, &[2usize][..]));
    assert_eq!((gb.dtype(), gb.shape()), (DType::C128, &[1usize, 1][..]));
    assert_eq!((gc.dtype(), gc.shape()), (DType::C64, &[1usize][..]));
    assert_eq!((gd.dtype(), gd.shape()), (DType::F64, &[][..]));
    assert_eq!(ga.extractdata::<f32>().unwrap(), array![3.0f32, 3.0].into_dyn());
    let s = std::f64::consts::FRAC_1_SQRT_2;
    let gb = gb.extractdata::<Complex64>().unwrap()[[0, 0]];
    assert!((gb - Complex64::new(s, s)).norm() < 1e-15, "{gb}");
    assert_eq!(gc.extractdata::<Complex32>().unwrap(), array![Complex32::new(1.0, 0.0)].into_dyn());
    assert_eq!(gd.to_scalar::<f64>().unwrap(), 3.0);
}

#[test]
fn a_variable_y_does_not_depend_on_gets_zeros() {
    let (ga, gb, gc) = dlfeval(
        |(a, b): (DlArray, DlArray)| {
            let c = DlArray::from(array![[1.0f32, 2.0]]); // created inside: a constant of the trace
            let y = a.square().sum_all();
            dlgradient(&y, (&a, &b, &c))
        },
        (DlArray::from(array![1.0, 2.0]), DlArray::from(ndarray::Array1::from_elem(3, Complex64::new(1.0, 1.0)))),
    )
    .unwrap();
    assert_eq!(data(&ga), array![2.0, 4.0].into_dyn());
    assert_eq!(gb.extractdata::<Complex64>().unwrap(), ArrayD::zeros(ndarray::IxDyn(&[3])));
    assert_eq!(gc.extractdata::<f32>().unwrap(), array![[0.0f32, 0.0]].into_dyn());
    // An array created inside the trace is a valid variable when y does depend on it.
    let g = dlfeval(
        |x: DlArray| {
            let w = DlArray::from(array![2.0, 3.0]);
            dlgradient(&(&w * &x).sum_all(), &w)
        },
        DlArray::from(array![5.0, 7.0]),
    )
    .unwrap();
    assert_eq!(data(&g), array![5.0, 7.0].into_dyn());
}

#[test]
fn a_second_gradient_over_a_released_trace_needs_retain_data() {
    let x0 = DlArray::from(array![1.0, 2.0]);
    let message = dlfeval(
        |x: DlArray| {
            let y = x.sin().sum_all();
            let first = dlgradient(&y, &x)?;
            let second = dlgradient(&y, &x);
            assert_eq!(first.shape(), &[2]);
            Ok(second.err().map(|e| e.to_string()).unwrap_or_default())
        },
        x0.clone(),
    )
    .unwrap();
    assert!(message.contains("retain_data"), "{message:?}");
    // A later y built on the released part also fails; a y on a fresh part works.
    let (late, fresh) = dlfeval(
        |x: DlArray| {
            let s = x.sin();
            let y = s.sum_all();
            dlgradient(&y, &x)?;
            let late = dlgradient(&(&s * 2.0).sum_all(), &x).err().map(|e| e.to_string()).unwrap_or_default();
            let fresh = dlgradient(&x.cos().sum_all(), &x)?;
            Ok((late, fresh))
        },
        x0.clone(),
    )
    .unwrap();
    assert!(late.contains("retain_data"), "{late:?}");
    assert_eq!(data(&fresh), array![-(1.0f64.sin()), -(2.0f64.sin())].into_dyn());
    // With retain_data the second call works and agrees with the first.
    let (g1, g2) = dlfeval(
        |x: DlArray| {
            let y = x.sin().sum_all();
            let keep = GradOptions { retain_data: true, ..Default::default() };
            let g1 = dlgradient_with(&y, &x, keep)?;
            let g2 = dlgradient(&y, &x)?;
            Ok((g1, g2))
        },
        x0.clone(),
    )
    .unwrap();
    assert_eq!(data(&g1), array![1.0f64.cos(), 2.0f64.cos()].into_dyn());
    assert_eq!(data(&g1), data(&g2));
    // With higher derivatives on, intermediate values are retained anyway.
    let (g1, g2) = dlfeval(
        |x: DlArray| {
            let y = x.sin().sum_all();
            Ok((dlgradient_with(&y, &x, higher())?, dlgradient(&y, &x)?))
        },
        x0,
    )
    .unwrap();
    assert_eq!(data(&g1), data(&g2));
}

#[test]
fn higher_derivatives_on_give_a_differentiable_gradient() {
    // y = sum(x^3), g = 3x^2, z = sum(g^2) = 9 sum(x^4), dz/dx = 36 x^3.
    let x0 = DlArray::from(array![1.0, -2.0, 0.5]);
    let (g, dz) = dlfeval(
        |x: DlArray| {
            let y = x.powf(3.0).sum_all();
            let g = dlgradient_with(&y, &x, higher())?;
            assert!(g.is_traced());
            let z = g.square().sum_all();
            Ok((g.clone(), dlgradient(&z, &x)?))
        },
        x0,
    )
    .unwrap();
    assert_eq!(data(&g), array![3.0, 12.0, 0.75].into_dyn());
    let want = array![36.0, -288.0, 4.5].into_dyn();
    for (a, b) in data(&dz).iter().zip(want.iter()) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    // Third order: d/dx of sum(d/dx sum(d/dx sum(x^4))) = d/dx sum(12 x^2) = 24 x.
    let third = dlfeval(
        |x: DlArray| {
            let g1 = dlgradient_with(&x.powf(4.0).sum_all(), &x, higher())?;
            let g2 = dlgradient_with(&g1.sum_all(), &x, higher())?;
            dlgradient(&g2.sum_all(), &x)
        },
        DlArray::from(array![1.0, 2.0]),
    )
    .unwrap();
    assert_eq!(data(&third), array![24.0, 48.0].into_dyn());
}

#[test]
fn higher_derivatives_off_give_a_constant_gradient() {
    for options in
        [GradOptions::default(), GradOptions { enable_higher_derivatives: Some(false), ..Default::default() }]
    {
        let outcome = dlfeval(
            |x: DlArray| {
                let y = x.powf(3.0).sum_all();
                let g = dlgradient_with(&y, &x, options)?;
                let traced = g.is_traced();
                // Differentiating it again is an error (it is untraced) or zeros.
                let again = match dlgradient(&(g.square().sum_all() + x.sum_all() * 0.0), &x) {
                    Ok(d) => d.extractdata::<f64>()?.iter().all(|&v| v == 0.0),
                    Err(e) => e.to_string().contains("traced"),
                };
                Ok((traced, again))
            },
            DlArray::from(array![1.0, 2.0]),
        )
        .unwrap();
        assert_eq!(outcome, (false, true), "{options:?}");
    }
}

#[test]
fn allow_complex_false_refuses_a_complex_variable() {
    let no_complex = GradOptions { allow_complex: false, ..Default::default() };
    let e = dlfeval(
        |z: DlArray| dlgradient_with(&z.abs().sum_all(), &z, no_complex),
        DlArray::from(array![Complex64::new(1.0, 1.0)]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("allow_complex"), "{e}");
    // A real variable is fine, even when the computation goes through complex values.
    let g = dlfeval(
        |x: DlArray| dlgradient_with(&(&x * Complex64::new(0.0, 1.0)).abs().sum_all(), &x, no_complex),
        DlArray::from(array![2.0, -3.0]),
    )
    .unwrap();
    assert_eq!(g.dtype(), DType::F64);
    assert_eq!(data(&g), array![1.0, -1.0].into_dyn());
    // Allowed by default: the seed's convention.
    let g = dlfeval(
        |z: DlArray| dlgradient(&(Complex64::new(2.0, 3.0) * &z).real().sum_all(), &z),
        DlArray::from(array![Complex64::new(1.0, 1.0)]),
    )
    .unwrap();
    assert_eq!(g.extractdata::<Complex64>().unwrap()[[0]], Complex64::new(2.0, -3.0));
}

#[test]
fn make_ir_prints_one_line_per_node_with_types() {
    let ir = make_ir(|x: DlArray| Ok(x.exp() * 2.0), DlArray::from(array![1.0, 2.0])).unwrap();
    let nodes: Vec<&str> = ir.lines().filter(|l| l.trim_start().starts_with('%')).collect();
    assert_eq!(nodes.len(), 3, "input, exp, mul:\n{ir}");
    assert!(nodes.iter().all(|l| l.contains(": f64[2]")), "{ir}");
    assert!(nodes[0].contains("input") && nodes[1].contains("exp") && nodes[2].contains("mul"), "{ir}");
    assert!(ir.lines().any(|l| l.trim_start().starts_with("outputs")), "{ir}");
    assert!(!ir.contains("-- backward"), "{ir}");
    assert!(ir.lines().next().unwrap_or_default().contains("f64[2]"), "the header has the signature:\n{ir}");
}

#[test]
fn make_ir_marks_the_backward_part() {
    let ir = make_ir(
        |(x, y): (DlArray, DlArray)| {
            let f = (x.square() * &y.cast(DType::F64)).sum_all();
            let g = dlgradient(&f, &x)?;
            Ok((f, g))
        },
        (DlArray::from(array![[1.0, 2.0, 3.0]]), DlArray::from(array![1.0f32, 2.0, 3.0])),
    )
    .unwrap();
    let marker = ir.lines().position(|l| l.contains("-- backward")).unwrap_or_else(|| panic!("no marker:\n{ir}"));
    let lines: Vec<&str> = ir.lines().collect();
    assert!(lines[..marker].iter().any(|l| l.contains("reduce_sum") && l.contains(": f64[]")), "{ir}");
    assert!(lines[..marker].iter().any(|l| l.contains("cast") && l.contains(": f64[3]")), "{ir}");
    assert!(lines[..marker].iter().any(|l| l.contains("input") && l.contains(": f32[3]")), "{ir}");
    let backward: Vec<&&str> = lines[marker + 1..].iter().filter(|l| l.trim_start().starts_with('%')).collect();
    assert!(!backward.is_empty(), "{ir}");
    assert!(backward.iter().any(|l| l.contains(": f64[1, 3]")), "the gradient has x's type:\n{ir}");
    let all_nodes = lines.iter().filter(|l| l.trim_start().starts_with('%'));
    assert!(all_nodes.clone().all(|l| l.contains(" : ") && l.contains('[')), "{ir}");
    // Deterministic: the same call prints the same text (the same call site: each node's
    // origin, the line of its op, is part of the text).
    let print = || make_ir(|x: DlArray| Ok(x.exp() * 2.0), DlArray::from(array![1.0, 2.0])).unwrap();
    assert_eq!(print(), print());
}

#[test]
fn edge_cases_of_variables_and_y() {
    // An empty variable gets an empty gradient.
    let g = dlfeval(
        |(x, e): (DlArray, DlArray)| dlgradient(&(x.sum_all() + e.sum_all()), (&x, &e)),
        (DlArray::from(array![1.0]), DlArray::from(ArrayD::<f64>::zeros(ndarray::IxDyn(&[0, 3])))),
    )
    .unwrap();
    assert_eq!(g.1.shape(), &[0, 3]);
    assert_eq!(data(&g.0), array![1.0].into_dyn());
    // The same variable twice gets the same gradient twice.
    let (a, b) = dlfeval(|x: DlArray| dlgradient(&x.square().sum_all(), (&x, &x)), DlArray::from(array![3.0])).unwrap();
    assert_eq!((data(&a), data(&b)), (array![6.0].into_dyn(), array![6.0].into_dyn()));
    // An intermediate array is a valid variable: d sum(h^2) / dh = 2h.
    let (h, g) = dlfeval(
        |x: DlArray| {
            let h = x.sin();
            let g = dlgradient(&h.square().sum_all(), &h)?;
            Ok((h, g))
        },
        DlArray::from(array![0.3, 0.7]),
    )
    .unwrap();
    assert_eq!(data(&g), data(&h) * 2.0);
    // y may have any shape with one element.
    let g =
        dlfeval(|x: DlArray| dlgradient(&x.sum_all().reshape(&[1, 1]), &x), DlArray::from(array![1.0, 2.0])).unwrap();
    assert_eq!(data(&g), array![1.0, 1.0].into_dyn());
    // A single-precision y gives gradients of each variable's own type.
    let g = dlfeval(
        |(s, d): (DlArray, DlArray)| dlgradient(&(&s * &d).sum_all(), (&s, &d)),
        (DlArray::from(array![2.0f32]), DlArray::from(array![3.0])),
    )
    .unwrap();
    assert_eq!(g.0.extractdata::<f32>().unwrap(), array![3.0f32].into_dyn());
    assert_eq!(data(&g.1), array![2.0].into_dyn());
}

#[test]
fn nested_dlfeval_differentiates_the_inner_trace() {
    let outer = dlfeval(
        |x: DlArray| {
            let inner = dlfeval(|y: DlArray| dlgradient(&y.powf(3.0).sum_all(), &y), x.clone())?;
            // The inner result comes back untraced; the outer trace still works.
            assert!(!inner.is_traced());
            let g = dlgradient(&(x.square().sum_all() + inner.sum_all()), &x)?;
            Ok((inner, g))
        },
        DlArray::from(array![2.0]),
    )
    .unwrap();
    assert_eq!(data(&outer.0), array![12.0].into_dyn());
    assert_eq!(data(&outer.1), array![4.0].into_dyn());
}

#[test]
fn releasing_one_gradient_leaves_an_independent_part_usable() {
    let (g1, g2) = dlfeval(
        |x: DlArray| {
            let y1 = x.sin().sum_all();
            let y2 = x.cos().square().sum_all();
            Ok((dlgradient(&y1, &x)?, dlgradient(&y2, &x)?))
        },
        DlArray::from(array![0.5]),
    )
    .unwrap();
    assert_eq!(data(&g1), array![0.5f64.cos()].into_dyn());
    assert!((data(&g2)[[0]] + 2.0 * 0.5f64.cos() * 0.5f64.sin()).abs() < 1e-15);
}

#[test]
fn traces_are_per_thread() {
    let handles: Vec<_> = (0..4)
        .map(|k| {
            std::thread::spawn(move || {
                let x0 = DlArray::from(array![k as f64, 1.0]);
                let g = dlfeval(|x: DlArray| dlgradient(&x.powf(3.0).sum_all(), &x), x0)?;
                g.extractdata::<f64>()
            })
        })
        .collect();
    for (k, h) in handles.into_iter().enumerate() {
        let g = h.join().unwrap().unwrap();
        assert_eq!(g, array![3.0 * (k * k) as f64, 3.0].into_dyn());
    }
}
