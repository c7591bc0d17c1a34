//! The crate's structure, checked as ArchUnit checks a Java code base: reads the `use` lines
//! of `src/` and fails on an import circle between files and on an import against the layer
//! order of `docs/ARCHITECTURE.md` (its tables' first columns, top to bottom), naming the file
//! and the line; and on a function over 80 lines or a file over 600.
//!
//! An import is resolved to the file that defines the name: `use crate::ir::Graph` names
//! `src/ir/graph.rs` through `src/ir/mod.rs`'s `pub use graph::Graph`. Re-exports themselves
//! (`pub use`, `pub(crate) use`) are a module's face, not imports of their own.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const MAX_FUNCTION_LINES: usize = 80;
const MAX_FILE_LINES: usize = 600;

/// One source file: its module path (`["jit", "plan", "cost"]`) and its text.
struct SourceFile {
    /// Path relative to the crate root, with `/`.
    path: String,
    /// The module path: `src/jit/plan/mod.rs` is `["jit", "plan"]`, `src/lib.rs` is `[]`.
    module: Vec<String>,
    text: String,
}

/// An import of one file by another: where it is written and what it names.
struct Import {
    line: usize,
    path: Vec<String>,
    reexport: bool,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every file of `src/`, with its module path (files named by `#[path]` in `lib.rs` too).
fn sources() -> Vec<SourceFile> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let lib = fs::read_to_string(root().join("src/lib.rs")).unwrap();
    files
        .into_iter()
        .map(|p| {
            let path = p.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
            let rel = path.trim_start_matches("src/").trim_end_matches(".rs");
            let mut module: Vec<String> = rel.split('/').map(str::to_string).collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            // `#[path = "file.rs"] pub mod name;` in lib.rs.
            let file = path.trim_start_matches("src/");
            if let Some(at) = lib.find(&format!("#[path = \"{file}\"]")) {
                let decl = &lib[at..];
                let name = decl.split("mod ").nth(1).and_then(|r| r.split(';').next()).unwrap();
                module = vec![name.trim().to_string()];
            }
            SourceFile { text: fs::read_to_string(&p).unwrap(), path, module }
        })
        .collect()
}

/// Expands a use tree (`a::{b, c::{d, e}}`) into full paths.
fn expand(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if tree.is_empty() {
        return;
    }
    if let Some(open) = tree.find('{') {
        let head: Vec<String> =
            tree[..open].split("::").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
        let inner = &tree[open + 1..tree.rfind('}').unwrap()];
        let mut depth = 0;
        let mut start = 0;
        let base: Vec<String> = prefix.iter().cloned().chain(head).collect();
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], &base, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], &base, out);
    } else {
        let path = tree.split(" as ").next().unwrap();
        let mut full = prefix.to_vec();
        full.extend(path.split("::").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string));
        out.push(full);
    }
}

/// The crate-internal imports of a file: its top-level `use` items (`crate::`, `super::`,
/// `self::`), each expanded into the paths it names.
fn imports(file: &SourceFile) -> Vec<Import> {
    let mut out = Vec::new();
    let lines: Vec<&str> = file.text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_start();
        let reexport = line.starts_with("pub use ") || line.starts_with("pub(crate) use ");
        let plain = line.starts_with("use ");
        if !(plain || reexport) {
            i += 1;
            continue;
        }
        let start = i;
        let mut text = String::new();
        loop {
            text.push_str(lines[i]);
            if lines[i].contains(';') {
                break;
            }
            i += 1;
        }
        i += 1;
        let body = text.split_once("use ").unwrap().1.split(';').next().unwrap();
        if !["crate::", "super::", "self::"].iter().any(|p| body.trim_start().starts_with(p)) {
            continue;
        }
        let mut paths = Vec::new();
        expand(body, &[], &mut paths);
        for path in paths {
            out.push(Import { line: start + 1, path, reexport });
        }
    }
    out
}

/// The module path an import path starts from, made absolute.
fn absolute(file: &SourceFile, path: &[String]) -> Vec<String> {
    let mut base = file.module.clone();
    let mut rest = path;
    let is_mod = file.path.ends_with("mod.rs") || file.path == "src/lib.rs";
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            // A file's `super` is its parent module; a `mod.rs` is its folder's module.
            let _ = is_mod;
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        _ => {}
    }
    base.extend(rest.iter().cloned());
    base
}

/// The index of the file that defines what `path` (absolute) names: the deepest file that is a
/// prefix of the path, followed through that file's re-exports.
fn resolve(
    files: &[SourceFile],
    by_module: &BTreeMap<Vec<String>, usize>,
    path: &[String],
    depth: usize,
) -> Option<usize> {
    let (k, file) = (1..=path.len()).rev().find_map(|k| by_module.get(&path[..k]).map(|&f| (k, f)))?;
    if k == path.len() || depth > 8 {
        return Some(file);
    }
    let name = &path[k];
    for imp in imports(&files[file]).into_iter().filter(|i| i.reexport) {
        let target = absolute(&files[file], &imp.path);
        if target.last() == Some(name) || (target.last().map(String::as_str) == Some("*")) {
            let mut next = target.clone();
            if next.last().map(String::as_str) == Some("*") {
                next.pop();
                next.push(name.clone());
            }
            next.extend(path[k + 1..].iter().cloned());
            if let Some(f) = resolve(files, by_module, &next, depth + 1) {
                return Some(f);
            }
        }
    }
    Some(file)
}

/// Every import edge between two files: (importer, line, imported).
fn edges(files: &[SourceFile]) -> Vec<(usize, usize, usize)> {
    let by_module: BTreeMap<Vec<String>, usize> =
        files.iter().enumerate().map(|(i, f)| (f.module.clone(), i)).collect();
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        for imp in imports(f).into_iter().filter(|imp| !imp.reexport) {
            let target = absolute(f, &imp.path);
            if let Some(j) = resolve(files, &by_module, &target, 0) {
                if j != i {
                    out.push((i, imp.line, j));
                }
            }
        }
    }
    out
}

/// The layer rows of docs/ARCHITECTURE.md: every table row whose first cell is a backticked
/// path under `src/` (`error.rs`, `jit/plan/`, ...), in order.
fn layer_rows() -> Vec<Vec<String>> {
    let doc = fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    doc.lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cell = l.split('|').nth(1).unwrap();
            cell.split('`').skip(1).step_by(2).map(str::to_string).collect::<Vec<_>>()
        })
        .filter(|paths: &Vec<String>| paths.iter().all(|p| p.ends_with(".rs") || p.ends_with('/')))
        .collect()
}

/// A file's rank: for each row that contains it (`jit/` and `jit/plan/` both contain
/// `jit/plan/cost.rs`), from the widest to the narrowest, the row's position.
fn rank(rows: &[Vec<String>], path: &str) -> Vec<usize> {
    let rel = path.trim_start_matches("src/");
    let mut matches: Vec<(usize, usize)> = rows
        .iter()
        .enumerate()
        .filter_map(|(r, cells)| {
            cells
                .iter()
                .find(|c| rel == c.as_str() || (c.ends_with('/') && rel.starts_with(c.as_str())))
                .map(|c| (c.len(), r))
        })
        .collect();
    matches.sort();
    matches.into_iter().map(|(_, r)| r).collect()
}

#[test]
fn every_file_has_a_layer() {
    let rows = layer_rows();
    assert!(rows.len() >= 10, "docs/ARCHITECTURE.md's layer tables not found");
    let missing: Vec<String> =
        sources().iter().filter(|f| rank(&rows, &f.path).is_empty()).map(|f| f.path.clone()).collect();
    assert!(missing.is_empty(), "files in no layer row of docs/ARCHITECTURE.md: {missing:?}");
}

#[test]
fn imports_follow_the_layer_order() {
    let files = sources();
    let rows = layer_rows();
    let mut wrong = Vec::new();
    for (i, line, j) in edges(&files) {
        let (from, to) = (rank(&rows, &files[i].path), rank(&rows, &files[j].path));
        // Compared row by row from the widest: a file may use what a row above its own holds.
        let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
        if let (Some(a), Some(b)) = (from.get(common), to.get(common)) {
            if b > a {
                wrong.push(format!("{}:{line} imports {} (a later layer)", files[i].path, files[j].path));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layer order of docs/ARCHITECTURE.md:\n{}", wrong.join("\n"));
}

#[test]
fn no_import_circles_between_files() {
    let files = sources();
    let mut graph: BTreeMap<usize, BTreeMap<usize, usize>> = BTreeMap::new();
    for (i, line, j) in edges(&files) {
        graph.entry(i).or_default().entry(j).or_insert(line);
    }
    // Depth-first search for a back edge, reporting the circle's files and lines.
    let mut state = vec![0u8; files.len()];
    let mut stack: Vec<usize> = Vec::new();
    let mut circles = BTreeSet::new();
    fn visit(
        n: usize,
        graph: &BTreeMap<usize, BTreeMap<usize, usize>>,
        state: &mut [u8],
        stack: &mut Vec<usize>,
        files: &[SourceFile],
        circles: &mut BTreeSet<String>,
    ) {
        state[n] = 1;
        stack.push(n);
        for (&m, _) in graph.get(&n).into_iter().flatten() {
            if state[m] == 1 {
                let at = stack.iter().position(|&s| s == m).unwrap();
                let cycle: Vec<usize> = stack[at..].iter().copied().chain([m]).collect();
                let text: Vec<String> = cycle
                    .windows(2)
                    .map(|w| format!("{}:{} -> {}", files[w[0]].path, graph[&w[0]][&w[1]], files[w[1]].path))
                    .collect();
                circles.insert(text.join(", "));
            } else if state[m] == 0 {
                visit(m, graph, state, stack, files, circles);
            }
        }
        stack.pop();
        state[n] = 2;
    }
    for n in 0..files.len() {
        if state[n] == 0 {
            visit(n, &graph, &mut state, &mut stack, &files, &mut circles);
        }
    }
    assert!(circles.is_empty(), "import circles:\n{}", circles.into_iter().collect::<Vec<_>>().join("\n"));
}

/// The text with comments, string and character literals blanked (so braces in them do not
/// count), lines kept.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                if b.get(i) == Some(&b'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == b'\'' && b.get(i + 2) == Some(&b'\'') {
            out.push_str("' '");
            i += 3;
        } else if c == b'\'' && b.get(i + 1) == Some(&b'\\') {
            // An escaped character literal: up to its closing quote.
            let close = b[i + 2..].iter().position(|&x| x == b'\'').map_or(b.len(), |k| i + 2 + k);
            out.push_str("' '");
            i = close + 1;
        } else {
            out.push(c as char);
            i += 1;
        }
    }
    out
}

#[test]
fn functions_and_files_stay_short() {
    let mut long = Vec::new();
    for f in sources() {
        let lines = f.text.lines().count();
        if lines > MAX_FILE_LINES {
            long.push(format!("{}: {lines} lines (at most {MAX_FILE_LINES})", f.path));
        }
        let code = code_only(&f.text);
        let line_of = |at: usize| code[..at].matches('\n').count() + 1;
        let mut search = 0;
        while let Some(found) = code[search..].find("fn ") {
            let at = search + found;
            search = at + 3;
            if at > 0 && (code.as_bytes()[at - 1].is_ascii_alphanumeric() || code.as_bytes()[at - 1] == b'_') {
                continue;
            }
            // The body: from the first `{` before any `;` at the signature's level.
            let rest = &code[at..];
            let Some(open) = rest.find(['{', ';']).filter(|&k| rest.as_bytes()[k] == b'{') else { continue };
            let mut depth = 0;
            let mut close = None;
            for (k, c) in rest[open..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            close = Some(open + k);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let Some(close) = close else { continue };
            let n = line_of(at + close) - line_of(at) + 1;
            if n > MAX_FUNCTION_LINES {
                let name: String = rest[3..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                long.push(format!(
                    "{}:{}: fn {name} has {n} lines (at most {MAX_FUNCTION_LINES})",
                    f.path,
                    line_of(at)
                ));
            }
        }
    }
    assert!(long.is_empty(), "too long:\n{}", long.join("\n"));
}

#[test]
fn the_error_module_depends_on_nothing_in_the_crate() {
    let text = fs::read_to_string(root().join("src/error.rs")).unwrap();
    let uses: Vec<&str> = text.lines().filter(|l| l.contains("crate::") || l.contains("super::")).collect();
    assert!(uses.is_empty(), "src/error.rs uses the crate: {uses:?}");
}
