//! The operations on a person's `authorized_keys` (server only), one type each with the type of
//! its answer, and [`Op`], the one enum that carries any of them to a helper. In this process
//! an operation is a value ([`Tag`], public keys and options as the domain's types); only the
//! helper's process boundary turns them into text and back, with the `serde` attributes below.

#![deny(missing_docs)]

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::AppError;
use crate::model::{self, KeyInfo, KeyList, OtherKeyList};
use crate::ssh::offboard::{self, SshdClock, Which};
use crate::ssh::{self, AllowedFrom, AuthorizedKeys, Date, KeyOptions, Tag, keygen};
use local_time::local_instant;

mod local_time;

/// One operation on a person's file, with the type of its answer.
pub trait Operation: Into<Op> + Send + 'static {
    /// What the operation answers.
    type Reply: Serialize + DeserializeOwned + Send + 'static;

    /// Whether the operation only reads (no lock, no write, no fsync): in local mode, on a
    /// home on a local disk, it runs on the request's own thread.
    const READS_ONLY: bool = false;

    /// Runs the operation on `store`, the file of the account `uid`.
    fn run(self, store: &AuthorizedKeys, uid: u32) -> Result<Self::Reply, AppError>;
}

/// Any one operation, as it crosses to a helper.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Op {
    /// [`ListKeys`].
    ListKeys(ListKeys),
    /// [`OtherKeys`].
    OtherKeys(OtherKeys),
    /// [`CheckHome`].
    CheckHome(CheckHome),
    /// [`AppendKey`].
    AppendKey(AppendKey),
    /// [`RevokeKey`].
    RevokeKey(RevokeKey),
    /// [`RestrictKey`].
    RestrictKey(RestrictKey),
    /// [`FixPermissions`].
    FixPermissions(FixPermissions),
    /// [`RemoveKeys`].
    RemoveKeys(RemoveKeys),
    /// [`Ping`].
    Ping(Ping),
}

impl Op {
    /// Runs the operation on `store`, the file of the account `uid`, and returns its answer
    /// (or why there is none) as JSON, for the helper to send back.
    pub fn answer(self, store: &AuthorizedKeys, uid: u32) -> serde_json::Result<Vec<u8>> {
        match self {
            Self::ListKeys(op) => serde_json::to_vec(&op.run(store, uid)),
            Self::OtherKeys(op) => serde_json::to_vec(&op.run(store, uid)),
            Self::CheckHome(op) => serde_json::to_vec(&op.run(store, uid)),
            Self::AppendKey(op) => serde_json::to_vec(&op.run(store, uid)),
            Self::RevokeKey(op) => serde_json::to_vec(&op.run(store, uid)),
            Self::RestrictKey(op) => serde_json::to_vec(&op.run(store, uid)),
            Self::FixPermissions(op) => serde_json::to_vec(&op.run(store, uid)),
            Self::RemoveKeys(op) => serde_json::to_vec(&op.run(store, uid)),
            Self::Ping(op) => serde_json::to_vec(&op.run(store, uid)),
        }
    }
}

/// Makes each operation type an [`Op`].
macro_rules! into_op {
    ($($name:ident),*) => {$(
        impl From<$name> for Op {
            fn from(op: $name) -> Self {
                Self::$name(op)
            }
        }
    )*};
}
into_op!(
    ListKeys,
    OtherKeys,
    CheckHome,
    AppendKey,
    RevokeKey,
    RestrictKey,
    FixPermissions,
    RemoveKeys,
    Ping
);

/// The keys tagged `tag`, and what would make sshd ignore them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListKeys {
    /// The tag of keyhatch's keys.
    #[serde(with = "tag_text")]
    pub tag: Tag,
}

impl Operation for ListKeys {
    type Reply = KeyList;
    const READS_ONLY: bool = true;

    fn run(self, store: &AuthorizedKeys, uid: u32) -> Result<KeyList, AppError> {
        let problems = ssh::health::check(store, uid);
        let listing = ssh::list_keys(store, &self.tag)?;
        Ok(super::convert::key_list(store, listing, problems))
    }
}

/// The keys not tagged `tag`, and how many lines sshd cannot read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OtherKeys {
    /// The tag of keyhatch's keys.
    #[serde(with = "tag_text")]
    pub tag: Tag,
}

impl Operation for OtherKeys {
    type Reply = OtherKeyList;
    const READS_ONLY: bool = true;

    fn run(self, store: &AuthorizedKeys, _uid: u32) -> Result<OtherKeyList, AppError> {
        Ok(ssh::other_keys(store, &self.tag)?.into())
    }
}

/// Checks that the home directory exists (asked before a slow key generation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckHome;

impl Operation for CheckHome {
    type Reply = ();
    const READS_ONLY: bool = true;

    fn run(self, store: &AuthorizedKeys, _uid: u32) -> Result<(), AppError> {
        store.check_home().map_err(ssh::Error::from)?;
        Ok(())
    }
}

/// Appends the line of `key` with `options`, durably.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppendKey {
    /// The public key, comment included.
    #[serde(with = "key_text")]
    pub key: ssh_key::PublicKey,
    /// The options written before it.
    #[serde(with = "options_text")]
    pub options: KeyOptions,
    /// The most keys the file may hold with a tag, when the site caps them.
    pub cap: Option<Cap>,
    /// The key was generated this instant, so it cannot be in the file: the file is not read
    /// for duplicates. Keys people bring are always checked.
    pub new: bool,
    /// The key this one replaces, when it does: it must still be there as read, and the cap
    /// counts the file without it.
    #[serde(default)]
    pub replacing: Option<Replaced>,
}

/// Keyhatch's key a new one replaces, as it was read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replaced {
    /// Its `SHA256:` fingerprint.
    pub fingerprint: String,
    /// The tag that marks keyhatch's keys.
    #[serde(with = "tag_text")]
    pub tag: Tag,
    /// Its options field as read.
    pub options: String,
}

/// The most keys tagged `tag` a file may hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cap {
    /// The tag counted.
    #[serde(with = "tag_text")]
    pub tag: Tag,
    /// How many.
    pub max: usize,
}

impl Operation for AppendKey {
    type Reply = ();

    fn run(self, store: &AuthorizedKeys, _uid: u32) -> Result<(), AppError> {
        let line = keygen::authorized_line(&self.key, &self.options).map_err(ssh::Error::from)?;
        if line.contains('\n') {
            return Err(AppError::Storage("one line at a time".into()));
        }
        let cap = self.cap.as_ref().map(|c| (&c.tag, c.max));
        if let Some(old) = &self.replacing {
            let replacing = ssh::store::Replacing {
                fingerprint: &old.fingerprint,
                tag: &old.tag,
                options: old.options.as_bytes(),
            };
            store.append_successor(&line, &replacing, cap)
        } else if self.new {
            store.append_new_key_within(&line, cap)
        } else {
            store.append_key_within(&self.key, &line, cap)
        }
        .map_err(ssh::Error::from)?;
        Ok(())
    }
}

/// Removes keyhatch's key with `fingerprint`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeKey {
    /// The key, as the person named it.
    pub fingerprint: String,
    /// The tag that marks keyhatch's keys.
    #[serde(with = "tag_text")]
    pub tag: Tag,
}

impl Operation for RevokeKey {
    type Reply = ();

    fn run(self, store: &AuthorizedKeys, _uid: u32) -> Result<(), AppError> {
        ssh::revoke_key(store, &self.tag, &self.fingerprint)?;
        Ok(())
    }
}

/// Tightens keyhatch's key with `fingerprint`: where it may log in from, how soon it stops.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestrictKey {
    /// The key, as the person named it.
    pub fingerprint: String,
    /// The tag that marks keyhatch's keys.
    #[serde(with = "tag_text")]
    pub tag: Tag,
    /// The site's options, whose `from=` bounds any new one.
    #[serde(with = "options_text")]
    pub required: KeyOptions,
    /// Where the key may log in from, as sshd's pattern list (checked again when read).
    #[serde(with = "from_text")]
    pub from: Option<AllowedFrom>,
    /// The first day sshd refuses the key, as days since 1970.
    pub expires: Option<i64>,
    /// Today, as days since 1970, so the helper judges dates as the server does.
    pub today: i64,
}

impl Operation for RestrictKey {
    type Reply = KeyInfo;

    fn run(self, store: &AuthorizedKeys, _uid: u32) -> Result<KeyInfo, AppError> {
        let tightening = ssh::restrict::Tightening {
            from: self.from,
            expires: self.expires.map(Date::from_days),
        };
        let key = ssh::restrict::restrict_key(
            store,
            &self.tag,
            &self.fingerprint,
            &self.required,
            &tightening,
            Date::from_days(self.today),
        )?;
        Ok(key.into())
    }
}

/// Makes one of the permission fixes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FixPermissions {
    /// Which.
    pub fix: model::PermissionFix,
}

impl Operation for FixPermissions {
    type Reply = ();

    fn run(self, store: &AuthorizedKeys, uid: u32) -> Result<(), AppError> {
        ssh::health::fix(store, uid, self.fix.into()).map_err(ssh::Error::from)?;
        Ok(())
    }
}

/// Removes `which` of the keys tagged `tag`, in one rewrite; with `dry_run`, only says which.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveKeys {
    /// The tag that marks keyhatch's keys.
    #[serde(with = "tag_text")]
    pub tag: Tag,
    /// Which of them.
    pub which: Removing,
    /// Judge only, write nothing.
    pub dry_run: bool,
}

/// Which of keyhatch's keys go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Removing {
    /// Every one.
    All,
    /// Those sshd refuses for their `expiry-time` at `now` (seconds since 1970), reading a
    /// trailing `Z` as `reads_utc` says (OpenSSH 9.1 and later; `None`: version unknown).
    Expired {
        /// Now, as the administrator's command saw it.
        now: i64,
        /// Whether this node's sshd reads `Z`.
        reads_utc: Option<bool>,
    },
}

/// What a removal found: the file, and each of keyhatch's keys with what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    /// The file, e.g. `/home/alice/.ssh/authorized_keys`.
    pub path: String,
    /// keyhatch's keys, in file order.
    pub keys: Vec<JudgedKey>,
}

/// One of keyhatch's keys, and whether it was removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgedKey {
    /// The key, as the list shows it.
    #[serde(flatten)]
    pub key: KeyInfo,
    /// Whether it was removed (in a dry run: would be).
    pub removed: bool,
    /// Why it was left, when worth saying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// It was to go, but a line keyhatch did not write holds the same key: left, and failed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held_elsewhere: bool,
}

impl Operation for RemoveKeys {
    type Reply = Removal;

    fn run(self, store: &AuthorizedKeys, _uid: u32) -> Result<Removal, AppError> {
        let clock;
        let which = match self.which {
            Removing::All => Which::All,
            Removing::Expired { now, reads_utc } => {
                clock = SshdClock {
                    now,
                    reads_utc,
                    local: &local_instant,
                };
                Which::Expired(&clock)
            }
        };
        let judged = offboard::remove_keys(store, &self.tag, &which, self.dry_run)?;
        Ok(Removal {
            path: store.path().display().to_string(),
            keys: judged
                .into_iter()
                .map(|j| JudgedKey {
                    key: j.key.into(),
                    removed: j.removed,
                    note: j.note,
                    held_elsewhere: j.held_elsewhere,
                })
                .collect(),
        })
    }
}

/// Nothing: answers at once (the health check's helper, which proves helpers start).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ping;

impl Operation for Ping {
    type Reply = ();
    const READS_ONLY: bool = true;

    fn run(self, _store: &AuthorizedKeys, _uid: u32) -> Result<(), AppError> {
        Ok(())
    }
}

/// A [`Tag`] as its text, checked again when read.
mod tag_text {
    use super::*;

    pub fn serialize<S: Serializer>(tag: &Tag, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tag.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tag, D::Error> {
        Tag::parse(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// [`KeyOptions`] as their text, checked again when read.
mod options_text {
    use super::*;

    pub fn serialize<S: Serializer>(options: &KeyOptions, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(options.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<KeyOptions, D::Error> {
        KeyOptions::parse(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// An [`AllowedFrom`] as sshd's pattern list, checked again when read.
mod from_text {
    use super::*;

    pub fn serialize<S: Serializer>(from: &Option<AllowedFrom>, s: S) -> Result<S::Ok, S::Error> {
        from.as_ref().map(ToString::to_string).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AllowedFrom>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| AllowedFrom::parse(&text).map_err(D::Error::custom))
            .transpose()
    }
}

/// A public key as its OpenSSH line (`ssh-ed25519 AAAA… comment`).
mod key_text {
    use super::*;

    pub fn serialize<S: Serializer>(key: &ssh_key::PublicKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&key.to_openssh().map_err(serde::ser::Error::custom)?)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ssh_key::PublicKey, D::Error> {
        ssh_key::PublicKey::from_openssh(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests;
