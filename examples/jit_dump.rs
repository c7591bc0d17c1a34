use cranegrad::prelude::*;
use ndarray::s;
fn main() {
    let x = DlArray::from(ndarray::Array1::from(vec![0.5; 8]));
    let g = cranegrad::trace_graph(
        |x: DlArray| {
            let a = x.slice(s![1..]);
            let b = x.slice(s![..-1]);
            let y = (100.0 * (a - b.square()).square() + (1.0 - x.slice(s![..-1])).square()).sum_all();
            let g = dlgradient(&y, &x)?;
            Ok((y, g))
        },
        x,
    )
    .unwrap();
    for (i, n) in g.nodes.iter().enumerate() {
        println!("%{i} = {} {:?} {:?}", n.op, n.inputs, n.shape);
    }
    let c = cranegrad::jit::compile(&g).unwrap();
    if std::env::args().any(|a| a == "asm") {
        println!("{}", c.disassembly());
    }
    if std::env::args().any(|a| a == "clif") {
        println!("{}", c.clif_text());
    }
    for l in c.clif_text().lines().filter(|l| l.starts_with("; kernel")) {
        println!("{l}");
    }
}
