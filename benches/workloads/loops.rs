//! Control flow rows: a min-max saddle point by nested gradient loops (`while_loop` with
//! `dlgradient` inside, as GradBench's `saddle`), an RK4 integration with `fori_loop` (first
//! calls at two trip counts, and the gradient against a hand-written adjoint), and ADBench's
//! two-layer LSTM objective with `scan` against the same objective unrolled by a Rust loop.

use crate::measure::median;
use crate::Row;
use cranegrad::prelude::*;
use ndarray::{Array1, Array2};
use std::time::{Duration, Instant};

/// `(x, gradient norm)`: the carry of a gradient loop.
type Carry = (DlArray, DlArray);

/// The saddle-point solve of `f(x, y)` from `(1, 1), (1, 1)`: gradient descent on `x` of
/// `max_y f(x, y)`, the inner maximum by gradient ascent, both with step 0.1 until the
/// gradient's norm is at most 1e-5; the outer gradient goes through the inner loop.
fn nested_descent(start: &DlArray, f: impl Fn(&DlArray, &DlArray) -> DlArray) -> Result<DlArray> {
    let small = |(_, g): &Carry| Ok(g.gt(&DlArray::scalar(1e-5)));
    let norm = |g: &DlArray| g.square().sum_all().sqrt();
    let (x, _) = while_loop((start.clone(), DlArray::scalar(1.0)), small, |(x, _): Carry| {
        let (y, _) = while_loop((start.clone(), DlArray::scalar(1.0)), small, |(y, _): Carry| {
            let g = dlgradient(&f(&x, &y), &y)?;
            Ok((&y + 0.1 * &g, norm(&g)))
        })?;
        let g = dlgradient(&f(&x, &y), &x)?;
        Ok((&x - 0.1 * &g, norm(&g)))
    })?;
    Ok(x)
}

/// GradBench's saddle, `f(x, y) = |x|^2 - |y|^2`: `y*` does not depend on `x`.
pub fn saddle(start: &DlArray) -> Result<DlArray> {
    nested_descent(start, |x, y| x.square().sum_all() - y.square().sum_all())
}

/// [`saddle`] by hand, with the gradients derived by hand (`d/dy = -2y`, `d/dx = 2x`).
pub fn saddle_by_hand(start: [f64; 2]) -> [f64; 2] {
    let norm = |g: [f64; 2]| (g[0] * g[0] + g[1] * g[1]).sqrt();
    let (mut x, mut gx_norm) = (start, 1.0);
    while gx_norm > 1e-5 {
        let (mut y, mut gy_norm) = (start, 1.0);
        while gy_norm > 1e-5 {
            let g = [-2.0 * y[0], -2.0 * y[1]];
            y = [y[0] + 0.1 * g[0], y[1] + 0.1 * g[1]];
            gy_norm = norm(g);
        }
        std::hint::black_box(y);
        let g = [2.0 * x[0], 2.0 * x[1]];
        x = [x[0] - 0.1 * g[0], x[1] - 0.1 * g[1]];
        gx_norm = norm(g);
    }
    x
}

/// The coupled `f(x, y) = |x|^2 - |y|^2 + x . y`: the inner maximum `y*(x) = x / 2` depends on
/// `x`, so the outer gradient goes through the inner loop (reverse mode through `while_loop`).
pub fn coupled_saddle(start: &DlArray) -> Result<DlArray> {
    nested_descent(start, |x, y| x.square().sum_all() - y.square().sum_all() + (x * y).sum_all())
}

/// [`coupled_saddle`] by hand: `d/dy = x - 2y`, and the outer gradient by the envelope theorem,
/// `d/dx f(x, y*(x)) = 2x + y*` (the inner loop's derivative, which reverse mode takes, is left
/// out: the hand-written solve does less work than the traced one).
pub fn coupled_saddle_by_hand(start: [f64; 2]) -> [f64; 2] {
    let norm = |g: [f64; 2]| (g[0] * g[0] + g[1] * g[1]).sqrt();
    let (mut x, mut gx_norm) = (start, 1.0);
    while gx_norm > 1e-5 {
        let (mut y, mut gy_norm) = (start, 1.0);
        while gy_norm > 1e-5 {
            let g = [x[0] - 2.0 * y[0], x[1] - 2.0 * y[1]];
            y = [y[0] + 0.1 * g[0], y[1] + 0.1 * g[1]];
            gy_norm = norm(g);
        }
        let g = [2.0 * x[0] + y[0], 2.0 * x[1] + y[1]];
        x = [x[0] - 0.1 * g[0], x[1] - 0.1 * g[1]];
        gx_norm = norm(g);
    }
    x
}

/// `y_i' = x_i y_{i-1}` (`y_{-1} = 1`) integrated by RK4 with step `h` over `steps` steps from
/// `y = 0`, and `sum(y^2)`.
pub fn rk4_loss(x: &DlArray, steps: usize, h: f64) -> Result<DlArray> {
    let n = x.shape()[0];
    let one = DlArray::from(Array1::from_elem(1, 1.0));
    let f = |y: &DlArray| x * &concat(&[&one, &y.slice(ndarray::s![..n - 1])], 0);
    let y = fori_loop(steps, DlArray::from(Array1::<f64>::zeros(n)), |_, y| {
        let k1 = f(&y);
        let k2 = f(&(&y + h / 2.0 * &k1));
        let k3 = f(&(&y + h / 2.0 * &k2));
        let k4 = f(&(&y + h * &k3));
        Ok(&y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4))
    })?;
    Ok(y.square().sum_all())
}

/// `f(y)_i = x_i y_{i-1}`.
fn ode(x: &[f64], y: &[f64], out: &mut [f64]) {
    for i in 0..x.len() {
        out[i] = x[i] * if i == 0 { 1.0 } else { y[i - 1] };
    }
}

/// `x_bar += df/dx^T v` and `y_bar += df/dy^T v` at `y`.
fn ode_adjoint(x: &[f64], y: &[f64], v: &[f64], x_bar: &mut [f64], y_bar: &mut [f64]) {
    for i in 0..x.len() {
        x_bar[i] += v[i] * if i == 0 { 1.0 } else { y[i - 1] };
        if i > 0 {
            y_bar[i - 1] += x[i] * v[i];
        }
    }
}

/// [`rk4_loss`] by hand: four stage vectors and one stage point, reused step after step.
pub fn rk4_primal_by_hand(x: &[f64], steps: usize, h: f64) -> f64 {
    let n = x.len();
    let mut y = vec![0.0; n];
    let (mut k1, mut k2, mut k3, mut k4, mut u) =
        (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for _ in 0..steps {
        ode(x, &y, &mut k1);
        (0..n).for_each(|i| u[i] = y[i] + h / 2.0 * k1[i]);
        ode(x, &u, &mut k2);
        (0..n).for_each(|i| u[i] = y[i] + h / 2.0 * k2[i]);
        ode(x, &u, &mut k3);
        (0..n).for_each(|i| u[i] = y[i] + h * k3[i]);
        ode(x, &u, &mut k4);
        (0..n).for_each(|i| y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]));
    }
    y.iter().map(|v| v * v).sum()
}

/// [`rk4_loss`] and its gradient with respect to `x` by hand: the forward keeps each step's
/// stage points, the adjoint runs the steps backwards.
pub fn rk4_by_hand(x: &[f64], steps: usize, h: f64, grad: &mut [f64]) -> f64 {
    let n = x.len();
    let mut stages: Vec<[Vec<f64>; 4]> = Vec::with_capacity(steps);
    let mut y = vec![0.0; n];
    let (mut k1, mut k2, mut k3, mut k4) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for _ in 0..steps {
        let u1 = y.clone();
        ode(x, &u1, &mut k1);
        let u2: Vec<f64> = (0..n).map(|i| y[i] + h / 2.0 * k1[i]).collect();
        ode(x, &u2, &mut k2);
        let u3: Vec<f64> = (0..n).map(|i| y[i] + h / 2.0 * k2[i]).collect();
        ode(x, &u3, &mut k3);
        let u4: Vec<f64> = (0..n).map(|i| y[i] + h * k3[i]).collect();
        ode(x, &u4, &mut k4);
        for i in 0..n {
            y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
        stages.push([u1, u2, u3, u4]);
    }
    let loss = y.iter().map(|v| v * v).sum();
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut y_bar: Vec<f64> = y.iter().map(|v| 2.0 * v).collect();
    let mut u_bar = vec![0.0; n];
    for [u1, u2, u3, u4] in stages.iter().rev() {
        let k4_bar: Vec<f64> = y_bar.iter().map(|v| h / 6.0 * v).collect();
        let mut k3_bar: Vec<f64> = y_bar.iter().map(|v| h / 3.0 * v).collect();
        let mut k2_bar = k3_bar.clone();
        let mut k1_bar = k4_bar.clone();
        let mut next = y_bar.clone();
        for (u, k_bar, scale, into) in
            [(u4, &k4_bar, h, 3usize), (u3, &k3_bar.clone(), h / 2.0, 2), (u2, &k2_bar.clone(), h / 2.0, 1)]
        {
            u_bar.iter_mut().for_each(|v| *v = 0.0);
            ode_adjoint(x, u, k_bar, grad, &mut u_bar);
            let target = match into {
                3 => &mut k3_bar,
                2 => &mut k2_bar,
                _ => &mut k1_bar,
            };
            for i in 0..n {
                next[i] += u_bar[i];
                target[i] += scale * u_bar[i];
            }
        }
        u_bar.iter_mut().for_each(|v| *v = 0.0);
        ode_adjoint(x, u1, &k1_bar, grad, &mut u_bar);
        for i in 0..n {
            next[i] += u_bar[i];
        }
        y_bar = next;
    }
    loss
}

/// ADBench's LSTM: `[layers][4]` weights and biases, `[3]` extra vectors, `[layers][2]` state.
pub struct Lstm {
    pub weights: Vec<DlArray>,
    pub biases: Vec<DlArray>,
    pub extra: Vec<DlArray>,
    pub state: Vec<DlArray>,
    pub sequence: DlArray,
}

/// Deterministic LSTM inputs: 2 layers, `b` wide, `c` characters.
pub fn lstm_inputs(b: usize, c: usize) -> Lstm {
    let v = |k: usize| DlArray::from(Array1::from_shape_fn(b, |i| ((i * 7 + k * 3) % 11) as f64 * 0.05 - 0.25));
    let one_hot = Array2::from_shape_fn((c, b), |(t, i)| if (t * 5 + 3) % b == i { 1.0 } else { 0.0 });
    Lstm {
        weights: (0..8).map(v).collect(),
        biases: (8..16).map(v).collect(),
        extra: (16..19).map(v).collect(),
        state: (19..23).map(v).collect(),
        sequence: DlArray::from(one_hot),
    }
}

/// One LSTM layer step (ADBench's `lstm_model`): the new `(hidden, cell)`.
fn lstm_cell(w: &[DlArray], b: &[DlArray], hidden: &DlArray, cell: &DlArray, input: &DlArray) -> (DlArray, DlArray) {
    let forget = (input * &w[0] + &b[0]).sigmoid();
    let ingate = (hidden * &w[1] + &b[1]).sigmoid();
    let outgate = (input * &w[2] + &b[2]).sigmoid();
    let change = (hidden * &w[3] + &b[3]).tanh();
    let cell = cell * forget + ingate * change;
    (outgate * cell.tanh(), cell)
}

/// One character: the new state and `sum(next * log_softmax(prediction))`.
fn lstm_step(p: &[DlArray], e: &[DlArray], state: &[DlArray], x: &DlArray, next: &DlArray) -> (Vec<DlArray>, DlArray) {
    let (w, b) = p.split_at(8);
    let (h1, c1) = lstm_cell(&w[..4], &b[..4], &state[0], &state[1], &(x * &e[0]));
    let (h2, c2) = lstm_cell(&w[4..], &b[4..], &state[2], &state[3], &h1);
    let y = &h2 * &e[1] + &e[2];
    let normalized = &y - y.exp().sum_all().log();
    (vec![h1, c1, h2, c2], (next * normalized).sum_all())
}

/// The objective with `scan` over the characters, and its gradient with respect to the
/// weights, biases and extra vectors.
pub fn lstm_scan(p: &[DlArray], e: &[DlArray], state: &[DlArray], seq: &DlArray) -> Result<(DlArray, Vec<DlArray>)> {
    let c = seq.shape()[0];
    let xs = (seq.slice(ndarray::s![..c - 1, ..]), seq.slice(ndarray::s![1.., ..]));
    let ((_, total), ()) =
        scan((state.to_vec(), DlArray::scalar(0.0)), xs, |(s, total), (x, next): (DlArray, DlArray)| {
            let (s, term) = lstm_step(p, e, &s, &x, &next);
            Ok(((s, total + term), ()))
        })?;
    let loss = -total / ((c - 1) * seq.shape()[1]) as f64;
    let (p, e) = (p.to_vec(), e.to_vec());
    let (gp, ge) = dlgradient(&loss, (&p, &e))?;
    Ok((loss, [gp, ge].concat()))
}

/// The same objective unrolled by a Rust loop.
pub fn lstm_unrolled(
    p: &[DlArray],
    e: &[DlArray],
    state: &[DlArray],
    seq: &DlArray,
) -> Result<(DlArray, Vec<DlArray>)> {
    let c = seq.shape()[0];
    let (mut s, mut total) = (state.to_vec(), DlArray::scalar(0.0));
    for t in 0..c - 1 {
        let x = seq.slice(ndarray::s![t, ..]);
        let next = seq.slice(ndarray::s![t + 1, ..]);
        let (new, term) = lstm_step(p, e, &s, &x, &next);
        s = new;
        total = total + term;
    }
    let loss = -total / ((c - 1) * seq.shape()[1]) as f64;
    let (p, e) = (p.to_vec(), e.to_vec());
    let (gp, ge) = dlgradient(&loss, (&p, &e))?;
    Ok((loss, [gp, ge].concat()))
}

/// The control-flow rows.
pub fn loop_rows(budget: Duration) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let start = DlArray::from(ndarray::array![1.0, 1.0]);
    let solve = accelerate(|s: DlArray| saddle(&s));
    let x = solve.call(start.clone())?;
    let by_hand = saddle_by_hand([1.0, 1.0]);
    let eager = median(budget, || {
        dlfeval(|s: DlArray| saddle(&s), start.clone()).unwrap();
    });
    let accelerated = median(budget, || {
        solve.call(start.clone()).unwrap();
    });
    let hand = median(budget, || {
        std::hint::black_box(saddle_by_hand(std::hint::black_box([1.0, 1.0])));
    });
    let note = format!(
        "x = {:?} (by hand {by_hand:?}); y* does not depend on x: the inner loop is dead code, removed (as XLA does), the hand-written solve runs it",
        x.extractdata::<f64>()?.into_raw_vec_and_offset().0
    );
    rows.push(Row {
        workload: "L1 saddle point, nested while_loop".into(),
        eager: Some(eager),
        accelerated: Some(accelerated),
        hand: Some(hand),
        note,
    });
    let solve = accelerate(|s: DlArray| coupled_saddle(&s));
    let x = solve.call(start.clone())?;
    let by_hand = coupled_saddle_by_hand([1.0, 1.0]);
    let eager = median(budget, || {
        dlfeval(|s: DlArray| coupled_saddle(&s), start.clone()).unwrap();
    });
    let accelerated = median(budget, || {
        solve.call(start.clone()).unwrap();
    });
    let hand = median(budget, || {
        std::hint::black_box(coupled_saddle_by_hand(std::hint::black_box([1.0, 1.0])));
    });
    let note = format!(
        "x = {:?} (by hand, envelope gradient: {by_hand:?}); the outer gradient goes through the inner while_loop",
        x.extractdata::<f64>()?.into_raw_vec_and_offset().0
    );
    rows.push(Row {
        workload: "L1b coupled saddle, reverse through while_loop".into(),
        eager: Some(eager),
        accelerated: Some(accelerated),
        hand: Some(hand),
        note,
    });

    let (n, h) = (1000, 1e-3);
    let x = DlArray::from(Array1::from_shape_fn(n, |i| ((i * 13) % 17) as f64 * 0.05 - 0.4));
    let first_call = |x: &DlArray, steps: usize| -> Result<Duration> {
        let af = accelerate(move |x: DlArray| {
            let l = rk4_loss(&x, steps, h)?;
            Ok((l.clone(), dlgradient(&l, &x)?))
        });
        let t = Instant::now();
        af.call(x.clone())?;
        Ok(t.elapsed())
    };
    let (short, long) = (first_call(&x, 10)?, first_call(&x, 10_000)?);
    // The same at n = 10, where running 10,000 steps costs little next to compiling.
    let small = DlArray::from(Array1::from_shape_fn(10, |i| ((i * 13) % 17) as f64 * 0.05 - 0.4));
    let (small_short, small_long) = (first_call(&small, 10)?, first_call(&small, 10_000)?);
    let steps = 100;
    let af = accelerate(move |x: DlArray| {
        let l = rk4_loss(&x, steps, h)?;
        Ok((l.clone(), dlgradient(&l, &x)?))
    });
    af.call(x.clone())?;
    let accelerated = median(budget, || {
        af.call(x.clone()).unwrap();
    });
    let eager = median(budget, || {
        dlfeval(
            |x: DlArray| {
                let l = rk4_loss(&x, steps, h)?;
                Ok((l.clone(), dlgradient(&l, &x)?))
            },
            x.clone(),
        )
        .unwrap();
    });
    let xs = x.extractdata::<f64>()?.into_raw_vec_and_offset().0;
    let mut grad = vec![0.0; n];
    let hand = median(budget, || {
        std::hint::black_box(rk4_by_hand(&xs, steps, h, &mut grad));
    });
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let note = format!(
        "first call (value and gradient) s=10: {:.1} ms, s=10,000: {:.1} ms ({:.2}x); at n=10: {:.1} ms, {:.1} ms ({:.2}x)",
        ms(short),
        ms(long),
        long.as_secs_f64() / short.as_secs_f64(),
        ms(small_short),
        ms(small_long),
        small_long.as_secs_f64() / small_short.as_secs_f64()
    );
    rows.push(Row {
        workload: format!("L2 RK4 fori_loop n={n} s={steps}, gradient"),
        eager: Some(eager),
        accelerated: Some(accelerated),
        hand: Some(hand),
        note,
    });
    let primal = accelerate(move |x: DlArray| rk4_loss(&x, steps, h));
    let value = primal.call(x.clone())?.to_scalar::<f64>()?;
    let by_hand = rk4_primal_by_hand(&xs, steps, h);
    let accelerated = median(budget, || {
        primal.call(x.clone()).unwrap();
    });
    let hand = median(budget, || {
        std::hint::black_box(rk4_primal_by_hand(std::hint::black_box(&xs), steps, h));
    });
    rows.push(Row {
        workload: format!("L2p RK4 fori_loop n={n} s={steps}, primal"),
        eager: None,
        accelerated: Some(accelerated),
        hand: Some(hand),
        note: format!("value {value:.15e} (by hand {by_hand:.15e}); each stage reads the previous one shifted by one"),
    });

    let m = lstm_inputs(14, 1024);
    let args = ([m.weights.clone(), m.biases.clone()].concat(), m.extra.clone(), m.state.clone(), m.sequence.clone());
    type LstmArgs = (Vec<DlArray>, Vec<DlArray>, Vec<DlArray>, DlArray);
    let scanned = accelerate(|(p, e, s, q): LstmArgs| lstm_scan(&p, &e, &s, &q));
    let unrolled = accelerate(|(p, e, s, q): LstmArgs| lstm_unrolled(&p, &e, &s, &q));
    let t = Instant::now();
    scanned.call(args.clone())?;
    let scan_first = t.elapsed();
    let t = Instant::now();
    unrolled.call(args.clone())?;
    let unrolled_first = t.elapsed();
    let scan_call = median(budget, || {
        scanned.call(args.clone()).unwrap();
    });
    let unrolled_call = median(budget, || {
        unrolled.call(args.clone()).unwrap();
    });
    let note = format!(
        "first call: scan {:.0} ms, unrolled {:.0} ms ({:.3}x); per call: 'hand' column is the unrolled trace",
        scan_first.as_secs_f64() * 1e3,
        unrolled_first.as_secs_f64() * 1e3,
        scan_first.as_secs_f64() / unrolled_first.as_secs_f64()
    );
    rows.push(Row {
        workload: "L3 LSTM 2 layers, 1,024 chars, scan".into(),
        eager: None,
        accelerated: Some(scan_call),
        hand: Some(unrolled_call),
        note,
    });
    Ok(rows)
}
