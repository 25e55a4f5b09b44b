//! Every setting, declared once (server only). A field here is the whole of a setting: its flag
//! (`long`), its environment variable (`env`), its file key (the field's name in kebab-case), its
//! doc line (`--help`, checked against the README's table), its default, its `--help` heading,
//! and its type: each value is parsed into the type the code that uses it wants. The settings
//! file is layered in as the flags' defaults (`server/settings/layered.rs`), so one parser reads
//! the file, the environment and the flags alike: flag over environment over file over default.
//!
//! The groups travel whole to the code that acts on them (the server's start, the guard, each
//! person's limits), so a new setting is a field here and the lines that use it.
//!
//! The login token is the exception: it has no flag on purpose, since `ps` shows every process's
//! arguments to every account. It is read from `KEYHATCH_TOKEN` or the file's `token`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use axum::http::HeaderName;
use clap::builder::{BoolishValueParser, OsStringValueParser, TypedValueParser};
use clap::{ArgAction, Args, Parser};

use crate::seqera;
use crate::ssh::store::{DEFAULT_LOCK_TIMEOUT, DEFAULT_MAX_SIZE};
use crate::ssh::{KeyOptions, KeysFile, NamedFrom, Tag};
use crate::sshd_log::Source;

mod commands;

pub use commands::{Accounts, AdminCommand, Command, KeysCommand, SeqeraArgs};

/// keyhatch's command line: the settings, and the commands besides serving.
#[derive(Debug, Parser)]
#[command(
    name = "keyhatch",
    version = VERSION,
    about = "Generate SSH keys for your account from a web page.",
    after_help = "Each setting is also read from the settings file's [keyhatch] table, under the \
                  flag's name (allowed-hosts for --allowed-host); the environment overrides the \
                  file, and flags override both. KEYHATCH_TOKEN (or the file's token) fixes the \
                  scripts' credential.\n\n\
                  Examples:\n  \
                  keyhatch                      your keys, at http://127.0.0.1:3000 (forward it \
                  with ssh -L 3000:127.0.0.1:3000 NODE)\n  \
                  keyhatch --socket             the same on a Unix socket only you can open\n  \
                  keyhatch check-config         check /etc/keyhatch/keyhatch.toml, as the \
                  service would read it\n\n\
                  Exit status: 0 when stopped, 2 for bad settings, 1 for a failure at run time. \
                  RUST_LOG sets what the log shows (default keyhatch=info,warn)."
)]
pub struct Cli {
    /// What to do besides serving.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings file, or "none" for no file [default: $XDG_CONFIG_HOME/keyhatch/keyhatch.toml,
    /// then /etc/keyhatch/keyhatch.toml, when present].
    #[arg(long, env = "KEYHATCH_CONFIG", value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
    /// Where and how keyhatch serves.
    #[command(flatten)]
    pub serving: Serving,
    /// Whose keys, and how keyhatch writes them.
    #[command(flatten)]
    pub keys: Keys,
    /// Site mode: who the login proxy names.
    #[command(flatten)]
    pub site: Site,
    /// The bounds on files and people.
    #[command(flatten)]
    pub limits: Limits,
    /// Seqera Platform.
    #[command(flatten)]
    pub seqera: Seqera,
}

/// `--version`: the package's version and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("KEYHATCH_COMMIT"),
    ")"
);

/// Where and how keyhatch serves.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Serving")]
pub struct Serving {
    /// "local": one account's keys, behind a login token; "site": every account's, behind the
    /// site's login proxy.
    #[arg(long, env = "KEYHATCH_MODE", value_enum, default_value_t = Mode::Local)]
    pub mode: Mode,
    /// Address to listen on [default: 127.0.0.1:3000]; port 0 picks a free one.
    #[arg(long, env = "KEYHATCH_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Serve on a Unix socket (mode 0600) instead of TCP [default path:
    /// $XDG_RUNTIME_DIR/keyhatch/keyhatch.sock, else /run/user/UID/keyhatch/keyhatch.sock,
    /// else /tmp/keyhatch-UID/keyhatch.sock (~/.keyhatch-run-HOST/keyhatch.sock if another
    /// account made that directory); in site mode /run/keyhatch/keyhatch.sock].
    // Read as an OsString: clap's path parser refuses the empty value that `--socket` alone
    // stands for.
    #[arg(
        long,
        env = "KEYHATCH_SOCKET",
        value_name = "PATH",
        num_args = 0..=1,
        default_missing_value = "",
        value_parser = OsStringValueParser::new().map(PathBuf::from)
    )]
    pub socket: Option<PathBuf>,
    /// Listen on an address other than loopback. Plain HTTP then carries private keys across
    /// the network: put TLS in front.
    #[arg(
        long,
        env = "KEYHATCH_ALLOW_REMOTE",
        value_name = "BOOL",
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_value_t = false,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    pub allow_remote: bool,
    /// A host name the page may be reached by besides 127.0.0.1, localhost and [::1]
    /// (repeatable; the environment's is comma-separated).
    #[arg(
        long = "allowed-host",
        env = "KEYHATCH_ALLOWED_HOSTS",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Serve Prometheus metrics at /metrics on this address, apart from the page: counts only,
    /// no account, key or address, and no login [default: off].
    #[arg(long, env = "KEYHATCH_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Audit log file (JSON lines); "-" for standard error.
    #[arg(
        long,
        env = "KEYHATCH_AUDIT_LOG",
        value_name = "PATH",
        default_value = "-"
    )]
    pub audit_log: PathBuf,
}

/// Whose keys, and how keyhatch writes them.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Keys")]
pub struct Keys {
    /// Local mode: the home directory whose keys are managed [default: your account's home].
    #[arg(long, env = "KEYHATCH_HOME", value_name = "PATH")]
    pub home: Option<PathBuf>,
    /// Comment word that marks keyhatch's keys.
    #[arg(long, env = "KEYHATCH_TAG", default_value = Tag::DEFAULT, value_parser = Tag::parse)]
    pub tag: Tag,
    /// Options written before each new key; "" for none.
    #[arg(
        long,
        env = "KEYHATCH_KEY_OPTIONS",
        allow_hyphen_values = true,
        default_value = KeyOptions::DEFAULT,
        value_parser = KeyOptions::parse
    )]
    pub key_options: KeyOptions,
    /// Where keys go below each home, as sshd's AuthorizedKeysFile: relative to the home or
    /// starting with %h/, %u the login name.
    #[arg(
        long,
        env = "KEYHATCH_AUTHORIZED_KEYS_FILE",
        value_name = "PATTERN",
        default_value = KeysFile::DEFAULT,
        value_parser = KeysFile::parse
    )]
    pub authorized_keys_file: KeysFile,
    /// A list people may choose under "Allow logins only from", as NAME=PATTERNS, e.g.
    /// seqera-cloud=203.0.113.0/24,198.51.100.7 (repeatable; ;-separated in the environment).
    #[arg(
        long = "from-list",
        env = "KEYHATCH_FROM_LISTS",
        value_name = "NAME=PATTERNS",
        value_delimiter = ';',
        value_parser = NamedFrom::parse
    )]
    pub from_lists: Vec<NamedFrom>,
    /// sshd's log, read for when each key was last used: "journal", "journal:PATH" (journal
    /// files, e.g. systemd-journal-remote's), or a log file's absolute path [default: off].
    #[arg(long, env = "KEYHATCH_SSHD_LOG", value_name = "SOURCE", value_parser = Source::parse)]
    pub sshd_log: Option<Source>,
}

/// Site mode: who the login proxy names, and who is served.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Site mode")]
pub struct Site {
    /// The address people open (required), e.g. https://keys.example.org: its host is the only
    /// one answered; with a path (https://portal.example.org/keys/), nothing outside it is.
    #[arg(long, env = "KEYHATCH_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// The header the proxy names the person in.
    #[arg(
        long,
        env = "KEYHATCH_USER_HEADER",
        value_name = "NAME",
        default_value = "X-Forwarded-User",
        value_parser = header_name
    )]
    pub user_header: HeaderName,
    /// The proxy's account, the only one whose connections to the socket (or from loopback)
    /// may carry the header.
    #[arg(long, env = "KEYHATCH_PROXY_USER", value_name = "ACCOUNT")]
    pub proxy_user: Option<String>,
    /// Addresses the proxy connects from over TCP (comma-separated).
    #[arg(
        long,
        env = "KEYHATCH_TRUSTED_PROXIES",
        value_name = "ADDRESSES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpAddr>,
    /// Regular expression from the header to a login name; its first group is the name, e.g.
    /// '^([^@]+)@example\.org$'.
    #[arg(
        long,
        env = "KEYHATCH_USER_MAP_MATCH",
        value_name = "REGEX",
        default_value = "^(.+)$",
        value_parser = regex_lite::Regex::new
    )]
    pub user_map_match: regex_lite::Regex,
    /// Lowercase the mapped name (ASCII letters only, as Open OnDemand's `:lower`).
    #[arg(
        long,
        env = "KEYHATCH_USER_MAP_LOWERCASE",
        value_name = "BOOL",
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_value_t = false,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    pub user_map_lowercase: bool,
    /// The lowest uid served.
    #[arg(
        long,
        env = "KEYHATCH_MIN_UID",
        value_name = "UID",
        default_value_t = 1000
    )]
    pub min_uid: u32,
    /// The highest uid served [default: no limit; the overflow uid, nobody's, is never served].
    #[arg(long, env = "KEYHATCH_MAX_UID", value_name = "UID")]
    pub max_uid: Option<u32>,
    /// Serve only members of this group.
    #[arg(long, env = "KEYHATCH_ALLOWED_GROUP", value_name = "GROUP")]
    pub allowed_group: Option<String>,
    /// Where Log out goes, e.g. /oauth2/sign_out.
    #[arg(long, env = "KEYHATCH_LOGOUT_URL", value_name = "URL")]
    pub logout_url: Option<String>,
    /// The account the health check's helper becomes: a system account no process runs as
    /// [default: keyhatch, the package's, where it exists; else nobody].
    #[arg(long, env = "KEYHATCH_HEALTH_ACCOUNT", value_name = "ACCOUNT")]
    pub health_account: Option<String>,
}

/// The bounds on files (both modes) and on each person (site mode).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Limits")]
pub struct Limits {
    /// Largest authorized_keys keyhatch reads or writes, in bytes (16 MiB).
    #[arg(
        long,
        env = "KEYHATCH_MAX_FILE_SIZE",
        value_name = "BYTES",
        default_value_t = DEFAULT_MAX_SIZE
    )]
    pub max_file_size: u64,
    /// Seconds to wait for another program's lock on authorized_keys.
    #[arg(
        long,
        env = "KEYHATCH_LOCK_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = DEFAULT_LOCK_TIMEOUT.as_secs()
    )]
    pub lock_timeout: u64,
    /// Site mode: keys a person may generate per hour.
    #[arg(
        long,
        env = "KEYHATCH_KEYS_PER_HOUR",
        value_name = "KEYS",
        default_value_t = 10
    )]
    pub keys_per_hour: usize,
    /// Site mode: keyhatch keys a person's file may hold.
    #[arg(
        long,
        env = "KEYHATCH_MAX_KEYS",
        value_name = "KEYS",
        default_value_t = 20
    )]
    pub max_keys: usize,
    /// Site mode: changes a person may make per hour (keys generated, added, replaced, revoked
    /// or restricted, permissions fixed).
    #[arg(
        long,
        env = "KEYHATCH_CHANGES_PER_HOUR",
        value_name = "CHANGES",
        default_value_t = 120
    )]
    pub changes_per_hour: usize,
    /// Site mode: calls to Seqera Platform a person may have keyhatch make per hour (each
    /// list, add and update, whatever Platform answers).
    #[arg(
        long,
        env = "KEYHATCH_PLATFORM_CALLS_PER_HOUR",
        value_name = "CALLS",
        default_value_t = 60
    )]
    pub platform_calls_per_hour: usize,
    /// Site mode: seconds a helper may take before it is killed (more than lock-timeout).
    #[arg(
        long,
        env = "KEYHATCH_HELPER_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 30
    )]
    pub helper_timeout: u64,
    /// Site mode: operations a person may have under way at once.
    #[arg(
        long,
        env = "KEYHATCH_MAX_IN_FLIGHT",
        value_name = "OPERATIONS",
        default_value_t = 4
    )]
    pub max_in_flight: usize,
}

/// Seqera Platform, offered in the generated-key dialog when its API is set.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Seqera Platform")]
pub struct Seqera {
    /// Seqera Platform's API (e.g. https://api.cloud.seqera.io, or https://seqera.example.org/api):
    /// the generated-key dialog then offers "Add to Seqera Platform".
    #[arg(long, env = "KEYHATCH_SEQERA_URL", value_name = "URL")]
    pub seqera_url: Option<String>,
    /// A PEM file of the certificates that sign the site's Platform (its own CA), trusted
    /// besides the system's certificate authorities.
    #[arg(long, env = "KEYHATCH_SEQERA_CA_FILE", value_name = "PATH")]
    pub seqera_ca_file: Option<PathBuf>,
    /// Seconds a call to Platform may take in all.
    #[arg(
        long,
        env = "KEYHATCH_SEQERA_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = seqera::DEFAULT_TIMEOUT.as_secs()
    )]
    pub seqera_timeout: u64,
}

/// Whom keyhatch serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// The account keyhatch runs as, behind its login token.
    Local,
    /// Every account of the cluster, behind the site's login proxy; keyhatch runs as root and
    /// works in each person's files through a helper that has taken their uid.
    Site,
}

/// A header's name, as `user-header` is written: `X-Forwarded-User`.
fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::try_from(name).map_err(|_| format!("{name:?} is not an HTTP header name"))
}
