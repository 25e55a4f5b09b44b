//! keyhatch's commands besides serving: `link`, `check-config`, `keys …`.

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
    /// Your keyhatch keys from the terminal: list, generate, add, restrict, revoke (local mode).
    #[command(after_help = KEYS_EXAMPLES)]
    Keys {
        /// What to do with them.
        #[command(subcommand)]
        command: KeysCommand,
    },
}

/// `keyhatch keys --help`'s examples and exit status.
const KEYS_EXAMPLES: &str = "Examples:\n  \
    keyhatch keys list\n  \
    keyhatch keys generate -f ~/.ssh/id_seqera --label seqera --expires-in 90\n  \
    keyhatch keys generate -f - --no-passphrase > key      (the private key on standard output)\n  \
    keyhatch keys add ~/.ssh/id_ed25519.pub --label laptop\n  \
    keyhatch keys generate -f ~/.ssh/id_ci --from '10.1.0.0/16,!10.1.0.9'\n  \
    keyhatch keys restrict SHA256:uvp5+ivTA5QRdtaQhDu995vt4sW7Kf4Ox0uaR7AJbDw --expires-on 2027-01-31\n  \
    keyhatch keys revoke SHA256:uvp5+ivTA5QRdtaQhDu995vt4sW7Kf4Ox0uaR7AJbDw\n\n\
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
