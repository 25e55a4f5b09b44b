//! keyhatch over HTTP, as a browser and as a script see it.
use std::fs;

use crate::helpers::{self, TOKEN, spawn_app};

#[test]
fn without_the_token_every_request_gets_401_and_the_page_says_how_to_log_in() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());

    let api = app.get("/api/keys/list", &[]);
    assert_eq!(api.status, 401);
    assert_eq!(api.json(), "Unauthorized");

    let page = app.get("/ssh-keys", &[]);
    assert_eq!(page.status, 401);
    assert!(page.body.contains("?token="), "{}", page.body);

    let wrong = app.get(
        "/api/keys/list",
        &[("Authorization", "Bearer not-the-token-at-all")],
    );
    assert_eq!(wrong.status, 401);
    let generate = app.post_json("/api/keys/generate", "{}");
    assert_eq!(generate.status, 200, "the bearer helper itself must work");
    assert!(app.authorized_keys().exists());
}

#[test]
fn the_login_link_sets_a_strict_httponly_session_cookie_and_drops_the_token_from_the_url() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());

    let login = app.get(&format!("/ssh-keys{}", &app.login_path()[1..]), &[]);
    assert_eq!(login.status, 303);
    assert_eq!(login.header("location"), "/ssh-keys");
    let set_cookie = login.header("set-cookie");
    let (cookie, attributes) = set_cookie.split_once("; ").unwrap();
    assert_eq!(
        attributes,
        "HttpOnly; SameSite=Strict; Path=/; Max-Age=43200"
    );
    let (name, session) = cookie.split_once('=').unwrap();
    assert_eq!(name, format!("keyhatch_session_{}", app.port));
    assert!(
        !session.contains(TOKEN),
        "the cookie never carries the token"
    );

    let page = app.get("/ssh-keys", &[("Cookie", cookie)]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No SSH keys found"), "{}", page.body);

    let home_page = app.get("/", &[("Cookie", cookie)]);
    assert_eq!(home_page.status, 303);
    assert_eq!(home_page.header("location"), "/ssh-keys");

    let token_as_cookie = format!("keyhatch_session_{}={TOKEN}", app.port);
    assert_eq!(
        app.get("/ssh-keys", &[("Cookie", &token_as_cookie)]).status,
        401
    );

    let bad = app.get("/?token=guess", &[]);
    assert_eq!(bad.status, 401);
    assert!(bad.header("set-cookie").is_empty());
}

#[test]
fn a_page_asked_for_with_a_dialog_open_loads_no_code_however_the_query_is_spelled() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    // The page's code never hydrates a dialog (the browser builds its own, from the dialogs'
    // module), so a page the server renders with one open must come without the code.
    let plain = app.get_authorized("/ssh-keys");
    assert!(plain.body.contains("/keyhatch.js"), "{}", plain.body);
    // As a browser asks for it from the page's own button.
    let bearer = format!("Bearer {TOKEN}");
    let headers = [
        ("Authorization", bearer.as_str()),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    for query in [
        "dialog=add",
        "%64ialog=add",
        "x=1&dialog=add",
        "dialo%67=add",
    ] {
        let page = app.get(&format!("/ssh-keys?{query}"), &headers);
        assert_eq!(page.status, 200, "{query}");
        assert!(
            page.body.contains("Add Existing Key"),
            "{query}: {}",
            page.body
        );
        assert!(!page.body.contains("keyhatch.js"), "{query}: {}", page.body);
    }
    // Every dialog the query can open, rendered whole (a server whose rendering overflowed its
    // stack once a dialog gained a field died here).
    app.generate(None);
    let fingerprint = app.get_authorized("/api/keys/list").json()["keys"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .replace('+', "%2B");
    for (query, title) in [
        ("dialog=generate".to_owned(), "Generate SSH Key"),
        (format!("revoke={fingerprint}"), "Revoke SSH Key"),
        (format!("restrict={fingerprint}"), "Restrict SSH Key"),
    ] {
        let page = app.get(&format!("/ssh-keys?{query}"), &headers);
        assert!(page.body.contains(title), "{query}: {}", page.body);
        assert!(!page.body.contains("keyhatch.js"), "{query}: {}", page.body);
    }
}

#[test]
fn each_page_has_its_title_and_stylesheet_and_unknown_paths_are_404_pages() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());

    let page = app.get_authorized("/ssh-keys");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<title>SSH Keys · keyhatch</title>"),
        "{}",
        page.body
    );
    // With the bundle built (target/site, beside the test build), the page inlines the
    // stylesheet and loads the wasm and JS from a directory named by the bundle's hash, which
    // answers for a year; without it (cargo test before the first bundle build) it links the
    // plain names.
    // LEPTOS_OUTPUT_NAME (.cargo/config.toml) keeps the plain wasm name from gaining `_bg`, a
    // page that would never come alive.
    let hashed = regex_lite::Regex::new(r#"href="(/pkg/[0-9a-f]{16})/keyhatch\.wasm""#).unwrap();
    match hashed.captures(&page.body) {
        Some(name) => {
            assert!(page.body.contains("<style nonce="), "{}", page.body);
            assert!(!page.body.contains("/pkg/keyhatch.css"), "{}", page.body);
            let js = app.get_authorized(&format!("{}/keyhatch.js", &name[1]));
            assert_eq!(js.status, 200);
            assert_eq!(
                js.header("cache-control"),
                "public, max-age=31536000, immutable"
            );
            assert_eq!(js.header("vary"), "accept-encoding");
            assert!(js.header("etag").starts_with('"'), "{:?}", js.headers);
            let again = app.get(
                &format!("{}/keyhatch.js", &name[1]),
                &[
                    ("Authorization", &format!("Bearer {TOKEN}")),
                    ("If-None-Match", js.header("etag")),
                ],
            );
            assert_eq!(again.status, 304);
            // The plain name still answers, but must be asked again each time.
            let plain = app.get_authorized("/pkg/keyhatch.js");
            assert_eq!(
                (plain.status, plain.header("cache-control")),
                (200, "no-cache")
            );
            assert_eq!(plain.body, js.body);
            // The dialogs' module's loader, which that JS imports, is preloaded beside it from
            // the same directory (one module under two names would be two modules).
            let loader = format!(
                r#"<link rel="modulepreload" href="{}/__wasm_split."#,
                &name[1]
            );
            assert!(page.body.contains(&loader), "{}", page.body);
        }
        None => {
            assert!(
                page.body
                    .contains(r#"<link rel="stylesheet" href="/pkg/keyhatch.css">"#),
                "{}",
                page.body
            );
            assert!(
                page.body.contains(r#"href="/pkg/keyhatch.wasm""#),
                "{}",
                page.body
            );
        }
    }

    let missing = app.get_authorized("/no/such/page");
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("<title>Not found · keyhatch</title>"),
        "{}",
        missing.body
    );
    assert!(missing.body.contains("Page not found"), "{}", missing.body);
    assert!(
        missing.body.contains(r#"href="/ssh-keys""#),
        "{}",
        missing.body
    );
}

#[test]
fn generate_returns_the_key_once_uncached_and_the_list_shows_it() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());

    let reply = app.post_json("/api/keys/generate", "{}");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), "no-store");
    let key = reply.json();
    assert_eq!(key["encrypted"], false);
    // Only what the `.pub` line does not say, and no field at its default (README, the API):
    // no type or comment of its own, no label, no expiry.
    let fields: Vec<&str> = key["info"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, ["fingerprint", "options", "public_key"]);
    assert!(
        key["info"]["public_key"]
            .as_str()
            .unwrap()
            .starts_with("ssh-ed25519 AAAA")
    );
    assert_eq!(helpers::comment_of(&key["info"]), "fileglancer");
    let fingerprint = key["info"]["fingerprint"].as_str().unwrap();
    assert!(
        fingerprint.starts_with("SHA256:") && fingerprint.len() == 50,
        "{fingerprint}"
    );
    // The private key is an unencrypted OpenSSH key whose public half is the one described.
    let private = ssh_key::PrivateKey::from_openssh(key["private_key"].as_str().unwrap()).unwrap();
    assert!(!private.is_encrypted());
    let derived = private.public_key().fingerprint(ssh_key::HashAlg::Sha256);
    assert_eq!(derived.to_string(), fingerprint);

    let file = fs::read_to_string(app.authorized_keys()).unwrap();
    assert_eq!(file.lines().count(), 1);
    assert!(
        file.starts_with("restrict,pty ssh-ed25519 AAAA") && file.ends_with(" fileglancer\n"),
        "{file}"
    );

    let list = app.get_authorized("/api/keys/list");
    assert_eq!(list.status, 200);
    assert_eq!(list.header("cache-control"), "no-store");
    let list = list.json();
    assert_eq!(list["keys"].as_array().unwrap().len(), 1);
    assert_eq!(list["keys"][0]["fingerprint"], fingerprint);
}

#[test]
fn a_form_that_asks_for_nothing_keyhatch_does_gets_a_400_that_says_so_and_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let bearer = format!("Bearer {TOKEN}");
    let post = |form: &str| {
        app.post(
            "/ssh-keys",
            form,
            &[
                ("Authorization", bearer.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Sec-Fetch-Site", "same-origin"),
            ],
        )
    };
    let form = "form_id=0123456789abcdef0123456789abcdef&label=x";
    let unknown = post(&format!("intent=<b>frobnicate</b>&{form}"));
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(
        unknown
            .body
            .contains("unknown variant `&lt;b&gt;frobnicate&lt;/b&gt;`")
            && unknown.body.contains("generate")
            && unknown.body.contains("Nothing was changed"),
        "{}",
        unknown.body
    );
    let missing = post(form);
    assert_eq!(missing.status, 400, "{}", missing.body);
    assert!(
        missing.body.contains("missing field `intent`"),
        "{}",
        missing.body
    );
    assert!(!app.authorized_keys().exists(), "a key was written");
}

#[test]
fn a_passphrase_encrypts_the_key() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let key = app.generate(Some("open sesame"));
    assert_eq!(key["encrypted"], true);
    let private = ssh_key::PrivateKey::from_openssh(key["private_key"].as_str().unwrap()).unwrap();
    assert!(private.is_encrypted());
    assert_eq!(private.cipher(), ssh_key::Cipher::Aes256Ctr);
    assert!(matches!(
        private.kdf(),
        ssh_key::Kdf::Bcrypt { rounds: 24, .. }
    ));
    assert!(private.decrypt("open sesame").is_ok());
}

#[test]
fn an_existing_file_keeps_every_byte_and_gets_a_newline_before_the_new_key() {
    let original = helpers::MIXED.to_vec();
    assert_ne!(
        original.last(),
        Some(&b'\n'),
        "the fixture ends without a newline"
    );
    let home = helpers::home_with(&original);
    let app = spawn_app(home.path());

    let key = app.generate(None);
    let after = fs::read(app.authorized_keys()).unwrap();
    assert_eq!(&after[..original.len()], &original[..]);
    let added = std::str::from_utf8(&after[original.len()..]).unwrap();
    assert!(
        added.starts_with("\nrestrict,pty ssh-ed25519 ") && added.ends_with(" fileglancer\n"),
        "{added:?}"
    );

    let list = app.get_authorized("/api/keys/list").json();
    let fingerprints: Vec<&str> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(
        fingerprints.len(),
        6,
        "five tagged keys in the fixture, then the new one"
    );
    assert_eq!(
        fingerprints.last(),
        Some(&key["info"]["fingerprint"].as_str().unwrap())
    );
    assert_eq!(list["other_keys"], 7);
    assert_eq!(list["unreadable_lines"], serde_json::json!([8, 16, 17]));
}

#[test]
fn a_missing_home_is_a_clear_error_and_creates_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let home = parent.path().join("gone");
    let app = spawn_app(&home);

    let list = app.get_authorized("/api/keys/list");
    assert_eq!(list.status, 500);
    let message = format!("home directory {} does not exist", home.display());
    assert_eq!(list.json(), serde_json::json!({ "Storage": message }));

    let generate = app.post_json("/api/keys/generate", "{}");
    assert_eq!(generate.status, 500);
    assert!(!generate.body.contains("PRIVATE KEY"));
    assert!(!home.exists());
}

#[test]
fn an_unwritable_file_fails_without_returning_a_key() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    fs::create_dir(home.path().join(".ssh")).unwrap();
    // A directory where the file should be: even root cannot open it for writing.
    fs::create_dir(app.authorized_keys()).unwrap();

    let reply = app.post_json("/api/keys/generate", "{}");
    assert_eq!(reply.status, 500);
    assert!(!reply.body.contains("PRIVATE KEY"));
    assert!(
        reply.body.contains("could not open") && reply.body.contains("authorized_keys"),
        "{}",
        reply.body
    );
}

#[test]
fn revoke_removes_only_that_key_and_refuses_keys_keyhatch_did_not_add() {
    let original = helpers::MIXED.to_vec();
    let home = helpers::home_with(&original);
    let app = spawn_app(home.path());
    let key = app.generate(None);
    let fingerprint = key["info"]["fingerprint"].as_str().unwrap();

    let body = |fp: &str| serde_json::json!({ "fingerprint": fp }).to_string();
    let reply = app.post_json("/api/keys/revoke", &body(fingerprint));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut expected = original.clone();
    expected.push(b'\n'); // the newline added before the key stays: the one byte of difference
    assert_eq!(fs::read(app.authorized_keys()).unwrap(), expected);
    assert!(app.home.join(".ssh/authorized_keys.old").exists());

    let gone = app.post_json("/api/keys/revoke", &body(fingerprint));
    assert_eq!(gone.status, 404, "{}", gone.body);

    // Line 2 of the fixture: alice@laptop's key, added by hand.
    let foreign = "SHA256:3cLy08JxdN2mhbu6O/XnKvsbYBUIWGejQ7CVlZAfvto";
    let refused = app.post_json("/api/keys/revoke", &body(foreign));
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("keyhatch changes only its own keys"),
        "{}",
        refused.body
    );
    assert_eq!(fs::read(app.authorized_keys()).unwrap(), expected);
}

#[test]
fn a_file_size_limit_fails_the_request_leaves_the_file_whole_and_returns_no_key() {
    // 4000 bytes under a 4096-byte limit: the key line starts to fit, then the write is cut short.
    let original = [b"# padding\n".repeat(399), b"# end\nxxxx".to_vec()].concat();
    assert_eq!(original.len(), 4000);
    let home = helpers::home_with(&original);
    let file = home.path().join(".ssh/authorized_keys");
    let app = helpers::spawn_app_limited(home.path(), 4096);

    let reply = app.post_json("/api/keys/generate", "{}");
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert!(
        reply.body.contains("file size limit was reached"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains("PRIVATE KEY"));
    assert_eq!(
        fs::read(&file).unwrap(),
        original,
        "a partial line was left behind"
    );
    assert_eq!(
        app.get_authorized("/api/keys/list").status,
        200,
        "the server died"
    );
}

#[test]
fn the_size_limit_is_a_setting_and_a_larger_file_is_left_untouched() {
    let original = b"# a long comment\n".repeat(128); // 2176 bytes
    let home = helpers::home_with(&original);
    let app = helpers::spawn_app_with(home.path(), &[("KEYHATCH_MAX_FILE_SIZE", "2048")]);
    // The file's state, not a fault of keyhatch's: a 4xx with the sentence, for every call.
    for reply in [
        app.post_json("/api/keys/generate", "{}"),
        app.get_authorized("/api/keys/list"),
    ] {
        assert!(!reply.body.contains("PRIVATE KEY"), "a key was made");
        assert_eq!(reply.status, 409, "{}", reply.body);
        assert!(
            reply
                .body
                .contains("is 2176 bytes, more than keyhatch's limit of 2048"),
            "{}",
            reply.body
        );
    }
    assert_eq!(fs::read(app.authorized_keys()).unwrap(), original);
}

#[test]
fn a_file_just_under_the_limit_is_not_pushed_over_it_by_keyhatchs_own_line() {
    // 4000 bytes under a 4096-byte limit: a key's line (about 100 bytes) would pass it.
    let original = b"# padding\n".repeat(400);
    let home = helpers::home_with(&original);
    let app = helpers::spawn_app_with(home.path(), &[("KEYHATCH_MAX_FILE_SIZE", "4096")]);
    let reply = app.post_json("/api/keys/generate", "{}");
    assert!(
        !reply.body.contains("PRIVATE KEY"),
        "a key was made ({})",
        reply.status
    );
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert!(
        reply
            .body
            .contains("one more key would take it past keyhatch's limit of 4096"),
        "{}",
        reply.body
    );
    assert_eq!(fs::read(app.authorized_keys()).unwrap(), original);
    assert_eq!(app.get_authorized("/api/keys/list").status, 200);
}

#[test]
fn a_file_of_ten_thousand_ordinary_keys_is_listed_under_the_default_limit() {
    use base64::Engine;
    // 10,000 ed25519 lines with personal comments: 1.06 MB, as a real heavy user's file.
    let mut file = Vec::new();
    for i in 0..10_000u32 {
        let mut blob = Vec::new();
        blob.extend_from_slice(&11u32.to_be_bytes());
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&32u32.to_be_bytes());
        let mut key = [7u8; 32];
        key[..4].copy_from_slice(&i.to_be_bytes());
        blob.extend_from_slice(&key);
        let encoded = base64::prelude::BASE64_STANDARD.encode(&blob);
        file.extend_from_slice(
            format!("ssh-ed25519 {encoded} person{i:05}@laptop-2.lab\n").as_bytes(),
        );
    }
    assert!(file.len() > 1 << 20, "{}", file.len());
    let home = helpers::home_with(&file);
    let app = spawn_app(home.path());
    let reply = app.get_authorized("/api/keys/list");
    assert_eq!(
        reply.status,
        200,
        "{}",
        &reply.body[..reply.body.len().min(300)]
    );
    assert_eq!(reply.json()["other_keys"], 10_000);
}

#[test]
fn a_json_body_of_the_wrong_type_gets_a_400_that_says_why() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    for (path, body, says) in [
        (
            "/api/keys/generate",
            r#"{"label": 5}"#,
            "invalid type: integer `5`, expected a string",
        ),
        (
            "/api/keys/generate",
            r#"{"expires_in_days": "soon"}"#,
            "invalid type: string",
        ),
        ("/api/keys/generate", "not json", "expected"),
        (
            "/api/keys/revoke",
            r#"{"fingerprint": ["a"]}"#,
            "invalid type: sequence",
        ),
    ] {
        let reply = app.post_json(path, body);
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        let error = reply.json();
        let message = error["Invalid"]
            .as_str()
            .unwrap_or_else(|| panic!("{error}"));
        assert!(
            message.starts_with("the request body is not the JSON expected"),
            "{message}"
        );
        assert!(message.contains(says), "{body}: {message}");
    }
    assert!(!app.authorized_keys().exists());
}

#[test]
fn bad_labels_and_lifetimes_get_a_400_that_says_why_and_write_nothing() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let long = "x".repeat(65);
    for (body, says) in [
        (
            serde_json::json!({ "label": long }),
            "a label has at most 64 characters; this one has 65",
        ),
        (
            serde_json::json!({ "label": "two\nlines" }),
            "a label must be printable text on one line",
        ),
        (
            serde_json::json!({ "expires_in_days": 0 }),
            "a key's lifetime is 1 to 3650 days, not 0",
        ),
        (
            serde_json::json!({ "expires_in_days": 3651 }),
            "a key's lifetime is 1 to 3650 days, not 3651",
        ),
    ] {
        let reply = app.post_json("/api/keys/generate", &body.to_string());
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(reply.body.contains(says), "{body}: {}", reply.body);
        assert!(!reply.body.contains("private_key"), "{}", reply.body);
    }
    assert!(!app.authorized_keys().exists());
}

#[test]
fn adding_refuses_private_keys_weak_keys_and_duplicates_each_with_its_reason() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let add = |public_key: &str| {
        let body = serde_json::json!({ "public_key": public_key }).to_string();
        app.post_json("/api/keys/add", &body)
    };
    let generated = app.generate(None);
    let private = generated["private_key"].as_str().unwrap();
    let refused = add(private);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("must never be shared"),
        "{}",
        refused.body
    );
    // The answer repeats nothing of it.
    let body_line = private.lines().nth(1).unwrap();
    assert!(!refused.body.contains(body_line), "{}", refused.body);

    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/public-keys");
    let read = |name: &str| fs::read_to_string(fixtures.join(name)).unwrap();
    let weak = add(&read("rsa-2048.pub"));
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("2048 bits"), "{}", weak.body);

    let before = fs::read(app.authorized_keys()).unwrap();
    let ours = generated["info"]["public_key"].as_str().unwrap();
    let twice = add(ours);
    assert_eq!(twice.status, 409, "{}", twice.body);
    assert!(twice.body.contains("already in the file"), "{}", twice.body);
    assert_eq!(fs::read(app.authorized_keys()).unwrap(), before);

    let ecdsa = add(&read("ecdsa-p521.pub"));
    assert_eq!(ecdsa.status, 200, "{}", ecdsa.body);
    let added = ecdsa.json();
    assert_eq!(added["fingerprint"], read("ecdsa-p521.fingerprint").trim());
    assert_eq!(added["label"], "ecdsa 521");
    let list = app.get_authorized("/api/keys/list").json();
    assert_eq!(list["keys"].as_array().unwrap().len(), 2);
    assert_eq!(
        helpers::comment_of(&list["keys"][1]),
        "fileglancer ecdsa 521"
    );
}

#[test]
fn inspecting_a_key_reads_it_without_adding_it() {
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/public-keys");
    let public = fs::read_to_string(fixtures.join("ed25519.pub")).unwrap();
    let body = serde_json::json!({ "public_key": public }).to_string();
    let reply = app.post_json("/api/keys/inspect", &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let fingerprint = fs::read_to_string(fixtures.join("ed25519.fingerprint")).unwrap();
    assert_eq!(reply.json()["fingerprint"], fingerprint.trim());
    assert_eq!(helpers::comment_of(&reply.json()), "alice@laptop");
    assert!(!app.authorized_keys().exists());
}

#[test]
fn the_other_keys_are_their_own_endpoint_with_options_and_the_unreadable_count() {
    let home = helpers::home_with(include_bytes!("../fixtures/authorized_keys.mixed"));
    let app = spawn_app(home.path());
    let others = app.get_authorized("/api/keys/others");
    assert_eq!(others.status, 200, "{}", others.body);
    let others = others.json();
    assert_eq!(others["unreadable_lines"], 3);
    let keys = others["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 7);
    assert!(keys.iter().all(|k| {
        let comment = helpers::comment_of(k);
        !comment.starts_with("fileglancer ") && comment != "fileglancer"
    }));
    assert!(
        keys.iter()
            .any(|k| k["options"] == r#"cert-authority,principals="alice""#)
    );
    let ours = app.get_authorized("/api/keys/list").json();
    assert_eq!(ours["keys"].as_array().unwrap().len(), 5);
}

#[test]
fn socket_without_a_path_serves_on_the_runtime_directorys_socket() {
    let home = tempfile::tempdir().unwrap();
    let runtime = tempfile::tempdir().unwrap();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_keyhatch"))
        .args(["--socket", "--home"])
        .arg(home.path())
        .env("KEYHATCH_TOKEN", TOKEN)
        .env("KEYHATCH_CONFIG", "none")
        .env("XDG_RUNTIME_DIR", runtime.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let socket = runtime.path().join("keyhatch/keyhatch.sock");
    let started = std::time::Instant::now();
    let connected = loop {
        if let Ok(stream) = std::os::unix::net::UnixStream::connect(&socket) {
            break Some(stream);
        }
        if server.try_wait().unwrap().is_some()
            || started.elapsed() > std::time::Duration::from_secs(10)
        {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let answer = connected.map(|mut stream| {
        use std::io::{Read, Write};
        write!(
            stream,
            "GET /api/keys/list HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    });
    let _ = server.kill();
    let status = server.wait().unwrap();
    let answer = answer.unwrap_or_else(|| panic!("no socket at {}: {status}", socket.display()));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn a_connection_that_sends_no_request_is_closed_after_the_header_bound() {
    use std::io::Read;
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app(home.path());
    let mut idle = std::net::TcpStream::connect(("127.0.0.1", app.port)).unwrap();
    idle.set_read_timeout(Some(std::time::Duration::from_secs(40)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let read = idle.read_to_end(&mut answer);
    let took = started.elapsed();
    let timed_out = matches!(&read, Err(e) if matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
    assert!(!timed_out, "still open after {took:?}");
    assert!(took < std::time::Duration::from_secs(35), "{took:?}");
    assert_eq!(app.get_authorized("/api/keys/list").status, 200);
}
