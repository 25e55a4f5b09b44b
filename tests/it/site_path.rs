//! keyhatch under a path on its host (`public-url = "http://localhost:PORT/ssh/"`), behind nginx
//! passing every path on: the page, its links, bundle, API and forms are all under `/ssh/`, and
//! nothing outside it is answered, the health check included.

use std::fs;

use crate::helpers::{Account, SiteStack, form_id, shown_key_fingerprint};

/// Every address the page names: its `href`, `src` and `action` attributes.
fn addresses(page: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for attribute in ["href=\"", "src=\"", "action=\""] {
        let mut rest = page;
        while let Some(at) = rest.find(attribute) {
            rest = &rest[at + attribute.len()..];
            let end = rest.find('"').unwrap();
            found.push(&rest[..end]);
        }
    }
    found
}

#[test]
fn under_a_path_everything_is_there_and_nothing_else_answers() {
    let alice = Account::create_person();
    let stack = SiteStack::start_under(
        std::path::Path::new(env!("CARGO_BIN_EXE_keyhatch")),
        "/ssh/",
        &[&alice.name],
        &["--logout-url", "/ssh/oauth2/sign_out"],
        &[],
    );
    // The path, with or without its slash, leads to the page under it.
    for home in ["/ssh/", "/ssh"] {
        let answer = stack.get(&alice.name, home);
        assert_eq!(answer.status, 303, "{home}: {}", answer.body);
        assert_eq!(answer.header("location"), "/ssh/ssh-keys", "{home}");
    }

    // The page names only addresses under the path: links, forms, icon, the bundle's script.
    let page = stack.get(&alice.name, "/ssh/ssh-keys");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains(r#"<html lang="en" data-base="/ssh" data-page="ssh-keys">"#)
    );
    let named = addresses(&page.body);
    assert!(named.contains(&"/ssh/ssh-keys"), "{named:?}");
    assert!(named.contains(&"/ssh/favicon.svg"), "{named:?}");
    for address in &named {
        assert!(
            address.starts_with("/ssh/") || address.starts_with("https://"),
            "{address} is outside /ssh/"
        );
    }
    let script = named
        .iter()
        .find(|a| a.ends_with("/keyhatch.js"))
        .expect("the page preloads the bundle's script");
    assert!(script.starts_with("/ssh/pkg/"), "{script}");
    for loads in [r#"import("/ssh/pkg/"#, r#"const wasm = "/ssh/pkg/"#] {
        assert!(
            page.body.contains(loads),
            "the page's script loads the bundle from under /ssh/: {loads}"
        );
    }
    let bundle = stack.get(&alice.name, script);
    assert_eq!(bundle.status, 200);
    assert!(bundle.header("content-type").starts_with("text/javascript"));
    // Kept by browsers as at the root: the bundle's files are named by their hash.
    assert_eq!(
        bundle.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let page_again = stack.get(&alice.name, "/ssh/ssh-keys");
    assert_eq!(page_again.header("cache-control"), "no-store");

    // The API and the no-JavaScript forms answer under the path.
    let made = stack.post(&alice.name, "/ssh/api/keys/generate", r#"{"label":"api"}"#);
    assert_eq!(made.status, 200, "{}", made.body);
    let listed = stack.get(&alice.name, "/ssh/api/keys/list").json();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1);
    let same_origin = [("Sec-Fetch-Site", "same-origin")];
    let dialog = stack
        .get_with(&alice.name, "/ssh/ssh-keys?dialog=generate", &same_origin)
        .body;
    let form = format!(
        "intent=generate&form_id={}&label=form&passphrase=&passphrase_confirm=",
        form_id(&dialog)
    );
    let posted = stack.post_form(&alice.name, "/ssh/ssh-keys", &form);
    assert_eq!(posted.status, 200, "{}", posted.body);
    assert!(shown_key_fingerprint(&posted.body).is_some());
    let written = fs::read_to_string(alice.home().join(".ssh/authorized_keys")).unwrap();
    assert_eq!(written.lines().count(), 2, "{written}");
    assert!(written.ends_with(" fileglancer form\n"), "{written}");

    // The health check is the path's own.
    let health = stack.get(&alice.name, "/ssh/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));

    // Outside the path: nothing, however it is spelled, and no account's data.
    for outside in [
        "/",
        "/ssh-keys",
        "/sshx/ssh-keys",
        "/healthz",
        "/api/keys/list",
        "/favicon.svg",
        &script["/ssh".len()..],
        "/other/ssh/ssh-keys",
    ] {
        let answer = stack.get(&alice.name, outside);
        assert_eq!(answer.status, 404, "{outside}: {}", answer.body);
        assert!(
            answer.body.contains("keyhatch is at <code>/ssh/</code>"),
            "{outside}"
        );
        assert!(!answer.body.contains(&alice.name), "{outside}");
        assert_eq!(answer.header("x-frame-options"), "DENY", "{outside}");
    }
    let outside = stack.post(&alice.name, "/api/keys/generate", "{}");
    assert_eq!(outside.status, 404, "{}", outside.body);
    let written_after = fs::read_to_string(alice.home().join(".ssh/authorized_keys")).unwrap();
    assert_eq!(written_after, written);
}
