//! A server action's `value()`, `pending()` and `version()` each make a new signal (or memo)
//! under the current reactive owner at every call (reactive_graph 0.2, `actions/action.rs`).
//! Called inside a closure or effect, that is one more signal at each evaluation, kept until
//! the component goes; and one made while the thread's current owner is already gone is born
//! disposed: a server render of the page panicked on exactly that (`generate.value().get()` in
//! the page's `created` closure) and the page was cut short. So the page and its components take
//! these handles once, when they are set up, and read or write the handles after. This check
//! finds any call chained straight into a read or a write.

use std::fs;
use std::path::Path;

#[test]
fn action_handles_are_taken_once_not_at_every_read() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("app.rs")];
    for dir in ["pages", "components"] {
        for entry in fs::read_dir(src.join(dir)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    let mut found = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for at in chained_handles(&text) {
            let line = text[..at].matches('\n').count() + 1;
            let relative = file.strip_prefix(&src).unwrap().display();
            let code = text.lines().nth(line - 1).unwrap_or_default().trim();
            found.push(format!("src/{relative}:{line}: {code}"));
        }
    }
    assert!(
        found.is_empty(),
        "take the action's handle once (`let value = action.value();`) and use it here:\n{}",
        found.join("\n")
    );
}

/// Where `text` calls `.value()`, `.pending()` or `.version()` and at once reads or writes
/// what it returned, rustfmt's line breaks in the chain included.
fn chained_handles(text: &str) -> Vec<usize> {
    const MADE: [&str; 3] = [".value()", ".pending()", ".version()"];
    const USED: [&str; 7] = [
        "get()",
        "get_untracked()",
        "set(",
        "with(",
        "with_untracked(",
        "update(",
        "track()",
    ];
    let mut found: Vec<usize> = MADE
        .iter()
        .flat_map(|made| {
            text.match_indices(made).filter_map(|(at, _)| {
                let rest = text[at + made.len()..].trim_start();
                rest.strip_prefix('.')
                    .is_some_and(|rest| USED.iter().any(|used| rest.starts_with(used)))
                    .then_some(at)
            })
        })
        .collect();
    found.sort_unstable();
    found
}

/// Whether `code` holds such a call.
fn chains_a_handle(code: &str) -> bool {
    !chained_handles(code).is_empty()
}

#[test]
fn the_check_sees_a_chained_read_and_passes_a_handle() {
    assert!(chains_a_handle("let error = move || add.value().get();"));
    assert!(chains_a_handle("generate.version().get(),"));
    assert!(chains_a_handle("disabled=move || add.pending().get()"));
    assert!(chains_a_handle("state.add.value().set(None);"));
    assert!(chains_a_handle(
        "state\n    .generate\n    .value()\n    .set(Some(Ok(key)));"
    ));
    assert!(!chains_a_handle("let added = add.value();"));
    assert!(!chains_a_handle(
        "let error = move || added.get().and_then(Result::err);"
    ));
    assert!(!chains_a_handle("let value = event_target_value(&ev);"));
}
