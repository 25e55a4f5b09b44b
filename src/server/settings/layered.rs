//! The settings file under the environment and the flags, by one parser: each key of the file's
//! `[keyhatch]` table becomes its flag's default, checked by that flag's own value parser, and
//! clap then reads the command line as it always does (flag over environment over default). So a
//! boolean in the file can be turned off by `--allow-remote=false`, a list from the flags
//! replaces the file's, and the file is read with the same rules as the flags.

use std::ffi::OsString;
use std::path::Path;

use clap::error::{ContextKind, ContextValue};
use clap::{Arg, ArgAction, Command, CommandFactory, FromArgMatches};

use super::error::SettingsError;
use crate::declared::Cli;

/// The file key that has no flag: the scripts' credential (`ps` would show a flag).
pub const TOKEN_KEY: &str = "token";

/// Flags that are not settings of the file.
const NOT_IN_FILE: [&str; 3] = ["config", "help", "version"];

/// The settings read from `args` (the program's name first) over the settings file's text at
/// `file`, and the file's `token`.
pub fn parse(
    args: &[OsString],
    file: Option<(&Path, &str)>,
) -> Result<(Cli, Option<String>), SettingsError> {
    let mut command = Cli::command();
    let mut token = None;
    if let Some((path, text)) = file {
        let refuse = |message: String| SettingsError::File {
            path: path.to_owned(),
            message,
        };
        let (defaults, file_token) = file_defaults(&command, text).map_err(refuse)?;
        token = file_token;
        for (id, values) in defaults {
            command = command.mut_arg(id, |arg| arg.default_values(values));
        }
    }
    let matches = command
        .try_get_matches_from(args)
        .map_err(|e| SettingsError::Flags(first_line(&e.to_string())))?;
    let cli = Cli::from_arg_matches(&matches)
        .map_err(|e| SettingsError::Flags(first_line(&e.to_string())))?;
    Ok((cli, token))
}

/// The file's keys, as the settings file names them: every flag's id in kebab-case, and `token`.
#[cfg(test)]
pub fn file_keys() -> Vec<String> {
    let command = Cli::command();
    let mut keys: Vec<String> = settings(&command).map(file_key).collect();
    keys.push(TOKEN_KEY.to_owned());
    keys
}

/// The flags a settings file may set.
fn settings(command: &Command) -> impl Iterator<Item = &Arg> {
    command
        .get_arguments()
        .filter(|arg| arg.get_long().is_some() && !NOT_IN_FILE.contains(&arg.get_id().as_str()))
}

/// The key of `arg` in the settings file.
pub fn file_key(arg: &Arg) -> String {
    arg.get_id().as_str().replace('_', "-")
}

/// Each key of `text`'s `[keyhatch]` table as its flag's id and default values, checked as the
/// flag would be; and the token. A key's mistake names its line.
#[allow(clippy::type_complexity)]
fn file_defaults(
    command: &Command,
    text: &str,
) -> Result<(Vec<(String, Vec<String>)>, Option<String>), String> {
    let mut top: toml::Table = toml::from_str(text).map_err(|e| syntax_error(text, &e))?;
    let table = match top.remove("keyhatch") {
        Some(toml::Value::Table(table)) => table,
        Some(_) => {
            return Err(at_line(
                text,
                "keyhatch",
                "[keyhatch] must be a table".into(),
            ));
        }
        None => toml::Table::new(),
    };
    if let Some(other) = top.keys().next() {
        let why = format!("unknown table or key `{other}`: keyhatch reads only [keyhatch]");
        return Err(at_line(text, other, why));
    }
    let mut defaults = Vec::new();
    let mut token = None;
    for (key, value) in table {
        let in_table = |why: String| at_line(text, &format!("keyhatch.{key}"), why);
        if key == TOKEN_KEY {
            match value {
                toml::Value::String(s) => token = Some(s),
                _ => return Err(in_table(format!("{TOKEN_KEY} must be a string"))),
            }
            continue;
        }
        let (id, values) = file_default(command, &key, value).map_err(in_table)?;
        defaults.push((id, values));
    }
    Ok((defaults, token))
}

/// Where and why `text` is not TOML, without quoting the line: it may hold the token.
fn syntax_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end();
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = line_of(text, span.start);
            let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

/// The file's `key = value` as its flag's id and values, checked by the flag's parser.
fn file_default(
    command: &Command,
    key: &str,
    value: toml::Value,
) -> Result<(String, Vec<String>), String> {
    let arg = settings(command)
        .find(|arg| file_key(arg) == key)
        .ok_or_else(|| format!("unknown setting `{key}` (keyhatch --help lists them)"))?;
    let list = matches!(arg.get_action(), ArgAction::Append);
    let values = match value {
        toml::Value::Array(items) if list => items
            .into_iter()
            .map(|item| scalar(key, item))
            .collect::<Result<_, _>>()?,
        toml::Value::Array(_) => return Err(format!("{key} takes one value, not a list")),
        _ if list => return Err(format!("{key} is a list: write [\"…\", …]")),
        value => vec![scalar(key, value)?],
    };
    for value in &values {
        check(arg, value).map_err(|why| format!("{key} = {value:?}: {why}"))?;
    }
    Ok((arg.get_id().as_str().to_owned(), values))
}

/// `why`, after the line of `text` where the dotted `key` is written (`keyhatch.tag`, or a
/// top-level key).
fn at_line(text: &str, key: &str, why: String) -> String {
    match key_offset(text, key) {
        Some(offset) => format!("line {}: {why}", line_of(text, offset)),
        None => why,
    }
}

/// The line, from 1, of the byte at `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Where the dotted `key` is written in `text`: the span of its last part.
fn key_offset(text: &str, key: &str) -> Option<usize> {
    let top = toml::de::DeTable::parse(text).ok()?;
    let mut table = top.get_ref();
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let (name, value) = table.iter().find(|(name, _)| name.get_ref() == part)?;
        if parts.peek().is_none() {
            return Some(name.span().start);
        }
        match value.get_ref() {
            toml::de::DeValue::Table(inner) => table = inner,
            _ => return None,
        }
    }
    None
}

/// Whether `arg`'s own parser takes `value`, as if given as `--flag=value` (clap keeps its
/// parsers' entry point private), and why not.
fn check(arg: &Arg, value: &str) -> Result<(), String> {
    let long = arg.get_long().expect("settings are flags");
    Command::new("keyhatch")
        .no_binary_name(true)
        .arg(arg.clone())
        .try_get_matches_from([format!("--{long}={value}")])
        .map(drop)
        .map_err(|e| match e.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(valid)) => format!("not one of {}", valid.join(", ")),
            _ => reason(&e.to_string()),
        })
}

/// A string, number or boolean of the file as the flag's text.
fn scalar(key: &str, value: toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "{key} takes a string, a whole number or true/false, not {}",
            other.type_str()
        )),
    }
}

/// The first line of clap's message, without its `error: ` prefix.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message);
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

/// Why clap refused a value, without the flag's usage it names (the file names its key).
fn reason(message: &str) -> String {
    let line = first_line(message);
    match line.rsplit_once("': ") {
        Some((_, why)) => why.to_owned(),
        None => line,
    }
}

#[cfg(test)]
mod tests;
