//! keyhatch's settings: defaults, then `Leptos.toml`, then environment variables, then flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use leptos::config::{LeptosOptions, get_configuration};
use serde::Deserialize;

use crate::model::Account;
use crate::ssh::store::{DEFAULT_MAX_SIZE, Step};
use crate::ssh::{InvalidSetting, KeyOptions, Tag};

/// Command-line flags; each also reads the environment variable named beside it.
#[derive(Debug, Parser)]
#[command(
    name = "keyhatch",
    version,
    about = "Generate SSH keys for your account from a web page."
)]
pub struct Cli {
    /// Settings file: a [keyhatch] table and the Leptos runtime options.
    #[arg(long, env = "KEYHATCH_CONFIG", default_value = "Leptos.toml")]
    pub config: PathBuf,
    /// Address to listen on [default: 127.0.0.1:3000]; port 0 picks a free one.
    #[arg(long, env = "KEYHATCH_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Home directory whose ~/.ssh/authorized_keys is managed [default: your account's home].
    #[arg(long, env = "KEYHATCH_HOME")]
    pub home: Option<PathBuf>,
    /// Comment word that marks keyhatch's keys [default: fileglancer].
    #[arg(long, env = "KEYHATCH_TAG")]
    pub tag: Option<String>,
    /// Options written before each new key; "" for none [default: restrict,pty].
    #[arg(long, env = "KEYHATCH_KEY_OPTIONS", allow_hyphen_values = true)]
    pub key_options: Option<String>,
    /// Largest authorized_keys keyhatch writes to, in bytes [default: 1048576].
    #[arg(long, env = "KEYHATCH_MAX_FILE_SIZE")]
    pub max_file_size: Option<u64>,
}

/// The `[keyhatch]` table of the settings file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileSettings {
    addr: Option<SocketAddr>,
    home: Option<PathBuf>,
    token: Option<String>,
    tag: Option<String>,
    key_options: Option<String>,
    max_file_size: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct SettingsFile {
    #[serde(default)]
    keyhatch: FileSettings,
}

/// Everything the server needs to start, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The home directory whose keys are managed.
    pub home: PathBuf,
    /// A fixed login token, or `None` for a fresh random one at each start.
    pub token: Option<String>,
    /// The comment word of keyhatch's keys.
    pub tag: Tag,
    /// The options written before each new key.
    pub key_options: KeyOptions,
    /// The largest `authorized_keys` keyhatch writes to.
    pub max_file_size: u64,
    /// The account the server runs as.
    pub account: Account,
    /// Debug builds only, for the crash tests: the rewrite step at which to die
    /// (`KEYHATCH_CRASH_AT`).
    pub crash_at: Option<Step>,
    /// Leptos's runtime options (site root, output name, …).
    pub leptos: LeptosOptions,
}

/// Why keyhatch cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The settings file exists but cannot be read or parsed.
    #[error("settings file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A setting has a value keyhatch refuses.
    #[error(transparent)]
    Invalid(#[from] InvalidSetting),
    /// The account the process runs as has no passwd entry.
    #[error("cannot find the passwd entry of uid {0}; set a home with --home")]
    NoAccount(u32),
    /// `KEYHATCH_CRASH_AT` names no step of a rewrite.
    #[error("KEYHATCH_CRASH_AT: {0}")]
    CrashAt(String),
    /// The login token is too short to be safe.
    #[error("KEYHATCH_TOKEN must be at least 16 characters")]
    WeakToken,
}

impl Settings {
    /// Layers defaults, the settings file named by `cli.config` (when present), the environment
    /// (`KEYHATCH_TOKEN` is read from it here; the others by clap) and the flags.
    pub fn load(cli: Cli) -> Result<Self, SettingsError> {
        let file = read_file(&cli.config)?;
        let account = current_account()?;
        let home = cli
            .home
            .or(file.keyhatch.home)
            .or(account.1)
            .ok_or(SettingsError::NoAccount(nix::unistd::getuid().as_raw()))?;
        let token = std::env::var("KEYHATCH_TOKEN").ok().or(file.keyhatch.token);
        if token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(SettingsError::WeakToken);
        }
        let tag = cli.tag.or(file.keyhatch.tag);
        let key_options = cli.key_options.or(file.keyhatch.key_options);
        Ok(Self {
            addr: cli
                .addr
                .or(file.keyhatch.addr)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000))),
            home,
            token,
            tag: tag
                .as_deref()
                .map(Tag::parse)
                .transpose()?
                .unwrap_or_default(),
            key_options: key_options
                .as_deref()
                .map(KeyOptions::parse)
                .transpose()?
                .unwrap_or_default(),
            max_file_size: cli
                .max_file_size
                .or(file.keyhatch.max_file_size)
                .unwrap_or(DEFAULT_MAX_SIZE),
            account: account.0,
            crash_at: crash_at()?,
            leptos: file.leptos,
        })
    }
}

/// The crash test's step from `KEYHATCH_CRASH_AT`, read only by debug builds: a release build
/// cannot be told to die.
fn crash_at() -> Result<Option<Step>, SettingsError> {
    if !cfg!(debug_assertions) {
        return Ok(None);
    }
    std::env::var("KEYHATCH_CRASH_AT")
        .ok()
        .map(|s| s.parse().map_err(SettingsError::CrashAt))
        .transpose()
}

struct LoadedFile {
    keyhatch: FileSettings,
    leptos: LeptosOptions,
}

/// Reads the settings file; a missing file means defaults, so the binary runs anywhere.
fn read_file(path: &Path) -> Result<LoadedFile, SettingsError> {
    let file_error = |message: String| SettingsError::File {
        path: path.to_owned(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let leptos = get_configuration(None).map_err(|e| file_error(e.to_string()))?;
            return Ok(LoadedFile {
                keyhatch: FileSettings::default(),
                leptos: leptos.leptos_options,
            });
        }
        Err(e) => return Err(file_error(e.to_string())),
    };
    let parsed: SettingsFile = toml::from_str(&text).map_err(|e| file_error(e.to_string()))?;
    let leptos =
        leptos::config::get_config_from_str(&text).map_err(|e| file_error(e.to_string()))?;
    Ok(LoadedFile {
        keyhatch: parsed.keyhatch,
        leptos,
    })
}

/// The account this process runs as, and its passwd home directory.
fn current_account() -> Result<(Account, Option<PathBuf>), SettingsError> {
    let uid = nix::unistd::getuid();
    let user = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .ok_or(SettingsError::NoAccount(uid.as_raw()))?;
    let gecos = user.gecos.to_string_lossy();
    let full_name = gecos.split(',').next().unwrap_or("").trim();
    let display_name = if full_name.is_empty() {
        user.name.clone()
    } else {
        full_name.to_owned()
    };
    Ok((
        Account {
            user: user.name,
            display_name,
        },
        Some(user.dir),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keyhatch_table_is_read_and_unknown_keys_are_refused() {
        let ok: SettingsFile =
            toml::from_str("[keyhatch]\ntag = \"lab\"\nkey-options = \"\"\n").unwrap();
        assert_eq!(ok.keyhatch.tag.as_deref(), Some("lab"));
        assert_eq!(ok.keyhatch.key_options.as_deref(), Some(""));
        assert!(toml::from_str::<SettingsFile>("[keyhatch]\ntagg = \"lab\"\n").is_err());
    }

    #[test]
    fn the_committed_leptos_toml_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Leptos.toml");
        let loaded = read_file(&path).unwrap();
        assert_eq!(&*loaded.leptos.output_name, "keyhatch");
        assert_eq!(&*loaded.leptos.site_pkg_dir, "pkg");
    }
}
