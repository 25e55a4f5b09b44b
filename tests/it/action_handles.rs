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
        for (number, line) in text.lines().enumerate() {
            if chains_a_handle(line) {
                let relative = file.strip_prefix(&src).unwrap().display();
                found.push(format!("src/{relative}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "take the action's handle once (`let value = action.value();`) and use it here:\n{}",
        found.join("\n")
    );
}

/// Whether `line` calls `.value()`, `.pending()` or `.version()` and at once reads or writes
/// what it returned.
fn chains_a_handle(line: &str) -> bool {
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
    MADE.iter().any(|made| {
        line.match_indices(made).any(|(at, _)| {
            let rest = line[at + made.len()..].trim_start();
            rest.strip_prefix('.')
                .is_some_and(|rest| USED.iter().any(|used| rest.starts_with(used)))
        })
    })
}

#[test]
fn the_check_sees_a_chained_read_and_passes_a_handle() {
    assert!(chains_a_handle("let error = move || add.value().get();"));
    assert!(chains_a_handle("generate.version().get(),"));
    assert!(chains_a_handle("disabled=move || add.pending().get()"));
    assert!(chains_a_handle("state.add.value().set(None);"));
    assert!(!chains_a_handle("let added = add.value();"));
    assert!(!chains_a_handle(
        "let error = move || added.get().and_then(Result::err);"
    ));
    assert!(!chains_a_handle("let value = event_target_value(&ev);"));
}
