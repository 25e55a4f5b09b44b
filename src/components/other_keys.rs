use leptos::prelude::*;

use crate::components::expiry_badge::ExpiryBadge;
use crate::model::OtherKeyList;

/// The file's other keys, collapsed and read-only: what each is, with its options, and how many
/// lines sshd cannot read. Nothing when the file holds only keyhatch's keys.
#[component]
pub fn OtherKeys(list: OtherKeyList) -> impl IntoView {
    let OtherKeyList {
        keys,
        keys_not_listed,
        unreadable_lines,
    } = list;
    let count = keys.len() + keys_not_listed;
    let more = (keys_not_listed > 0).then(|| {
        format!(
            "The first {} are shown; {keys_not_listed} more follow them in the file.",
            keys.len()
        )
    });
    let anything = count > 0 || unreadable_lines > 0;
    let unreadable = (unreadable_lines > 0).then(|| {
        let noun = if unreadable_lines == 1 {
            "line"
        } else {
            "lines"
        };
        format!("{unreadable_lines} {noun} of the file cannot be read by sshd, and are not shown.")
    });

    anything.then(|| view! {
        <details class="others">
            <summary>{format!("Other keys in this file ({count})")}</summary>
            <p class="muted">
                "keyhatch did not make these keys, so it only shows them: change them in the file itself."
            </p>
            {(count > 0).then(|| view! {
                <ul class="keys" aria-label="Other keys">
                    {keys.into_iter().map(|key| {
                    let (key_type, comment) = (key.key_type().to_owned(), key.comment().to_owned());
                    view! {
                        <li class="key" class:expired=key.expired>
                            <span class="key-type">{key_type}</span>
                            <span class="mono fingerprint">{key.fingerprint}</span>
                            <span class="comment">{comment}</span>
                            {(!key.options.is_empty()).then(|| view! {
                                <code class="options" data-field="options">{key.options}</code>
                            })}
                            <ExpiryBadge expires=key.expires expired=key.expired />
                        </li>
                    }
                    }).collect_view()}
                </ul>
            })}
            {more.map(|text| view! { <p class="muted" data-field="keys-not-listed">{text}</p> })}
            {unreadable.map(|text| view! { <p class="muted" data-field="unreadable">{text}</p> })}
        </details>
    })
}
