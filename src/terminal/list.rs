//! `keyhatch keys list`: the keys, one a line, and what else the file holds.

use super::output::{message, note, say, to_json};
use crate::api::person::Keys;
use crate::model::KeyList;

/// Lists keyhatch's keys, as a table or as the API's JSON.
pub(super) async fn list(keys: &Keys, json: bool) -> Result<(), String> {
    let list = keys.list_keys().await.map_err(message)?;
    if json {
        say(&to_json(&list)?);
        return Ok(());
    }
    for line in table(&list).lines() {
        say(line);
    }
    if list.keys_not_listed > 0 {
        note(&format!(
            "{} more keyhatch key(s) in {} are not listed: keyhatch lists the newest {}, fewer \
             when their lines are long.",
            list.keys_not_listed,
            list.path,
            list.keys.len()
        ));
    }
    for problem in &list.problems {
        note(&format!("warning: {}", problem.message));
    }
    if list.other_keys > 0 {
        note(&format!(
            "{} other key(s) in {}, not made by keyhatch, are left as they are.",
            list.other_keys, list.path
        ));
    }
    if !list.unreadable_lines.is_empty() {
        let mut lines: Vec<String> = list
            .unreadable_lines
            .iter()
            .map(ToString::to_string)
            .collect();
        if list.unreadable_lines_not_listed > 0 {
            let more = format!("and {} more", list.unreadable_lines_not_listed);
            lines.push(more);
        }
        note(&format!(
            "Line(s) {} of {} cannot be read by sshd; keyhatch leaves them as they are.",
            lines.join(", "),
            list.path
        ));
    }
    Ok(())
}

/// The keys, one a line: fingerprint, type, expiry, label, and where it may log in from.
fn table(list: &KeyList) -> String {
    if list.keys.is_empty() {
        return format!("No keyhatch keys in {}.\n", list.path);
    }
    let mut out = String::new();
    for key in &list.keys {
        let expiry = match (&key.expires, key.expired) {
            (Some(day), true) => format!("expired {day}"),
            (Some(day), false) => format!("expires {day}"),
            (None, _) => "no expiry".to_owned(),
        };
        let label = key.label.as_deref().unwrap_or("-");
        let from = key
            .allowed_from
            .as_ref()
            .map_or_else(String::new, |from| format!("  (from {from})"));
        out.push_str(&format!(
            "{}  {}  {expiry:<18}  {label}{from}\n",
            key.fingerprint,
            key.key_type()
        ));
    }
    out
}
