//! Every node knows the line of user code that made it (issue 16): dumps show it, errors name
//! it, `nn` helpers attribute their nodes to the user's call, the optimizer keeps it, and the
//! nodes `dlgradient` makes are marked as backward of their forward op.

use cranegrad::ir::{to_dot_with, to_text, to_text_with, DumpOptions, Graph, Op};
use cranegrad::prelude::*;
use ndarray::array;

const FILE: &str = file!();

/// The node lines of a dump (`%k = ...`).
fn node_lines(dump: &str) -> Vec<&str> {
    dump.lines().filter(|l| l.trim_start().starts_with('%')).collect()
}

/// The first node line whose op is `op` (`%k = op ...`).
#[track_caller]
fn line_of<'a>(dump: &'a str, op: &str) -> &'a str {
    let found = node_lines(dump).into_iter().find(|l| l.contains(&format!(" = {op} ")));
    found.unwrap_or_else(|| panic!("no {op} node:\n{dump}")).trim_end()
}

/// `# tests/origins.rs:LINE` at the end of a node line.
fn origin_mark(line: u32) -> String {
    format!("# {FILE}:{line}")
}

#[test]
fn make_ir_names_this_file_and_the_line_of_each_op() {
    let mut lines = Vec::new();
    let ir = make_ir(
        |x: DlArray| {
            let (a, line) = (x.exp(), line!()); // exp
            lines.push(line);
            let (b, line) = (&a * 2.0, line!()); // mul
            lines.push(line);
            let (c, line) = (b.sum_all(), line!()); // reduce_sum
            lines.push(line);
            Ok(c)
        },
        DlArray::from(array![1.0, 2.0]),
    )
    .unwrap();
    assert_eq!(lines.len(), 3);
    for (op, line) in ["exp", "mul", "reduce_sum"].iter().zip(&lines) {
        let l = line_of(&ir, op);
        assert!(l.trim_end().ends_with(&origin_mark(*line)), "{op} should be at line {line}: {l:?}\n{ir}");
    }
    // The input has no origin; every other node has one.
    let nodes = node_lines(&ir);
    assert!(!nodes[0].contains('#'), "{ir}");
    assert!(nodes[1..].iter().all(|l| l.contains(&format!("# {FILE}:"))), "{ir}");
    // The origin column is aligned: every `#` at the same character position, as is every `:`.
    let hashes: Vec<usize> = nodes[1..].iter().filter_map(|l| l.find('#')).collect();
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "origins not aligned:\n{ir}");
    let colons: Vec<usize> = nodes.iter().filter_map(|l| l.find(" : ")).collect();
    assert!(colons.windows(2).all(|w| w[0] == w[1]), "types not aligned:\n{ir}");
}

#[test]
fn operators_methods_and_free_functions_record_their_call_sites() {
    let mut lines = Vec::new();
    let g = cranegrad::trace_graph(
        |(x, y): (DlArray, DlArray)| {
            let (a, line) = (-&x, line!());
            lines.push(("neg", line));
            let (b, line) = (&a / &y, line!());
            lines.push(("div", line));
            let (c, line) = (b.slice(ndarray::s![1..]), line!());
            lines.push(("slice", line));
            let (d, line) = (concat(&[&c, &c], 0), line!());
            lines.push(("concat", line));
            let (e, line) = (select(&d.gt(&DlArray::scalar(0.0)), &d, &d.square()), line!());
            lines.push(("select", line));
            let (f, line) = (e.reshape(&[2, 2]).transpose().matmul(&e.reshape(&[2, 2])), line!());
            lines.push(("matmul", line));
            let (h, line) = (f.mean_axes(&[0], false).cast(DType::F32), line!());
            lines.push(("cast", line));
            Ok(h)
        },
        (DlArray::from(array![1.0, -2.0, 3.0]), DlArray::from(array![2.0, 4.0, -1.0])),
    )
    .unwrap();
    for (op, line) in &lines {
        // The first node of each op is the one written on that line (`mean_axes` divides too).
        let n = g.nodes.iter().find(|n| n.op.to_string() == *op);
        let n = n.unwrap_or_else(|| panic!("no {op} node:\n{}", to_text(&g)));
        let o = n.origin.unwrap_or_else(|| panic!("{op} has no origin:\n{}", to_text(&g)));
        assert_eq!((o.location.file(), o.location.line(), o.backward), (FILE, *line, false), "{op}");
    }
}

#[test]
fn errors_name_the_op_the_shapes_and_the_line() {
    let a = DlArray::from(array![1.0, 2.0, 3.0]);
    let b = DlArray::from(array![1.0, 2.0]);
    // Inside dlfeval.
    let mut at = 0;
    let e = dlfeval(
        |(a, b): (DlArray, DlArray)| {
            let ok = a.exp();
            let (bad, line) = (&ok + &b, line!());
            at = line;
            Ok(bad.sum_all())
        },
        (a.clone(), b.clone()),
    )
    .unwrap_err();
    let text = e.to_string();
    let expected = format!("add at {FILE}:{at}: incompatible shapes [3] and [2]");
    assert!(text.starts_with(&expected), "{text:?} should start with {expected:?}");
    // Inside an accelerated call (first call: the trace).
    let af = accelerate(|(a, b): (DlArray, DlArray)| Ok(a.matmul(&b)));
    let line = line!() - 1;
    let e = af.call((a.clone(), b.clone())).unwrap_err().to_string();
    assert!(e.contains("matmul at ") && e.contains(&format!("{FILE}:{line}")), "{e}");
    assert!(e.contains("incompatible shapes"), "{e}");
    // Outside any trace, the carried error names the line too.
    let (bad, line) = (&a * &b, line!());
    let e = bad.extractdata::<f64>().unwrap_err().to_string();
    assert!(e.starts_with(&format!("mul at {FILE}:{line}: incompatible shapes")), "{e}");
}

#[test]
fn inside_nn_helpers_the_line_is_the_users_call() {
    let x = DlArray::from(array![[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]);
    let w = DlArray::from(array![[0.1, 0.2, 0.3], [0.3, -0.2, 0.1]]);
    let b = DlArray::from(array![0.0, 0.1]);
    let t = DlArray::from(array![[1.0, 0.0], [0.0, 1.0]]);
    let mut lines = Vec::new();
    let ir = make_ir(
        |(x, w, b, t): (DlArray, DlArray, DlArray, DlArray)| {
            let (h, line) = (fullyconnect(&x, &w, &b), line!());
            lines.push(line);
            let (p, line) = (softmax(&h, 1), line!());
            lines.push(line);
            let (loss, line) = (crossentropy(&p, &t), line!());
            lines.push(line);
            let g = dlgradient(&loss, &w)?;
            Ok((loss, g))
        },
        (x.clone(), w.clone(), b.clone(), t.clone()),
    )
    .unwrap();
    assert!(!ir.contains("src/"), "no node is attributed to the crate's internals:\n{ir}");
    let marks: Vec<String> = lines.iter().map(|&l| origin_mark(l)).collect();
    for l in node_lines(&ir).iter().filter(|l| !l.contains("input")) {
        assert!(marks.iter().any(|m| l.contains(m.as_str())), "{l:?} is not at a user's call {lines:?}\n{ir}");
    }
    assert!(line_of(&ir, "matmul").ends_with(&marks[0]), "fullyconnect's matmul:\n{ir}");
    assert!(line_of(&ir, "reduce_max").ends_with(&marks[1]), "softmax's max:\n{ir}");
    assert!(line_of(&ir, "log").ends_with(&marks[2]), "crossentropy's log:\n{ir}");
    // A bad shape inside an nn helper names the user's line too.
    let mut at = 0;
    let e = dlfeval(
        |(x, w): (DlArray, DlArray)| {
            let (y, line) = (fullyconnect(&x, &w.transpose(), &DlArray::from(array![0.0, 0.0, 0.0])), line!());
            at = line;
            Ok(y.sum_all())
        },
        (x.clone(), DlArray::from(array![[1.0, 2.0]])),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with(&format!("fullyconnect at {FILE}:{at}: ")), "{e}");
}

/// The ops of a small model with a gradient, each on its own line; returns the lines.
fn model_graph() -> (Graph, Vec<u32>) {
    let mut lines = Vec::new();
    let g = cranegrad::trace_graph(
        |x: DlArray| {
            let (s, line) = (x.sin(), line!());
            lines.push(line);
            let (y, line) = ((&s * &s).sum_all(), line!());
            lines.push(line);
            let (g, line) = (dlgradient(&y, &x)?, line!());
            lines.push(line);
            Ok((y, g))
        },
        DlArray::from(array![0.5, 1.5, 2.5]),
    )
    .unwrap();
    (g, lines)
}

#[test]
fn backward_nodes_carry_their_forward_ops_line_marked_backward() {
    let (g, lines) = model_graph();
    let backward: Vec<_> = g.nodes.iter().filter(|n| n.region > 0).collect();
    assert!(!backward.is_empty());
    for n in &backward {
        let o = n.origin.unwrap_or_else(|| panic!("a backward {} has no origin:\n{}", n.op, to_text(&g)));
        assert!(o.backward, "{}", to_text(&g));
        assert!(lines[..2].contains(&o.location.line()), "backward of a forward op's line:\n{}", to_text(&g));
    }
    // The VJP of sin (cos) is attributed to the sin's line; the mul's to the mul's.
    let cos = g.nodes.iter().find(|n| n.op.to_string() == "cos").expect("a cos node");
    assert_eq!(cos.origin.map(|o| (o.location.line(), o.backward)), Some((lines[0], true)));
    // Forward nodes are not marked.
    assert!(g.nodes.iter().filter(|n| n.region == 0).all(|n| n.origin.is_none_or(|o| !o.backward)));
    let text = to_text(&g);
    let marked = format!("{}:{} (backward of)", FILE, lines[0]);
    assert!(text.lines().any(|l| l.contains(" = cos ") && l.ends_with(&marked)), "{text}");
}

#[test]
fn the_optimized_graph_and_the_accelerated_dump_keep_origins() {
    let (g, lines) = model_graph();
    let o = cranegrad::internals::opt::optimize(&g).unwrap();
    assert!(o.nodes.len() < g.nodes.len(), "the optimizer did something");
    for n in o.nodes.iter().filter(|n| !matches!(n.op, Op::Input(_))) {
        let origin = n.origin.unwrap_or_else(|| panic!("{} lost its origin:\n{}", n.op, to_text(&o)));
        assert!(lines[..2].contains(&origin.location.line()), "{}", to_text(&o));
        assert_eq!(origin.backward, n.region > 0, "{}", to_text(&o));
    }
    // The same through accelerate's dump, optimized and not, and its DOT.
    let af = accelerate(|x: DlArray| {
        let s = x.sin();
        let y = (&s * &s).sum_all();
        let g = dlgradient(&y, &x)?;
        Ok((y, g))
    });
    let first = line!() - 6;
    af.call(DlArray::from(array![0.5, 1.5])).unwrap();
    for dump in [af.ir_dump(), af.ir_dump_stage(DumpStage::Unoptimized)] {
        let sin = line_of(&dump, "sin");
        assert!(sin.ends_with(&origin_mark(first + 1)), "{dump}");
        assert!(line_of(&dump, "cos").ends_with(&format!("{} (backward of)", origin_mark(first + 1))), "{dump}");
        assert!(node_lines(&dump).iter().filter(|l| !l.contains("input")).all(|l| l.contains('#')), "{dump}");
    }
    assert!(af.ir_dump_dot().contains(&format!("\\n# {FILE}:{}", first + 1)), "{}", af.ir_dump_dot());
}

#[test]
fn origins_can_be_switched_off_for_diff_friendly_dumps() {
    let f = |x: DlArray| Ok(x.exp() * 2.0);
    let g1 = cranegrad::trace_graph(f, DlArray::from(array![1.0, 2.0])).unwrap();
    let g2 = cranegrad::trace_graph(|x: DlArray| Ok(x.exp() * 2.0), DlArray::from(array![1.0, 2.0])).unwrap();
    let plain = DumpOptions::plain();
    assert!(!to_text_with(&g1, &plain).contains('#'));
    assert_eq!(to_text_with(&g1, &plain), to_text_with(&g2, &plain), "same ops, other lines: same plain text");
    assert_ne!(to_text(&g1), to_text(&g2), "the origin column tells them apart");
    assert_eq!(to_text(&g1), to_text_with(&g1, &DumpOptions::default()));
    assert!(!to_dot_with(&g1, "f", &plain).contains(FILE));
    let af = accelerate(|x: DlArray| Ok(x.exp() * 2.0));
    af.call(DlArray::from(array![1.0])).unwrap();
    assert!(af.ir_dump().contains(FILE));
    let quiet = af.ir_dump_with(DumpStage::Optimized, &plain);
    assert!(!quiet.contains(FILE) && quiet.contains(" = exp "), "{quiet}");
    assert!(!af.ir_dump_dot_with(&plain).contains(FILE));
}

/// A logger that keeps every warning, for the check-mode test.
struct Recorder(std::sync::Mutex<Vec<String>>);

impl log::Log for Recorder {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record) {
        if let Ok(mut v) = self.0.lock() {
            v.push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

static RECORDER: Recorder = Recorder(std::sync::Mutex::new(Vec::new()));

/// The warnings logged so far that mention `needle`.
fn warnings(needle: &str) -> Vec<String> {
    RECORDER.0.lock().map(|v| v.iter().filter(|w| w.contains(needle)).cloned().collect()).unwrap_or_default()
}

#[test]
fn a_check_failure_names_the_output_and_the_first_op_that_differs() {
    let _ = log::set_logger(&RECORDER);
    log::set_max_level(log::LevelFilter::Warn);
    // Control flow on a value: the traces part ways at the branch.
    let af = accelerate(|x: DlArray| {
        let first = x.at(0).to_scalar::<f64>()?;
        let y = if first > 0.0 { x.square() } else { -&x };
        Ok((x.sum_all(), y))
    });
    let (then, otherwise) = (line!() - 3, line!() - 3);
    af.set_check_mode(CheckMode::Tolerance(1e-6));
    af.call(DlArray::from(array![1.0, 2.0])).unwrap();
    af.call(DlArray::from(array![-1.0, 2.0])).unwrap();
    assert_eq!(af.check_failures(), 1);
    let w = warnings("a_check_failure_names_the_output");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("output 1 differs"), "{}", w[0]);
    let expected =
        format!("the cached trace has `mul` at {FILE}:{then}, the un-accelerated run `neg` at {FILE}:{otherwise}");
    assert!(w[0].contains(&expected), "{}\nshould contain {expected}", w[0]);
    // A value read with to_scalar and frozen into the trace: the first differing value is the
    // constant that the op on that line recorded.
    let af = accelerate(|x: DlArray| {
        let scale = x.at(0).to_scalar::<f64>()?;
        Ok(&x * scale)
    });
    let frozen = line!() - 2;
    af.set_check_mode(CheckMode::Tolerance(1e-6));
    af.call(DlArray::from(array![1.0, 2.0])).unwrap();
    af.call(DlArray::from(array![3.0, 2.0])).unwrap();
    assert_eq!(af.check_failures(), 1);
    let w = warnings("value differs");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("output 0 differs"), "{}", w[0]);
    assert!(w[0].contains(&format!("`constant` at {FILE}:{frozen} (by 2e0)")), "{}", w[0]);
}

#[test]
fn derivative_operators_and_index_losses_attribute_to_the_users_lines() {
    let mut lines = Vec::new();
    let ir = make_ir(
        |(x, t): (DlArray, DlArray)| {
            let (p, line) = (softmax(&x, 1), line!());
            lines.push(line);
            let (loss, line) = (indexcrossentropy(&p, &t), line!());
            lines.push(line);
            let (jv, line) = (dljvp(&p, &x, &DlArray::from(array![[1.0, 0.0, 0.0]]))?, line!());
            lines.push(line);
            let (hv, line) = (dlhvp(&loss, &x, &DlArray::from(array![[0.0, 1.0, 0.0]]))?, line!());
            lines.push(line);
            Ok((loss, jv, hv))
        },
        (DlArray::from(array![[0.5, 1.0, -1.0]]), DlArray::from(array![2.0])),
    )
    .unwrap();
    assert!(!ir.contains("src/"), "no node is attributed to the crate's internals:\n{ir}");
    let marks: Vec<String> = lines.iter().map(|&l| origin_mark(l)).collect();
    for l in node_lines(&ir).iter().filter(|l| !l.contains("input")) {
        assert!(marks.iter().any(|m| l.contains(m.as_str())), "{l:?} is not at a user's call {lines:?}\n{ir}");
    }
    // dljvp's own nodes (the contraction with its direction) are marked as derivative nodes.
    assert!(ir.contains(&format!("{} (backward of)", marks[2])), "{ir}");
}
