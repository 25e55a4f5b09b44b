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

/// Red team (helper-65): a local-mode `--audit-log` was opened whatever was at its path.
/// Another account's file, made first in `/tmp`, took the person's lines (it read them and
/// added a forged one), and a FIFO held the start for good. A log in a directory another
/// account can change is refused, as a `--socket` is; so is anything but a regular file of the
/// person's that no other may write.
#[test]
fn an_audit_log_another_account_could_make_or_read_is_refused() {
    use super::login_link::RemovedOnDrop;
    use super::socket_path::{keyhatch_as, mkdir_as};

    let alice = Account::create_person();
    let stranger = Account::create();
    let planted = std::path::PathBuf::from(format!("/tmp/kh-audit-{}.log", alice.uid));
    let _made = RemovedOnDrop(vec![
        planted.clone(),
        format!("/tmp/keyhatch-{}", alice.uid).into(),
    ]);
    let made = stranger.run(
        "sh",
        &["-c", &format!("umask 0; : > {}", planted.display())],
    );
    assert!(made.status.success(), "{made:?}");
    let start = |log: &Path| {
        let log = format!("--audit-log={}", log.display());
        crate::helpers::exit_of(
            keyhatch_as(&alice, &["--addr", "127.0.0.1:0", &log])
                .env("KEYHATCH_TOKEN", crate::helpers::TOKEN),
        )
    };
    let (code, err) = start(&planted);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot write the audit log to"), "{err}");
    assert!(err.contains("give audit-log a path"), "{err}");
    assert_eq!(
        fs::read_to_string(&planted).unwrap(),
        "",
        "no line reached it"
    );

    // helper-68: the missing directories were made before the look, through another account's
    // link: a refused start left a directory where the link led, `~/.ssh/authorized_keys`.
    let share = std::path::PathBuf::from(format!("/tmp/kh-share-{}", alice.uid));
    let _share = RemovedOnDrop(vec![share.clone()]);
    let ssh = alice.home().join(".ssh");
    mkdir_as(&alice, &ssh);
    let made = stranger.run(
        "sh",
        &[
            "-c",
            &format!(
                "mkdir -m 755 {0} && ln -s {1} {0}/logs",
                share.display(),
                ssh.display()
            ),
        ],
    );
    assert!(made.status.success(), "{made:?}");
    let (code, err) = start(&share.join("logs/authorized_keys/audit.log"));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        !ssh.join("authorized_keys").exists(),
        "a directory was made through the link: {err}"
    );

    let run = alice.home().join("run");
    mkdir_as(&alice, &run);
    let fifo = run.join("audit.log");
    let made = alice.run("mkfifo", &[fifo.to_str().unwrap()]);
    assert!(made.status.success(), "{made:?}");
    let (code, err) = start(&fifo);
    assert_eq!(code, Some(1), "a FIFO held the start: {err}");
    assert!(err.contains("it is not a regular file"), "{err}");
}
