//! A crash (SIGKILL) at any step of a removal leaves authorized_keys whole: the old version or
//! the new, never a mix or nothing, and never with a second name. Debug builds of keyhatch stop
//! at the step named by KEYHATCH_CRASH_AT.
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;

use crate::helpers::{self, spawn_app, spawn_app_with};

/// The steps of a removal, in order; the first three come before the rename.
const STEPS: [&str; 6] = [
    "temp-written",
    "checked",
    "backed-up",
    "renamed",
    "synced",
    "giving-back",
];

#[test]
fn a_crash_at_any_step_of_a_revoke_leaves_the_old_or_the_new_file() {
    let original = helpers::MIXED.to_vec();
    for (index, step) in STEPS.into_iter().enumerate() {
        let home = helpers::home_with(&original);
        let mut app = spawn_app_with(home.path(), &[("KEYHATCH_CRASH_AT", step)]);
        let file = app.authorized_keys();
        let key = app.generate(None);
        let fingerprint = key["info"]["fingerprint"].as_str().unwrap().to_owned();
        let with_key = fs::read(&file).unwrap();
        let mut without_key = original.clone();
        without_key.push(b'\n');

        let body = serde_json::json!({ "fingerprint": fingerprint }).to_string();
        assert!(
            app.try_post_json("/api/keys/revoke", &body).is_err(),
            "{step}: the server answered"
        );
        assert_eq!(
            app.wait().signal(),
            Some(9),
            "{step}: keyhatch did not die by SIGKILL"
        );

        let after_crash = fs::read(&file).unwrap();
        let renamed = index >= 3;
        let expected = if renamed { &without_key } else { &with_key };
        assert!(
            after_crash == *expected,
            "{step}: the file is neither the old nor the new version"
        );
        assert_eq!(
            fs::metadata(&file).unwrap().nlink(),
            1,
            "{step}: the file has another name"
        );

        // A fresh keyhatch finishes the job and clears what the crash left behind.
        let app = spawn_app(home.path());
        let again = app.post_json("/api/keys/revoke", &body);
        assert_eq!(
            again.status,
            if renamed { 404 } else { 200 },
            "{step}: {}",
            again.body
        );
        assert_eq!(fs::read(&file).unwrap(), without_key, "{step}");
        let mut names: Vec<String> = fs::read_dir(home.path().join(".ssh"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["authorized_keys", "authorized_keys.old"], "{step}");
    }
}
