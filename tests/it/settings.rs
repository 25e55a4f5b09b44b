//! The settings file, the environment and the flags, layered as the README says, on the real
//! binary: flag over environment over file over default, booleans either way in each.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A settings file only root can write, in a directory only root can write.
fn settings_file(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = dir.path().join("keyhatch.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// What keyhatch said when it refused to start with `args` and `env` over the file `config`.
fn refusal(config: &PathBuf, args: &[&str], env: &[(&str, &str)]) -> String {
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
        .arg("--home")
        .arg(home.path())
        .args(args)
        .env("KEYHATCH_CONFIG", config)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{args:?} {env:?} started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

// The file allows a remote address and sets a Platform CA without a Platform, which keyhatch
// checks after the address: so the sentence it stops with tells whether allow-remote ended up
// true.
const REMOTE_AND_STRAY_CA: &str = "[keyhatch]\naddr = \"0.0.0.0:0\"\nallow-remote = true\n\
                                  seqera-ca-file = \"/etc/hostname\"\n";

fn allowed_remote(err: &str) -> bool {
    if err.contains("seqera-ca-file is set but seqera-url is not") {
        return true;
    }
    assert!(err.contains("is not a loopback address"), "{err}");
    false
}

#[test]
fn a_boolean_from_the_file_is_turned_off_by_a_flag_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = settings_file(&dir, REMOTE_AND_STRAY_CA);
    assert!(allowed_remote(&refusal(&config, &[], &[])));
    assert!(!allowed_remote(&refusal(
        &config,
        &["--allow-remote=false"],
        &[]
    )));
    for off in ["0", "false", "no", "off"] {
        let err = refusal(&config, &[], &[("KEYHATCH_ALLOW_REMOTE", off)]);
        assert!(!allowed_remote(&err), "KEYHATCH_ALLOW_REMOTE={off}");
    }
    let err = refusal(
        &config,
        &["--allow-remote"],
        &[("KEYHATCH_ALLOW_REMOTE", "0")],
    );
    assert!(allowed_remote(&err), "the flag is over the environment");
}

#[test]
fn the_environment_turns_a_boolean_on_with_one_as_well_as_true() {
    let dir = tempfile::tempdir().unwrap();
    let config = settings_file(&dir, &REMOTE_AND_STRAY_CA.replace("= true", "= false"));
    assert!(!allowed_remote(&refusal(&config, &[], &[])));
    for on in ["1", "true", "yes", "on"] {
        let err = refusal(&config, &[], &[("KEYHATCH_ALLOW_REMOTE", on)]);
        assert!(allowed_remote(&err), "KEYHATCH_ALLOW_REMOTE={on}");
    }
}

#[test]
fn a_wrong_value_in_the_file_names_the_file_its_line_the_key_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let config = settings_file(&dir, "[keyhatch]\nlock-timeout = \"soon\"\n");
    let err = refusal(&config, &[], &[]);
    assert!(
        err.contains(&format!(
            "settings file {}: line 2: lock-timeout = \"soon\": invalid digit",
            config.display()
        )),
        "{err}"
    );
    let config = settings_file(&dir, "[keyhatch]\n\nlock-timeot = 3\n");
    let err = refusal(&config, &[], &[]);
    assert!(
        err.contains("line 3: unknown setting `lock-timeot`"),
        "{err}"
    );
}
