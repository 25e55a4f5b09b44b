//! Seqera Platform from the terminal: the new key handed to Platform as the page hands it, with
//! an access token read from a file or from `TOWER_ACCESS_TOKEN` (as Seqera's `tw` reads it),
//! never from an argument, which every account on the node can read in `ps`.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::declared::SeqeraArgs;
use crate::seqera::{Credentials, CredentialsId, CredentialsName, Platform, Token};
use crate::ssh::{Passphrase, keygen::NewKey};

/// The environment variable Seqera's own CLI reads the token from.
const TOKEN_VARIABLE: &str = "TOWER_ACCESS_TOKEN";
/// The most bytes read from a token file.
const MAX_TOKEN: u64 = 4096;

/// Where a new key goes in Platform, and with what token.
pub struct Handoff {
    platform: Platform,
    token: Token,
    workspace: Option<i64>,
    credentials: String,
    with_passphrase: bool,
}

impl Handoff {
    /// What `args` ask, with the settings' Platform; `None` without `--seqera`. Checked before
    /// any key is made: no Platform, no token, or a token file others can read is refused.
    pub fn of(args: SeqeraArgs, platform: Option<&Platform>) -> Result<Option<Self>, String> {
        let Some(credentials) = args.seqera else {
            return Ok(None);
        };
        let platform = platform.cloned().ok_or(
            "--seqera needs the settings' seqera-url (Seqera Platform's API); nothing was made",
        )?;
        let token = match &args.token_file {
            Some(path) => read_token(path).map_err(|e| format!("{}: {e}", path.display()))?,
            None => Zeroizing::new(std::env::var(TOKEN_VARIABLE).map_err(|_| {
                format!("give the Platform access token in {TOKEN_VARIABLE} or with --token-file FILE; nothing was made")
            })?),
        };
        let token =
            Token::new(&token).ok_or("the Platform access token is empty, or not one word (a blank, a line break or another invisible character inside); nothing was made")?;
        Ok(Some(Self {
            platform,
            token,
            workspace: args.workspace,
            credentials,
            with_passphrase: args.seqera_passphrase,
        }))
    }

    /// Whether `--seqera` names credentials a new key can be added as (letters, digits, `-`
    /// and `_`), before the key is made.
    pub fn check_new_name(&self) -> Result<(), String> {
        CredentialsName::parse(&self.credentials)
            .map(drop)
            .map_err(|e| format!("--seqera: {e}; nothing was made"))
    }

    /// Adds `key` as new SSH credentials; their id.
    pub fn add(&self, key: &NewKey, passphrase: Option<&Passphrase>) -> Result<String, String> {
        let name = CredentialsName::parse(&self.credentials).map_err(|e| e.to_string())?;
        self.platform
            .add_ssh_credentials(
                &self.token,
                self.workspace,
                &name,
                &key.private_openssh,
                self.passphrase(passphrase),
            )
            .map_err(|e| e.to_string())
    }

    /// The SSH credentials `--seqera` names: the one whose id or name it is, asked of
    /// Platform before any key is made. None, or two (an id one has that is another's name,
    /// or a name two share), is refused.
    pub fn credentials_to_update(&self) -> Result<Credentials, String> {
        let listed = self
            .platform
            .ssh_credentials(&self.token, self.workspace)
            .map_err(|e| format!("{e}; nothing was made"))?;
        let wanted = self.credentials.as_str();
        let found: Vec<_> = listed
            .into_iter()
            .filter(|c| c.id == wanted || c.name == wanted)
            .collect();
        match &found[..] {
            [one] => Ok(one.clone()),
            [] => Err(format!(
                "Seqera Platform has no SSH credentials with the id or name {wanted:?} there; nothing was made"
            )),
            several => Err(format!(
                "{wanted:?} names {} SSH credentials in Platform there ({}): give the id of one whose name is not also another's; nothing was made",
                several.len(),
                several
                    .iter()
                    .map(|c| format!("{} ({})", c.name, c.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Puts `key` into `credentials` in place of the key they held.
    pub fn update(
        &self,
        credentials: &Credentials,
        key: &NewKey,
        passphrase: Option<&Passphrase>,
    ) -> Result<(), String> {
        let id = CredentialsId::parse(&credentials.id)
            .ok_or_else(|| format!("{:?} is not a credentials id", credentials.id))?;
        let name = CredentialsName::parse(&credentials.name).map_err(|e| e.to_string())?;
        self.platform
            .update_ssh_credentials(
                &self.token,
                self.workspace,
                (&id, &name),
                &key.private_openssh,
                self.passphrase(passphrase),
            )
            .map_err(|e| e.to_string())
    }

    fn passphrase<'a>(&self, passphrase: Option<&'a Passphrase>) -> Option<&'a str> {
        passphrase
            .filter(|_| self.with_passphrase)
            .map(Passphrase::expose)
    }
}

/// The token: the first line of `path` ("-" for standard input). A file that other accounts
/// can read or write is refused, as ssh refuses such a key file.
fn read_token(path: &Path) -> io::Result<Zeroizing<String>> {
    let mut text = Zeroizing::new(String::new());
    if path == Path::new("-") {
        io::stdin()
            .lock()
            .take(MAX_TOKEN)
            .read_to_string(&mut text)?;
    } else {
        let file = File::open(path)?;
        let mode = file.metadata()?.mode();
        if mode & 0o077 != 0 {
            return Err(io::Error::other(format!(
                "other accounts may read it (mode {:o}): chmod 600 it, the token opens your Platform account; nothing was made",
                mode & 0o777
            )));
        }
        file.take(MAX_TOKEN).read_to_string(&mut text)?;
    }
    let line = text.lines().next().unwrap_or_default().trim();
    Ok(Zeroizing::new(line.to_owned()))
}
