//! Loops and branches (API.md section 7): results eagerly and accelerated against the same
//! computation unrolled by a Rust loop, gradients against the unrolled gradients (bit for bit
//! where the operations are the same), errors, and a trace's size independent of the trip count.

use cranegrad::prelude::*;
use ndarray::{array, s, ArrayD, IxDyn};

fn bits(a: &DlArray) -> Vec<u64> {
    a.extractdata::<f64>().unwrap().iter().map(|v| v.to_bits()).collect()
}

fn vector(v: &[f64]) -> DlArray {
    DlArray::from(ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).unwrap())
}

/// One step of a small nonlinear map with a captured weight.
fn step(i: &DlArray, x: &DlArray, w: &DlArray) -> DlArray {
    (x * w).sin() + x * 0.5 + i * 0.01
}

#[test]
fn fori_loop_matches_the_unrolled_loop_eagerly_and_accelerated() {
    let (x0, w) = (vector(&[0.3, -0.7, 1.1]), vector(&[0.9, 1.2, -0.4]));
    let unrolled = dlfeval(
        |(x, w): (DlArray, DlArray)| {
            let mut x = x;
            for i in 0..7 {
                x = step(&DlArray::scalar(i as f64), &x, &w);
            }
            Ok(x)
        },
        (x0.clone(), w.clone()),
    )
    .unwrap();
    let looped = |(x, w): (DlArray, DlArray)| fori_loop(7, x, |i, x| Ok(step(i, &x, &w)));
    let eager = dlfeval(looped, (x0.clone(), w.clone())).unwrap();
    let plain = looped((x0.clone(), w.clone())).unwrap();
    let af = accelerate(looped);
    let compiled = af.call((x0.clone(), w.clone())).unwrap();
    let again = af.call((x0, w)).unwrap();
    assert_eq!(bits(&eager), bits(&unrolled));
    assert_eq!(bits(&plain), bits(&unrolled));
    assert_eq!(bits(&compiled), bits(&unrolled));
    assert_eq!(bits(&again), bits(&unrolled));
}

#[test]
fn the_gradient_of_a_fori_loop_is_the_unrolled_gradient() {
    let (x0, w) = (vector(&[0.3, -0.7, 1.1]), vector(&[0.9, 1.2, -0.4]));
    let unrolled = dlfeval(
        |(x0, w): (DlArray, DlArray)| {
            let mut x = x0.clone();
            for i in 0..5 {
                x = step(&DlArray::scalar(i as f64), &x, &w);
            }
            dlgradient(&x.square().sum_all(), (&x0, &w))
        },
        (x0.clone(), w.clone()),
    )
    .unwrap();
    let looped = |(x0, w): (DlArray, DlArray)| {
        let x = fori_loop(5, x0.clone(), |i, x| Ok(step(i, &x, &w)))?;
        dlgradient(&x.square().sum_all(), (&x0, &w))
    };
    let eager = dlfeval(looped, (x0.clone(), w.clone())).unwrap();
    let compiled = accelerate(looped).call((x0, w)).unwrap();
    for (got, want) in
        [(&eager.0, &unrolled.0), (&eager.1, &unrolled.1), (&compiled.0, &unrolled.0), (&compiled.1, &unrolled.1)]
    {
        let (g, w) = (got.extractdata::<f64>().unwrap(), want.extractdata::<f64>().unwrap());
        for (a, b) in g.iter().zip(w.iter()) {
            assert!((a - b).abs() <= 1e-14 * (1.0 + b.abs()), "{g} vs {w}");
        }
    }
}

#[test]
fn while_loop_runs_to_its_own_stop_on_every_call() {
    let af = accelerate(|x: DlArray| while_loop(x, |x| Ok(x.lt(&DlArray::scalar(100.0))), |x| Ok(&x * 3.0)));
    assert_eq!(af.call(DlArray::scalar(1.0)).unwrap().to_scalar::<f64>().unwrap(), 243.0);
    assert_eq!(af.call(DlArray::scalar(50.0)).unwrap().to_scalar::<f64>().unwrap(), 150.0);
    assert_eq!(af.call(DlArray::scalar(200.0)).unwrap().to_scalar::<f64>().unwrap(), 200.0);
}

#[test]
fn reverse_mode_through_while_loop_uses_the_forward_trip_count() {
    // x -> x * w until x >= 10: from x0 = 1, w = 2: 4 steps, x = 16 = x0 w^4.
    let f = |(x0, w): (DlArray, DlArray)| {
        let x = while_loop(x0.clone(), |x| Ok(x.lt(&DlArray::scalar(10.0))), |x| Ok(&x * &w))?;
        dlgradient(&x, (&x0, &w))
    };
    let (gx, gw) = dlfeval(f, (DlArray::scalar(1.0), DlArray::scalar(2.0))).unwrap();
    assert_eq!(gx.to_scalar::<f64>().unwrap(), 16.0);
    assert_eq!(gw.to_scalar::<f64>().unwrap(), 4.0 * 8.0);
    let (gx, gw) = accelerate(f).call((DlArray::scalar(1.0), DlArray::scalar(2.0))).unwrap();
    assert_eq!(gx.to_scalar::<f64>().unwrap(), 16.0);
    assert_eq!(gw.to_scalar::<f64>().unwrap(), 32.0);
}

#[test]
fn scan_stacks_outputs_and_differentiates_through_xs() {
    let f = |xs: DlArray| {
        let (total, partial) = scan(DlArray::scalar(1.0), xs.clone(), |s, x: DlArray| {
            let s = &s * &x;
            Ok((s.clone(), s))
        })?;
        let g = dlgradient(&(&total + partial.sum_all()), &xs)?;
        Ok((partial, g))
    };
    let xs = DlArray::from(array![2.0, 3.0, 4.0]);
    for (partial, g) in [dlfeval(f, xs.clone()).unwrap(), accelerate(f).call(xs.clone()).unwrap()] {
        assert_eq!(partial.extractdata::<f64>().unwrap().into_raw_vec_and_offset().0, vec![2.0, 6.0, 24.0]);
        // total = x0 x1 x2; sum = x0 + x0 x1 + x0 x1 x2.
        let want = [1.0 + 3.0 + 12.0 + 12.0, 2.0 + 8.0 + 8.0, 6.0 + 6.0];
        assert_eq!(g.extractdata::<f64>().unwrap().into_raw_vec_and_offset().0, want.to_vec());
    }
}

#[test]
fn cond_takes_one_branch_and_its_gradient() {
    let f = |x: DlArray| {
        let y = cond(&x.lt(&DlArray::scalar(0.0)), x.clone(), |x| Ok(x.square()), |x| Ok(&x * 3.0))?;
        Ok((y.clone(), dlgradient(&y, &x)?))
    };
    let af = accelerate(f);
    for (x, y, g) in [(-2.0, 4.0, -4.0), (5.0, 15.0, 3.0)] {
        for (got_y, got_g) in [dlfeval(f, DlArray::scalar(x)).unwrap(), af.call(DlArray::scalar(x)).unwrap()] {
            assert_eq!(got_y.to_scalar::<f64>().unwrap(), y);
            assert_eq!(got_g.to_scalar::<f64>().unwrap(), g);
        }
    }
}

#[test]
fn a_trace_does_not_grow_with_the_trip_count() {
    let size = |n: usize| {
        cranegrad::trace_graph(|x: DlArray| fori_loop(n, x, |i, x| Ok((&x + i).sin())), DlArray::scalar(0.5))
            .unwrap()
            .nodes
            .len()
    };
    assert_eq!(size(10), size(10_000));
}

#[test]
fn a_carry_of_another_shape_is_an_error_naming_both_shapes() {
    let e = dlfeval(|x: DlArray| fori_loop(3, x, |_, x| Ok(x.sum_all())), vector(&[1.0, 2.0])).unwrap_err().to_string();
    assert!(e.contains("fori_loop") && e.contains("[2]") && e.contains("[]"), "{e}");
}

#[test]
fn a_predicate_that_is_not_logical_is_an_error() {
    let e = dlfeval(|x: DlArray| while_loop(x, |x| Ok(x.clone()), Ok), DlArray::scalar(1.0)).unwrap_err();
    assert!(e.to_string().contains("logical scalar"), "{e}");
}

#[test]
fn max_iterations_is_an_error_from_compiled_code_and_the_function_stays_usable() {
    let options = LoopOptions { max_iterations: Some(50), checkpoint_every: None };
    let af = accelerate(move |x: DlArray| {
        while_loop_with(x, |x| Ok(x.gt(&DlArray::scalar(1.0))), |x| Ok(&x * 0.5), options)
    });
    let e = af.call(DlArray::scalar(1e300)).unwrap_err().to_string();
    assert!(e.contains("max_iterations") && e.contains("while_loop"), "{e}");
    assert_eq!(af.call(DlArray::scalar(8.0)).unwrap().to_scalar::<f64>().unwrap(), 1.0);
}

#[test]
fn a_panic_inside_a_body_is_an_error() {
    let e = dlfeval(|x: DlArray| fori_loop(3, x, |_, _x| -> Result<DlArray> { panic!("boom") }), DlArray::scalar(1.0))
        .unwrap_err();
    assert!(e.to_string().contains("boom"), "{e}");
}

#[test]
fn dlgradient_inside_a_body_finds_a_saddle_point_compiled() {
    // min over x of max over y of f = x^2 - y^2 + x y: the inner ascent inside the outer body.
    let solve = accelerate(|start: DlArray| {
        let (x, _) = while_loop(
            (start, DlArray::scalar(1.0)),
            |(_, g): &(DlArray, DlArray)| Ok(g.gt(&DlArray::scalar(1e-10))),
            |(x, _)| {
                let y = fori_loop(50, DlArray::scalar(0.0), |_, y| {
                    let f = x.square() - y.square() + &x * &y;
                    let gy = dlgradient(&f, &y)?;
                    Ok(&y + 0.25 * &gy)
                })?;
                let f = x.square() - y.square() + &x * &y;
                let gx = dlgradient(&f, &x)?;
                Ok((&x - 0.2 * &gx, gx.abs()))
            },
        )?;
        Ok(x)
    });
    let x = solve.call(DlArray::scalar(1.0)).unwrap().to_scalar::<f64>().unwrap();
    assert!(x.abs() < 1e-8, "{x}");
}

#[test]
fn checkpointing_gives_the_same_gradient_bit_for_bit() {
    let (x0, w) = (vector(&[0.3, -0.7, 1.1]), vector(&[0.9, 1.2, -0.4]));
    let gradient = |every: Option<usize>| {
        let options = LoopOptions { max_iterations: None, checkpoint_every: every };
        let f = move |(x0, w): (DlArray, DlArray)| {
            let x = fori_loop_with(12, x0.clone(), |i, x| Ok(step(i, &x, &w)), options)?;
            dlgradient(&x.square().sum_all(), (&x0, &w))
        };
        let eager = dlfeval(f, (x0.clone(), w.clone())).unwrap();
        let compiled = accelerate(f).call((x0.clone(), w.clone())).unwrap();
        assert_eq!((bits(&eager.0), bits(&eager.1)), (bits(&compiled.0), bits(&compiled.1)));
        (bits(&eager.0), bits(&eager.1))
    };
    let all = gradient(None);
    for every in [Some(1), Some(3), Some(4), Some(5), Some(12), Some(100)] {
        assert_eq!(gradient(every), all, "checkpoint_every {every:?}");
    }
}

#[test]
fn the_readme_saddle_point() -> Result<()> {
    type Carry = (DlArray, DlArray); // (point, norm of the last gradient)
    let solve = accelerate(|start: DlArray| {
        let small = |(_, g): &Carry| Ok(g.gt(&DlArray::scalar(1e-5)));
        let f = |x: &DlArray, y: &DlArray| x.square().sum_all() - y.square().sum_all() + (x * y).sum_all();
        let (x, _) = while_loop((start.clone(), DlArray::scalar(1.0)), small, |(x, _): Carry| {
            let (y, _) = while_loop((start.clone(), DlArray::scalar(1.0)), small, |(y, _): Carry| {
                let g = dlgradient(&f(&x, &y), &y)?; // ascent on y
                Ok((&y + 0.1 * &g, g.square().sum_all().sqrt()))
            })?;
            let g = dlgradient(&f(&x, &y), &x)?; // through the inner while_loop
            Ok((&x - 0.1 * &g, g.square().sum_all().sqrt()))
        })?;
        Ok(x)
    });
    let x = solve.call(DlArray::from(ndarray::array![1.0, 1.0]))?; // the saddle point at 0
    let eager = dlfeval(|s: DlArray| solve.call(s), DlArray::from(ndarray::array![1.0, 1.0]))?;
    for v in x.extractdata::<f64>()?.iter() {
        assert!(v.abs() < 1e-5, "{x}");
    }
    assert_eq!(bits(&x), bits(&eager));
    Ok(())
}

#[test]
fn dlfeval_inside_a_traced_function_makes_fresh_variables() {
    // Siskind and Pearlmutter's perturbation confusion: f(x) = x * d/dy (x y) at y = x is
    // x^2, so f'(x) = 2x (4x when the inner derivative also differentiates the outer x).
    let f = |x: DlArray| {
        let inner = dlfeval(|y: DlArray| dlgradient(&(&x * &y).sum_all(), &y), x.clone())?;
        let fx = (&x * &inner).sum_all();
        dlgradient(&fx, &x)
    };
    let compiled = accelerate(f).call(DlArray::scalar(1.5)).unwrap();
    assert_eq!(compiled.to_scalar::<f64>().unwrap(), 3.0);
    let higher = |x: DlArray| {
        let inner = dlfeval(
            |y: DlArray| {
                let options = GradOptions { enable_higher_derivatives: Some(true), ..GradOptions::default() };
                dlgradient_with(&(&x * &y).sum_all(), &y, options)
            },
            x.clone(),
        )?;
        dlgradient(&(&x * &inner).sum_all(), &x)
    };
    assert_eq!(dlfeval(higher, DlArray::scalar(1.5)).unwrap().to_scalar::<f64>().unwrap(), 3.0);
    // Inside a loop's body: the gradient of f at the carry, as a solver writes it.
    let step = accelerate(|x0: DlArray| {
        fori_loop(3, x0, |_, p| {
            let g = dlfeval(|p: DlArray| dlgradient(&(&p - 2.0).square().sum_all(), &p), p.clone())?;
            Ok(&p - 0.25 * &g)
        })
    });
    // p -> p - 0.5 (p - 2): 0 -> 1 -> 1.5 -> 1.75.
    assert_eq!(step.call(DlArray::scalar(0.0)).unwrap().to_scalar::<f64>().unwrap(), 1.75);
}

#[test]
fn loop_invariants_give_the_unrolled_bits() {
    // `exp(w) * 2` and its sum depend only on the captured w: computed once per run of the loop.
    fn body(c: &DlArray, w: &DlArray) -> DlArray {
        c * 0.5 + (w.exp() * 2.0).sum_all() + w.exp()
    }
    let looped = |(x, w): (DlArray, DlArray)| {
        let y = fori_loop(2, x.clone(), |_, c| Ok(body(&c, &w)))?;
        let z = while_loop(y.clone(), |c| Ok(c.sum_all().lt(&(w.exp().sum_all() * 9.5))), |c| Ok(body(&c, &w)))?;
        let g = dlgradient(&z.sum_all(), (&x, &w))?;
        Ok((z, g.0, g.1))
    };
    let unrolled = |(x, w): (DlArray, DlArray)| {
        let mut y = x.clone();
        for _ in 0..2 {
            y = body(&y, &w);
        }
        while y.sum_all().lt(&(w.exp().sum_all() * 9.5)).to_scalar::<bool>()? {
            y = body(&y, &w);
        }
        let g = dlgradient(&y.sum_all(), (&x, &w))?;
        Ok((y, g.0, g.1))
    };
    let args = (vector(&[0.3, -0.7]), vector(&[0.2, 0.1]));
    let want = dlfeval(unrolled, args.clone()).unwrap();
    for got in [dlfeval(looped, args.clone()).unwrap(), accelerate(looped).call(args.clone()).unwrap()] {
        assert_eq!(bits(&got.0), bits(&want.0));
        for (g, w) in [(&got.1, &want.1), (&got.2, &want.2)] {
            let (g, w) = (g.extractdata::<f64>().unwrap(), w.extractdata::<f64>().unwrap());
            for (a, b) in g.iter().zip(w.iter()) {
                assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{g} vs {w}");
            }
        }
    }
}

/// `x -> sin(x w) / 2 + 1.7 x` until `|x|^2 >= 40`.
fn grow(x: &DlArray, w: &DlArray) -> DlArray {
    (x * w).sin() * 0.5 + x * 1.7
}

fn small(x: &DlArray) -> DlArray {
    x.square().sum_all().lt(&DlArray::scalar(40.0))
}

#[test]
fn forward_mode_through_while_loop_is_the_unrolled_jacobian_and_the_finite_difference() {
    type Point = (DlArray, DlArray, DlArray, DlArray);
    let looped = |(x0, w, vx, vw): Point| {
        let x = while_loop(x0.clone(), |x| Ok(small(x)), |x| Ok(grow(&x, &w)))?;
        dljvp(&x.exp(), (&x0, &w), (&vx, &vw))
    };
    let unrolled = |(x0, w, vx, vw): Point| {
        let mut x = x0.clone();
        while small(&x).extractdata::<bool>()?.iter().all(|&b| b) {
            x = grow(&x, &w);
        }
        dljvp(&x.exp(), (&x0, &w), (&vx, &vw))
    };
    let point =
        (vector(&[0.6, 0.8, 0.7]), vector(&[0.9, 0.6, 0.75]), vector(&[0.3, -0.2, 0.5]), vector(&[-0.4, 0.1, 0.2]));
    let by_loop = dlfeval(looped, point.clone()).unwrap().extractdata::<f64>().unwrap();
    let by_hand = dlfeval(unrolled, point.clone()).unwrap().extractdata::<f64>().unwrap();
    let compiled = accelerate(looped).call(point.clone()).unwrap().extractdata::<f64>().unwrap();
    // The finite difference of the loop's value along (vx, vw), the trip count fixed near the point.
    let value = |s: f64| {
        let (x0, w, vx, vw) = point.clone();
        let (x0, w) = (&x0 + s * &vx, &w + s * &vw);
        dlfeval(|(x0, w): (DlArray, DlArray)| while_loop(x0, |x| Ok(small(x)), |x| Ok(grow(&x, &w))), (x0, w))
            .unwrap()
            .exp()
            .extractdata::<f64>()
            .unwrap()
    };
    let h = 1e-6;
    let difference = (value(h) - value(-h)) / (2.0 * h);
    for k in 0..3 {
        assert!((by_loop[k] - by_hand[k]).abs() <= 1e-12 * by_hand[k].abs().max(1.0), "{by_loop} vs {by_hand}");
        assert!((compiled[k] - by_hand[k]).abs() <= 1e-12 * by_hand[k].abs().max(1.0), "{compiled} vs {by_hand}");
        assert!((difference[k] - by_hand[k]).abs() <= 1e-6 * by_hand[k].abs().max(1.0), "{difference} vs {by_hand}");
    }
}

/// Of `y = sum(exp(x))`: the Hessian-vector products with respect to `x0` and `w` (along `v`
/// each), the gradient of `|dy/dw|^2` with respect to `x0`, and a third derivative: the gradient
/// of the products' pairing with respect to `w`.
fn higher_derivatives(
    x: &DlArray,
    x0: &DlArray,
    w: &DlArray,
    v: &DlArray,
) -> Result<(DlArray, DlArray, DlArray, DlArray)> {
    let y = x.exp().sum_all();
    let keep = GradOptions { retain_data: true, enable_higher_derivatives: Some(true), ..Default::default() };
    let (hx, hw) = dlhvp_with(&y, (x0, w), (v, v), keep)?;
    let g = dlgradient_with(&y, w, keep)?;
    let gg = dlgradient_with(&g.square().sum_all(), x0, keep)?;
    let ggg = dlgradient(&(&hx * &hw).sum_all(), w)?;
    Ok((hx, hw, gg, ggg))
}

#[test]
fn second_and_third_derivatives_through_while_loop_are_the_unrolled_ones() {
    type Point = (DlArray, DlArray, DlArray);
    // dlhvp with respect to the start and the captured weight, and the gradient of a gradient.
    let looped = |(x0, w, v): Point| {
        let x = while_loop(x0.clone(), |x| Ok(small(x)), |x| Ok(grow(&x, &w)))?;
        higher_derivatives(&x, &x0, &w, &v)
    };
    let unrolled = |(x0, w, v): Point| {
        let mut x = x0.clone();
        while small(&x).extractdata::<bool>()?.iter().all(|&b| b) {
            x = grow(&x, &w);
        }
        higher_derivatives(&x, &x0, &w, &v)
    };
    let point = (vector(&[0.6, 0.8, 0.7]), vector(&[0.9, 0.6, 0.75]), vector(&[0.3, -0.2, 0.5]));
    let by_hand = dlfeval(unrolled, point.clone()).unwrap();
    for by_loop in [dlfeval(looped, point.clone()).unwrap(), accelerate(looped).call(point.clone()).unwrap()] {
        let pairs =
            [(&by_loop.0, &by_hand.0), (&by_loop.1, &by_hand.1), (&by_loop.2, &by_hand.2), (&by_loop.3, &by_hand.3)];
        for (a, b) in pairs {
            let (a, b) = (a.extractdata::<f64>().unwrap(), b.extractdata::<f64>().unwrap());
            for k in 0..3 {
                assert!((a[k] - b[k]).abs() <= 1e-11 * b[k].abs().max(1.0), "{a} vs {b}");
            }
        }
    }
}

#[test]
fn forward_mode_through_a_complex_while_loop_is_an_error_that_says_so() {
    let jvp = |(z0, v): (DlArray, DlArray)| {
        let z = while_loop(z0.clone(), |z| Ok(z.abs().sum_all().lt(&DlArray::scalar(10.0))), |z| Ok(&z * 2.0))?;
        dljvp(&z.abs().sum_all(), &z0, &v)
    };
    let z0 = DlArray::from(ArrayD::from_shape_vec(IxDyn(&[1]), vec![num_complex::Complex64::new(1.0, 0.5)]).unwrap());
    let err = dlfeval(jvp, (z0.clone(), z0)).unwrap_err().to_string();
    assert!(err.contains("complex while_loop"), "{err}");
}

#[test]
fn unused_carries_and_stacked_outputs_are_not_computed() {
    type Args = (DlArray, DlArray, DlArray);
    // `b` (a product and a tanh each step) and the stacked `sin` are read by nothing after the
    // loop; the counter `k` is read by the while loop's predicate only.
    let loops = |(a, b, w): Args| {
        let (a1, _) = fori_loop(5, (a.clone(), b.clone()), |_, (a, b)| Ok((&a * 0.9 + 1.0, b.matmul(&w).tanh())))?;
        let (a2, _) = scan(a.clone(), b.clone(), |c, x| Ok((&c * 0.5 + x.sum_all(), x.sin())))?;
        let more = |(_, _, k): &(DlArray, DlArray, DlArray)| Ok(k.lt(&DlArray::scalar(3.5)));
        let (a3, _, _) =
            while_loop((a, b, DlArray::scalar(0.0)), more, |(a, b, k)| Ok((&a * 1.1, b.matmul(&w).exp(), k + 1.0)))?;
        Ok(a1 + a2 + a3)
    };
    let w = DlArray::from(array![[0.5, 0.1], [0.2, 0.3]]);
    let args = (vector(&[1.0, 2.0]), DlArray::from(array![[0.3, 0.4], [0.1, 0.2]]), w);
    let af = accelerate(loops);
    let compiled = af.call(args.clone()).unwrap();
    assert_eq!(bits(&compiled), bits(&dlfeval(loops, args).unwrap()));
    let traced = af.ir_dump_stage(DumpStage::Unoptimized);
    let optimized = af.ir_dump_stage(DumpStage::Optimized);
    for op in ["matmul", "tanh", "sin", "exp"] {
        assert!(traced.contains(op), "{op} was traced:\n{traced}");
        assert!(!optimized.contains(op), "{op} is computed:\n{optimized}");
    }
    assert!(optimized.contains("lt "), "the while loop's counter stays:\n{optimized}");
}

#[test]
fn second_derivatives_through_a_while_loop_with_a_logical_carry() {
    // The carry holds a flag beside the value; the loop stops when the flag is down.
    let hvp = |(x0, v): (DlArray, DlArray)| {
        let up = |x: &DlArray| x.square().sum_all().lt(&DlArray::scalar(40.0));
        let (x, _) = while_loop(
            (x0.clone(), up(&x0)),
            |(_, f)| Ok(f.clone()),
            |(x, _)| {
                let x = grow(&x, &x0);
                Ok((x.clone(), up(&x)))
            },
        )?;
        dlhvp(&x.exp().sum_all(), &x0, &v)
    };
    let unrolled = |(x0, v): (DlArray, DlArray)| {
        let mut x = x0.clone();
        while small(&x).extractdata::<bool>()?.iter().all(|&b| b) {
            x = grow(&x, &x0);
        }
        dlhvp(&x.exp().sum_all(), &x0, &v)
    };
    let point = (vector(&[0.6, 0.8, 0.7]), vector(&[0.3, -0.2, 0.5]));
    let (a, b) = (dlfeval(hvp, point.clone()).unwrap(), dlfeval(unrolled, point).unwrap());
    let (a, b) = (a.extractdata::<f64>().unwrap(), b.extractdata::<f64>().unwrap());
    for k in 0..3 {
        assert!((a[k] - b[k]).abs() <= 1e-11 * b[k].abs().max(1.0), "{a} vs {b}");
    }
}

/// One step of a small LSTM-like cell on rows `[1, 3]`: a matrix product, sigmoids, tanh, an
/// exponential and a sine (whose derivative's cosine is a residual of the VJP only).
fn cell((h, c): (DlArray, DlArray), x: &DlArray, w: &DlArray) -> ((DlArray, DlArray), DlArray) {
    let z = h.matmul(w) + x;
    let (i, g) = (z.sigmoid(), (&z * 0.7).tanh());
    let c = &c * (&z * 0.5).sigmoid() + &i * &g;
    let h = c.tanh() * z.sin();
    let y = (&h * 0.5).exp();
    ((h, c), y)
}

type Cell = (DlArray, DlArray, DlArray, DlArray);

/// The loss of the cell over the rows of `xs` (`[T, 1, 3]`) written with `scan`, and its
/// gradient with respect to the initial carry and the weight.
fn cell_scan(options: LoopOptions) -> impl Fn(Cell) -> Result<(DlArray, DlArray, DlArray)> + Copy {
    move |(h0, c0, w, xs): Cell| {
        let body = |hc, x: DlArray| Ok(cell(hc, &x, &w));
        let ((h, c), ys) = scan_with((h0.clone(), c0.clone()), xs, body, options)?;
        let loss = h.sum_all() + c.square().sum_all() * 0.3 + ys.sum_all() * 0.1;
        dlgradient(&loss, (&h0, &c0, &w))
    }
}

fn cell_args(steps: usize) -> Cell {
    let xs = ArrayD::from_shape_fn(IxDyn(&[steps, 1, 3]), |d| ((d[0] * 7 + d[2] * 3) % 11) as f64 * 0.1 - 0.5);
    let w = array![[0.5, -0.3, 0.2], [0.1, 0.4, -0.6], [-0.2, 0.3, 0.7]];
    (
        DlArray::from(array![[0.1, -0.2, 0.3]]),
        DlArray::from(array![[0.2, 0.1, -0.4]]),
        DlArray::from(w),
        DlArray::from(xs),
    )
}

fn gradient_bits(g: &(DlArray, DlArray, DlArray)) -> Vec<Vec<u64>> {
    vec![bits(&g.0), bits(&g.1), bits(&g.2)]
}

#[test]
fn a_scan_gradient_from_saved_residuals_is_the_replayed_one_bit_for_bit_and_the_unrolled_one() {
    let args = cell_args(9);
    // `checkpoint_every` at the trip count keeps every carry and saves no residuals: the reverse
    // steps run the body again, in the same order of operations.
    let saved = cell_scan(LoopOptions::default());
    let replayed = cell_scan(LoopOptions { max_iterations: None, checkpoint_every: Some(9) });
    let want = gradient_bits(&dlfeval(replayed, args.clone()).unwrap());
    assert_eq!(gradient_bits(&dlfeval(saved, args.clone()).unwrap()), want);
    assert_eq!(gradient_bits(&accelerate(saved).call(args.clone()).unwrap()), want);
    assert_eq!(gradient_bits(&accelerate(replayed).call(args.clone()).unwrap()), want);
    let unrolled = |(h0, c0, w, xs): Cell| {
        let mut hc = (h0.clone(), c0.clone());
        let mut ys = DlArray::scalar(0.0);
        let rows = xs.extractdata::<f64>()?;
        for t in 0..rows.shape()[0] {
            let x = DlArray::from(rows.index_axis(ndarray::Axis(0), t).to_owned());
            let (next, y) = cell(hc, &x, &w);
            hc = next;
            ys = ys + y.sum_all();
        }
        let loss = hc.0.sum_all() + hc.1.square().sum_all() * 0.3 + ys * 0.1;
        dlgradient(&loss, (&h0, &c0, &w))
    };
    let (got, want) = (dlfeval(saved, args.clone()).unwrap(), dlfeval(unrolled, args).unwrap());
    for (g, w) in [(&got.0, &want.0), (&got.1, &want.1), (&got.2, &want.2)] {
        let (g, w) = (g.extractdata::<f64>().unwrap(), w.extractdata::<f64>().unwrap());
        for (a, b) in g.iter().zip(w.iter()) {
            assert!((a - b).abs() <= 1e-14 * (1.0 + b.abs()), "{g} vs {w}");
        }
    }
}

/// The lines of the body of the dump's first target named with `label`, without nested bodies'
/// headers (their lines count too).
fn body_in_dump<'a>(dump: &'a str, label: &str) -> Vec<&'a str> {
    let mut lines = dump.lines().skip_while(|l| !(l.contains(label) && l.trim_end().ends_with('{')));
    let Some(header) = lines.next() else { return Vec::new() };
    let close = format!("{}}}", &header[..header.len() - header.trim_start().len()]);
    lines.take_while(|l| *l != close).collect()
}

#[test]
fn the_reverse_steps_of_a_scan_read_the_forward_transcendentals_instead_of_computing_them() {
    let args = cell_args(6);
    let count = |lines: &[&str], op: &str| lines.iter().filter(|l| l.contains(&format!("= {op} "))).count();
    let mut tanh_forward = Vec::new();
    let every = |k| LoopOptions { max_iterations: None, checkpoint_every: Some(k) };
    // Options, whether the forward loop stacks residuals, whether the reverse steps read some:
    // with checkpoints each chunk's second run keeps its own (the first reverse body printed is
    // a chunk's).
    for (options, saves, reads) in
        [(LoopOptions::default(), true, true), (every(6), false, false), (every(3), false, true)]
    {
        let af = accelerate(cell_scan(options));
        af.call(args.clone()).unwrap();
        let dump = af.ir_dump_stage(DumpStage::Optimized);
        let forward = body_in_dump(&dump, "body of scan at tests/control_flow.rs");
        let reverse = body_in_dump(&dump, "(reverse mode) {");
        assert!(!forward.is_empty() && !reverse.is_empty(), "{dump}");
        // The forward body computes its tanh (sigmoids are tanh too), the sine, the exponential
        // and the product, once each (the residuals are its own nodes, the cosine of the sine's
        // derivative added); the reverse steps, with residuals, none of them.
        tanh_forward.push(count(&forward, "tanh"));
        assert_eq!(count(&forward, "sin"), 1, "{dump}");
        assert_eq!(count(&forward, "cos"), usize::from(saves), "{dump}");
        for op in ["tanh", "exp", "sin", "cos"] {
            let recomputed = count(&reverse, op) > 0;
            assert_eq!(recomputed, !reads, "{op} in the reverse steps with options {options:?}:\n{dump}");
        }
        // The reverse steps' matrix products: the cotangents' (two), not the forward's `h w`.
        assert_eq!(count(&reverse, "matmul"), if reads { 2 } else { 3 }, "{dump}");
    }
    assert!(tanh_forward[0] > 0 && tanh_forward.iter().all(|&n| n == tanh_forward[0]), "{tanh_forward:?}");
}

#[test]
fn second_order_and_forward_mode_through_a_scan_with_residuals_are_the_unrolled_ones() {
    type Hvp = (DlArray, DlArray, DlArray, DlArray);
    let loss = |h0: &DlArray, w: &DlArray, xs: &DlArray, scanned: bool| -> Result<DlArray> {
        let ((h, c), ys) = if scanned {
            scan((h0.clone(), h0 * 0.5), xs.clone(), |hc, x: DlArray| Ok(cell(hc, &x, w)))?
        } else {
            let (mut hc, mut ys) = ((h0.clone(), h0 * 0.5), DlArray::scalar(0.0));
            for t in 0..xs.shape()[0] {
                let (next, y) = cell(hc, &xs.slice(s![t, .., ..]), w);
                (hc, ys) = (next, ys + y.sum_all());
            }
            (hc, ys)
        };
        Ok(h.sum_all() + c.square().sum_all() * 0.3 + ys.sum_all() * 0.1)
    };
    let derivatives = move |scanned: bool| {
        move |(h0, w, xs, v): Hvp| {
            let hvp = dlhvp(&loss(&h0, &w, &xs, scanned)?, (&h0, &w), (&v, &(&w * 0.3)))?;
            let jvp = dljvp(&loss(&h0, &w, &xs, scanned)?, (&h0, &w), (&v, &(&w * 0.3)))?;
            Ok((hvp.0, hvp.1, jvp))
        }
    };
    let (h0, _, w, xs) = cell_args(7);
    let args = (h0, w, xs, DlArray::from(array![[0.3, -0.1, 0.2]]));
    let want = dlfeval(derivatives(false), args.clone()).unwrap();
    for got in [dlfeval(derivatives(true), args.clone()).unwrap(), accelerate(derivatives(true)).call(args).unwrap()] {
        for (g, w) in [(&got.0, &want.0), (&got.1, &want.1), (&got.2, &want.2)] {
            let (g, w) = (g.extractdata::<f64>().unwrap(), w.extractdata::<f64>().unwrap());
            for (a, b) in g.iter().zip(w.iter()) {
                assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{g} vs {w}");
            }
        }
    }
}
