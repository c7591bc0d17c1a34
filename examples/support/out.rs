//! Shared by the examples that write files: they all write under `target/examples-out/` of
//! this crate (ignored by git), whatever the current directory.

use std::path::{Path, PathBuf};

/// `<crate root>/target/examples-out/<name>`, creating the folder.
pub fn out_path(name: &str) -> std::io::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("examples-out");
    std::fs::create_dir_all(&dir)?;
    Ok(dir.join(name))
}

/// `path` as the user should read it: relative when the current directory is the crate root
/// (as under `cargo run`), else in full.
pub fn shown(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match (std::env::current_dir(), path.strip_prefix(root)) {
        (Ok(cwd), Ok(relative)) if cwd == root => relative.display().to_string(),
        _ => path.display().to_string(),
    }
}
