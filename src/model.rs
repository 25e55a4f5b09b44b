//! Types that cross from the server to the browser.

use serde::{Deserialize, Serialize};

/// One key as the page shows it. On the wire only what the `.pub` line does not already say:
/// the key's type and comment are read from `public_key` ([`KeyInfo::key_type`],
/// [`KeyInfo::comment`]), and a field at its default (no label, no options, no expiry, not
/// expired) is left out. Listing 1,000 keys is 177 KB of JSON, not 283 KB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// The full `SHA256:` fingerprint, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// The public key as a `.pub` file holds it: `type base64 comment`.
    pub public_key: String,
    /// The comment after the tag: the label the person gave, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The options written before the key (`restrict,pty`, …); empty when none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub options: String,
    /// The day sshd stops accepting the key (`YYYY-MM-DD`), from its `expiry-time` option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Whether that day has come: sshd refuses the key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
    /// Where sshd lets the key in from: its `from=` pattern list (`10.1.0.0/16,!10.1.0.9`);
    /// none for anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_from: Option<String>,
    /// Its last login, from sshd's log, when keyhatch reads it and saw one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<LastUsed>,
}

/// A key's last login, as sshd logged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastUsed {
    /// When, in seconds since 1970.
    pub at: i64,
    /// The client's address.
    pub from: String,
}

/// How much of sshd's log the list's `last_used` comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageSeen {
    /// The day reading began (`YYYY-MM-DD`): a key without `last_used` was not used since.
    pub since: String,
    /// When the list was made, in seconds since 1970 (what "3 days ago" counts from).
    pub now: i64,
}

impl KeyInfo {
    /// The algorithm name, e.g. `ssh-ed25519`: the `.pub` line's first word.
    pub fn key_type(&self) -> &str {
        self.public_key.split(' ').next().unwrap_or_default()
    }

    /// The key's comment (for keyhatch's keys, the tag and the label): the `.pub` line after
    /// its second word, spaces and all; empty when it has none.
    pub fn comment(&self) -> &str {
        self.public_key.splitn(3, ' ').nth(2).unwrap_or_default()
    }
}

/// The keys of the file keyhatch did not make, shown read-only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherKeyList {
    /// The first 2,000 readable keys not tagged as keyhatch's, in file order.
    pub keys: Vec<KeyInfo>,
    /// How many more follow them in the file; absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub keys_not_listed: usize,
    /// How many lines sshd cannot read (left alone).
    pub unreadable_lines: usize,
}

/// The keyhatch keys in the account's `authorized_keys`, and what else the file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    /// Where the keys are, e.g. `/home/alice/.ssh/authorized_keys`.
    pub path: String,
    /// keyhatch's newest 2,000 keys in file order: newest last.
    pub keys: Vec<KeyInfo>,
    /// How many older keyhatch keys the file holds before them; absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub keys_not_listed: usize,
    /// Readable keys that are not keyhatch's (left alone, not listed).
    pub other_keys: usize,
    /// The first 100 line numbers sshd cannot read (left alone, not listed).
    pub unreadable_lines: Vec<usize>,
    /// How many more lines sshd cannot read; absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreadable_lines_not_listed: usize,
    /// What would make sshd ignore the keys; empty when all is well.
    pub problems: Vec<HealthProblem>,
    /// The site's lists people may choose under "Allow logins only from".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_lists: Vec<FromList>,
    /// Whether keys' last logins are shown, and since when: absent when keyhatch reads no
    /// sshd log, or cannot read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageSeen>,
}

/// Whether a count is zero, so that it is left out.
fn is_zero(count: &usize) -> bool {
    *count == 0
}

/// A list of addresses the site defines, chosen by its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FromList {
    /// Its name, e.g. `seqera-cloud`.
    pub name: String,
    /// Its patterns, as sshd's list holds them.
    pub patterns: String,
}

/// Something that makes sshd ignore the keys, as `StrictModes` checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthProblem {
    /// What is wrong, in words for the person.
    pub message: String,
    /// The fix keyhatch may make, if any.
    pub fix: Option<PermissionFix>,
}

/// A permission fix keyhatch may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PermissionFix {
    /// `~/.ssh` to 0700.
    SshDirMode,
    /// `~/.ssh/authorized_keys` to 0600.
    FileMode,
}

/// Where a new key can be handed to Seqera Platform, when the site set `seqera-url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqeraTarget {
    /// Platform's web pages, for links (`https://cloud.seqera.io`).
    pub web_url: String,
    /// The credentials name offered: `keyhatch-YYYY-MM-DD`.
    pub credentials_name: String,
}

/// A Platform workspace the person may add credentials to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqeraWorkspace {
    /// Platform's numeric id.
    pub id: i64,
    /// The organization.
    pub org: String,
    /// The workspace.
    pub name: String,
}

/// The person on Platform, and where they may add credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqeraAccount {
    /// Platform's user name.
    pub user_name: String,
    /// The workspaces, in Platform's order.
    pub workspaces: Vec<SeqeraWorkspace>,
}

/// Credentials Platform made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqeraCredentials {
    /// Platform's id for them.
    pub credentials_id: String,
}

/// SSH credentials in Seqera Platform, which a replacement key can be put into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqeraSshCredentials {
    /// Platform's id.
    pub id: String,
    /// Their name.
    pub name: String,
}

/// Platform's credentials now hold the new key; and the old key, when asked to go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqeraUpdated {
    /// The credentials updated, which kept their id.
    pub credentials_id: String,
    /// The old key's fingerprint, once revoked.
    pub revoked: Option<String>,
    /// Why the old key could not be revoked, when it was asked to be and could not.
    pub revoke_error: Option<String>,
}

/// A newly generated key: the only time its private half leaves the server.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedKey {
    /// The private key in OpenSSH format (encrypted when a passphrase was given).
    pub private_key: String,
    /// Whether the private key is protected by a passphrase.
    pub encrypted: bool,
    /// What the key list will show for it.
    pub info: KeyInfo,
    /// Where it can be handed to Seqera Platform; `None` when the site set no `seqera-url`.
    pub seqera: Option<SeqeraTarget>,
    /// The fingerprint of the keyhatch key it replaces, which still works until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("encrypted", &self.encrypted)
            .field("info", &self.info)
            .field("replaces", &self.replaces)
            .finish_non_exhaustive()
    }
}

/// Who the page acts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The login name.
    pub user: String,
    /// The name shown in the header: the passwd full name, or the login name.
    pub display_name: String,
    /// What **Log out** does.
    pub logout: Logout,
}

/// What the profile menu's **Log out** does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Logout {
    /// Ends keyhatch's own session (local mode): a form post.
    Session,
    /// Goes to the site's sign-out page (site mode).
    Link(String),
    /// Nothing keyhatch can do: the site's proxy keeps the login (site mode, no sign-out set).
    Hidden,
}

/// A passphrase on its way to the server: never shown by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `s`.
    pub fn new(s: String) -> Self {
        Self(s)
    }

    /// The secret, consumed.
    pub fn expose(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Whether pasted text holds a private key in any format people paste by mistake (OpenSSH,
/// PEM, RFC 4716, PuTTY): such text is refused, never sent, kept or shown again.
pub fn looks_private(text: &str) -> bool {
    text.contains("PRIVATE KEY") || text.contains("PuTTY-User-Key-File")
}
