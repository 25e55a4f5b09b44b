//! Why keyhatch cannot start, in sentences that say what to change.

use std::net::SocketAddr;
use std::path::PathBuf;

/// The shortest login token keyhatch accepts: a fixed token must be long and random.
pub const MIN_TOKEN_LEN: usize = 32;

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
    /// The command line or the environment cannot be read with the settings file's values.
    #[error("{0}")]
    Flags(String),
    /// The account the process runs as has no passwd entry (and, in local mode, no `$HOME`).
    #[error("cannot find the passwd entry of uid {0}; set a home with --home")]
    NoAccount(u32),
    /// Site mode asked of the static build, which cannot read the site's accounts.
    #[error(
        "site mode needs the system's account lookup (NSS: LDAP, SSSD), which this static build \
         cannot load. Install the keyhatch package (.deb or .rpm) for site mode; this binary \
         runs local mode for one account"
    )]
    StaticSite,
    /// The audit log is named by a relative path.
    #[error(
        "audit-log {0} is a relative path: name it from / (keyhatch writes nothing where it \
         happens to start)"
    )]
    RelativeAuditLog(PathBuf),
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
