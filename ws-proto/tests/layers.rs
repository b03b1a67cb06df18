//! The crate's modules form layers, and no import runs back up:
//!
//! 1. vocabulary: `role`, `time`, `rng`, `message`, `utf8`, `error`, `frame/close*`
//! 2. codec: `frame`, `decode`, `deflate`, `extensions`
//! 3. `handshake` (its own settings, no connection types)
//! 4. `connection` (the whole machine, and the `Error` that names both)
//!
//! This test reads the sources (code lines only, not comments) and fails
//! when a module names something from a layer above its own.

use std::fs;
use std::path::Path;

fn layer_of(path: &str) -> usize {
    if path.starts_with("connection/") {
        4
    } else if path.starts_with("handshake/") {
        3
    } else if path.starts_with("frame/close")
        || !path.contains('/') && !matches!(path, "decode.rs" | "extensions.rs" | "lib.rs")
    {
        1
    } else {
        2
    }
}

/// What naming a module of each layer looks like in code.
fn names_of(layer: usize) -> &'static [&'static str] {
    match layer {
        2 => &[
            "crate::frame::",
            "crate::decode",
            "crate::deflate",
            "crate::Extensions",
            "crate::DeflateConfig",
        ],
        3 => &["crate::handshake", "super::super::handshake"],
        4 => &[
            "crate::connection",
            "crate::Config",
            "crate::Connection",
            "crate::Event",
            "crate::Error",
            "crate::ReadyState",
            "crate::{Config",
        ],
        _ => &[],
    }
}

fn sources(dir: &Path, base: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((rel, fs::read_to_string(&path).unwrap()));
        }
    }
}

#[test]
fn no_import_runs_back_up() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&base, &base, &mut files);
    assert!(files.len() > 20, "read the sources");
    let mut violations = Vec::new();
    for (path, text) in &files {
        if path == "lib.rs" || path == "prelude.rs" {
            continue; // re-exports only
        }
        let own = layer_of(path);
        // Unit tests beside the code may use anything.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (number, line) in code.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            for upper in own + 1..=4 {
                for name in names_of(upper) {
                    if line.contains(name) {
                        violations.push(format!("{path}:{}: layer {own} names {name}", number + 1));
                    }
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports running up:\n{}",
        violations.join("\n")
    );
}
