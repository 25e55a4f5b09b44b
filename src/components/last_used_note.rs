use leptos::prelude::*;

use crate::model::{LastUsed, UsageSeen};

/// When and from where a key last logged in, from sshd's log: "Last used 3 days ago from
/// 10.2.3.4", or "Not used since 2026-12-04" (when keyhatch began reading). Nothing when the
/// log is not read.
#[component]
pub fn LastUsedNote(last_used: Option<LastUsed>, usage: Option<UsageSeen>) -> impl IntoView {
    usage.map(|usage| {
        let text = match last_used {
            Some(last) => format!("Last used {} from {}", ago(usage.now - last.at), last.from),
            None => format!("Not used since {}", usage.since),
        };
        view! { <span class="used" data-field="last-used">{text}</span> }
    })
}

/// `seconds` as the time since something: "just now", "5 minutes ago", "3 days ago".
fn ago(seconds: i64) -> String {
    let (count, unit) = match seconds {
        ..60 => return "just now".to_owned(),
        60..3600 => (seconds / 60, "minute"),
        3600..86_400 => (seconds / 3600, "hour"),
        _ => (seconds / 86_400, "day"),
    };
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural} ago")
}
