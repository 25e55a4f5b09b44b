use leptos::prelude::*;

use crate::components::copy_public_key::CopyPublicKey;
use crate::components::dialog_button::DialogButton;
use crate::components::dialogs;
use crate::components::expiry_badge::ExpiryBadge;
use crate::components::from_badge::FromBadge;
use crate::components::last_used_note::LastUsedNote;
use crate::model::{self, KeyInfo};

/// The keyhatch keys, newest last, each with its label, expiry, where it may log in from, a
/// Copy Public Key, a Restrict, a Replace and a Revoke button, and a note on what else the
/// file holds.
#[component]
pub fn KeyList(
    list: model::KeyList,
    on_revoke: Callback<KeyInfo>,
    on_restrict: Callback<KeyInfo>,
    on_replace: Callback<KeyInfo>,
) -> impl IntoView {
    // Copy needs the page's code, so it appears once this list is live. The flag is the list's
    // own, set by an effect made here, which runs only after the list has hydrated: the app's
    // flag can turn true while the list, inside a transition, still waits for its data, and a
    // button the server did not render would then break hydration.
    let live = RwSignal::new(false);
    Effect::new(move |_| live.set(true));
    let model::KeyList {
        path,
        keys,
        keys_not_listed,
        other_keys,
        unreadable_lines,
        unreadable_lines_not_listed,
        usage,
        ..
    } = list;
    let more = (keys_not_listed > 0).then(|| {
        let (noun, verb) = match keys_not_listed {
            1 => ("key", "is"),
            _ => ("keys", "are"),
        };
        format!(
            "{keys_not_listed} more keyhatch {noun} in this file {verb} not shown: the list \
             holds the newest {}, fewer when their lines are long. Revoke the keys you no longer \
             use to see the rest.",
            keys.len()
        )
    });
    let others = (other_keys > 0).then(|| {
        let noun = if other_keys == 1 { "key" } else { "keys" };
        format!(
            "{other_keys} other {noun} in this file, not made by keyhatch, are left as they are."
        )
    });
    let unreadable = (!unreadable_lines.is_empty()).then(|| {
        let numbers: Vec<String> = unreadable_lines.iter().map(ToString::to_string).collect();
        let noun = if numbers.len() == 1 { "Line" } else { "Lines" };
        let more = match unreadable_lines_not_listed {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        format!(
            "{noun} {}{more} of this file cannot be read by sshd; keyhatch leaves them as they \
             are.",
            numbers.join(", ")
        )
    });

    view! {
        {(!keys.is_empty()).then(|| view! {
            <ul class="keys" aria-label="SSH keys">
                {keys.into_iter().map(|key| {
                    let label = format!("Revoke key {}", key.fingerprint);
                    let (key_type, comment) = (key.key_type().to_owned(), key.comment().to_owned());
                    let revoke = key.clone();
                    let restrict = key.clone();
                    let restrict_label = format!("Restrict key {}", key.fingerprint);
                    let fingerprint = key.fingerprint.clone();
                    let restrict_query = key.fingerprint.clone();
                    let replace = key.clone();
                    let replace_label = format!("Replace key {}", key.fingerprint);
                    let replace_query = key.fingerprint.clone();
                    let copy_name = key.fingerprint.clone();
                    view! {
                        <li class="key" class:expired=key.expired>
                            {key.label.map(|label| view! { <strong class="label">{label}</strong> })}
                            <span class="key-type">{key_type}</span>
                            <span class="mono fingerprint">{key.fingerprint}</span>
                            <span class="comment">{comment}</span>
                            <ExpiryBadge expires=key.expires expired=key.expired />
                            <FromBadge allowed_from=key.allowed_from />
                            <LastUsedNote last_used=key.last_used usage=usage.clone() />
                            <span class="key-buttons">
                                <Show when=move || live.get()>
                                    <CopyPublicKey line=key.public_key.clone() name=copy_name.clone() />
                                </Show>
                                <DialogButton label="Restrict" class="restrict" aria_label=restrict_label
                                    query=("restrict", restrict_query) prefetch=dialogs::prefetch
                                    on_click=Callback::new(move |()| on_restrict.run(restrict.clone())) />
                                <DialogButton label="Replace" class="replace" aria_label=replace_label
                                    query=("replace", replace_query) prefetch=dialogs::prefetch
                                    on_click=Callback::new(move |()| on_replace.run(replace.clone())) />
                                <DialogButton label="Revoke" class="revoke" aria_label=label
                                    query=("revoke", fingerprint) prefetch=dialogs::prefetch
                                    on_click=Callback::new(move |()| on_revoke.run(revoke.clone())) />
                            </span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        })}
        {more.map(|text| view! { <p class="muted" data-field="keys-not-listed">{text}</p> })}
        <p class="muted file-note">
            "Keys are read from " <code>{path}</code> ". " {others} " " {unreadable}
        </p>
    }
}
