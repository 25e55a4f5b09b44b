//! Replace: a new key with the old one's label, addresses and last day, judged by a real sshd;
//! and the new key put into the Platform credentials that held the old one, against the
//! stand-in Platform, the old key revoked only once Platform has taken the new one.
use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::helpers::{Account, SiteStack, spawn_app_with};
use crate::restrict_login::{generate, logs_in_from, refused_from, start};
use crate::seqera::fake::FakePlatform;
use crate::sshd_login::test_dir;

const TOKEN: &str = "seqera-token-5f1e9d";

#[test]
fn a_replacement_keeps_label_addresses_and_last_day_and_both_keys_work_until_one_is_revoked() {
    let dir = test_dir();
    let (home, sshd, app) = start(dir.path(), &[]);
    let file = home.join(".ssh/authorized_keys");
    let foreign = "# mine\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop\n";
    fs::create_dir(home.join(".ssh")).unwrap();
    fs::set_permissions(home.join(".ssh"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(&file, foreign).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    let (old_key, old) = generate(
        &app,
        dir.path(),
        "old",
        r#"{"label": "ci", "expires_in_days": 90, "allowed_from": "127.0.0.2"}"#,
    );
    let old_fp = old["info"]["fingerprint"].as_str().unwrap();
    let before = fs::read_to_string(&file).unwrap();

    let body = serde_json::json!({ "replaces": old_fp, "passphrase": "new sesame" });
    let (new_key, new) = generate(&app, dir.path(), "new", &body.to_string());
    assert_eq!(new["replaces"], old_fp);
    assert_eq!(new["encrypted"], true);
    for field in ["label", "allowed_from", "expires"] {
        assert_eq!(new["info"][field], old["info"][field], "{field}");
    }
    assert_ne!(new["info"]["fingerprint"], old["info"]["fingerprint"]);
    // Appended: every byte before it kept, the old key's line among them.
    let after = fs::read_to_string(&file).unwrap();
    assert!(after.starts_with(&before), "{after}");
    assert_eq!(after.lines().count(), before.lines().count() + 1);

    // sshd takes both, from where the old key was allowed only.
    logs_in_from(&sshd, "127.0.0.2", &old_key);
    let out = sshd.login_from("127.0.0.2", &new_key, Some("new sesame"));
    assert!(out.status.success(), "{}", sshd.log());
    refused_from(
        &sshd,
        "127.0.0.1",
        &new_key_unencrypted(&app, dir.path(), old_fp),
    );
    // Revoking the old key leaves the new one working.
    let reply = app.post_json(
        "/api/keys/revoke",
        &serde_json::json!({ "fingerprint": old_fp }).to_string(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        !sshd
            .login_from("127.0.0.2", &old_key, None)
            .status
            .success()
    );
    assert!(
        sshd.login_from("127.0.0.2", &new_key, Some("new sesame"))
            .status
            .success()
    );
    assert!(fs::read_to_string(&file).unwrap().starts_with(foreign));
}

/// One more replacement of the key `old_fp`, unencrypted, written to `dir/again`.
fn new_key_unencrypted(
    app: &crate::helpers::App,
    dir: &std::path::Path,
    old_fp: &str,
) -> std::path::PathBuf {
    let body = serde_json::json!({ "replaces": old_fp });
    generate(app, dir, "again", &body.to_string()).0
}

#[test]
fn a_lifetime_of_its_own_and_the_refusals_of_replace() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app_with(home.path(), &[]);
    let old = app
        .post_json("/api/keys/generate", r#"{"expires_in_days": 365}"#)
        .json();
    let old_fp = old["info"]["fingerprint"].as_str().unwrap();
    let body = serde_json::json!({ "replaces": old_fp, "expires_in_days": 30 });
    let reply = app.post_json("/api/keys/generate", &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_ne!(reply.json()["info"]["expires"], old["info"]["expires"]);

    let file = app.authorized_keys();
    let before = fs::read(&file).unwrap();
    for (body, status, says) in [
        (
            serde_json::json!({ "replaces": old_fp, "label": "other" }),
            400,
            "keeps the old key's label",
        ),
        (
            serde_json::json!({ "replaces": old_fp, "allowed_from": "10.0.0.1" }),
            400,
            "keeps the old key's label and addresses",
        ),
        (
            serde_json::json!({ "replaces": "SHA256:nothere" }),
            404,
            "no keyhatch key with fingerprint",
        ),
        (
            serde_json::json!({ "replaces": old_fp, "expires_in_days": 0 }),
            400,
            "0",
        ),
    ] {
        let reply = app.post_json("/api/keys/generate", &body.to_string());
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert!(reply.body.contains(says), "{body}: {}", reply.body);
        assert!(!reply.body.contains("PRIVATE KEY"));
    }
    assert_eq!(
        fs::read(&file).unwrap(),
        before,
        "a refused replacement wrote"
    );
}

#[test]
fn a_person_at_max_keys_can_replace_a_key_but_never_gains_two() {
    let alice = Account::create_person();
    let stack = SiteStack::start(&[&alice.name], &["--max-keys", "2"]);
    let generate = |body: &str| stack.post(&alice.name, "/api/keys/generate", body);
    let first = generate("{}").json();
    assert_eq!(generate("{}").status, 200);
    assert_eq!(generate("{}").status, 429, "at the cap");
    let old_fp = first["info"]["fingerprint"].as_str().unwrap();
    let body = serde_json::json!({ "replaces": old_fp }).to_string();
    let replaced = generate(&body);
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(replaced.json()["replaces"], old_fp);
    // The old key is still there, so replacing it again would make a fourth: refused.
    let again = generate(&body);
    assert_eq!(again.status, 429, "{}", again.body);
    let listed = stack.get(&alice.name, "/api/keys/list").json();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 3);
}

/// The app with the stand-in Platform, an old key and its replacement: (app, home, old
/// fingerprint, the replacement's private key).
fn replaced(
    platform: &FakePlatform,
    home: &std::path::Path,
) -> (crate::helpers::App, String, String) {
    let app = spawn_app_with(
        home,
        &[
            ("KEYHATCH_SEQERA_URL", &platform.url()),
            ("KEYHATCH_SEQERA_TIMEOUT", "1"),
        ],
    );
    let old = app.generate(None);
    let old_fp = old["info"]["fingerprint"].as_str().unwrap().to_owned();
    let body = serde_json::json!({ "replaces": old_fp });
    let new = app
        .post_json("/api/keys/generate", &body.to_string())
        .json();
    let private_key = new["private_key"].as_str().unwrap().to_owned();
    (app, old_fp, private_key)
}

#[test]
fn platform_credentials_take_the_new_key_in_place_keeping_their_id_then_the_old_key_goes() {
    let platform = FakePlatform::start(None);
    let home = tempfile::tempdir().unwrap();
    let (app, old_fp, private_key) = replaced(&platform, home.path());

    // Only SSH credentials with ids Platform makes are offered.
    let body = serde_json::json!({ "token": TOKEN, "workspace_id": 11 });
    let reply = app.post_json("/api/seqera/credentials/list", &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let names: Vec<_> = reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "cluster", "gone", "slow", "broken", "html", "garbled", "other"
        ]
    );
    let listed = platform.received().pop().unwrap();
    assert_eq!(
        (listed.method.as_str(), listed.path.as_str()),
        ("GET", "/api/credentials?workspaceId=11")
    );

    let body = serde_json::json!({
        "token": TOKEN, "workspace_id": 11, "credentials_id": "sshCred1", "name": "cluster",
        "private_key": private_key, "passphrase": null, "revoke_old": old_fp,
    });
    let reply = app.post_json("/api/seqera/credentials/update", &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        serde_json::json!({ "credentials_id": "sshCred1", "revoked": old_fp, "revoke_error": null })
    );
    let sent = platform.received().pop().unwrap();
    assert_eq!(sent.method, "PUT");
    assert_eq!(sent.path, "/api/credentials/sshCred1?workspaceId=11");
    assert_eq!(sent.authorization, format!("Bearer {TOKEN}"));
    let sent: serde_json::Value = serde_json::from_str(&sent.body).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({ "credentials": {
            "id": "sshCred1", "name": "cluster", "provider": "ssh",
            "keys": { "discriminator": "ssh", "privateKey": private_key },
        }})
    );
    // Nothing was added: the credentials kept their id.
    assert!(platform.received().iter().all(|r| r.method != "POST"));
    let list = app.get_authorized("/api/keys/list").json();
    let prints: Vec<_> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["fingerprint"].as_str().unwrap().to_owned())
        .collect();
    assert!(!prints.contains(&old_fp), "the old key stayed: {prints:?}");
    assert_eq!(prints.len(), 1);
}

#[test]
fn every_platform_error_leaves_both_keys_and_says_what_state_things_are_in() {
    let platform = FakePlatform::start(None);
    let home = tempfile::tempdir().unwrap();
    let (app, old_fp, private_key) = replaced(&platform, home.path());
    let file = app.authorized_keys();
    let before = fs::read(&file).unwrap();
    let update = |token: &str, workspace: i64, id: &str| {
        let body = serde_json::json!({
            "token": token, "workspace_id": workspace, "credentials_id": id, "name": "cluster",
            "private_key": private_key, "revoke_old": old_fp,
        });
        app.post_json("/api/seqera/credentials/update", &body.to_string())
    };
    for (reply, says) in [
        (
            update("wrong", 11, "sshCred1"),
            "did not accept the access token",
        ),
        (
            update(TOKEN, 12, "sshCred1"),
            "may not add or change credentials",
        ),
        (update(TOKEN, 11, "sshGone"), "no credentials sshGone there"),
        (
            update(TOKEN, 11, "sshSlow"),
            "does not know whether Seqera Platform took the new key",
        ),
        (
            update(TOKEN, 11, "sshBroken"),
            "does not know whether Seqera Platform took the new key (HTTP 500)",
        ),
        // Red team: a 200 that is not Platform's, and an answer garbled after the key went,
        // are not taken for done, nor said never to have reached Platform.
        (
            update(TOKEN, 11, "sshHtml"),
            "does not know whether Seqera Platform took the new key (HTTP 200, but not Platform's answer)",
        ),
        (
            update(TOKEN, 11, "sshGarbled"),
            "does not know whether Seqera Platform took the new key",
        ),
    ] {
        assert_eq!(reply.status, 502, "{says}: {}", reply.body);
        assert!(reply.body.contains(says), "{says}: {}", reply.body);
        assert_eq!(
            fs::read(&file).unwrap(),
            before,
            "{says}: a key was revoked"
        );
    }
    // Refused before Platform is asked: an id that would leave the path.
    let asked = platform.received().len();
    let reply = update(TOKEN, 11, "../evil");
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(platform.received().len(), asked);
    assert_eq!(fs::read(&file).unwrap(), before);
}

#[test]
fn the_replace_form_works_without_javascript() {
    let alice = Account::create_person();
    let stack = SiteStack::start(&[&alice.name], &[]);
    let old = stack
        .post(&alice.name, "/api/keys/generate", r#"{"label": "ci"}"#)
        .json();
    let old_fp = old["info"]["fingerprint"].as_str().unwrap();
    // As a browser asks for it from the page's own button.
    let page = stack.get_with(
        &alice.name,
        &format!("/ssh-keys?replace={}", urlencode(old_fp)),
        &[("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Replace SSH Key"), "{}", page.body);
    let form = format!(
        "intent=generate&form_id={}&replaces={}&passphrase=&passphrase_confirm=&expires_in_days=",
        crate::helpers::form_id(&page.body),
        urlencode(old_fp)
    );
    let answer = stack.post_form(&alice.name, "/ssh-keys", &form);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let listed = stack.get(&alice.name, "/api/keys/list").json();
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[1]["label"], "ci");
    let new_fp = keys[1]["fingerprint"].as_str().map(str::to_owned);
    assert_eq!(crate::helpers::shown_key_fingerprint(&answer.body), new_fp);
    assert!(answer.body.contains("The old key"), "{}", answer.body);
    assert!(answer.body.contains(old_fp));
    // The old key's revoke form is in the answer, and works.
    let revoke = format!("intent=revoke&fingerprint={}", urlencode(old_fp));
    let revoked = stack.post_form(&alice.name, "/ssh-keys", &revoke);
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let listed = stack.get(&alice.name, "/api/keys/list").json();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1);
    assert_eq!(
        listed["keys"][0]["fingerprint"].as_str().map(str::to_owned),
        new_fp
    );
}

pub(crate) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Red team: sshd matches a pattern of a line's `from=` with the blank beside it, so never; a
/// replacement (or Restrict) that read the list without the blank let the key in from there.
#[test]
fn a_from_with_blanks_sshd_never_matches_is_not_widened_by_replace_or_restrict() {
    let dir = test_dir();
    let (home, sshd, app) = start(dir.path(), &[]);
    let (old_key, made) = generate(&app, dir.path(), "old", r#"{"label": "ci"}"#);
    let fingerprint = made["info"]["fingerprint"].as_str().unwrap();
    // The person's own edit of the line, as people write lists: a blank after the comma.
    let file = home.join(".ssh/authorized_keys");
    let line = fs::read_to_string(&file).unwrap();
    let edited = line.replacen(
        "restrict,pty ",
        r#"restrict,pty,from="10.9.0.0/16, 127.0.0.1" "#,
        1,
    );
    assert_ne!(edited, line);
    fs::write(&file, &edited).unwrap();
    refused_from(&sshd, "127.0.0.1", &old_key);

    for (path, body) in [
        (
            "/api/keys/generate",
            serde_json::json!({ "replaces": fingerprint }),
        ),
        (
            "/api/keys/restrict",
            serde_json::json!({ "fingerprint": fingerprint, "allowed_from": "127.0.0.1" }),
        ),
    ] {
        let reply = app.post_json(path, &body.to_string());
        assert_eq!(reply.status, 400, "{path}: {}", reply.body);
        assert!(
            reply.body.contains("has blanks in it"),
            "{path}: {}",
            reply.body
        );
        assert_eq!(fs::read_to_string(&file).unwrap(), edited, "{path} wrote");
    }
}
