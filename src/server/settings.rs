//! keyhatch's settings: defaults, then the settings file, then environment variables, then
//! flags. Nothing is read from the working directory: the settings file is the one named by
//! `--config`, else `$XDG_CONFIG_HOME/keyhatch/keyhatch.toml`, else
//! `/etc/keyhatch/keyhatch.toml`, and it is refused when another account could have written it.
//! The browser bundle is found beside the executable, never in the working directory.
#![deny(missing_docs)]

#[cfg(test)]
mod documented;
mod error;
mod layered;
mod site;
mod site_checks;

pub use crate::declared::{Cli, Command, Mode};
pub use error::{MIN_TOKEN_LEN, SettingsError};
pub use site::{HealthAccount, SiteSettings};
pub use site_checks::{is_own_address, own_addresses};

use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use leptos::config::{Env, LeptosOptions};

use crate::declared::{self, Keys, Limits, Serving};
use crate::model::{Account, Logout};
use crate::seqera::{Platform, PlatformUrl};
use crate::ssh::store::Step;

mod safe_file;

/// Where keyhatch listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket at this path.
    Unix(PathBuf),
}

/// Everything the server needs to start, validated: the declared groups whole, as the code
/// that acts on them reads them, and what was worked out from them at start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The settings file read, if any.
    pub file: Option<PathBuf>,
    /// Where and how keyhatch serves, as declared.
    pub serving: Serving,
    /// Whose keys, and how keyhatch writes them, as declared (the home as worked out is
    /// [`Self::home`]).
    pub keys: Keys,
    /// The bounds on files (both modes) and on each person (site mode), as declared.
    pub limits: Limits,
    /// Site mode's settings, checked; `None` in local mode.
    pub site: Option<SiteSettings>,
    /// Where to listen.
    pub listen: Listen,
    /// Host names accepted besides the loopback ones: `allowed-hosts`, and in site mode the
    /// public host.
    pub allowed_hosts: Vec<String>,
    /// The home directory whose keys are managed.
    pub home: PathBuf,
    /// A fixed login token, or `None` for a fresh random one at each start.
    pub token: Option<String>,
    /// The audit log file, or `None` for standard error.
    pub audit_log: Option<PathBuf>,
    /// The account the server runs as.
    pub account: Account,
    /// Said once at start when the account was not found in the account database and was
    /// taken from the uid and `$HOME` instead (local mode, a static build without NSS).
    pub account_note: Option<String>,
    /// The uid the server runs as.
    pub uid: u32,
    /// Leptos's runtime options: the bundle's name and where its files are.
    pub leptos: LeptosOptions,
    /// Debug builds only, for the crash tests: the rewrite step at which to die
    /// (`KEYHATCH_CRASH_AT`).
    pub crash_at: Option<Step>,
    /// Seqera Platform, when `seqera-url` is set.
    pub seqera: Option<Platform>,
}

impl Settings {
    /// The settings from `args` (the program's name first, as `keyhatch` was started), over
    /// the settings file `config` names (else the account's or the system's), over the
    /// defaults; `KEYHATCH_TOKEN` is read here, the other variables by the flags' parser.
    pub fn load(config: Option<&Path>, args: &[OsString]) -> Result<Self, SettingsError> {
        let (uid, entry) = current_account();
        let passwd_home = entry
            .as_ref()
            .map(|(_, home)| home.clone())
            .or_else(env_home);
        let file = settings_path(config, &passwd_home);
        let (cli, file_token) = match &file {
            Some(path) => {
                let text = safe_file::read(path, uid)?;
                layered::parse(args, Some((path, &text)))?
            }
            None => layered::parse(args, None)?,
        };
        let Cli {
            serving,
            keys,
            site,
            limits,
            seqera,
            ..
        } = cli;
        let from_uid = entry.is_none();
        let account = match entry {
            Some((account, _)) => account,
            None if serving.mode == Mode::Local => account_from_uid(uid),
            None => return Err(SettingsError::NoAccount(uid)),
        };
        let home = keys
            .home
            .clone()
            .or_else(|| passwd_home.clone())
            .ok_or(SettingsError::NoAccount(uid))?;
        let account_note = from_uid.then(|| {
            format!(
                "uid {uid} has no passwd entry this keyhatch can read (a static build reads \
                 /etc/passwd and nscd, not LDAP or SSSD): serving it as {}, home {}",
                account.user,
                home.display()
            )
        });
        let token = std::env::var("KEYHATCH_TOKEN").ok().or(file_token);
        let mut allowed_hosts = serving.allowed_hosts.clone();
        let site = match serving.mode {
            Mode::Local => {
                if token
                    .as_ref()
                    .is_some_and(|t| t.chars().count() < MIN_TOKEN_LEN)
                {
                    return Err(SettingsError::WeakToken);
                }
                refuse_root_on_other_home(uid, &home)?;
                None
            }
            Mode::Site if cfg!(target_env = "musl") => return Err(SettingsError::StaticSite),
            Mode::Site => {
                let site = site::settings(uid, site, &limits)?;
                allowed_hosts.push(site.public_host.clone());
                Some(site)
            }
        };
        let listen = match serving.socket.clone() {
            Some(path) if path.as_os_str().is_empty() && serving.mode == Mode::Site => {
                Listen::Unix(PathBuf::from("/run/keyhatch/keyhatch.sock"))
            }
            Some(path) if path.as_os_str().is_empty() => Listen::Unix(default_socket(uid)),
            // Absolute, as it is printed for `ssh -L`: sshd reads a relative path from its own
            // working directory, `/`, where `tmp/kh.sock` is a name in `/tmp` anyone can take
            // first (red team: the person's forward reached another account's socket).
            Some(path) => Listen::Unix(std::path::absolute(&path).unwrap_or(path)),
            None => Listen::Tcp(
                serving
                    .addr
                    .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000))),
            ),
        };
        if serving.audit_log != Path::new("-") && !serving.audit_log.is_absolute() {
            return Err(SettingsError::RelativeAuditLog(serving.audit_log.clone()));
        }
        if let Listen::Tcp(addr) = listen
            && !addr.ip().is_loopback()
            && !serving.allow_remote
        {
            return Err(SettingsError::Remote(addr));
        }
        Ok(Self {
            file,
            audit_log: Some(serving.audit_log.clone()).filter(|p| p != Path::new("-")),
            serving,
            keys,
            limits,
            site,
            listen,
            allowed_hosts,
            home,
            token,
            account,
            account_note,
            uid,
            leptos: leptos_options()?,
            crash_at: crash_at()?,
            seqera: platform(seqera, uid)?,
        })
    }
}

/// Seqera Platform from its settings: `None` without a URL; a URL that is not https (or http
/// on loopback), a CA file that holds no certificate, or a zero timeout stop keyhatch at start.
/// The CA file chooses whom Platform tokens and keys are trusted to, so it is read as the
/// settings file is: refused when another account than `uid` or root could have written it or
/// a directory above it, a regular file of at most 1 MiB.
fn platform(settings: declared::Seqera, uid: u32) -> Result<Option<Platform>, SettingsError> {
    let Some(url) = settings.seqera_url.filter(|u| !u.is_empty()) else {
        if settings.seqera_ca_file.is_some() {
            return Err(SettingsError::Seqera(
                "seqera-ca-file is set but seqera-url is not".into(),
            ));
        }
        return Ok(None);
    };
    let url = PlatformUrl::parse(&url).map_err(|e| SettingsError::Seqera(e.to_string()))?;
    let ca = match &settings.seqera_ca_file {
        Some(path) => Some(safe_file::read(path, uid).map_err(|e| match e {
            SettingsError::UnsafeFile { path, why } => SettingsError::Seqera(format!(
                "seqera-ca-file {}: {why}; another account could choose whom keyhatch trusts \
                 with Platform tokens and keys. Make it yours (or root's) and writable only by \
                 its owner",
                path.display()
            )),
            SettingsError::File { message, .. } => {
                SettingsError::Seqera(format!("seqera-ca-file {}: {message}", path.display()))
            }
            other => other,
        })?),
        None => None,
    };
    if settings.seqera_timeout == 0 {
        return Err(SettingsError::Seqera(
            "seqera-timeout must be at least 1 second".into(),
        ));
    }
    let timeout = Duration::from_secs(settings.seqera_timeout);
    Platform::new(url, ca.as_deref().map(str::as_bytes), timeout)
        .map(Some)
        .map_err(|e| SettingsError::Seqera(e.to_string()))
}

/// The settings file to read: the one named, else the account's, else the system's, when it
/// exists.
fn settings_path(named: Option<&Path>, passwd_home: &Option<PathBuf>) -> Option<PathBuf> {
    if let Some(named) = named {
        return (named != Path::new("none")).then(|| named.to_owned());
    }
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| passwd_home.as_ref().map(|h| h.join(".config")));
    let candidates = config_home
        .map(|c| c.join("keyhatch/keyhatch.toml"))
        .into_iter()
        .chain([PathBuf::from("/etc/keyhatch/keyhatch.toml")]);
    candidates.into_iter().find(|p| p.exists())
}

/// Refuses to run as root on a home that belongs to another account.
fn refuse_root_on_other_home(uid: u32, home: &Path) -> Result<(), SettingsError> {
    if uid != 0 {
        return Ok(());
    }
    match std::fs::metadata(home) {
        Ok(meta) if meta.uid() != 0 => Err(SettingsError::RootOnOtherHome {
            home: home.to_owned(),
            owner: meta.uid(),
        }),
        _ => Ok(()),
    }
}

/// Where `--socket` without a path puts the socket: the per-account runtime directory.
fn default_socket(uid: u32) -> PathBuf {
    super::runtime::dir_path(uid).join("keyhatch.sock")
}

/// Leptos's options. An installed binary carries the browser bundle (`make install` embeds
/// it); a cargo build finds it beside the executable: `target/site` for
/// `target/release/keyhatch`. A build that has not made the bundle yet (cargo test) still runs;
/// its pages then load no script.
fn leptos_options() -> Result<LeptosOptions, SettingsError> {
    let exe = std::env::current_exe().map_err(|e| SettingsError::NoExecutable(e.to_string()))?;
    let site = exe.parent().unwrap_or(Path::new("/")).join("../site");
    let site = site.canonicalize().unwrap_or(site);
    Ok(LeptosOptions::builder()
        .output_name("keyhatch")
        .site_root(site.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .env(Env::PROD)
        .build())
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

/// The uid this process runs as, and its account and passwd home when the account database
/// has an entry for it. A static (musl) build reads `/etc/passwd` and asks nscd, but cannot load
/// the system's NSS modules: an account known only to LDAP or SSSD is not found there.
fn current_account() -> (u32, Option<(Account, PathBuf)>) {
    let uid = nix::unistd::getuid();
    let entry = nix::unistd::User::from_uid(uid).ok().flatten().map(|user| {
        let gecos = user.gecos.to_string_lossy();
        let full_name = gecos.split(',').next().unwrap_or("").trim();
        let display_name = if full_name.is_empty() {
            user.name.clone()
        } else {
            full_name.to_owned()
        };
        let account = Account {
            user: user.name,
            display_name,
            logout: Logout::Session,
        };
        (account, user.dir)
    });
    (uid.as_raw(), entry)
}

/// Local mode's account when the database has none for `uid`: named by `$USER` (or `$LOGNAME`)
/// where that is a plain account name, else by the uid. Only shown and audited: whose files are
/// written is decided by the uid the process runs as.
fn account_from_uid(uid: u32) -> Account {
    let plain = |name: &String| {
        !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    let user = ["USER", "LOGNAME"]
        .into_iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(plain)
        .unwrap_or_else(|| format!("uid {uid}"));
    Account {
        display_name: user.clone(),
        user,
        logout: Logout::Session,
    }
}

/// `$HOME`, when it is an absolute path.
fn env_home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|home| home.is_absolute())
}

#[cfg(test)]
mod tests;
