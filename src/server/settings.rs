//! keyhatch's settings: defaults, then the settings file, then environment variables, then
//! flags. Nothing is read from the working directory: the settings file is the one named by
//! `--config`, else `$XDG_CONFIG_HOME/keyhatch/keyhatch.toml`, else
//! `/etc/keyhatch/keyhatch.toml`, and it is refused when another account could have written it.
//! The browser bundle is found beside the executable, never in the working directory.

#[cfg(test)]
mod documented;
mod site_checks;

pub use site_checks::{is_own_address, own_addresses};

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use leptos::config::{Env, LeptosOptions};
use serde::Deserialize;

use crate::model::{Account, Logout};
use crate::seqera::{self, Platform, PlatformUrl};
use crate::ssh::store::{DEFAULT_MAX_SIZE, Step};
use crate::ssh::{InvalidSetting, KeyOptions, KeysFile, Tag};

mod safe_file;

/// The shortest login token keyhatch accepts: a fixed token must be long and random.
pub const MIN_TOKEN_LEN: usize = 32;

/// Command-line flags; each also reads the environment variable named beside it.
#[derive(Debug, Parser)]
#[command(
    name = "keyhatch",
    version,
    about = "Generate SSH keys for your account from a web page."
)]
pub struct Cli {
    /// What to do besides serving.
    #[command(subcommand)]
    pub command: Option<super::link::Command>,
    /// Settings file, or "none" for no file [default: $XDG_CONFIG_HOME/keyhatch/keyhatch.toml,
    /// then /etc/keyhatch/keyhatch.toml, when present].
    #[arg(long, env = "KEYHATCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:3000]; port 0 picks a free one.
    #[arg(long, env = "KEYHATCH_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Serve on a Unix socket (mode 0600) instead of TCP [default path:
    /// $XDG_RUNTIME_DIR/keyhatch/keyhatch.sock, or /tmp/keyhatch-UID/keyhatch.sock].
    // Read as an OsString: clap's path parser refuses the empty value that `--socket` alone
    // stands for.
    #[arg(
        long,
        env = "KEYHATCH_SOCKET",
        num_args = 0..=1,
        default_missing_value = "",
        value_parser = clap::builder::TypedValueParser::map(
            clap::builder::OsStringValueParser::new(),
            PathBuf::from
        )
    )]
    pub socket: Option<PathBuf>,
    /// Listen on an address other than loopback. Plain HTTP then carries private keys across
    /// the network: put TLS in front.
    #[arg(long, env = "KEYHATCH_ALLOW_REMOTE")]
    pub allow_remote: bool,
    /// A host name the page may be reached by besides 127.0.0.1, localhost and [::1]
    /// (repeatable).
    #[arg(
        long = "allowed-host",
        env = "KEYHATCH_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Home directory whose ~/.ssh/authorized_keys is managed [default: your account's home].
    #[arg(long, env = "KEYHATCH_HOME")]
    pub home: Option<PathBuf>,
    /// Comment word that marks keyhatch's keys [default: fileglancer].
    #[arg(long, env = "KEYHATCH_TAG")]
    pub tag: Option<String>,
    /// Options written before each new key; "" for none [default: restrict,pty].
    #[arg(long, env = "KEYHATCH_KEY_OPTIONS", allow_hyphen_values = true)]
    pub key_options: Option<String>,
    /// Where keys go below each home, as sshd's AuthorizedKeysFile: relative to the home or
    /// starting with %h/, %u the login name [default: .ssh/authorized_keys].
    #[arg(long, env = "KEYHATCH_AUTHORIZED_KEYS_FILE")]
    pub authorized_keys_file: Option<String>,
    /// Largest authorized_keys keyhatch reads or writes, in bytes [default: 16777216, 16 MiB].
    #[arg(long, env = "KEYHATCH_MAX_FILE_SIZE")]
    pub max_file_size: Option<u64>,
    /// Seconds to wait for another program's lock on authorized_keys [default: 10].
    #[arg(long, env = "KEYHATCH_LOCK_TIMEOUT")]
    pub lock_timeout: Option<u64>,
    /// Audit log file (JSON lines); "-" for standard error [default: -].
    #[arg(long, env = "KEYHATCH_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
    /// "local": one account's keys, behind a login token; "site": every account's, behind the
    /// site's login proxy [default: local].
    #[arg(long, env = "KEYHATCH_MODE")]
    pub mode: Option<Mode>,
    /// Site mode (required): the address people open, e.g. https://keys.example.org (its host
    /// is the only one answered).
    #[arg(long, env = "KEYHATCH_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Site mode: the header the proxy names the person in [default: X-Forwarded-User].
    #[arg(long, env = "KEYHATCH_USER_HEADER")]
    pub user_header: Option<String>,
    /// Site mode: the proxy's account, the only one whose connections to the socket (or from
    /// loopback) may carry the header.
    #[arg(long, env = "KEYHATCH_PROXY_USER")]
    pub proxy_user: Option<String>,
    /// Site mode: addresses the proxy connects from over TCP (comma-separated).
    #[arg(long, env = "KEYHATCH_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,
    /// Site mode: regular expression from the header to a login name; its first group is the
    /// name, e.g. '^([^@]+)@example\.org$' [default: the whole value].
    #[arg(long, env = "KEYHATCH_USER_MAP_MATCH")]
    pub user_map_match: Option<String>,
    /// Site mode: lowercase the mapped name.
    #[arg(long, env = "KEYHATCH_USER_MAP_LOWERCASE")]
    pub user_map_lowercase: bool,
    /// Site mode: the lowest uid served [default: 1000].
    #[arg(long, env = "KEYHATCH_MIN_UID")]
    pub min_uid: Option<u32>,
    /// Site mode: the highest uid served [default: no limit; the overflow uid, nobody's, is
    /// never served].
    #[arg(long, env = "KEYHATCH_MAX_UID")]
    pub max_uid: Option<u32>,
    /// Site mode: serve only members of this group.
    #[arg(long, env = "KEYHATCH_ALLOWED_GROUP")]
    pub allowed_group: Option<String>,
    /// Site mode: where Log out goes, e.g. /oauth2/sign_out.
    #[arg(long, env = "KEYHATCH_LOGOUT_URL")]
    pub logout_url: Option<String>,
    /// Site mode: keys a person may generate per hour [default: 10].
    #[arg(long, env = "KEYHATCH_KEYS_PER_HOUR")]
    pub keys_per_hour: Option<usize>,
    /// Site mode: keyhatch keys a person's file may hold [default: 20].
    #[arg(long, env = "KEYHATCH_MAX_KEYS")]
    pub max_keys: Option<usize>,
    /// Site mode: seconds a helper may take before it is killed [default: 30; more than
    /// lock-timeout].
    #[arg(long, env = "KEYHATCH_HELPER_TIMEOUT", value_name = "SECONDS")]
    pub helper_timeout: Option<u64>,
    /// Site mode: operations a person may have under way at once [default: 4].
    #[arg(long, env = "KEYHATCH_MAX_IN_FLIGHT")]
    pub max_in_flight: Option<usize>,
    /// Seqera Platform's API (e.g. https://api.cloud.seqera.io, or https://seqera.example.org/api):
    /// the generated-key dialog then offers "Add to Seqera Platform".
    #[arg(long, env = "KEYHATCH_SEQERA_URL")]
    pub seqera_url: Option<String>,
    /// A PEM file of the certificates that sign the site's Platform (its own CA), trusted in
    /// place of the Mozilla roots.
    #[arg(long, env = "KEYHATCH_SEQERA_CA_FILE")]
    pub seqera_ca_file: Option<PathBuf>,
    /// Seconds a call to Platform may take in all (default 20).
    #[arg(long, env = "KEYHATCH_SEQERA_TIMEOUT")]
    pub seqera_timeout: Option<u64>,
}

/// Whom keyhatch serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The account keyhatch runs as, behind its login token.
    Local,
    /// Every account of the cluster, behind the site's login proxy; keyhatch runs as root and
    /// works in each person's files through a helper that has taken their uid.
    Site,
}

/// The `[keyhatch]` table of the settings file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileSettings {
    addr: Option<SocketAddr>,
    socket: Option<PathBuf>,
    allow_remote: Option<bool>,
    allowed_hosts: Option<Vec<String>>,
    home: Option<PathBuf>,
    token: Option<String>,
    tag: Option<String>,
    key_options: Option<String>,
    authorized_keys_file: Option<String>,
    max_file_size: Option<u64>,
    lock_timeout: Option<u64>,
    audit_log: Option<PathBuf>,
    mode: Option<Mode>,
    public_url: Option<String>,
    user_header: Option<String>,
    proxy_user: Option<String>,
    trusted_proxies: Option<Vec<IpAddr>>,
    user_map_match: Option<String>,
    user_map_lowercase: Option<bool>,
    min_uid: Option<u32>,
    max_uid: Option<u32>,
    allowed_group: Option<String>,
    logout_url: Option<String>,
    keys_per_hour: Option<usize>,
    max_keys: Option<usize>,
    helper_timeout: Option<u64>,
    max_in_flight: Option<usize>,
    seqera_url: Option<String>,
    seqera_ca_file: Option<PathBuf>,
    seqera_timeout: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    #[serde(default)]
    keyhatch: FileSettings,
}

/// Where keyhatch listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket at this path.
    Unix(PathBuf),
}

/// Everything the server needs to start, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen: Listen,
    /// Host names accepted besides the loopback ones.
    pub allowed_hosts: Vec<String>,
    /// The home directory whose keys are managed.
    pub home: PathBuf,
    /// A fixed login token, or `None` for a fresh random one at each start.
    pub token: Option<String>,
    /// The comment word of keyhatch's keys.
    pub tag: Tag,
    /// The options written before each new key.
    pub key_options: KeyOptions,
    /// Where keys go below each home.
    pub keys_file: KeysFile,
    /// The largest `authorized_keys` keyhatch reads or writes.
    pub max_file_size: u64,
    /// How long to wait for another program's lock on `authorized_keys`.
    pub lock_timeout: Duration,
    /// The audit log file, or `None` for standard error.
    pub audit_log: Option<PathBuf>,
    /// The account the server runs as.
    pub account: Account,
    /// The uid the server runs as.
    pub uid: u32,
    /// Leptos's runtime options: the bundle's name and where its files are.
    pub leptos: LeptosOptions,
    /// Debug builds only, for the crash tests: the rewrite step at which to die
    /// (`KEYHATCH_CRASH_AT`).
    pub crash_at: Option<Step>,
    /// Seqera Platform, when `seqera-url` is set.
    pub seqera: Option<Platform>,
    /// Site mode's settings; `None` in local mode.
    pub site: Option<SiteSettings>,
}

/// How site mode finds the person behind each request.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    /// The host of `public-url`: the name people reach keyhatch by.
    pub public_host: String,
    /// The header that names the person.
    pub user_header: String,
    /// The proxy's account and uid.
    pub proxy: Option<(String, u32)>,
    /// Addresses the proxy connects from over TCP.
    pub trusted_proxies: Vec<IpAddr>,
    /// The user map's regular expression.
    pub user_map_match: String,
    /// Whether the mapped name is lowercased.
    pub user_map_lowercase: bool,
    /// The lowest uid served.
    pub min_uid: u32,
    /// The highest uid served, when set.
    pub max_uid: Option<u32>,
    /// The kernel's overflow uid (`nobody`), never served.
    pub overflow_uid: u32,
    /// The only group served (name, gid), when set.
    pub allowed_group: Option<(String, u32)>,
    /// Where Log out goes.
    pub logout_url: Option<String>,
    /// Keys a person may generate per hour.
    pub keys_per_hour: usize,
    /// keyhatch keys a person's file may hold.
    pub max_keys: usize,
    /// How long a helper may take before it is killed.
    pub helper_timeout: Duration,
    /// Operations a person may have under way at once.
    pub max_in_flight: usize,
}

/// Why keyhatch cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The settings file cannot be read or parsed.
    #[error("settings file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The settings file, or its directory, could have been written by another account.
    #[error(
        "settings file {path}: {why}; another account could change keyhatch's settings. \
         Make it yours (or root's) and writable only by its owner"
    )]
    UnsafeFile {
        /// The file or directory at fault.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// A setting has a value keyhatch refuses.
    #[error(transparent)]
    Invalid(#[from] InvalidSetting),
    /// The account the process runs as has no passwd entry.
    #[error("cannot find the passwd entry of uid {0}; set a home with --home")]
    NoAccount(u32),
    /// The login token is too short to be safe.
    #[error("the login token must be at least {MIN_TOKEN_LEN} random characters")]
    WeakToken,
    /// `KEYHATCH_CRASH_AT` names no step of a rewrite.
    #[error("KEYHATCH_CRASH_AT: {0}")]
    CrashAt(String),
    /// The address is not loopback and `--allow-remote` was not given.
    #[error(
        "{0} is not a loopback address: plain HTTP would carry private keys across the network. \
         Listen on 127.0.0.1 and reach keyhatch with `ssh -L`, or pass --allow-remote behind TLS"
    )]
    Remote(SocketAddr),
    /// Running as root on another account's home.
    #[error(
        "keyhatch runs as root but {home} belongs to uid {owner}: files it made there would be \
         root's, and sshd would ignore them. Run keyhatch as that account, or serve every \
         account at once with site mode (README: Deploying at a site)"
    )]
    RootOnOtherHome {
        /// The home directory.
        home: PathBuf,
        /// Its owner.
        owner: u32,
    },
    /// A site mode setting is missing or wrong.
    #[error("site mode: {0}")]
    Site(String),
    /// The Seqera Platform settings are wrong.
    #[error("{0}")]
    Seqera(String),
    /// keyhatch cannot find its own executable, beside which a cargo build's bundle lies.
    #[error("cannot find keyhatch's own executable: {0}")]
    NoExecutable(String),
}

impl Settings {
    /// Layers defaults, the settings file, the environment (`KEYHATCH_TOKEN` is read from it
    /// here; the others by clap) and the flags.
    pub fn load(mut cli: Cli) -> Result<Self, SettingsError> {
        let (uid, account, passwd_home) = current_account()?;
        let mut file = match settings_path(cli.config.as_deref(), &passwd_home) {
            Some(path) => read_file(&path, uid)?,
            None => FileSettings::default(),
        };
        let home = cli
            .home
            .take()
            .or(file.home.take())
            .or_else(|| passwd_home.clone())
            .ok_or(SettingsError::NoAccount(uid))?;
        let mode = cli.mode.or(file.mode).unwrap_or(Mode::Local);
        let token = std::env::var("KEYHATCH_TOKEN").ok().or(file.token.take());
        let mut allowed_hosts = std::mem::take(&mut cli.allowed_hosts);
        allowed_hosts.extend(file.allowed_hosts.take().unwrap_or_default());
        let site = match mode {
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
            Mode::Site => {
                let url = cli.public_url.take().or(file.public_url.take());
                let url = url.filter(|u| !u.is_empty()).ok_or_else(|| {
                    SettingsError::Site(
                        "public-url is not set. Set it to the address people open, e.g. \
                         public-url = \"https://keys.example.org\" in the settings file (or \
                         --public-url): keyhatch answers only its host, so without it every \
                         request would be refused"
                            .into(),
                    )
                })?;
                let public_host = host_of(&url)?;
                allowed_hosts.push(public_host.clone());
                Some(site_settings(uid, public_host, &mut cli, &mut file)?)
            }
        };
        let socket = cli.socket.take().or(file.socket.take());
        let listen = match socket {
            Some(path) if path.as_os_str().is_empty() && mode == Mode::Site => {
                Listen::Unix(PathBuf::from("/run/keyhatch/keyhatch.sock"))
            }
            Some(path) if path.as_os_str().is_empty() => Listen::Unix(default_socket(uid)),
            Some(path) => Listen::Unix(path),
            None => Listen::Tcp(
                cli.addr
                    .or(file.addr)
                    .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000))),
            ),
        };
        if let Listen::Tcp(addr) = listen
            && !addr.ip().is_loopback()
            && !(cli.allow_remote || file.allow_remote == Some(true))
        {
            return Err(SettingsError::Remote(addr));
        }
        let audit_log = cli
            .audit_log
            .or(file.audit_log)
            .filter(|p| p != Path::new("-"));
        Ok(Self {
            listen,
            allowed_hosts,
            home,
            token,
            tag: cli
                .tag
                .or(file.tag)
                .as_deref()
                .map(Tag::parse)
                .transpose()?
                .unwrap_or_default(),
            keys_file: cli
                .authorized_keys_file
                .take()
                .or(file.authorized_keys_file.take())
                .as_deref()
                .map(KeysFile::parse)
                .transpose()?
                .unwrap_or_default(),
            key_options: cli
                .key_options
                .or(file.key_options)
                .as_deref()
                .map(KeyOptions::parse)
                .transpose()?
                .unwrap_or_default(),
            max_file_size: cli
                .max_file_size
                .or(file.max_file_size)
                .unwrap_or(DEFAULT_MAX_SIZE),
            lock_timeout: Duration::from_secs(cli.lock_timeout.or(file.lock_timeout).unwrap_or(10)),
            audit_log,
            account,
            uid,
            leptos: leptos_options()?,
            crash_at: crash_at()?,
            seqera: platform(
                cli.seqera_url.take().or(file.seqera_url.take()),
                cli.seqera_ca_file.take().or(file.seqera_ca_file.take()),
                cli.seqera_timeout.or(file.seqera_timeout),
            )?,
            site,
        })
    }
}

/// Seqera Platform from its settings: `None` without a URL; a URL that is not https (or http
/// on loopback), a CA file that holds no certificate, or a zero timeout stop keyhatch at start.
fn platform(
    url: Option<String>,
    ca_file: Option<PathBuf>,
    timeout: Option<u64>,
) -> Result<Option<Platform>, SettingsError> {
    let Some(url) = url.filter(|u| !u.is_empty()) else {
        if ca_file.is_some() {
            return Err(SettingsError::Seqera(
                "seqera-ca-file is set but seqera-url is not".into(),
            ));
        }
        return Ok(None);
    };
    let url = PlatformUrl::parse(&url).map_err(|e| SettingsError::Seqera(e.to_string()))?;
    let ca = match &ca_file {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            SettingsError::Seqera(format!("seqera-ca-file {}: {e}", path.display()))
        })?),
        None => None,
    };
    let timeout = match timeout {
        Some(0) => {
            return Err(SettingsError::Seqera(
                "seqera-timeout must be at least 1 second".into(),
            ));
        }
        Some(seconds) => Duration::from_secs(seconds),
        None => seqera::DEFAULT_TIMEOUT,
    };
    Platform::new(url, ca.as_deref(), timeout)
        .map(Some)
        .map_err(|e| SettingsError::Seqera(e.to_string()))
}

/// Site mode's settings, taken out of the flags and the file: keyhatch must be root (it starts
/// helpers as each person), and must know its proxy, or anyone could name themselves.
fn site_settings(
    uid: u32,
    public_host: String,
    cli: &mut Cli,
    file: &mut FileSettings,
) -> Result<SiteSettings, SettingsError> {
    let site = |message: String| SettingsError::Site(message);
    if uid != 0 {
        return Err(site(
            "keyhatch must run as root to start helpers as each person (for your own keys \
             only, pass --mode local)"
                .into(),
        ));
    }
    let proxy = match cli.proxy_user.take().or(file.proxy_user.take()) {
        Some(name) => {
            let user = nix::unistd::User::from_name(&name).ok().flatten();
            let user =
                user.ok_or_else(|| site(format!("proxy-user {name} is not an account here")))?;
            Some((name, user.uid.as_raw()))
        }
        None => None,
    };
    let mut trusted_proxies = std::mem::take(&mut cli.trusted_proxies);
    trusted_proxies.extend(file.trusted_proxies.take().unwrap_or_default());
    let trusted_proxies =
        site_checks::check_trusted_proxies(trusted_proxies, &own_addresses(), proxy.is_some())?;
    if proxy.is_none() && trusted_proxies.is_empty() {
        return Err(site(
            "set proxy-user (the proxy's account, for the socket) or trusted-proxies (its \
             addresses): otherwise anyone could name themselves"
                .into(),
        ));
    }
    let allowed_group = match cli.allowed_group.take().or(file.allowed_group.take()) {
        Some(name) => {
            let group = nix::unistd::Group::from_name(&name).ok().flatten();
            let group =
                group.ok_or_else(|| site(format!("allowed-group {name} is not a group here")))?;
            Some((name, group.gid.as_raw()))
        }
        None => None,
    };
    let user_map_match = cli
        .user_map_match
        .take()
        .or(file.user_map_match.take())
        .unwrap_or_else(|| "^(.+)$".to_owned());
    regex_lite::Regex::new(&user_map_match).map_err(|e| site(format!("user-map-match: {e}")))?;
    let min_uid = cli.min_uid.or(file.min_uid).unwrap_or(1000);
    let max_uid = cli.max_uid.or(file.max_uid);
    site_checks::check_uid_range(min_uid, max_uid)?;
    let lock_timeout = cli.lock_timeout.or(file.lock_timeout).unwrap_or(10);
    let helper_timeout = cli.helper_timeout.or(file.helper_timeout).unwrap_or(30);
    if helper_timeout <= lock_timeout {
        return Err(site(format!(
            "helper-timeout ({helper_timeout} s) must be longer than lock-timeout \
             ({lock_timeout} s): a helper waits that long for another program's lock"
        )));
    }
    let max_in_flight = cli.max_in_flight.or(file.max_in_flight).unwrap_or(4);
    if max_in_flight == 0 {
        return Err(site("max-in-flight must be at least 1".into()));
    }
    Ok(SiteSettings {
        public_host,
        user_header: cli
            .user_header
            .take()
            .or(file.user_header.take())
            .unwrap_or_else(|| "X-Forwarded-User".to_owned()),
        proxy,
        trusted_proxies,
        user_map_match,
        user_map_lowercase: cli.user_map_lowercase || file.user_map_lowercase == Some(true),
        min_uid,
        max_uid,
        overflow_uid: site_checks::overflow_uid(),
        allowed_group,
        logout_url: cli.logout_url.take().or(file.logout_url.take()),
        keys_per_hour: cli.keys_per_hour.or(file.keys_per_hour).unwrap_or(10),
        max_keys: cli.max_keys.or(file.max_keys).unwrap_or(20),
        helper_timeout: Duration::from_secs(helper_timeout),
        max_in_flight,
    })
}

/// The host of `url`, as a Host header names it without its port: `keys.example.org` of
/// `https://keys.example.org:8443/x`.
fn host_of(url: &str) -> Result<String, SettingsError> {
    let bad = || {
        SettingsError::Site(format!(
            "public-url {url} must be http(s)://HOST[:PORT][/…]"
        ))
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    if host.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    Ok(host.to_owned())
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

/// Reads the settings file through directories only this account or root can change, checking
/// the file it opened (`safe_file`).
fn read_file(path: &Path, uid: u32) -> Result<FileSettings, SettingsError> {
    let text = safe_file::read(path, uid)?;
    let parsed: SettingsFile = toml::from_str(&text).map_err(|e| SettingsError::File {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    Ok(parsed.keyhatch)
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

/// The uid this process runs as, its account, and its passwd home directory.
fn current_account() -> Result<(u32, Account, Option<PathBuf>), SettingsError> {
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
        uid.as_raw(),
        Account {
            user: user.name,
            display_name,
            logout: Logout::Session,
        },
        Some(user.dir),
    ))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn write(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let path = dir.join("keyhatch.toml");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn the_keyhatch_table_is_read_and_unknown_keys_are_refused() {
        let ok: SettingsFile =
            toml::from_str("[keyhatch]\ntag = \"lab\"\nkey-options = \"\"\n").unwrap();
        assert_eq!(ok.keyhatch.tag.as_deref(), Some("lab"));
        assert_eq!(ok.keyhatch.key_options.as_deref(), Some(""));
        assert!(toml::from_str::<SettingsFile>("[keyhatch]\ntagg = \"lab\"\n").is_err());
    }

    #[test]
    fn the_committed_leptos_toml_is_a_valid_settings_file() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Leptos.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let parsed: SettingsFile = toml::from_str(&text).unwrap();
        assert_eq!(parsed.keyhatch.tag.as_deref(), Some("fileglancer"));
    }

    #[test]
    fn a_settings_file_others_can_write_or_own_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let uid = nix::unistd::getuid().as_raw();
        let path = write(dir.path(), "[keyhatch]\ntag = \"lab\"\n", 0o644);
        assert_eq!(read_file(&path, uid).unwrap().tag.as_deref(), Some("lab"));

        let path = write(dir.path(), "[keyhatch]\n", 0o664);
        let err = read_file(&path, uid).unwrap_err();
        assert!(matches!(err, SettingsError::UnsafeFile { .. }), "{err}");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::chown(&path, Some(4244), None).expect("the test runs as root");
        let err = read_file(&path, uid).unwrap_err();
        assert!(err.to_string().contains("belongs to uid 4244"), "{err}");

        std::os::unix::fs::chown(&path, Some(uid), None).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = read_file(&path, uid).unwrap_err();
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
}
