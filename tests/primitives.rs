//! The guard test of the primitive set: every row of `src/ir/primitives.rs`, on every dtype,
//! either is refused by its type rule (where its row says `Undefined`) or has a kernel in the
//! interpreter and a lowering in the JIT that agree bit for bit. A failure names the op, the
//! dtype and the missing place; `docs/ARCHITECTURE.md` says how to add a primitive.

use cranegrad::internals::Data;
use cranegrad::ir::{infer, BinaryOp, CmpOp, Graph, Lowering, Op, UnaryOp};
use cranegrad::{internals::interp, internals::jit, DType};
use ndarray::{ArrayD, IxDyn};
use num_complex::{Complex32, Complex64};
use std::sync::Arc;

const DTYPES: [DType; 4] = [DType::F32, DType::F64, DType::C64, DType::C128];
const GUIDE: &str = "see docs/ARCHITECTURE.md, \"Adding a primitive\"";

fn sample(d: DType, shift: f64) -> Arc<Data> {
    let v: Vec<f64> = (0..6).map(|i| 0.15 + 0.11 * i as f64 + shift).collect();
    let s = IxDyn(&[2, 3]);
    Arc::new(match d {
        DType::F32 => Data::F32(ArrayD::from_shape_vec(s, v.iter().map(|&x| x as f32).collect()).unwrap()),
        DType::F64 => Data::F64(ArrayD::from_shape_vec(s, v).unwrap()),
        DType::C64 => Data::C64(
            ArrayD::from_shape_vec(s, v.iter().map(|&x| Complex32::new(x as f32, 0.3 - x as f32)).collect()).unwrap(),
        ),
        DType::C128 => {
            Data::C128(ArrayD::from_shape_vec(s, v.iter().map(|&x| Complex64::new(x, 0.3 - x)).collect()).unwrap())
        }
        DType::Bool => unreachable!("not a numeric dtype"),
    })
}

/// Checks one elementwise op on one dtype against its declared lowering.
fn guard(op: Op, arity: usize, d: DType, lowering: Lowering, problems: &mut Vec<String>) {
    let shape = [2usize, 3];
    let types: Vec<(DType, &[usize])> = (0..arity).map(|_| (d, &shape[..])).collect();
    let accepted = infer(&op, &types).is_ok();
    let name = op.name();
    match (lowering, accepted) {
        (Lowering::Undefined, false) => return,
        (Lowering::Undefined, true) => {
            problems.push(format!("{name} on {d}: its row says Undefined but the type rule accepts it ({GUIDE})"));
            return;
        }
        (_, false) => {
            problems.push(format!("{name} on {d}: its row declares a lowering but the type rule refuses it ({GUIDE})"));
            return;
        }
        _ => {}
    }
    let mut g = Graph::new();
    let inputs: Vec<usize> = (0..arity).map(|k| g.input(k, d, &shape)).collect();
    let y = g.push(op, inputs, 0).unwrap();
    g.outputs = vec![y];
    let args: Vec<Arc<Data>> = (0..arity).map(|k| sample(d, 0.2 * k as f64)).collect();
    let want = match interp::run(&g, &args) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("{name} on {d}: no interpreter kernel ({e}) ({GUIDE})"));
            return;
        }
    };
    match jit::compile(&g).and_then(|c| c.run(&args)) {
        Ok(got) if got == want => {}
        Ok(got) => problems.push(format!("{name} on {d}: the JIT gives {got:?}, the interpreter {want:?}")),
        Err(e) => problems.push(format!("{name} on {d}: no JIT lowering: {e}")),
    }
}

#[test]
fn every_elementwise_primitive_lives_in_every_place() {
    let mut problems = Vec::new();
    for d in DTYPES {
        for u in UnaryOp::ALL {
            guard(Op::Unary(u), 1, d, u.lowering(d.is_complex()), &mut problems);
        }
        for b in BinaryOp::ALL {
            guard(Op::Binary(b), 2, d, b.lowering(d.is_complex()), &mut problems);
        }
        for c in CmpOp::ALL {
            let lowering = if c.ordering() && d.is_complex() { Lowering::Undefined } else { Lowering::Inline };
            guard(Op::Compare(c), 2, d, lowering, &mut problems);
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn the_lists_are_complete_and_named_once() {
    let names: Vec<&str> = UnaryOp::ALL
        .iter()
        .map(|u| u.name())
        .chain(BinaryOp::ALL.iter().map(|b| b.name()))
        .chain(CmpOp::ALL.iter().map(|c| c.name()))
        .collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "a name is used twice: {names:?}");
    // ALL is in declaration order, so the discriminant indexes it (host trampolines rely on it).
    for (k, u) in UnaryOp::ALL.iter().enumerate() {
        assert_eq!(*u as usize, k);
    }
    for (k, b) in BinaryOp::ALL.iter().enumerate() {
        assert_eq!(*b as usize, k);
    }
}
