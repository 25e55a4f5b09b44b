//! `keyhatch keys rotate` and `--seqera` at the terminal: the binary, a temporary home, the
//! stand-in Platform; ssh-keygen opens what it writes.
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::seqera::fake::FakePlatform;
use crate::terminal::{keys, keys_with, listed, text};

const TOKEN: &str = "seqera-token-5f1e9d";

fn fingerprints(home: &Path) -> Vec<String> {
    listed(home)["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["fingerprint"].as_str().unwrap().to_owned())
        .collect()
}

/// Generates a key labelled `ci` that logs in only from 127.0.0.2, in `home/name`; its fingerprint.
fn old_key(home: &Path, name: &str) -> String {
    let file = home.join(name);
    let args = [
        "generate",
        "-f",
        file.to_str().unwrap(),
        "--no-passphrase",
        "--label",
        "ci",
        "--from",
        "127.0.0.2",
        "--json",
    ];
    let out = keys(home, &args, b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    made["fingerprint"].as_str().unwrap().to_owned()
}

#[test]
fn rotate_at_the_terminal_keeps_label_and_addresses_and_revokes_the_old_key_only_when_asked() {
    let home = tempfile::tempdir().unwrap();
    let first = old_key(home.path(), "k1");
    let k2 = home.path().join("k2");
    let out = keys(
        home.path(),
        &[
            "rotate",
            &first,
            "-f",
            k2.to_str().unwrap(),
            "--no-passphrase",
            "--json",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let second: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(second["label"], "ci");
    assert_eq!(second["allowed_from"], "127.0.0.2");
    assert!(
        text(&out.stderr).contains("The old key still works"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        fs::metadata(&k2).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let opened = std::process::Command::new("ssh-keygen")
        .args(["-y", "-f"])
        .arg(&k2)
        .output()
        .unwrap();
    assert!(opened.status.success(), "{}", text(&opened.stderr));
    let second = second["fingerprint"].as_str().unwrap().to_owned();
    assert_eq!(fingerprints(home.path()), [first.clone(), second.clone()]);

    let k3 = home.path().join("k3");
    let out = keys(
        home.path(),
        &[
            "rotate",
            &second,
            "-f",
            k3.to_str().unwrap(),
            "--no-passphrase",
            "--revoke-old",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("Revoked the old key {second}")),
        "{}",
        text(&out.stderr)
    );
    let now = fingerprints(home.path());
    assert_eq!(now.len(), 2);
    assert_eq!(now[0], first);
    assert!(!now.contains(&second));

    // Refusals: nothing made, no file left.
    let k4 = home.path().join("k4");
    for (args, says) in [
        (
            vec![
                "rotate",
                "SHA256:nothere",
                "-f",
                k4.to_str().unwrap(),
                "--no-passphrase",
            ],
            "no keyhatch key with fingerprint",
        ),
        (
            vec![
                "rotate",
                &first,
                "-f",
                k4.to_str().unwrap(),
                "--no-passphrase",
                "--expires-in",
                "0",
            ],
            "0",
        ),
        (
            vec![
                "rotate",
                &first,
                "-f",
                k4.to_str().unwrap(),
                "--no-passphrase",
                "--seqera",
                "cluster",
            ],
            "seqera-url",
        ),
    ] {
        let out = keys(home.path(), &args, b"");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!k4.exists());
        assert_eq!(fingerprints(home.path()), now);
    }
}

#[test]
fn rotate_with_seqera_puts_the_key_into_the_credentials_and_revokes_only_after_platform_took_it() {
    let platform = FakePlatform::start(None);
    let home = tempfile::tempdir().unwrap();
    let url = platform.url();
    let env = [
        ("KEYHATCH_SEQERA_URL", url.as_str()),
        ("KEYHATCH_SEQERA_TIMEOUT", "1"),
        ("TOWER_ACCESS_TOKEN", TOKEN),
    ];
    let old = old_key(home.path(), "k1");

    // Credentials Platform does not have, or a word that is one's id and another's name:
    // asked before the key is made, so nothing is.
    let k0 = home.path().join("k0");
    for (credentials, says) in [
        (
            "nosuch",
            "no SSH credentials with the id or name \"nosuch\"",
        ),
        (
            "html",
            "names 2 SSH credentials in Platform there (html (sshHtml), other (html))",
        ),
    ] {
        let args = [
            "rotate",
            &old,
            "-f",
            k0.to_str().unwrap(),
            "--no-passphrase",
            "--seqera",
            credentials,
            "--workspace",
            "11",
        ];
        let out = keys_with(home.path(), &args, b"", &env);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
        assert!(!k0.exists());
        assert_eq!(fingerprints(home.path()), std::slice::from_ref(&old));
    }

    // Platform fails: both keys stay, and the message says so and where the new key is.
    let k2 = home.path().join("k2");
    let args = [
        "rotate",
        &old,
        "-f",
        k2.to_str().unwrap(),
        "--no-passphrase",
        "--seqera",
        "broken",
        "--workspace",
        "11",
        "--revoke-old",
    ];
    let out = keys_with(home.path(), &args, b"", &env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(
        said.contains("does not know whether Seqera Platform took the new key (HTTP 500)"),
        "{said}"
    );
    assert!(
        said.contains("Both keys are authorized and both work; nothing was revoked"),
        "{said}"
    );
    assert!(said.contains(k2.to_str().unwrap()), "{said}");
    assert!(fingerprints(home.path()).contains(&old));
    assert_eq!(fingerprints(home.path()).len(), 2);

    // Platform takes it: by name, in place (PUT, the id kept), then the old key goes.
    let k3 = home.path().join("k3");
    let args = [
        "rotate",
        &old,
        "-f",
        k3.to_str().unwrap(),
        "--no-passphrase",
        "--seqera",
        "cluster",
        "--workspace",
        "11",
        "--revoke-old",
    ];
    let out = keys_with(home.path(), &args, b"", &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(
        said.contains("credentials cluster (sshCred1) now hold the new key"),
        "{said}"
    );
    let put = platform
        .received()
        .into_iter()
        .rfind(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(put.path, "/api/credentials/sshCred1?workspaceId=11");
    assert_eq!(put.authorization, format!("Bearer {TOKEN}"));
    let sent: serde_json::Value = serde_json::from_str(&put.body).unwrap();
    assert_eq!(
        sent["credentials"]["keys"]["privateKey"],
        fs::read_to_string(&k3).unwrap()
    );
    assert_eq!(sent["credentials"]["id"], "sshCred1");
    assert!(!fingerprints(home.path()).contains(&old));
    assert!(platform.received().iter().all(|r| r.method != "POST"));
    // The token never reached an argument: the fake saw it only as a bearer header.
    assert!(!said.contains(TOKEN));
}

#[test]
fn generate_with_seqera_adds_credentials_with_a_token_from_a_private_file_only() {
    let platform = FakePlatform::start(None);
    let home = tempfile::tempdir().unwrap();
    let url = platform.url();
    let env = [("KEYHATCH_SEQERA_URL", url.as_str())];
    let token = home.path().join("token");
    fs::write(&token, format!("{TOKEN}\n")).unwrap();
    fs::set_permissions(&token, fs::Permissions::from_mode(0o644)).unwrap();
    let k1 = home.path().join("k1");
    let args = [
        "generate",
        "-f",
        k1.to_str().unwrap(),
        "--no-passphrase",
        "--seqera",
        "laptop_key",
        "--token-file",
        token.to_str().unwrap(),
    ];
    let out = keys_with(home.path(), &args, b"", &env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("chmod 600 it"),
        "{}",
        text(&out.stderr)
    );
    assert!(!k1.exists());
    assert!(platform.received().is_empty());

    fs::set_permissions(&token, fs::Permissions::from_mode(0o600)).unwrap();
    let bad_name = [
        "generate",
        "-f",
        k1.to_str().unwrap(),
        "--no-passphrase",
        "--seqera",
        "my key",
        "--token-file",
        token.to_str().unwrap(),
    ];
    let out = keys_with(home.path(), &bad_name, b"", &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("only letters, digits"),
        "{}",
        text(&out.stderr)
    );
    assert!(!k1.exists());

    let out = keys_with(home.path(), &args, b"", &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("Added to Seqera Platform as credentials 4c9dEwvJW2TvwKQNOxYGqG"),
        "{}",
        text(&out.stderr)
    );
    let post = platform.received().pop().unwrap();
    assert_eq!(post.path, "/api/credentials");
    let sent: serde_json::Value = serde_json::from_str(&post.body).unwrap();
    assert_eq!(sent["credentials"]["name"], "laptop_key");
    assert_eq!(
        sent["credentials"]["keys"]["privateKey"],
        fs::read_to_string(&k1).unwrap()
    );
}

/// Red team: Platform's own words reached the terminal raw (a bidirectional override) and
/// unbounded; then, cut and escaped, they could still quote the key (helper-71). They are not
/// repeated.
#[test]
fn platforms_own_words_never_reach_the_terminal() {
    let platform = FakePlatform::start(None);
    let home = tempfile::tempdir().unwrap();
    let url = platform.url();
    let env = [
        ("KEYHATCH_SEQERA_URL", url.as_str()),
        ("TOWER_ACCESS_TOKEN", TOKEN),
    ];
    let k1 = home.path().join("k1");
    let args = [
        "generate",
        "-f",
        k1.to_str().unwrap(),
        "--no-passphrase",
        "--seqera",
        "hostile",
    ];
    let out = keys_with(home.path(), &args, b"", &env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(said.contains("refused the request (HTTP 400)"), "{said}");
    assert!(!said.contains("Bad") && !said.contains("AAAA"), "{said:?}");
}
