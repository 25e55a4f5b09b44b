//! keyhatch's commands besides serving: `link`, `check-config`, `keys …`, `admin …`.

use std::path::PathBuf;

/// keyhatch's commands besides serving.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print a new login link from your keyhatch running on this node (it works once).
    Link {
        /// Which keyhatch, when several of yours run here: its port, or "socket".
        server: Option<String>,
    },
    /// Check the settings (file, environment and flags) as keyhatch would start with them,
    /// say what is wrong and on which line, and exit: 0 when they are good, 2 when not.
    CheckConfig,
    /// Your keyhatch keys from the terminal: list, generate, add, rotate, restrict, revoke (local
    /// mode).
    #[command(after_help = KEYS_EXAMPLES)]
    Keys {
        /// What to do with them.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Offboarding for the site, as root with the site's settings: list or revoke an account's
    /// keyhatch keys, sweep expired ones, or report on them.
    #[command(after_help = ADMIN_EXAMPLES)]
    Admin {
        /// What to do.
        #[command(subcommand)]
        command: AdminCommand,
    },
}

/// `keyhatch admin --help`'s examples, sources of accounts and exit status.
const ADMIN_EXAMPLES: &str = "Examples:\n  \
    sudo keyhatch admin list --user alice\n  \
    sudo keyhatch admin revoke --user alice --all --dry-run\n  \
    sudo keyhatch admin revoke --user alice --all\n  \
    sudo keyhatch admin sweep --expired --homes /home --dry-run\n  \
    sudo keyhatch admin report --users-file /etc/keyhatch/people --json\n\n\
    Run as root with the site's settings (the service's settings file, environment and flags: \
    authorized-keys-file, tag, limits, audit-log). Every file is read and written by a helper \
    that has taken the account's uid, as the page's are; only keyhatch's own lines (tagged with \
    the site's tag) are removed, every other byte stays. Each key removed, and each a dry run \
    would remove, is written to the audit log.\n\n\
    Accounts for sweep and report: --homes DIR (each directory in DIR is a home; its owner's \
    account is scanned), --users and --users-file (the accounts named). There is no \
    \"every account\": SSSD and LDAP do not list their accounts by default, so name them.\n\n\
    sweep --expired removes a key once sshd on this node refuses it: expiry-time read in the \
    node's local time, a trailing Z (UTC) read only by OpenSSH 9.1 and later.\n\n\
    Exit status: 0 when done, 1 when refused or when some accounts failed (each is named), 2 for \
    bad usage.";

/// `keyhatch admin …`: the site's offboarding commands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// One account's keyhatch keys, as the page lists them.
    List {
        /// The account.
        #[arg(long, value_name = "NAME")]
        user: String,
        /// Print the list as JSON (as GET /api/keys/list answers).
        #[arg(long)]
        json: bool,
    },
    /// Remove every keyhatch key of one account; lines keyhatch did not write stay as they are.
    Revoke {
        /// The account.
        #[arg(long, value_name = "NAME")]
        user: String,
        /// Every keyhatch key of the account (required: one key at a time is the page's).
        #[arg(long)]
        all: bool,
        /// Say what would be removed, and remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print what was removed as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove keyhatch keys that sshd on this node refuses for their expiry-time.
    Sweep {
        /// Keys whose expiry-time has passed, as sshd here reads it (required).
        #[arg(long)]
        expired: bool,
        /// Say what would be removed, and remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print what was removed, account by account, as JSON.
        #[arg(long)]
        json: bool,
        /// Which accounts.
        #[command(flatten)]
        accounts: Accounts,
    },
    /// For each account: its keyhatch keys, the oldest, the expired, those with no expiry.
    Report {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Which accounts.
        #[command(flatten)]
        accounts: Accounts,
    },
}

/// The accounts `sweep` and `report` go through, and how many at once.
#[derive(Debug, Clone, clap::Args)]
pub struct Accounts {
    /// Each directory in DIR is an account's home: its owner's account is scanned.
    #[arg(long, value_name = "DIR")]
    pub homes: Option<PathBuf>,
    /// These accounts (comma-separated).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub users: Vec<String>,
    /// The accounts named in FILE, one a line ('#' starts a comment).
    #[arg(long, value_name = "FILE")]
    pub users_file: Option<PathBuf>,
    /// Accounts scanned at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
}

/// `keyhatch keys --help`'s examples and exit status.
const KEYS_EXAMPLES: &str = "Examples:\n  \
    keyhatch keys list\n  \
    keyhatch keys generate -f ~/.ssh/id_seqera --label seqera --expires-in 90\n  \
    keyhatch keys generate -f - --no-passphrase > key      (the private key on standard output)\n  \
    keyhatch keys add ~/.ssh/id_ed25519.pub --label laptop\n  \
    keyhatch keys generate -f ~/.ssh/id_ci --from '10.1.0.0/16,!10.1.0.9'\n  \
    keyhatch keys restrict SHA256:uvp5+ivTA5QRdtaQhDu995vt4sW7Kf4Ox0uaR7AJbDw --expires-on 2027-01-31\n  \
    keyhatch keys revoke SHA256:uvp5+ivTA5QRdtaQhDu995vt4sW7Kf4Ox0uaR7AJbDw\n  \
    keyhatch keys generate -f ~/.ssh/id_seqera --seqera cluster --workspace 11 --token-file ~/.tw-token\n  \
    keyhatch keys rotate SHA256:uvp5+ivTA5QRdtaQhDu995vt4sW7Kf4Ox0uaR7AJbDw -f ~/.ssh/id_seqera2 \\\n      \
    --seqera cluster --workspace 11 --revoke-old      (token from TOWER_ACCESS_TOKEN)\n\n\
    The same keys as the page: tagged with the settings' tag, written with their key-options, \
    in the file authorized-keys-file names. --json prints what the API answers.\n\n\
    Exit status: 0 when done, 1 when refused or failed (the message says why), 2 for bad usage.";

/// `keyhatch keys …`.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// List keyhatch's keys in your authorized_keys, with what would make sshd ignore them.
    List {
        /// Print the list as JSON (as GET /api/keys/list answers).
        #[arg(long)]
        json: bool,
    },
    /// Generate an ed25519 key, authorize it, and write its private half to a file.
    Generate {
        /// Where the private key goes (mode 0600, never over an existing file), its public
        /// half beside it as FILE.pub; "-" for standard output only.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
        /// The label shown in the list.
        #[arg(long)]
        label: Option<String>,
        /// Days until sshd stops accepting the key [default: never].
        #[arg(long, value_name = "DAYS")]
        expires_in: Option<u32>,
        /// Let it log in only from these addresses, networks or host patterns (! before one
        /// keeps it out), or from a from-list by name.
        #[arg(long, value_name = "PATTERNS|LIST")]
        from: Option<String>,
        /// Read the passphrase from the first line of this file ("-" for standard input)
        /// rather than ask for it at the terminal.
        #[arg(long, value_name = "FILE", conflicts_with = "no_passphrase")]
        passphrase_file: Option<PathBuf>,
        /// Leave the private key unencrypted, without asking.
        #[arg(long)]
        no_passphrase: bool,
        /// Print the new key as JSON (its fingerprint and public line; never the private key).
        #[arg(long)]
        json: bool,
        /// Also add it to Seqera Platform as SSH credentials named NAME.
        #[command(flatten)]
        seqera: SeqeraArgs,
    },
    /// Replace one of keyhatch's keys: a new key with its label, addresses and last day,
    /// beside it until you revoke it; optionally put into the Platform credentials that held it.
    Rotate {
        /// The old key's SHA256: fingerprint, as `keyhatch keys list` prints it.
        fingerprint: String,
        /// Where the new private key goes, as for generate ("-" for standard output only).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
        /// Days until sshd stops accepting the new key [default: the old key's last day].
        #[arg(long, value_name = "DAYS")]
        expires_in: Option<u32>,
        /// Read the passphrase from the first line of this file ("-" for standard input).
        #[arg(long, value_name = "FILE", conflicts_with = "no_passphrase")]
        passphrase_file: Option<PathBuf>,
        /// Leave the new private key unencrypted, without asking.
        #[arg(long)]
        no_passphrase: bool,
        /// Revoke the old key once the new one is authorized (and, with --seqera, once
        /// Platform holds it; on any Platform error both keys stay).
        #[arg(long)]
        revoke_old: bool,
        /// Print the new key as JSON (never the private key).
        #[arg(long)]
        json: bool,
        /// Put the new key into the Platform SSH credentials with this id or name.
        #[command(flatten)]
        seqera: SeqeraArgs,
    },
    /// Authorize a public key you already have (a .pub file, or "-" for standard input).
    Add {
        /// The .pub file.
        #[arg(default_value = "-")]
        file: PathBuf,
        /// The label shown in the list [default: the key's own comment].
        #[arg(long)]
        label: Option<String>,
        /// Days until sshd stops accepting the key [default: never].
        #[arg(long, value_name = "DAYS")]
        expires_in: Option<u32>,
        /// Let it log in only from these addresses, networks or host patterns (! before one
        /// keeps it out), or from a from-list by name.
        #[arg(long, value_name = "PATTERNS|LIST")]
        from: Option<String>,
        /// Print the key as written, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove one of keyhatch's keys from your authorized_keys, by its fingerprint.
    Revoke {
        /// The key's SHA256: fingerprint, as `keyhatch keys list` prints it.
        fingerprint: String,
    },
    /// Narrow where one of keyhatch's keys may log in from, or make it stop working sooner.
    #[command(group = clap::ArgGroup::new("change").required(true).multiple(true).args(["from", "expires_on"]))]
    Restrict {
        /// The key's SHA256: fingerprint, as `keyhatch keys list` prints it.
        fingerprint: String,
        /// Let it log in only from these, within where it may now (as generate's --from).
        #[arg(long, value_name = "PATTERNS|LIST")]
        from: Option<String>,
        /// The first day sshd refuses it (YYYY-MM-DD): after today, before its own.
        #[arg(long, value_name = "DAY")]
        expires_on: Option<String>,
        /// Print the key as now written, as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Seqera Platform for `generate` and `rotate`: the token is read from a file or from
/// `TOWER_ACCESS_TOKEN` (as Seqera's `tw` reads it), never from an argument.
#[derive(Debug, Clone, clap::Args)]
pub struct SeqeraArgs {
    /// The credentials in Seqera Platform (the settings' seqera-url): generate adds them under
    /// this name; rotate updates those with this id or name.
    #[arg(long, value_name = "CREDENTIALS")]
    pub seqera: Option<String>,
    /// The Platform workspace (its number) [default: your own credentials].
    #[arg(long, value_name = "ID", requires = "seqera")]
    pub workspace: Option<i64>,
    /// Read the Platform access token from this file ("-" for standard input) [default: the
    /// TOWER_ACCESS_TOKEN environment variable].
    #[arg(long, value_name = "FILE", requires = "seqera")]
    pub token_file: Option<PathBuf>,
    /// Give Platform the key's passphrase too.
    #[arg(long, requires = "seqera")]
    pub seqera_passphrase: bool,
}
