use std::path::Path;

use super::*;
use crate::server::settings::Mode;

fn args(flags: &[&str]) -> Vec<OsString> {
    std::iter::once("keyhatch")
        .chain(flags.iter().copied())
        .map(OsString::from)
        .collect()
}

fn with_file(flags: &[&str], text: &str) -> Result<(Cli, Option<String>), SettingsError> {
    parse(
        &args(flags),
        Some((Path::new("/etc/keyhatch/keyhatch.toml"), text)),
    )
}

fn file_error(flags: &[&str], text: &str) -> String {
    match with_file(flags, text) {
        Err(SettingsError::File { message, .. }) => message,
        other => panic!("{text:?} was not refused: {other:?}"),
    }
}

#[test]
fn the_defaults_are_the_declared_ones() {
    let (cli, token) = parse(&args(&[]), None).unwrap();
    assert_eq!(cli.serving.mode, Mode::Local);
    assert_eq!(cli.keys.tag.as_str(), "fileglancer");
    assert_eq!(cli.keys.key_options.as_str(), "restrict,pty");
    assert_eq!(cli.limits.max_file_size, 16 << 20);
    assert_eq!(cli.limits.lock_timeout, 10);
    assert!(!cli.serving.allow_remote);
    assert!(cli.serving.allowed_hosts.is_empty());
    assert_eq!(token, None);
}

#[test]
fn the_file_is_under_the_flags() {
    let file = "[keyhatch]\ntag = \"lab\"\nlock-timeout = 3\nmax-uid = 60000\nmode = \"site\"\n";
    let (cli, _) = with_file(&[], file).unwrap();
    assert_eq!(cli.keys.tag.as_str(), "lab");
    assert_eq!(cli.limits.lock_timeout, 3);
    assert_eq!(cli.site.max_uid, Some(60000));
    assert_eq!(cli.serving.mode, Mode::Site);

    let (cli, _) = with_file(&["--tag", "other", "--mode", "local"], file).unwrap();
    assert_eq!(cli.keys.tag.as_str(), "other");
    assert_eq!(cli.serving.mode, Mode::Local);
    assert_eq!(cli.limits.lock_timeout, 3, "a key the flags leave alone");
}

#[test]
fn an_empty_string_and_a_leading_hyphen_are_values_too() {
    let (cli, _) = with_file(&[], "[keyhatch]\nkey-options = \"\"\n").unwrap();
    assert_eq!(cli.keys.key_options.as_str(), "");
    let (cli, _) = with_file(&[], "[keyhatch]\ntag = \"-lab\"\n").unwrap();
    assert_eq!(cli.keys.tag.as_str(), "-lab", "a value, not a flag");
}

#[test]
fn a_boolean_set_in_the_file_can_be_set_back_to_false() {
    let file = "[keyhatch]\nallow-remote = true\nuser-map-lowercase = true\n";
    let (cli, _) = with_file(&[], file).unwrap();
    assert!(cli.serving.allow_remote && cli.site.user_map_lowercase);
    let (cli, _) = with_file(
        &["--allow-remote=false", "--user-map-lowercase=false"],
        file,
    )
    .unwrap();
    assert!(!cli.serving.allow_remote && !cli.site.user_map_lowercase);
    let (cli, _) = with_file(&["--allow-remote"], "").unwrap();
    assert!(cli.serving.allow_remote, "the flag alone still means true");
}

#[test]
fn a_list_from_the_flags_replaces_the_files() {
    let file = "[keyhatch]\nallowed-hosts = [\"a.example\", \"b.example\"]\n";
    let (cli, _) = with_file(&[], file).unwrap();
    assert_eq!(cli.serving.allowed_hosts, ["a.example", "b.example"]);
    let (cli, _) = with_file(&["--allowed-host", "c.example"], file).unwrap();
    assert_eq!(cli.serving.allowed_hosts, ["c.example"]);
    let (cli, _) = with_file(&[], "[keyhatch]\nallowed-hosts = []\n").unwrap();
    assert!(cli.serving.allowed_hosts.is_empty());
}

#[test]
fn the_token_is_read_from_the_file_and_is_no_flag() {
    let (_, token) = with_file(&[], "[keyhatch]\ntoken = \"t\"\n").unwrap();
    assert_eq!(token.as_deref(), Some("t"));
    assert!(matches!(
        parse(&args(&["--token", "t"]), None),
        Err(SettingsError::Flags(_))
    ));
    assert!(file_keys().contains(&"token".to_owned()));
    assert!(!file_keys().contains(&"config".to_owned()));
}

#[test]
fn bad_files_are_refused_with_the_key_and_why() {
    let cases = [
        ("[keyhatch]\ntagg = \"lab\"\n", "unknown setting `tagg`"),
        ("[keyhatch]\nconfig = \"x\"\n", "unknown setting `config`"),
        ("[other]\n", "unknown table or key `other`"),
        ("keyhatch = 1\n", "[keyhatch] must be a table"),
        (
            "[keyhatch]\nlock-timeout = \"soon\"\n",
            "lock-timeout = \"soon\": invalid digit",
        ),
        ("[keyhatch]\nlock-timeout = -1\n", "lock-timeout = \"-1\""),
        (
            "[keyhatch]\nmode = \"both\"\n",
            "mode = \"both\": not one of local, site",
        ),
        ("[keyhatch]\naddr = \"nowhere\"\n", "addr = \"nowhere\""),
        (
            "[keyhatch]\nallow-remote = \"maybe\"\n",
            "allow-remote = \"maybe\"",
        ),
        (
            "[keyhatch]\ntag = [\"a\"]\n",
            "tag takes one value, not a list",
        ),
        (
            "[keyhatch]\nallowed-hosts = \"a\"\n",
            "allowed-hosts is a list",
        ),
        (
            "[keyhatch]\ntrusted-proxies = [\"10.0.0.256\"]\n",
            "10.0.0.256",
        ),
        ("[keyhatch]\nmax-keys = 1.5\n", "not float"),
        ("[keyhatch]\ntoken = 5\n", "token must be a string"),
        ("[keyhatch\n", "line 1, column 10: unclosed table"),
    ];
    for (text, expected) in cases {
        let message = file_error(&[], text);
        assert!(message.contains(expected), "{text:?}: {message}");
        assert!(!message.contains("'--"), "{text:?} names a flag: {message}");
    }
}

#[test]
fn every_setting_has_its_environment_variable_named_after_its_file_key() {
    let command = Cli::command();
    for arg in settings(&command) {
        let expected = format!(
            "KEYHATCH_{}",
            file_key(arg).replace('-', "_").to_uppercase()
        );
        assert_eq!(
            arg.get_env().and_then(|e| e.to_str()),
            Some(expected.as_str()),
            "{}",
            file_key(arg)
        );
        assert!(
            arg.get_help().is_some(),
            "{} has no doc line",
            file_key(arg)
        );
        assert!(
            arg.get_help_heading().is_some(),
            "{} has no --help heading",
            file_key(arg)
        );
    }
}

#[test]
fn a_syntax_error_names_its_line_and_column_but_never_quotes_the_line() {
    let text = "[keyhatch]\nmode = \"local\"\ntoken = \"s3cret-token\"value\"\n";
    let err = file_defaults(&Cli::command(), text).unwrap_err();
    assert!(err.starts_with("line 3, column "), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}
