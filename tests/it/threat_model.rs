//! SECURITY.md and the tests agree: every test the threat model names exists, and every attack
//! in the catalog (`tests/it/attacks/`) is named by the threat model, beside its boundary.

use std::fs;
use std::path::Path;

use crate::layers::rust_files;

/// The names of the functions defined in `text` (`fn NAME`), and of those marked `#[test]`.
fn functions(text: &str) -> (Vec<String>, Vec<String>) {
    let (mut all, mut tests) = (Vec::new(), Vec::new());
    let mut marked = false;
    for line in text.lines().map(str::trim) {
        if line == "#[test]" || line == "#[tokio::test]" {
            marked = true;
        } else if let Some(rest) = ["fn ", "pub fn ", "async fn "]
            .iter()
            .find_map(|prefix| line.strip_prefix(prefix))
        {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if marked {
                tests.push(name.clone());
            }
            all.push(name);
            marked = false;
        }
    }
    (all, tests)
}

/// The test names SECURITY.md gives: code spans that are long snake_case words.
fn named_in_threat_model(text: &str) -> Vec<&str> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| {
            span.len() > 20
                && span.matches('_').count() >= 3
                && span
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

#[test]
fn every_test_the_threat_model_names_exists_and_every_attack_is_in_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = fs::read_to_string(root.join("SECURITY.md")).unwrap();
    let named = named_in_threat_model(&model);
    assert!(named.len() > 40, "SECURITY.md names {} tests", named.len());
    let mut defined = Vec::new();
    for file in rust_files(&root.join("src"))
        .into_iter()
        .chain(rust_files(&root.join("tests")))
    {
        defined.extend(functions(&fs::read_to_string(file).unwrap()).0);
    }
    let missing: Vec<_> = named
        .iter()
        .filter(|n| !defined.iter().any(|d| d == *n))
        .collect();
    assert!(
        missing.is_empty(),
        "SECURITY.md names tests that do not exist: {missing:?}"
    );

    let mut attacks = Vec::new();
    for file in rust_files(&root.join("tests/it/attacks")) {
        attacks.extend(functions(&fs::read_to_string(file).unwrap()).1);
    }
    let unlisted: Vec<_> = attacks
        .iter()
        .filter(|a| !named.contains(&a.as_str()))
        .collect();
    assert!(
        unlisted.is_empty(),
        "attacks in tests/it/attacks/ that SECURITY.md does not place at a boundary: {unlisted:?}"
    );
}
