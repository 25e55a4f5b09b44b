//! Every key the settings file takes is documented where a site administrator looks: in
//! `deploy/keyhatch.toml` and in the README's Settings table. The keys come from the code, so a
//! new setting fails these tests until it is written down.

use std::path::Path;

use clap::{Arg, CommandFactory};

use super::layered::{TOKEN_KEY, file_key, file_keys};
use crate::declared::Cli;

/// Every flag the settings file may set, with its file key.
fn settings() -> Vec<(String, Arg)> {
    let command = Cli::command();
    let keys = file_keys();
    command
        .get_arguments()
        .filter(|arg| keys.contains(&file_key(arg)))
        .map(|arg| (file_key(arg), arg.clone()))
        .collect()
}

/// The default `--help` shows for `arg`, when it has one.
fn default_of(arg: &Arg) -> Option<String> {
    let defaults = arg.get_default_values();
    (!defaults.is_empty()).then(|| {
        defaults
            .iter()
            .map(|d| d.to_string_lossy())
            .collect::<Vec<_>>()
            .join(",")
    })
}

fn repo(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn the_keys_are_read_from_the_code() {
    let keys = file_keys();
    assert!(
        keys.contains(&"public-url".to_owned()) && keys.contains(&"allowed-hosts".to_owned()),
        "{keys:?}"
    );
}

#[test]
fn every_setting_is_in_the_shipped_settings_file() {
    let example = repo("deploy/keyhatch.toml");
    let written: Vec<&str> = example
        .lines()
        .map(|l| l.trim_start_matches('#').trim_start())
        .filter_map(|l| l.split_once(" = ").map(|(key, _)| key))
        .collect();
    let missing: Vec<String> = file_keys()
        .into_iter()
        .filter(|k| !written.contains(&k.as_str()))
        .collect();
    assert!(missing.is_empty(), "deploy/keyhatch.toml lacks {missing:?}");
}

/// The README's Settings table: each row's cells, by column name.
fn readme_rows() -> Vec<std::collections::HashMap<String, String>> {
    let readme = repo("README.md");
    let table = &readme[readme.find("## Settings").expect("a Settings section")..];
    let mut lines = table
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| l.starts_with('|'));
    let cells = |l: &str| -> Vec<String> {
        l.trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_owned())
            .collect()
    };
    let header = cells(lines.next().expect("the table's header"));
    lines
        .skip(1)
        .map(|l| header.iter().cloned().zip(cells(l)).collect())
        .collect()
}

#[test]
fn every_setting_has_its_row_in_the_readme_table_with_its_flag_variable_and_default() {
    let rows = readme_rows();
    let mut wrong = Vec::new();
    for (key, arg) in settings() {
        let Some(row) = rows
            .iter()
            .find(|r| r["file key"].starts_with(&format!("`{key}`")))
        else {
            wrong.push(format!("{key}: no row whose file key is `{key}`"));
            continue;
        };
        let flag = format!("`--{}", arg.get_long().unwrap());
        if !row["flag"].starts_with(&flag) {
            wrong.push(format!(
                "{key}: the flag column does not start with {flag}`"
            ));
        }
        let env = format!("`{}`", arg.get_env().unwrap().to_string_lossy());
        if !row["environment"].starts_with(&env) {
            wrong.push(format!(
                "{key}: the environment column does not start with {env}"
            ));
        }
        if let Some(default) = default_of(&arg)
            && !row["default"].starts_with(&format!("`{default}`"))
        {
            wrong.push(format!(
                "{key}: the default column does not start with `{default}`"
            ));
        }
    }
    let token = rows
        .iter()
        .any(|r| r["file key"] == format!("`{TOKEN_KEY}`"));
    if !token {
        wrong.push("token: no row".into());
    }
    assert!(
        wrong.is_empty(),
        "the README's Settings table:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_shipped_settings_files_commented_values_are_the_defaults() {
    let example = repo("deploy/keyhatch.toml");
    let mut wrong = Vec::new();
    for line in example.lines().filter_map(|l| l.strip_prefix("# ")) {
        let Some((key, value)) = line.split_once(" = ") else {
            continue;
        };
        let Some((_, arg)) = settings().into_iter().find(|(k, _)| k == key) else {
            continue;
        };
        let Some(default) = default_of(&arg) else {
            continue;
        };
        let table: toml::Table =
            toml::from_str(&format!("v = {value}")).unwrap_or_else(|e| panic!("{line}: {e}"));
        let parsed = table["v"].clone();
        let text = match parsed {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => format!("{other:?}"),
        };
        if text != default {
            wrong.push(format!(
                "{key}: commented as {value}, the default is {default}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "deploy/keyhatch.toml:\n{}",
        wrong.join("\n")
    );
}
