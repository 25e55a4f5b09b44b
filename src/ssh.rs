//! The SSH domain: key generation, `authorized_keys` parsing and the file store.
//!
//! Nothing here knows about Leptos, axum or the process environment: every operation takes the
//! account's file explicitly (an [`AuthorizedKeys`] made from a home directory), so the same
//! calls serve a local user, a test's temporary home, or a per-account helper process. Nothing
//! here reads the environment either: test hooks such as crash points are passed in.
#![deny(missing_docs)]

pub mod authorized_keys;
pub mod encrypted;
pub mod expiry;
pub mod health;
pub mod import;
pub mod kdf;
pub mod keygen;
pub mod label;
pub mod store;
#[cfg(test)]
pub(crate) mod testing;

use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

pub use expiry::{Date, Expiry, Lifetime};
pub use import::{ImportError, parse_public_key};
pub use keygen::NewKey;
pub use label::{InvalidLabel, Label};
pub use store::{AuthorizedKeys, StoreError};

/// A key's fingerprint as `ssh-keygen -l` prints it: `SHA256:` and unpadded base64.
pub fn fingerprint(key: &ssh_key::PublicKey) -> String {
    use base64::Engine;
    let digest = key.fingerprint(ssh_key::HashAlg::Sha256);
    // Written here rather than by the digest's `Display`, which grows the string piece by
    // piece through `fmt`: that was 8% of the time to list 10,000 lines over HTTP.
    let mut base64 = [0; 43];
    base64::prelude::BASE64_STANDARD_NO_PAD
        .encode_slice(digest.as_bytes(), &mut base64)
        .expect("a SHA-256 digest is 43 base64 characters");
    let mut text = String::with_capacity(7 + base64.len());
    text.push_str("SHA256:");
    text.push_str(std::str::from_utf8(&base64).expect("base64 is ASCII"));
    text
}

/// The comment word that marks a key as keyhatch's (default `fileglancer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag(String);

impl Tag {
    /// The tag the original tool wrote, so keys made at existing sites are recognised.
    pub const DEFAULT: &'static str = "fileglancer";

    /// Accepts one printable word: no blanks or control characters, not starting with `#`.
    pub fn parse(s: &str) -> Result<Self, InvalidSetting> {
        let ok = !s.is_empty()
            && !s.starts_with('#')
            && s.chars().all(|c| !c.is_whitespace() && !c.is_control());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidSetting::Tag(s.to_owned()))
        }
    }

    /// The tag as written in the comment field.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The comment of a new key: the tag, then the label if there is one.
    pub fn comment(&self, label: Option<&Label>) -> String {
        match label {
            Some(label) => format!("{} {}", self.0, label.as_str()),
            None => self.0.clone(),
        }
    }
}

impl Default for Tag {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

/// The options field written before each new key (default `restrict,pty`); may be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOptions(String);

impl KeyOptions {
    /// The default: no forwarding of any kind, but an interactive terminal is allowed.
    pub const DEFAULT: &'static str = "restrict,pty";

    /// Accepts an options field sshd reads as one: printable, no blank outside `"…"`, quotes
    /// closed. An empty string means no options.
    pub fn parse(s: &str) -> Result<Self, InvalidSetting> {
        let printable = s.chars().all(|c| !c.is_control());
        let one_field = authorized_keys::options_len(s.as_bytes()) == Some(s.len());
        if printable && one_field && !s.starts_with('#') {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidSetting::KeyOptions(s.to_owned()))
        }
    }

    /// The options as written before the key type, possibly empty.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// These options and an `expiry-time` that makes sshd refuse the key from `date` on.
    pub fn expiring(&self, date: Date) -> Self {
        let expiry = Expiry::option(date);
        match self.0.as_str() {
            "" => Self(expiry),
            options => Self(format!("{options},{expiry}")),
        }
    }
}

impl Default for KeyOptions {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

/// Where keyhatch writes keys, as sshd's `AuthorizedKeysFile` names it: below the home,
/// relative to it or starting with `%h/`, with `%u` for the login name and `%%` for a percent
/// sign (default `.ssh/authorized_keys`). A file outside the home could not be written as the
/// person, so it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysFile(String);

impl KeysFile {
    /// Where sshd reads keys by default.
    pub const DEFAULT: &'static str = store::DEFAULT_LOCATION;

    /// Accepts a pattern that names a file in a directory below the home for any login name.
    pub fn parse(s: &str) -> Result<Self, InvalidSetting> {
        let pattern = Self(s.to_owned());
        match pattern.below_home("user") {
            Some(_) => Ok(pattern),
            None => Err(InvalidSetting::KeysFile(s.to_owned())),
        }
    }

    /// The file's path below the home of `user`; `None` when the pattern or the name would
    /// leave the home.
    pub fn below_home(&self, user: &str) -> Option<PathBuf> {
        if user.is_empty() || user.contains('/') || user == "." || user == ".." {
            return None;
        }
        let pattern = self.0.strip_prefix("%h/").unwrap_or(&self.0);
        let mut path = String::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match (c, c == '%') {
                (_, false) => path.push(c),
                (_, true) => match chars.next() {
                    Some('u') => path.push_str(user),
                    Some('%') => path.push('%'),
                    _ => return None,
                },
            }
        }
        let path = PathBuf::from(path);
        AuthorizedKeys::at(Path::new("/"), &path).map(|_| path)
    }

    /// The keys file of `user`, whose home is `home`.
    pub fn of(&self, home: &Path, user: &str) -> Option<AuthorizedKeys> {
        AuthorizedKeys::at(home, &self.below_home(user)?)
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for KeysFile {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

/// A passphrase for a new private key: never empty, wiped from memory when dropped, never printed.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Takes a passphrase; an empty one means "no passphrase" and gives `None`.
    pub fn new(s: String) -> Option<Self> {
        let s = Zeroizing::new(s);
        (!s.is_empty()).then(|| Self(s))
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// A setting that keyhatch refuses to start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidSetting {
    /// The tag is not one printable word.
    #[error("tag {0:?} must be one printable word without blanks, not starting with '#'")]
    Tag(String),
    /// The keys file would not be below the home.
    #[error(
        "authorized-keys-file {0:?} must name a file in a directory below the home, like \".ssh/authorized_keys\" or \"%h/.ssh/keys/%u\""
    )]
    KeysFile(String),
    /// The key options would not read as one options field.
    #[error("key options {0:?} must be one authorized_keys options field, like \"restrict,pty\"")]
    KeyOptions(String),
}

/// A failure of a domain operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing `authorized_keys` failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key could not be made or encoded.
    #[error(transparent)]
    Keygen(#[from] keygen::KeygenError),
}

/// A key listed from `authorized_keys`, detached from the file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedKey {
    /// The algorithm name, e.g. `ssh-ed25519`.
    pub key_type: String,
    /// `SHA256:` fingerprint, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// The comment, invalid UTF-8 replaced.
    pub comment: String,
    /// The comment after its first word: for keyhatch's keys, the label the person gave.
    pub label: Option<String>,
    /// The options field (`restrict,pty`, …), invalid UTF-8 replaced; empty when none.
    pub options: String,
    /// When sshd stops accepting the key, from its `expiry-time` option.
    pub expiry: Option<Expiry>,
    /// The public key as a `.pub` file holds it: `type base64 comment`.
    pub public_line: String,
}

/// The keys of the file that keyhatch did not make, for reading only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtherKeys {
    /// Every readable key whose comment does not start with the tag, in file order.
    pub keys: Vec<ListedKey>,
    /// How many lines sshd cannot read.
    pub unreadable_lines: usize,
}

/// What the list of keyhatch keys shows, and what else the file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// keyhatch's keys (first comment word equals the tag), in file order: newest last.
    pub keys: Vec<ListedKey>,
    /// How many readable keys are someone else's.
    pub other_keys: usize,
    /// Line numbers sshd cannot read; kept in the file, never an error.
    pub unreadable_lines: Vec<usize>,
}

/// Lists the keys tagged `tag` in the store's file; a missing file is an empty list.
pub fn list_keys(store: &AuthorizedKeys, tag: &Tag) -> Result<Listing, Error> {
    let contents = store.read()?;
    let listings = read_in_parallel(&contents, |first, run| {
        let mut listing = Listing::default();
        for (number, line) in authorized_keys::classify(first, run) {
            match line {
                authorized_keys::Line::Key(key) if key.is_tagged(tag) => {
                    listing.keys.push(ListedKey::from(&key));
                }
                authorized_keys::Line::Key(_) => listing.other_keys += 1,
                authorized_keys::Line::Unreadable => listing.unreadable_lines.push(number),
                authorized_keys::Line::Ignored => {}
            }
        }
        listing
    });
    Ok(listings
        .into_iter()
        .reduce(Listing::then)
        .unwrap_or_default())
}

/// Below this, a file is read on one thread: starting another costs more than it saves.
const PARALLEL_RUN: usize = 64 * 1024;

/// `read` over runs of whole lines of `contents` (given the number of the run's first line),
/// one run per core for a large file, so that listing 10,000 lines takes half the time on two
/// cores; the results in file order. Where no thread can be started (the account is at its
/// process limit), the runs are read on this one.
fn read_in_parallel<T: Send>(contents: &[u8], read: impl Fn(usize, &[u8]) -> T + Sync) -> Vec<T> {
    // Asked once: the answer reads the process's cgroup files each time.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from));
    let runs = authorized_keys::runs_of_lines(contents, cores.min(contents.len() / PARALLEL_RUN));
    let read = &read;
    std::thread::scope(|scope| {
        let mut runs = runs.into_iter();
        let here = runs.next();
        let started: Vec<_> = runs
            .map(|(first, run)| {
                std::thread::Builder::new()
                    .spawn_scoped(scope, move || read(first, run))
                    .map_err(|_| (first, run))
            })
            .collect();
        here.map(|(first, run)| read(first, run))
            .into_iter()
            .chain(started.into_iter().map(|thread| {
                match thread {
                    Ok(thread) => thread
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    Err((first, run)) => read(first, run),
                }
            }))
            .collect()
    })
}

/// Lists the keys of the store's file that are not tagged `tag`, with their options, and counts
/// the lines sshd cannot read; a missing file has none.
pub fn other_keys(store: &AuthorizedKeys, tag: &Tag) -> Result<OtherKeys, Error> {
    let contents = store.read()?;
    let parts = read_in_parallel(&contents, |first, run| {
        let mut others = OtherKeys::default();
        for (_, line) in authorized_keys::classify(first, run) {
            match line {
                authorized_keys::Line::Key(key) if !key.is_tagged(tag) => {
                    others.keys.push(ListedKey::from(&key));
                }
                authorized_keys::Line::Unreadable => others.unreadable_lines += 1,
                authorized_keys::Line::Key(_) | authorized_keys::Line::Ignored => {}
            }
        }
        others
    });
    Ok(parts
        .into_iter()
        .reduce(OtherKeys::then)
        .unwrap_or_default())
}

impl Listing {
    /// This listing of a run of lines followed by the listing of the next run.
    fn then(mut self, next: Self) -> Self {
        self.keys.extend(next.keys);
        self.other_keys += next.other_keys;
        self.unreadable_lines.extend(next.unreadable_lines);
        self
    }
}

impl OtherKeys {
    /// These keys of a run of lines followed by those of the next run.
    fn then(mut self, next: Self) -> Self {
        self.keys.extend(next.keys);
        self.unreadable_lines += next.unreadable_lines;
        self
    }
}

impl ListedKey {
    /// What the list will show for `key` once written with `options`: its line read back.
    pub fn as_written(key: &ssh_key::PublicKey, options: &KeyOptions) -> Self {
        let line = keygen::authorized_line(key, options).unwrap_or_default();
        match authorized_keys::parse_line(1, line.as_bytes()) {
            authorized_keys::Line::Key(key) => Self::from(&key),
            // A key that encodes always reads back; this is the same key, undecorated.
            _ => Self {
                key_type: key.algorithm().as_str().to_owned(),
                fingerprint: fingerprint(key),
                comment: key.comment().to_owned(),
                label: None,
                options: options.as_str().to_owned(),
                expiry: None,
                public_line: key.to_openssh().unwrap_or_default(),
            },
        }
    }
}

impl From<&authorized_keys::KeyLine<'_>> for ListedKey {
    fn from(key: &authorized_keys::KeyLine<'_>) -> Self {
        let comment = key.comment_lossy();
        let label = comment
            .split_once([' ', '\t'])
            .map(|(_, rest)| rest.trim_matches([' ', '\t']))
            .filter(|rest| !rest.is_empty())
            .map(str::to_owned);
        Self {
            key_type: key.key.algorithm().as_str().to_owned(),
            fingerprint: key.fingerprint(),
            label,
            options: authorized_keys::lossy(key.options).into_owned(),
            expiry: Expiry::of_options(key.options),
            public_line: key.public_line(),
            comment: comment.into_owned(),
        }
    }
}

/// Generates an ed25519 key commented with `tag` and `label`, appends its public half with
/// `options` to the store's file, and returns the key only once it is durably there.
pub fn create_key(
    store: &AuthorizedKeys,
    tag: &Tag,
    label: Option<&Label>,
    options: &KeyOptions,
    passphrase: Option<&Passphrase>,
) -> Result<NewKey, Error> {
    // Check the home first: generating a key (slow with a passphrase) only to fail is wasteful.
    store.check_home()?;
    let key = keygen::generate(tag, label, passphrase)?;
    store.append_new_key_within(&key.authorized_line(options)?, None)?;
    Ok(key)
}

/// Authorizes a public key the person brought, commented with `tag` and `label` in place of its
/// own comment and written with `options`, so it is listed and revocable like a generated one.
/// A key already in the file (with any comment or options) is refused.
pub fn add_key(
    store: &AuthorizedKeys,
    key: &ssh_key::PublicKey,
    tag: &Tag,
    label: Option<&Label>,
    options: &KeyOptions,
) -> Result<ssh_key::PublicKey, Error> {
    let key = keygen::with_comment(key, &tag.comment(label));
    store.append_key(&key, &keygen::authorized_line(&key, options)?)?;
    Ok(key)
}

/// Removes the keyhatch key with `fingerprint` (its comment starts with `tag`) from the store's
/// file, keeping every other byte; any other line is read-only.
pub fn revoke_key(store: &AuthorizedKeys, tag: &Tag, fingerprint: &str) -> Result<(), Error> {
    store.remove_key(fingerprint, tag)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_one_printable_word() {
        assert_eq!(Tag::parse("fileglancer").unwrap().as_str(), "fileglancer");
        assert!(Tag::parse("keyhatch@cluster").is_ok());
        for bad in ["", "two words", "tab\there", "#hash", "new\nline"] {
            assert!(Tag::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn key_options_are_one_field_or_empty() {
        for good in [
            "",
            "restrict,pty",
            r#"restrict,command="uptime -p",from="10.0.0.0/8""#,
        ] {
            assert!(KeyOptions::parse(good).is_ok(), "{good:?} refused");
        }
        for bad in [
            "restrict pty",
            r#"command="open"#,
            "restrict\n",
            "#restrict",
        ] {
            assert!(KeyOptions::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_keys_file_is_below_the_home_with_its_tokens_expanded() {
        let default = KeysFile::default();
        assert_eq!(
            default.below_home("alice").unwrap(),
            Path::new(".ssh/authorized_keys")
        );
        let custom = KeysFile::parse("%h/.ssh/keys/%u%%").unwrap();
        assert_eq!(
            custom.below_home("alice").unwrap(),
            Path::new(".ssh/keys/alice%")
        );
        for bad in [
            "/etc/ssh/keys/%u",
            "authorized_keys",
            "../x/authorized_keys",
            ".ssh/%x",
            "%h",
            "",
        ] {
            assert!(KeysFile::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(KeysFile::parse("keys/%u").unwrap().below_home(".."), None);
    }

    #[test]
    fn an_expiring_key_gets_expiry_time_after_the_other_options() {
        let date = Date::new(2027, 3, 1).unwrap();
        assert_eq!(
            KeyOptions::default().expiring(date).as_str(),
            r#"restrict,pty,expiry-time="20270301""#
        );
        let none = KeyOptions::parse("").unwrap();
        assert_eq!(none.expiring(date).as_str(), r#"expiry-time="20270301""#);
        assert!(KeyOptions::parse(KeyOptions::default().expiring(date).as_str()).is_ok());
    }

    #[test]
    fn a_large_file_read_on_several_threads_lists_as_one_read_in_order() {
        // 300 copies of the fixture: 5,700 lines, 720 KB, cut into one run per core.
        let contents = [testing::MIXED; 300].join(&b'\n');
        assert!(contents.len() > 4 * PARALLEL_RUN);
        let home = testing::home_with(&contents);
        let store = AuthorizedKeys::in_home(home.path());
        let tag = Tag::default();
        let parsed = authorized_keys::parse(&contents);
        let (ours, theirs): (Vec<_>, Vec<_>) = parsed.keys.iter().partition(|k| k.is_tagged(&tag));

        let listing = list_keys(&store, &tag).unwrap();
        assert_eq!(
            listing.keys,
            ours.iter()
                .copied()
                .map(ListedKey::from)
                .collect::<Vec<_>>()
        );
        assert_eq!(listing.other_keys, theirs.len());
        assert_eq!(listing.unreadable_lines, parsed.unreadable);
        assert_eq!(listing.unreadable_lines.len(), 3 * 300);
        assert_eq!(listing.unreadable_lines.last(), Some(&(19 * 299 + 17)));

        let others = other_keys(&store, &tag).unwrap();
        assert_eq!(
            others.keys,
            theirs
                .iter()
                .copied()
                .map(ListedKey::from)
                .collect::<Vec<_>>()
        );
        assert_eq!(others.unreadable_lines, 3 * 300);
    }

    #[test]
    fn an_added_key_is_tagged_listed_with_its_label_and_expiry_and_refused_twice() {
        let home = testing::home_with(b"");
        let store = AuthorizedKeys::in_home(home.path());
        let tag = Tag::default();
        let (key, _) = testing::random_key("", "me@laptop");
        let label = Label::parse("laptop key").unwrap();
        let options = KeyOptions::default().expiring(Date::new(2020, 1, 1).unwrap());
        let added = add_key(&store, &key, &tag, label.as_ref(), &options).unwrap();
        assert_eq!(added.comment(), "fileglancer laptop key");

        let listing = list_keys(&store, &tag).unwrap();
        let listed = &listing.keys[0];
        assert_eq!(listed.label.as_deref(), Some("laptop key"));
        assert_eq!(listed.fingerprint, fingerprint(&key));
        assert_eq!(
            listed.expiry.unwrap().date(),
            Date::new(2020, 1, 1).unwrap()
        );
        assert!(
            listed
                .expiry
                .unwrap()
                .has_passed(std::time::SystemTime::now())
        );
        assert_eq!(listed, &ListedKey::as_written(&added, &options));
        assert!(listed.public_line.ends_with(" fileglancer laptop key"));

        // The same key under another comment is still the same key.
        let again = keygen::with_comment(&key, "someone else");
        assert!(matches!(
            add_key(&store, &again, &tag, None, &KeyOptions::default()),
            Err(Error::Store(StoreError::AlreadyPresent(_)))
        ));
        assert_eq!(list_keys(&store, &tag).unwrap().keys.len(), 1);
    }

    #[test]
    fn other_keys_are_every_untagged_key_with_its_options_in_file_order() {
        let home = testing::home_with(testing::MIXED);
        let store = AuthorizedKeys::in_home(home.path());
        let others = other_keys(&store, &Tag::default()).unwrap();
        assert_eq!(others.unreadable_lines, 3);
        assert_eq!(others.keys.len(), 7);
        let oracle: Vec<&str> = testing::MIXED_FINGERPRINTS.lines().collect();
        for key in &others.keys {
            assert!(oracle.contains(&key.fingerprint.as_str()), "{key:?}");
        }
        let rsa = others
            .keys
            .iter()
            .find(|k| k.key_type == "ssh-rsa")
            .unwrap();
        assert_eq!(
            rsa.options,
            r#"command="echo \"hi there\", ok",from="10.0.0.0/8,192.168.1.1""#
        );
        assert!(
            others
                .keys
                .iter()
                .any(|k| k.options.starts_with("cert-authority"))
        );
        let theirs = list_keys(&store, &Tag::default()).unwrap();
        assert_eq!(theirs.other_keys, others.keys.len());
    }

    #[test]
    fn an_empty_passphrase_means_none() {
        assert!(Passphrase::new(String::new()).is_none());
        let p = Passphrase::new("secret".into()).unwrap();
        assert_eq!(format!("{p:?}"), "Passphrase(<redacted>)");
    }
}
