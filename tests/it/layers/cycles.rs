//! No import circle between any two files of `src/`, inside folders too.
//!
//! Each file is a node (`src/api/helper/job.rs` is `api::helper::job`). A file points at another
//! when it names an item through it: a `use` of `crate::…`, `super::…`, `self::…` or of a child
//! module, or such a path written inline (`layered::parse(…)`). A path is resolved to the
//! deepest file it passes through, so `super::SettingsError` from `settings/site.rs` points at
//! `settings.rs`, where it is named, even when it is defined deeper and re-exported.
//!
//! Declaring a child (`mod site;`) is structure, not an import: a parent that declares its
//! children and a child that uses its parent's items form no circle. A parent that also uses
//! its child's items while the child uses the parent's does: then one of them holds what both
//! need, and it belongs in a file of its own. Test modules (`mod tests`, `tests.rs`) are left
//! out: they may use anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use super::rust_files;

/// A file's module path from the crate root: `["api", "helper", "job"]`.
type Module = Vec<String>;

#[test]
fn no_two_files_import_each_other_however_far_round() {
    let graph = source_graph();
    assert!(
        graph.len() > 50,
        "the source files were found: {}",
        graph.len()
    );
    let cycles = cycles(&graph);
    assert!(
        cycles.is_empty(),
        "import circles between files (move what both sides need into a file of its own):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn a_planted_circle_is_found_directly_and_through_a_third_file() {
    let graph = |edges: &[(&str, &str)]| {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in edges {
            graph
                .entry((*from).into())
                .or_default()
                .insert((*to).into());
            graph.entry((*to).into()).or_default();
        }
        graph
    };
    assert_eq!(
        cycles(&graph(&[("a", "b"), ("b", "c")])),
        Vec::<String>::new()
    );
    assert_eq!(cycles(&graph(&[("a", "b"), ("b", "a")])), ["a → b → a"]);
    assert_eq!(
        cycles(&graph(&[("x", "y"), ("y", "z"), ("z", "x"), ("z", "w")])),
        ["x → y → z → x"]
    );
}

#[test]
fn paths_are_resolved_to_the_files_they_pass_through() {
    let modules: BTreeSet<Module> = [
        "server",
        "server::settings",
        "server::settings::site",
        "server::settings::layered",
        "api",
        "api::person",
        "ssh",
    ]
    .iter()
    .map(|m| m.split("::").map(String::from).collect())
    .collect();
    let text = "use super::SettingsError;\nuse super::layered::{self, parse};\n\
                use crate::{api::person::Person, ssh::Tag};\nuse std::io;\n\
                fn f() { crate::api::x(); super::super::settings::g(); }";
    let this: Module = vec!["server".into(), "settings".into(), "site".into()];
    let found: BTreeSet<String> = imports(text, &this, &modules)
        .into_iter()
        .map(|m| m.join("::"))
        .collect();
    assert_eq!(
        found,
        [
            "api",
            "api::person",
            "server::settings",
            "server::settings::layered",
            "ssh"
        ]
        .map(String::from)
        .into()
    );
}

/// Every source file and the files it imports from.
fn source_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut texts = BTreeMap::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap();
        let module: Module = relative
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if module == ["main"] || module.iter().any(|m| m == "tests") {
            continue;
        }
        let module = if module == ["lib"] {
            Vec::new()
        } else {
            module
        };
        texts.insert(module, fs::read_to_string(&file).unwrap());
    }
    let modules: BTreeSet<Module> = texts.keys().cloned().collect();
    texts
        .iter()
        .map(|(module, text)| {
            let used = imports(text, module, &modules)
                .into_iter()
                .filter(|m| m != module && !m.is_empty())
                .map(|m| m.join("::"))
                .collect();
            (module.join("::"), used)
        })
        .collect()
}

/// The modules (files) that `text`, the source of `this`, imports from.
fn imports(text: &str, this: &Module, modules: &BTreeSet<Module>) -> BTreeSet<Module> {
    let code = without_tests_and_comments(text);
    let children: Vec<&str> = code
        .lines()
        .filter_map(|l| {
            let l = l.trim_start().trim_start_matches("pub ").trim_start();
            let name = l.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.trim())
        })
        .collect();
    let mut paths: Vec<(usize, Vec<String>)> = Vec::new();
    // `use` trees, grouped imports expanded.
    for (at, _) in code.match_indices("use ") {
        let line_start = code[..at].rfind('\n').map_or(0, |n| n + 1);
        let before = code[line_start..at].trim();
        if !(before.is_empty() || before == "pub" || before.starts_with("pub(")) {
            continue;
        }
        let end = code[at..].find(';').map_or(code.len(), |n| at + n);
        let mut tree = Vec::new();
        expand(&code[at + 4..end], &mut Vec::new(), &mut tree);
        paths.extend(tree.into_iter().map(|path| (at, path)));
    }
    // Paths written inline.
    let starts: Vec<&str> = ["crate", "super", "self"]
        .into_iter()
        .chain(children.iter().copied())
        .collect();
    for start in starts {
        for (at, _) in code.match_indices(&format!("{start}::")) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '$') {
                continue;
            }
            let path: Vec<String> = code[at..]
                .split("::")
                .map(|s| {
                    s.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .take_while(|s| !s.is_empty())
                .collect();
            // `super::{…}` alone is a use tree, read above.
            if path.len() > 1 {
                paths.push((at, path));
            }
        }
    }
    let inline = inline_modules(&code);
    let mut found = BTreeSet::new();
    for (at, path) in paths {
        // Inside `mod inner { … }`, `super` and `self` start from `inner`.
        let mut here = this.clone();
        for (name, range) in &inline {
            if range.contains(&at) {
                here.push(name.clone());
            }
        }
        let Some(absolute) = absolute(&path, &here, &children) else {
            continue;
        };
        // The deepest file the path passes through.
        if let Some(module) = (0..=absolute.len())
            .rev()
            .map(|n| absolute[..n].to_vec())
            .find(|prefix| modules.contains(prefix))
        {
            found.insert(module);
        }
    }
    found
}

/// Each `mod name { … }` written inline, and the bytes it spans.
fn inline_modules(code: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("mod ") {
        let rest = &code[at + 4..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() || !rest[name.len()..].trim_start().starts_with('{') {
            continue;
        }
        let open = at + 4 + rest.find('{').unwrap();
        let mut depth = 0;
        let close = code[open..]
            .char_indices()
            .find_map(|(i, c)| {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(open + i)
            })
            .unwrap_or(code.len());
        found.push((name, open..close));
    }
    found
}

/// `path` from the crate root, or `None` for another crate's.
fn absolute(path: &[String], this: &Module, children: &[&str]) -> Option<Module> {
    let mut base: Module = this.clone();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        Some(first) if children.contains(&first) => {}
        _ => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// Every path of the use tree `tree` (`a::{b, c::{d, e}}`), after `prefix`.
fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    match tree.find('{') {
        Some(open) if tree.ends_with('}') => {
            let head: Vec<String> = tree[..open]
                .split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            let depth = prefix.len();
            prefix.extend(head);
            for part in split_top(&tree[open + 1..tree.len() - 1]) {
                expand(part, prefix, out);
            }
            prefix.truncate(depth);
        }
        _ => {
            let name = tree.split(" as ").next().unwrap_or(tree);
            let mut path = prefix.clone();
            path.extend(
                name.split("::")
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && *s != "*" && *s != "self")
                    .map(String::from),
            );
            out.push(path);
        }
    }
}

/// `a, b::{c, d}, e` split at its top-level commas.
fn split_top(list: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in list.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&list[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// `text` without its line comments and without an inline `mod tests { … }` (to the end).
fn without_tests_and_comments(text: &str) -> String {
    let mut code = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("mod tests {") {
            break;
        }
        if !trimmed.starts_with("//") {
            code.push_str(line);
            code.push('\n');
        }
    }
    code
}

/// Each circle of `graph`, as "a → b → a", once, from its smallest node.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut found = BTreeSet::new();
    for start in graph.keys() {
        // The shortest way back to `start` through nodes after it (so each circle is found
        // once, from its smallest node), breadth first.
        let mut from: BTreeMap<&String, &String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        'search: while let Some(node) = queue.pop_front() {
            for next in &graph[node] {
                if next == start {
                    let mut path = vec![start.as_str()];
                    let mut at = node;
                    while at != start {
                        path.push(at);
                        at = from[at];
                    }
                    path.push(start);
                    let last = path.len() - 1;
                    path[1..last].reverse();
                    found.insert(path.join(" → "));
                    break 'search;
                }
                if next > start && !from.contains_key(next) && graph.contains_key(next) {
                    from.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
    }
    found.into_iter().collect()
}
