//! Vector loops (F64X2, F32X4) and split loops against the interpreter, bit for bit: every
//! innermost length from 0 to 17 (vector body and every scalar remainder), odd shapes,
//! broadcasts along either axis, non-contiguous reads (transposes, strided and reversed
//! slices), pads and concatenations along the innermost axis (split into guard-free pieces),
//! sums over the innermost axis (vector lanes as the blocked sum's accumulators), short scalar
//! loops as straight-line code, in f32 and f64.

mod common;

use common::data::{canonical_bits, real_data, XorShift};
use cranegrad::internals::interp;
use cranegrad::internals::jit;
use cranegrad::internals::Data;
use cranegrad::ir::{AxisSlice, BinaryOp, CmpOp, Graph, NodeId, Op, UnaryOp};
use cranegrad::DType;
use std::sync::Arc;

fn data(d: DType, shape: &[usize], seed: u64) -> Arc<Data> {
    let n: usize = shape.iter().product();
    let mut rng = XorShift::golden(seed);
    let v: Vec<f64> = (0..n)
        .map(|k| {
            let u = rng.unit();
            // A few special values among ordinary ones.
            match k % 23 {
                5 => f64::NAN,
                11 => -0.0,
                17 => f64::INFINITY,
                _ => u * 6.0 - 3.0,
            }
        })
        .collect();
    real_data(d, shape, v)
}

/// Compiles `g`, runs it and the interpreter on `inputs`, and compares bit for bit.
fn check(g: &Graph, inputs: &[Arc<Data>], what: &str) {
    let want = interp::run(g, inputs).unwrap();
    let got = jit::compile(g).unwrap().run(inputs).unwrap();
    for (k, (a, b)) in got.iter().zip(&want).enumerate() {
        assert_eq!(a.shape(), b.shape(), "{what}: output {k} shape");
        assert_eq!(canonical_bits(a), canonical_bits(b), "{what}: output {k}");
    }
}

fn push(g: &mut Graph, op: Op, inputs: Vec<NodeId>) -> NodeId {
    g.push(op, inputs, 0).unwrap()
}

fn un(g: &mut Graph, u: UnaryOp, x: NodeId) -> NodeId {
    push(g, Op::Unary(u), vec![x])
}

fn bin(g: &mut Graph, b: BinaryOp, x: NodeId, y: NodeId) -> NodeId {
    push(g, Op::Binary(b), vec![x, y])
}

/// An expression using every kind of inline op, a host call, a comparison with a select and a
/// logical cast, over `x` and `y` (same shape, or broadcast).
fn mixed(g: &mut Graph, x: NodeId, y: NodeId) -> NodeId {
    let s = bin(g, BinaryOp::Add, x, y);
    let p = bin(g, BinaryOp::Mul, s, x);
    let q = bin(g, BinaryOp::Div, p, y);
    let r = bin(g, BinaryOp::Max, q, x);
    let m = bin(g, BinaryOp::Min, r, y);
    let a = un(g, UnaryOp::Abs, m);
    let sq = un(g, UnaryOp::Sqrt, a);
    let e = un(g, UnaryOp::Exp, sq);
    let sg = un(g, UnaryOp::Sign, x);
    let f = un(g, UnaryOp::Floor, y);
    let gt = push(g, Op::Compare(CmpOp::Gt), vec![x, y]);
    let d = g.nodes[x].dtype;
    let c = push(g, Op::Cast(d), vec![gt]);
    let sel = push(g, Op::Select, vec![gt, e, sg]);
    let t = bin(g, BinaryOp::Sub, sel, f);
    let t = bin(g, BinaryOp::Add, t, c);
    un(g, UnaryOp::Neg, t)
}

#[test]
fn elementwise_loops_of_every_length() {
    for d in [DType::F64, DType::F32] {
        for n in (0..=17).chain(31..=49) {
            for rows in [1, 3] {
                let shape = [rows, n];
                let mut g = Graph::new();
                let x = g.input(0, d, &shape);
                let y = g.input(1, d, &shape);
                let out = mixed(&mut g, x, y);
                g.outputs = vec![out];
                check(&g, &[data(d, &shape, 1), data(d, &shape, 2)], &format!("{d} {shape:?}"));
            }
        }
    }
}

#[test]
fn broadcasts_along_either_axis() {
    for d in [DType::F64, DType::F32] {
        for n in [1, 2, 5, 8, 13, 32, 37, 40] {
            for (xs, ys) in
                [(vec![3, n], vec![1, n]), (vec![3, n], vec![3, 1]), (vec![3, n], vec![]), (vec![n], vec![4, n])]
            {
                let shape = if xs.len() >= ys.len() { xs.clone() } else { ys.clone() };
                let out_shape: Vec<usize> = if ys.len() > xs.len() { ys.clone() } else { xs.clone() };
                let mut g = Graph::new();
                let x = g.input(0, d, &xs);
                let y = g.input(1, d, &ys);
                let xb = push(&mut g, Op::Broadcast(out_shape.clone()), vec![x]);
                let yb = push(&mut g, Op::Broadcast(out_shape.clone()), vec![y]);
                let out = mixed(&mut g, xb, yb);
                g.outputs = vec![out];
                check(&g, &[data(d, &xs, 3), data(d, &ys, 4)], &format!("{d} {xs:?} with {ys:?} -> {shape:?}"));
            }
        }
    }
}

#[test]
fn non_contiguous_reads_stay_correct() {
    for d in [DType::F64, DType::F32] {
        for n in [1, 3, 4, 7, 9, 16, 17, 32, 33, 39] {
            // A transpose, a strided slice, a reversed slice.
            let mut g = Graph::new();
            let x = g.input(0, d, &[n, 5]);
            let t = push(&mut g, Op::Permute(vec![1, 0]), vec![x]);
            let y = g.input(1, d, &[5, 2 * n]);
            let strided = push(
                &mut g,
                Op::Slice(vec![AxisSlice { start: 0, len: 5, step: 1 }, AxisSlice { start: 1, len: n, step: 2 }]),
                vec![y],
            );
            let reversed = push(
                &mut g,
                Op::Slice(vec![
                    AxisSlice { start: 0, len: 5, step: 1 },
                    AxisSlice { start: 2 * n - 1, len: n, step: -1 },
                ]),
                vec![y],
            );
            let a = bin(&mut g, BinaryOp::Mul, t, strided);
            let out = bin(&mut g, BinaryOp::Sub, a, reversed);
            g.outputs = vec![out];
            check(&g, &[data(d, &[n, 5], 5), data(d, &[5, 2 * n], 6)], &format!("{d} n={n}"));
        }
    }
}

#[test]
fn pads_and_concatenations_along_the_innermost_axis() {
    for d in [DType::F64, DType::F32] {
        for n in [1, 2, 3, 5, 8, 11, 17, 32, 35, 41] {
            // W2's gradient shape: two shifted pads of the same expression, added.
            let mut g = Graph::new();
            let x = g.input(0, d, &[2, n + 1]);
            let head = push(
                &mut g,
                Op::Slice(vec![AxisSlice { start: 0, len: 2, step: 1 }, AxisSlice { start: 0, len: n, step: 1 }]),
                vec![x],
            );
            let tail = push(
                &mut g,
                Op::Slice(vec![AxisSlice { start: 0, len: 2, step: 1 }, AxisSlice { start: 1, len: n, step: 1 }]),
                vec![x],
            );
            let sq = bin(&mut g, BinaryOp::Mul, head, head);
            let r = bin(&mut g, BinaryOp::Sub, tail, sq);
            let full = vec![2, n + 1];
            let p1 = push(
                &mut g,
                Op::Pad {
                    shape: full.clone(),
                    slices: vec![AxisSlice { start: 0, len: 2, step: 1 }, AxisSlice { start: 1, len: n, step: 1 }],
                },
                vec![r],
            );
            let p2 = push(
                &mut g,
                Op::Pad {
                    shape: full.clone(),
                    slices: vec![AxisSlice { start: 0, len: 2, step: 1 }, AxisSlice { start: 0, len: n, step: 1 }],
                },
                vec![sq],
            );
            // A pad along the outer axis too (its guard is the same for every lane).
            let p3 = push(
                &mut g,
                Op::Pad {
                    shape: vec![3, n + 1],
                    slices: vec![AxisSlice { start: 1, len: 2, step: 1 }, AxisSlice { start: 0, len: n + 1, step: 1 }],
                },
                vec![p1],
            );
            let s = bin(&mut g, BinaryOp::Add, p1, p2);
            let c = push(&mut g, Op::Concat(1), vec![s, x, head]);
            g.outputs = vec![s, c, p3];
            check(&g, &[data(d, &[2, n + 1], 7)], &format!("{d} n={n}"));
        }
    }
}

#[test]
fn sums_over_the_innermost_axis_keep_the_blocked_order() {
    for d in [DType::F64, DType::F32] {
        for n in (0..=17).chain(31..=49).chain([255, 256, 257, 512, 773, 1023, 1029, 4099]) {
            let mut g = Graph::new();
            let x = g.input(0, d, &[3, n]);
            let sq = bin(&mut g, BinaryOp::Mul, x, x);
            let rows = push(&mut g, Op::ReduceSum(vec![1]), vec![sq]);
            let all = push(&mut g, Op::ReduceSum(vec![0, 1]), vec![x]);
            let cols = push(&mut g, Op::ReduceSum(vec![0]), vec![x]);
            g.outputs = vec![rows, all, cols];
            // No special values: a NaN would hide the order of the additions.
            let v = data(d, &[3, n], 8);
            let clean = Arc::new(match &*v {
                Data::F32(a) => Data::F32(a.mapv(|x| if x.is_finite() { x } else { 0.25 })),
                Data::F64(a) => Data::F64(a.mapv(|x| if x.is_finite() { x } else { 0.25 })),
                _ => unreachable!(),
            });
            check(&g, &[clean], &format!("{d} n={n}"));
        }
    }
}

#[test]
fn the_padded_gradient_loop_has_no_select() {
    // W2's gradient: its loop is split at the pad boundaries, and the interior has no guard.
    let n = 1000;
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[n]);
    let head = push(&mut g, Op::Slice(vec![AxisSlice { start: 0, len: n - 1, step: 1 }]), vec![x]);
    let tail = push(&mut g, Op::Slice(vec![AxisSlice { start: 1, len: n - 1, step: 1 }]), vec![x]);
    let r = bin(&mut g, BinaryOp::Sub, tail, head);
    let p1 =
        push(&mut g, Op::Pad { shape: vec![n], slices: vec![AxisSlice { start: 1, len: n - 1, step: 1 }] }, vec![r]);
    let p2 =
        push(&mut g, Op::Pad { shape: vec![n], slices: vec![AxisSlice { start: 0, len: n - 1, step: 1 }] }, vec![r]);
    let out = bin(&mut g, BinaryOp::Add, p1, p2);
    g.outputs = vec![out];
    let c = jit::compile(&g).unwrap();
    let clif = c.clif_text();
    assert!(!clif.contains("select"), "{clif}");
    assert!(clif.contains("f64x2"), "{clif}");
    check(&g, &[data(DType::F64, &[n], 9)], "w2 gradient");
}

#[test]
fn complex_loops_of_every_length() {
    for d in [DType::F64, DType::F32] {
        let c = d.complex();
        for n in (0..=17).chain(31..=49) {
            let shape = [2, n];
            let mut g = Graph::new();
            let x = g.input(0, d, &shape);
            let y = g.input(1, d, &shape);
            let z = g.input(2, c, &shape);
            let w = bin(&mut g, BinaryOp::Complex, x, y);
            let p = bin(&mut g, BinaryOp::Mul, w, z);
            let q = bin(&mut g, BinaryOp::Sub, p, z);
            let cj = un(&mut g, UnaryOp::Conj, q);
            let s = bin(&mut g, BinaryOp::Add, cj, w);
            let ng = un(&mut g, UnaryOp::Neg, s);
            let re = un(&mut g, UnaryOp::Real, ng);
            let im = un(&mut g, UnaryOp::Imag, p);
            let r = bin(&mut g, BinaryOp::Mul, re, im);
            // A host-lowered complex op: scalar code, still correct.
            let e = un(&mut g, UnaryOp::Exp, z);
            let ez = bin(&mut g, BinaryOp::Add, e, ng);
            let xc = push(&mut g, Op::Cast(c), vec![x]);
            let m = bin(&mut g, BinaryOp::Mul, xc, z);
            g.outputs = vec![ng, r, ez, m];
            let zdata = {
                let re = data(d, &shape, 12);
                let im = data(d, &shape, 13);
                Arc::new(match (&*re, &*im) {
                    (Data::F64(a), Data::F64(b)) => {
                        Data::C128(ndarray::Zip::from(a).and(b).map_collect(|&r, &i| num_complex::Complex64::new(r, i)))
                    }
                    (Data::F32(a), Data::F32(b)) => {
                        Data::C64(ndarray::Zip::from(a).and(b).map_collect(|&r, &i| num_complex::Complex32::new(r, i)))
                    }
                    _ => unreachable!(),
                })
            };
            check(&g, &[data(d, &shape, 10), data(d, &shape, 11), zdata], &format!("{c} {shape:?}"));
        }
    }
}

#[test]
fn same_shape_kernels_run_as_one_vector_loop_over_memory() {
    // A [14, 14] elementwise kernel whose operands all have its shape: one loop over its 196
    // elements, on vectors, although each row (14) is shorter than a vector loop's minimum.
    for (d, vector) in [(DType::F64, "f64x2"), (DType::F32, "f32x4")] {
        let shape = [14, 14];
        let mut g = Graph::new();
        let x = g.input(0, d, &shape);
        let y = g.input(1, d, &shape);
        let s = bin(&mut g, BinaryOp::Add, x, y);
        let p = bin(&mut g, BinaryOp::Mul, s, x);
        g.outputs = vec![p];
        check(&g, &[data(d, &shape, 3), data(d, &shape, 4)], &format!("{d} {shape:?}"));
        let clif = jit::compile(&g).unwrap().clif_text();
        assert!(clif.contains(&format!("fadd.{vector}")) || clif.contains(&format!("load.{vector}")), "{clif}");
        // One loop (196 elements are whole vectors): a single conditional back edge.
        assert_eq!(clif.matches("brif").count(), 1, "{clif}");
    }
}

#[test]
#[cfg(target_arch = "x86_64")]
fn a_stencil_reads_each_element_once_and_negates_with_a_kept_mask() {
    // W2 reads x[i - 1], x[i] and x[i + 1]. Its gradient reaches x[i] both as element i of
    // x[..-1] and as element (i - 1) + 1 of x[1..] (through the pad of a slice): one index value,
    // so one load, even across the gradient's stores (the loads are pure values to Cranelift:
    // f64's loop takes two vectors an iteration and reads x[i + 1] for both). Its negations xor a sign mask that stays in a register, where x64's own
    // vector `fneg` rebuilds the mask (pcmpeqd, psll) at every use.
    use cranegrad::prelude::{accelerate, dlgradient, DlArray};
    fn loss(x: &DlArray) -> cranegrad::Result<(DlArray, DlArray)> {
        let (head, tail) = (x.slice(ndarray::s![..-1]), x.slice(ndarray::s![1..]));
        let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
        let g = dlgradient(&y, x)?;
        Ok((y, g))
    }
    let xs: Vec<f64> = (0..10_000).map(|i| (i % 17) as f64 / 17.0).collect();
    let inputs = [
        DlArray::from(ndarray::Array1::from_vec(xs.clone())),
        DlArray::from(ndarray::Array1::from_vec(xs.iter().map(|&v| v as f32).collect::<Vec<_>>())),
    ];
    for x in inputs {
        let f = accelerate(|x: DlArray| loss(&x));
        f.call(x).unwrap();
        let dump = f.native_dump();
        let machine = dump.split("-- machine code --").nth(1).expect("a machine code listing");
        assert!(!machine.contains("pcmpeqd"), "{machine}");
        let mut vector_loads = 0;
        for block in machine.split("\nblock") {
            let mut seen = Vec::new();
            for line in block.lines().map(str::trim) {
                let (mnemonic, operands) = line.split_once(' ').unwrap_or((line, ""));
                let operands = operands.trim();
                let mnemonic = mnemonic.strip_prefix('v').unwrap_or(mnemonic);
                if !matches!(mnemonic, "movups" | "movupd") || operands.contains("%rip") {
                    continue;
                }
                if let Some(end) = operands.find(')') {
                    let source = &operands[..=end];
                    assert!(!seen.contains(&source), "{source} loaded twice in block{block}");
                    seen.push(source);
                    vector_loads += 1;
                }
            }
        }
        assert!(vector_loads >= 3, "{machine}");
    }
}

#[test]
fn loads_under_a_guard_branch_stay_in_place() {
    // A pad along the outer axis of a costly operand (a host call per element, not
    // materialized) is computed under a branch on the row's guard, at an index valid only when
    // the guard holds. Those loads must not be pure values that Cranelift may hoist above the
    // branch (out of the loop over the row), as the other loads of an expression are.
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[4, 40]);
    let e = un(&mut g, UnaryOp::Exp, x);
    let slices = vec![AxisSlice { start: 1, len: 4, step: 1 }, AxisSlice { start: 0, len: 40, step: 1 }];
    let p = push(&mut g, Op::Pad { shape: vec![6, 40], slices }, vec![e]);
    let y = g.input(1, DType::F64, &[6, 40]);
    let out = bin(&mut g, BinaryOp::Mul, p, y);
    g.outputs = vec![out];
    let clif = jit::compile(&g).unwrap().clif_text();
    assert!(clif.contains("brif"), "{clif}");
    let loads: Vec<&str> = clif.lines().filter(|l| l.contains("= load.f64")).collect();
    assert!(loads.iter().any(|l| l.contains("can_move")), "the loads of y are pure: {clif}");
    assert!(loads.iter().any(|l| !l.contains("can_move")), "the loads of x stay in place: {clif}");
    check(&g, &[data(DType::F64, &[4, 40], 3), data(DType::F64, &[6, 40], 4)], "guarded pad");
}

#[test]
#[cfg(target_arch = "x86_64")]
fn a_loop_invariant_division_runs_once_per_call() {
    // Log-sum-exp's gradient scales every exponential by `1 / sum`: a value of one element,
    // the same in every iteration. Cranelift hoists it out of the loop only when the loop's body
    // is elaborated before its exit (`exit_or_run`); otherwise every vector paid a division.
    // Split (chunk functions) and whole kernels, each with its vector and scalar loops.
    use cranegrad::prelude::{accelerate, DlArray};
    for n in [1_001usize, 300_001] {
        let xs: Vec<f64> = (0..n).map(|i| (i % 13) as f64 / 13.0 + 0.5).collect();
        let x64 = DlArray::from(ndarray::Array1::from_vec(xs.clone()));
        let x32 = DlArray::from(ndarray::Array1::from_vec(xs.iter().map(|&v| v as f32).collect::<Vec<_>>()));
        for x in [x64, x32] {
            let f = accelerate(|x: DlArray| Ok(x.clone() * (2.0 / x.sum_all())));
            f.call(x).unwrap();
            let dump = f.native_dump();
            let machine = dump.split("-- machine code --").nth(1).expect("a machine code listing");
            let mut divisions = 0;
            for function in machine.split("\n;").skip(1) {
                // Blocks by label number, and those on a cycle: a jump from block `b` back to
                // label `t <= b` makes blocks `t..=b` a loop (the layout keeps a loop's blocks
                // together; cold ones go after it and jump forward).
                let mut blocks: Vec<(usize, Vec<&str>)> = Vec::new();
                for line in function.lines().map(str::trim) {
                    if let Some(number) = line
                        .strip_prefix("block")
                        .and_then(|r| r.strip_suffix(':'))
                        .map(|r| r.trim_end_matches(" cold"))
                    {
                        blocks.push((number.parse().expect("a block number"), Vec::new()));
                    } else if let Some((_, lines)) = blocks.last_mut() {
                        lines.push(line);
                    }
                }
                let mut looping = std::collections::HashSet::new();
                for (b, lines) in &blocks {
                    for target in lines.iter().flat_map(|l| l.split("label").skip(1)) {
                        let digits: String = target.chars().take_while(char::is_ascii_digit).collect();
                        let t: usize = digits.parse().expect("a label number");
                        if t <= *b {
                            looping.extend(t..=*b);
                        }
                    }
                }
                for (b, lines) in &blocks {
                    let divides = lines.iter().any(|l| l.starts_with("vdiv"));
                    divisions += usize::from(divides);
                    assert!(!(divides && looping.contains(b)), "a division in a loop, n = {n}:{function}");
                }
            }
            assert!(divisions >= 1, "{machine}");
        }
    }
}

#[test]
fn short_scalar_loops_are_straight_line_code_with_the_interpreters_bits() {
    // At most four scalar elements: no loop (no conditional branch); from five on, a loop.
    for d in [DType::F64, DType::F32] {
        for n in 1..=6 {
            let mut g = Graph::new();
            let x = g.input(0, d, &[n]);
            let y = g.input(1, d, &[n]);
            let s = bin(&mut g, BinaryOp::Add, x, y);
            let p = bin(&mut g, BinaryOp::Mul, s, x);
            let q = un(&mut g, UnaryOp::Sqrt, p);
            g.outputs = vec![q];
            check(&g, &[data(d, &[n], 12), data(d, &[n], 13)], &format!("{d} [{n}]"));
            let clif = jit::compile(&g).unwrap().clif_text();
            let branches = clif.matches("brif").count();
            assert_eq!(branches, usize::from(n > 4), "{d} [{n}]: {clif}");
        }
    }
}
