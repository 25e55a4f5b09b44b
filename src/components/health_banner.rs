use leptos::prelude::*;

use crate::api::FixPermissions;
use crate::hydration::use_hydrated;
use crate::model::{HealthProblem, PermissionFix};

/// Why sshd would ignore the keys, with a button for each fix keyhatch may make.
#[component]
pub fn HealthBanner(
    problems: Vec<HealthProblem>,
    fix: ServerAction<FixPermissions>,
) -> impl IntoView {
    let hydrated = use_hydrated();
    let pending = fix.pending();
    let result = fix.value();
    let error = move || result.get().and_then(Result::err);
    (!problems.is_empty()).then(|| view! {
        <div class="warning health" role="alert">
            <strong>"sshd will not use the keys in this file until this is fixed:"</strong>
            <ul>
                {problems.into_iter().map(|problem| {
                    let button = problem.fix.map(|kind| view! {
                        <button on:click=move |_| { fix.dispatch(FixPermissions { fix: kind }); }
                            disabled=move || pending.get() || !hydrated.get()>
                            {label(kind)}
                        </button>
                    });
                    view! { <li>{problem.message} " " {button}</li> }
                }).collect_view()}
            </ul>
            {move || error().map(|e| view! { <p class="error">{e.to_string()}</p> })}
        </div>
    })
}

fn label(fix: PermissionFix) -> &'static str {
    match fix {
        PermissionFix::SshDirMode => "PermissionFix: set ~/.ssh to 0700",
        PermissionFix::FileMode => "PermissionFix: set authorized_keys to 0600",
    }
}
