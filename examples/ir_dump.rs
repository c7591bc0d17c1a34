//! What `accelerate` traced, in every form: the optimized IR (forward and backward parts
//! marked), the unoptimized IR, Graphviz DOT, and the native code's Cranelift IR.
//!
//! Run: `cargo run --release --example ir_dump`

use cranegrad::prelude::*;
use ndarray::array;

fn rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let y = 100.0 * (x.at(1) - x.at(0).square()).square() + (1.0 - x.at(0)).square();
    let dydx = dlgradient(&y, x)?;
    Ok((y, dydx))
}

fn main() -> Result<()> {
    let af = accelerate(|x: DlArray| rosenbrock(&x));
    let x0 = DlArray::from(array![-1.0, 2.0]);
    for _ in 0..4 {
        af.call(x0.clone())?;
    }
    println!("hit rate {:.0}%, occupancy {:.0}%\n", af.hit_rate(), af.occupancy());
    println!("== optimized IR\n{}", af.ir_dump());
    println!("== unoptimized IR\n{}", af.ir_dump_stage(DumpStage::Unoptimized));
    println!("== Graphviz DOT\n{}", af.ir_dump_dot());
    println!("== native code\n{}", af.native_dump());
    println!("== make_ir (one traced call, as JAX's make_jaxpr)\n{}", make_ir(|x: DlArray| rosenbrock(&x), x0)?);
    Ok(())
}
