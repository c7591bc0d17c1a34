//! The IR dump of an accelerated function's cache.

use super::cache::Entry;
use crate::ir::{to_dot_with, to_text_with, DumpOptions, Graph};
use std::sync::Arc;

/// Which graph of each entry to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpStage {
    /// The graph as traced (pruned to what the outputs need).
    Unoptimized,
    /// The graph after the optimization passes (what runs).
    Optimized,
}

fn graph<R>(e: &Entry<R>, stage: DumpStage) -> &Graph {
    match stage {
        DumpStage::Unoptimized => &e.program.unoptimized,
        DumpStage::Optimized => &e.program.optimized,
    }
}

/// Every entry: `accelerated NAME (in0: f64[2])   hits 3`, then its IR, one node per line
/// (with its origin, when `options` say so).
pub(crate) fn text<R>(name: &str, entries: &[Arc<Entry<R>>], stage: DumpStage, options: &DumpOptions) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&format!("accelerated {name} {}   hits {}\n", e.signature.describe(), e.hits.total()));
        out.push_str(&to_text_with(graph(e, stage), options));
        out.push('\n');
    }
    out
}

/// Every entry as a Graphviz digraph.
pub(crate) fn dot<R>(name: &str, entries: &[Arc<Entry<R>>], options: &DumpOptions) -> String {
    entries
        .iter()
        .map(|e| to_dot_with(&e.program.optimized, &format!("{name} {}", e.signature.describe()), options))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every entry's native code text (Cranelift IR), where the backend has one.
pub(crate) fn native<R>(name: &str, entries: &[Arc<Entry<R>>]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&format!("accelerated {name} {}\n", e.signature.describe()));
        out.push_str(&e.program.native_text().unwrap_or_else(|| "  (interpreted: no native code)\n".into()));
        out.push('\n');
    }
    out
}
