use std::os::unix::fs::PermissionsExt;

use super::*;

fn write(dir: &Path, text: &str, mode: u32) -> PathBuf {
    let path = dir.join("keyhatch.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn a_settings_file_others_can_write_or_own_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let uid = nix::unistd::getuid().as_raw();
    let path = write(dir.path(), "[keyhatch]\ntag = \"lab\"\n", 0o644);
    assert_eq!(
        safe_file::read(&path, uid).unwrap(),
        "[keyhatch]\ntag = \"lab\"\n"
    );

    let path = write(dir.path(), "[keyhatch]\n", 0o664);
    let err = safe_file::read(&path, uid).unwrap_err();
    assert!(matches!(err, SettingsError::UnsafeFile { .. }), "{err}");

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&path, Some(4244), None).expect("the test runs as root");
    let err = safe_file::read(&path, uid).unwrap_err();
    assert!(err.to_string().contains("belongs to uid 4244"), "{err}");

    std::os::unix::fs::chown(&path, Some(uid), None).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = safe_file::read(&path, uid).unwrap_err();
    assert!(
        matches!(err, SettingsError::UnsafeFile { .. }),
        "the directory: {err}"
    );
}

#[test]
fn root_may_not_manage_another_accounts_home() {
    let home = tempfile::tempdir().unwrap();
    assert!(refuse_root_on_other_home(0, home.path()).is_ok());
    std::os::unix::fs::chown(home.path(), Some(4245), None).expect("the test runs as root");
    let err = refuse_root_on_other_home(0, home.path()).unwrap_err();
    assert!(err.to_string().contains("site mode"), "{err}");
    assert!(refuse_root_on_other_home(4245, home.path()).is_ok());
}
