//! A settings file reached through a directory another account can write: that account could
//! swap in its own settings between keyhatch's check and its read, so it is refused outright.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::helpers::Account;

/// keyhatch's exit code and standard error when started with the settings file `config`; no
/// code when it was still serving after 10 seconds (then stopped).
fn start_with(config: &Path, home: &Path) -> (Option<i32>, String) {
    crate::helpers::exit_of(
        Command::new(env!("CARGO_BIN_EXE_keyhatch"))
            .arg("--config")
            .arg(config)
            .args(["--addr", "127.0.0.1:0", "--home"])
            .arg(home)
            .env("KEYHATCH_TOKEN", crate::helpers::TOKEN)
            .env("XDG_RUNTIME_DIR", home)
            .env_remove("KEYHATCH_CONFIG"),
    )
}

#[test]
fn a_settings_file_below_a_directory_another_account_can_write_is_refused_naming_it() {
    let top = tempfile::tempdir().unwrap();
    fs::set_permissions(top.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let shared = top.path().join("shared");
    let conf = shared.join("conf");
    fs::create_dir_all(&conf).unwrap();
    // A directory every account can write, not sticky: anyone may rename `conf` away and put
    // their own in its place.
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    let config = conf.join("keyhatch.toml");
    fs::write(&config, "[keyhatch]\ntag = \"lab\"\n").unwrap();
    let (code, err) = start_with(&config, top.path());
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("{} ", shared.display())) && err.contains("mode 777"),
        "{err}"
    );

    // A directory on the way that another account owns.
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o755)).unwrap();
    let stranger = Account::create();
    std::os::unix::fs::chown(&shared, Some(stranger.uid), None).unwrap();
    let (code, err) = start_with(&config, top.path());
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("{} ", shared.display()))
            && err.contains(&format!("uid {}", stranger.uid)),
        "{err}"
    );
}
