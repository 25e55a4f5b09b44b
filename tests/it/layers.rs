//! Imports run one way. Each top-level module of `src/` may use only the modules below it in
//! [`LAYERS`], so no import circle can form; the domain (`ssh`) uses no web crate. Run alone:
//! `cargo test --features ssr --test it layers`.

mod cycles;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The modules from the bottom up; a module may use only those before it.
const LAYERS: [&str; 20] = [
    "ssh",
    "sshd_log",
    "random",
    "metrics",
    "seqera",
    "declared",
    "audit",
    "json",
    "error",
    "model",
    "paths",
    "hydration",
    "clipboard",
    "dom",
    "api",
    "components",
    "pages",
    "app",
    "server",
    "terminal",
];

/// The crates the domain must not use: it runs in helper processes with no web state.
const WEB_CRATES: [&str; 4] = ["leptos", "axum", "leptos_axum", "tokio"];

/// The modules that must use no web crate: the domain, and the Platform client.
const NO_WEB: [&str; 2] = ["ssh", "seqera"];

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut upward = Vec::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap();
        let module = top_module(relative);
        if module == "lib" || module == "main" {
            continue;
        }
        let rank = rank_of(&module)
            .unwrap_or_else(|| panic!("src/{} is not in LAYERS: place it", relative.display()));
        let text = fs::read_to_string(&file).unwrap();
        for used in crate_paths(&text) {
            let used_rank = rank_of(&used).unwrap_or_else(|| {
                panic!(
                    "src/{} uses crate::{used}, which is not in LAYERS",
                    relative.display()
                )
            });
            if used != module && used_rank >= rank {
                upward.push(format!("src/{} uses crate::{used}", relative.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that run upward (the order is {LAYERS:?}):\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_domain_uses_no_web_crate() {
    let mut files = Vec::new();
    for module in NO_WEB {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src")
            .join(module);
        if dir.is_dir() {
            files.extend(rust_files(&dir));
        }
        files.push(dir.with_extension("rs"));
    }
    let mut found = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for krate in WEB_CRATES {
            if text.contains(&format!("{krate}::")) {
                found.push(format!("{} uses {krate}", file.display()));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_check_sees_an_upward_import() {
    let text =
        "use crate::model::KeyInfo;\nuse crate::{app::App, api};\nlet x = crate::server::serve;";
    let found: BTreeSet<_> = crate_paths(text).into_iter().collect();
    assert_eq!(
        found,
        ["api", "app", "model", "server"].map(String::from).into()
    );
}

/// The module a file under `src/` belongs to: `api/list_keys.rs` → `api`, `app.rs` → `app`.
fn top_module(relative: &Path) -> String {
    let first = relative.components().next().unwrap().as_os_str();
    Path::new(first)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn rank_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|m| *m == module)
}

/// The first segment of every `crate::…` path in `text`, grouped imports included.
fn crate_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        // `keyhatch::crate` never occurs; skip `$crate::` in macros.
        if text[..at].ends_with('$') {
            continue;
        }
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            found.extend(group.split(',').filter_map(first_segment));
        } else {
            found.extend(first_segment(rest));
        }
    }
    found
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name != "self").then_some(name)
}

/// Every file under `dir` whose name ends with `.rs`.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The longest a source file may be; tests may live beside it in `tests.rs`.
const MAX_LINES: usize = 450;

#[test]
fn no_source_file_is_longer_than_450_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let long: Vec<String> = rust_files(&src)
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "tests.rs"))
        .filter_map(|f| {
            let lines = fs::read_to_string(&f).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these along their concepts (tests may go to a tests.rs beside them): {long:?}"
    );
}
