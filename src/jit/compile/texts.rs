//! Linking the steps to the finalized functions, and the text of the generated code: the
//! dumps compile the graph again with printing on.

use super::functions::Functions;
use super::machine::Defined;
use super::steps::Schedule;
use crate::jit::run::panels::Panel;
use crate::jit::run::runtime::{Compiled, Step};
use cranelift_jit::JITModule;
use std::sync::Arc;

/// The CLIF and machine-code text of each generated function.
#[derive(Default)]
pub(crate) struct NativeText {
    pub(crate) clif: String,
    pub(crate) disasm: String,
}

/// Fills in each function step's address and pointer table (appended to the run's table), in
/// step order; with `text`, the dumps of every function in that order.
pub(super) fn link(
    module: &JITModule,
    fs: &Functions,
    defined: &Defined,
    schedule: &mut Schedule,
    text: bool,
) -> NativeText {
    let code = &defined.code;
    let mut native_text = NativeText::default();
    // Every function in step order: (built index if built, name, header, step, the built
    // function whose code it runs, its table).
    let runs = fs.built.iter().enumerate().map(|(i, f)| (Some(i), &f.name, &f.header, f.step, code[i], &f.table));
    let alike_runs = fs.alike.iter().map(|a| (None, &a.name, &a.header, a.step, code[a.first], &a.table));
    let mut all: Vec<_> = runs.chain(alike_runs).collect();
    all.sort_by_key(|&(_, _, _, step, _, _)| step);
    for (i, name, header, step, first, own_table) in all {
        let addr = module.get_finalized_function(defined.ids[&first]) as usize;
        let at = schedule.table.len();
        schedule.table.extend(own_table);
        let steps = &mut schedule.steps;
        steps[step] = match &steps[step] {
            Step::Chunked { split, panel, .. } => {
                // The product's entry among the kernel's own.
                let panel = panel.as_ref().map(|p| {
                    let entry = own_table.iter().position(|&s| s == p.slot).unwrap_or(usize::MAX);
                    Box::new(Panel { entry, table_len: own_table.len(), ..(**p).clone() })
                });
                Step::Chunked { f: addr, table: at, split: split.clone(), panel }
            }
            _ => Step::Kernel { f: addr, table: at },
        };
        if text {
            native_text.clif.push_str(header);
            match i.and_then(|i| defined.disasm.get(&i)) {
                Some((clif, machine)) => {
                    native_text.clif.push_str(clif);
                    native_text.clif.push('\n');
                    native_text.disasm.push_str(&format!("; {name}\n{machine}\n"));
                }
                None => {
                    let same = format!("; the code of {}, on its own buffers\n", fs.built[first].name);
                    native_text.clif.push_str(&same);
                    native_text.disasm.push_str(&format!("; {name}\n{same}"));
                }
            }
        }
    }
    native_text
}

/// The native-code dumps: made on request by compiling the graph again with printing on.
impl Compiled {
    /// The Cranelift IR and the machine code of every generated function, from one compile of
    /// the graph with printing on.
    pub fn native_texts(&self) -> (String, String) {
        let text = self.native_text();
        let mut clif = text.clif;
        let mut seen: Vec<*const ()> = Vec::new();
        for step in &self.steps {
            if let Step::Call(c) = step {
                let at = Arc::as_ptr(&c.target) as *const ();
                if !seen.contains(&at) {
                    seen.push(at);
                    clif.push_str(&c.target.native_text().unwrap_or_default());
                }
            }
        }
        (clif, text.disasm)
    }

    /// The text of the generated code, made by compiling the graph again with printing on.
    fn native_text(&self) -> NativeText {
        let text = self.source.as_deref().map(|g| super::compile_with(g, true));
        match text {
            Some(Ok((_, text))) => text,
            Some(Err(e)) => {
                NativeText { clif: format!("; cannot print the native code: {e}\n"), disasm: String::new() }
            }
            None => NativeText::default(),
        }
    }

    /// The Cranelift IR of every generated function (each function runs several fused loop
    /// nests in a row; a comment lists the nodes they compute).
    pub fn clif_text(&self) -> String {
        self.native_text().clif
    }

    /// The machine code of every generated function, as text (empty if unsupported).
    pub fn disassembly(&self) -> String {
        self.native_text().disasm
    }
}
