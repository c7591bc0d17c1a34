//! The IR as text (one node per line, dtype and shape on each) and as Graphviz DOT.

use super::{Graph, Node, Op};
use crate::array::Data;
use std::fmt::Write;

/// `f64[2, 3]`.
pub fn type_text(n: &Node) -> String {
    let dims: Vec<String> = n.shape.iter().map(|d| d.to_string()).collect();
    format!("{}[{}]", n.dtype, dims.join(", "))
}

/// The literal of a one-element constant (`200`, `0.5`, `2+3i`, `true`), or `None`.
fn scalar_literal(n: &Node) -> Option<String> {
    let Op::Constant(data) = &n.op else { return None };
    if data.numel() != 1 || !n.shape.is_empty() {
        return None;
    }
    let c = data.get_c128(0)?;
    Some(match &**data {
        Data::Bool(_) => format!("{}", c.re != 0.0),
        Data::C64(_) | Data::C128(_) => format!("{}{:+}i", c.re, c.im),
        _ => format!("{:?}", c.re),
    })
}

/// Numbers for the printed nodes: scalar constants print inline as literals and get none.
fn numbering(g: &Graph) -> Vec<Option<usize>> {
    let mut next = 0;
    g.nodes
        .iter()
        .map(|n| {
            if scalar_literal(n).is_some() {
                None
            } else {
                next += 1;
                Some(next - 1)
            }
        })
        .collect()
}

fn operand(g: &Graph, numbers: &[Option<usize>], id: usize) -> String {
    match numbers[id] {
        Some(k) => format!("%{k}"),
        None => scalar_literal(&g.nodes[id]).unwrap_or_default(),
    }
}

/// `backward: d %9 / d %0, %1` for a gradient region, `forward` for region 0.
fn region_label(g: &Graph, numbers: &[Option<usize>], region: u32) -> String {
    let Some(r) = g.regions.get(region as usize) else { return format!("region {region}") };
    match r.of {
        None if region == 0 => "forward".into(),
        of => {
            let name = |id: usize| operand(g, numbers, id);
            let wrt: Vec<String> = r.wrt.iter().map(|&i| name(i)).collect();
            format!("backward: d {} / d {}", of.map(name).unwrap_or_else(|| "?".into()), wrt.join(", "))
        }
    }
}

/// What the printers show beyond the nodes themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpOptions {
    /// Show each node's origin (the user's `file:line` that recorded it, `(backward of)` on
    /// nodes the reverse sweep made for that op) in a last column (text) or last label line
    /// (DOT). Default true; false gives dumps that do not change when code moves, for diffs.
    pub origins: bool,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions { origins: true }
    }
}

impl DumpOptions {
    /// Without origins: the diff-friendly dump.
    pub fn plain() -> Self {
        DumpOptions { origins: false }
    }
}

/// The text column (`%3 = mul %1, 2.0`) is at least this wide ...
const TEXT_MIN: usize = 34;
/// ... and is padded to the widest line up to this width (longer lines push their own type
/// and origin right).
const TEXT_MAX: usize = 60;
/// The type column is padded to the widest type up to this width.
const TYPE_MAX: usize = 24;

/// The graph as text: one node per line (`%3 = mul %1, 2.0 : f64[2]   # src/main.rs:12`),
/// deterministic numbering, a `-- label --` line where a `dlgradient` region starts, then
/// `outputs ...`. The origin column is aligned; see [`to_text_with`] to leave it out.
pub fn to_text(g: &Graph) -> String {
    to_text_with(g, &DumpOptions::default())
}

/// [`to_text`] with options: `DumpOptions::plain()` leaves out the origin column (and prints
/// exactly the text the crate printed before origins existed).
pub fn to_text_with(g: &Graph, options: &DumpOptions) -> String {
    let numbers = numbering(g);
    let rows: Vec<(usize, String, String)> = g
        .nodes
        .iter()
        .enumerate()
        .filter(|(id, _)| numbers[*id].is_some())
        .map(|(id, n)| (id, node_text(g, &numbers, id), type_text(n)))
        .collect();
    let with_origins = options.origins && g.nodes.iter().any(|n| n.origin.is_some());
    let (text_width, type_width) = if with_origins {
        let text = rows.iter().map(|r| r.1.len()).filter(|&w| w <= TEXT_MAX).max().unwrap_or(0).max(TEXT_MIN);
        let ty = rows.iter().map(|r| r.2.len()).filter(|&w| w <= TYPE_MAX).max().unwrap_or(0);
        (text, ty)
    } else {
        (TEXT_MIN, 0)
    };
    let mut out = String::new();
    let mut region = 0;
    let mut printed_bodies: Vec<*const ()> = Vec::new();
    for (id, text, ty) in rows {
        let n = &g.nodes[id];
        if n.region != region {
            region = n.region;
            let _ = writeln!(out, "  -- {} --", region_label(g, &numbers, region));
        }
        match n.origin.filter(|_| with_origins) {
            Some(origin) => {
                let _ = writeln!(out, "  {text:<text_width$} : {ty:<type_width$}   # {origin}");
            }
            None => {
                let _ = writeln!(out, "  {text:<text_width$} : {ty}");
            }
        }
        if let Op::Call(c) = &n.op {
            let key = std::sync::Arc::as_ptr(&c.target) as *const ();
            if !printed_bodies.contains(&key) {
                printed_bodies.push(key);
                write_bodies(&mut out, c, options);
            }
        }
    }
    let outs: Vec<String> = g.outputs.iter().map(|&o| operand(g, &numbers, o)).collect();
    let _ = writeln!(out, "  outputs {}", outs.join(", "));
    out
}

/// The graphs a call's target holds (a loop's body, a branch's sides), once, indented under
/// the first of its nodes.
fn write_bodies(out: &mut String, c: &super::Call, options: &DumpOptions) {
    for (label, body) in c.target.bodies() {
        let _ = writeln!(out, "    {label} of {} {{", c.target.name());
        for line in to_text_with(body, options).lines() {
            let _ = writeln!(out, "    {line}");
        }
        let _ = writeln!(out, "    }}");
    }
}

/// `%3 = mul %1, 2.0 [attributes]`: a node without its type.
fn node_text(g: &Graph, numbers: &[Option<usize>], id: usize) -> String {
    let n = &g.nodes[id];
    let mut text = format!("%{} = {}", numbers[id].unwrap_or(id), n.op);
    let operands: Vec<String> = n.inputs.iter().map(|&i| operand(g, numbers, i)).collect();
    if !operands.is_empty() {
        text.push(' ');
        text.push_str(&operands.join(", "));
    }
    let attrs = n.op.attributes();
    if !attrs.is_empty() {
        text.push(' ');
        text.push_str(&attrs);
    }
    text
}

/// The graph as Graphviz DOT: one box per printed node, labelled as in [`to_text`] (the
/// origin on a last line); backward regions are filled grey.
pub fn to_dot(g: &Graph, name: &str) -> String {
    to_dot_with(g, name, &DumpOptions::default())
}

/// [`to_dot`] with options (`DumpOptions::plain()`: no origins).
pub fn to_dot_with(g: &Graph, name: &str, options: &DumpOptions) -> String {
    let numbers = numbering(g);
    let mut out = format!("digraph \"{}\" {{\n  node [shape=box, fontname=monospace];\n", name.replace('"', "'"));
    for (id, n) in g.nodes.iter().enumerate() {
        let Some(k) = numbers[id] else { continue };
        let operands: Vec<String> =
            n.inputs.iter().filter(|&&i| numbers[i].is_none()).map(|&i| operand(g, &numbers, i)).collect();
        let mut label = format!("%{k} = {} {}", n.op, n.op.attributes());
        if !operands.is_empty() {
            label.push_str(&format!(" ({})", operands.join(", ")));
        }
        label.push_str(&format!("\\n{}", type_text(n)));
        if let Some(origin) = n.origin.filter(|_| options.origins) {
            label.push_str(&format!("\\n# {origin}"));
        }
        let fill = if n.region > 0 { ", style=filled, fillcolor=lightgrey" } else { "" };
        let _ = writeln!(out, "  n{k} [label=\"{}\"{fill}];", label.replace('"', "'"));
        for &i in &n.inputs {
            if let Some(j) = numbers[i] {
                let _ = writeln!(out, "  n{j} -> n{k};");
            }
        }
    }
    for (i, &o) in g.outputs.iter().enumerate() {
        let _ = writeln!(out, "  out{i} [shape=ellipse, label=\"output {i}\"];");
        if let Some(k) = numbers[o] {
            let _ = writeln!(out, "  n{k} -> out{i};");
        }
    }
    let mut printed_bodies: Vec<*const ()> = Vec::new();
    let mut clusters = 0;
    for n in &g.nodes {
        if let Op::Call(c) = &n.op {
            let key = std::sync::Arc::as_ptr(&c.target) as *const ();
            if printed_bodies.contains(&key) {
                continue;
            }
            printed_bodies.push(key);
            for (label, body) in c.target.bodies() {
                clusters += 1;
                let k = clusters;
                let title = format!("{label} of {}", c.target.name()).replace('"', "'");
                let _ = writeln!(out, "  subgraph cluster_{k} {{\n    label=\"{title}\";");
                let inner = to_dot_with(body, &title, options);
                for line in inner.lines().skip(2).filter(|l| *l != "}") {
                    let line = line.replace(" n", &format!(" b{k}n")).replace(" out", &format!(" b{k}out"));
                    let _ = writeln!(out, "  {line}");
                }
                let _ = writeln!(out, "  }}");
            }
        }
    }
    out.push_str("}\n");
    out
}
