//! Who a request is for, and where its work runs (server only). The server chooses once, at
//! start: local mode has one [`Person`], the account keyhatch runs as, whose keys are kept
//! [in this process](in_process::InProcess); site mode has [`SitePeople`], which makes a
//! [`Person`] for each account the login proxy names, whose keys are kept
//! [through helpers](via_helper::ViaHelper) that take that person's uid. Every request is handed
//! its `Person`; nothing after that asks which mode it is.

#![deny(missing_docs)]

mod in_process;
mod store;
mod via_helper;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use store::{Answer, KeyStore, Runs};

use super::helper::{Helper, Identity, Runner};
use super::limits::{Limits, Permit};
use super::op::{
    AppendKey, Cap, CheckHome, FixPermissions, ListKeys, OtherKeys, Removal, RemoveKeys, Removing,
    Replaced, RestrictKey, RevokeKey,
};
use crate::declared;
use crate::error::AppError;
use crate::model::{Account, KeyInfo, KeyList, OtherKeyList, PermissionFix};
use crate::ssh::{AuthorizedKeys, KeyOptions, KeysFile, Label, NewKey, Tag, keygen};

/// The person a request is for: their account, their ids and home, their keys file, the
/// bounds on their work, and their keys.
#[derive(Debug, Clone)]
pub struct Person {
    /// The account, as the page shows it.
    pub account: Account,
    /// The uid.
    pub uid: u32,
    /// The primary gid.
    pub gid: u32,
    /// The home directory.
    pub home: PathBuf,
    /// The `authorized_keys` keyhatch manages for them.
    pub keys_file: PathBuf,
    /// The bounds on their work.
    pub limits: Limits,
    /// Their keys, and the operations on them.
    pub keys: Keys,
}

impl Person {
    /// Local mode's one person: the account keyhatch runs as (`uid`, `gid`), whose file is
    /// `store`, worked on in this process and without limits.
    pub fn local(
        account: Account,
        uid: u32,
        gid: u32,
        home: PathBuf,
        store: AuthorizedKeys,
        tag: Tag,
    ) -> Self {
        let limits = Limits::none();
        Self {
            keys_file: store.path().to_owned(),
            keys: Keys::new(
                Arc::new(in_process::InProcess::new(store, uid)),
                tag,
                &limits,
            ),
            account,
            uid,
            gid,
            home,
            limits,
        }
    }

    /// This person for one more operation of theirs, counted as under way until this value
    /// and every clone of it (or of its keys) are dropped; 429 when they have as many under way
    /// as their limits allow.
    pub fn entered(&self) -> Result<Self, AppError> {
        let permit = self.limits.enter(self.uid)?;
        Ok(Self {
            keys: Keys {
                permit,
                ..self.keys.clone()
            },
            ..self.clone()
        })
    }

    /// What holds this person's operation under way (see [`Self::entered`]), for work that is
    /// not an operation on their keys: a key derivation, a call to Platform.
    pub fn in_flight(&self) -> Permit {
        self.keys.permit.clone()
    }
}

/// Site mode's people: a [`Person`] for each account the login proxy names, served by helpers
/// that take their uid, within the site's limits.
#[derive(Debug, Clone)]
pub struct SitePeople {
    runner: Runner,
    keys_file: KeysFile,
    max_file_size: u64,
    lock_timeout: Duration,
    tag: Tag,
    limits: Limits,
}

impl SitePeople {
    /// People whose keys are kept as the site's `keys` settings say, each served by helpers
    /// within the site's `limits`.
    pub fn new(keys: &declared::Keys, limits: &declared::Limits) -> Self {
        Self {
            runner: Runner::new(Duration::from_secs(limits.helper_timeout)),
            keys_file: keys.authorized_keys_file.clone(),
            max_file_size: limits.max_file_size,
            lock_timeout: Duration::from_secs(limits.lock_timeout),
            tag: keys.tag.clone(),
            limits: Limits::site(limits),
        }
    }

    /// The same people, the health check's helper becoming `identity`.
    pub fn with_health_check_as(self, identity: Identity) -> Self {
        Self {
            runner: self.runner.with_health_check_as(identity),
            ..self
        }
    }

    /// The person `identity` (as the user database has them), shown as `account`; `None` when
    /// the keys file would lie outside their home.
    pub fn person(&self, identity: Identity, account: Account) -> Option<Person> {
        let keys_file = self.keys_file.below_home(&identity.user)?;
        let helper = Helper {
            max_file_size: self.max_file_size,
            lock_timeout: self.lock_timeout,
            keys_file: self.keys_file.as_str().to_owned(),
            identity: identity.clone(),
        };
        let store = via_helper::ViaHelper::new(helper, self.runner.clone());
        Some(Person {
            account,
            uid: identity.uid,
            gid: identity.gid,
            keys_file: identity.home.join(keys_file),
            home: identity.home,
            keys: Keys::new(Arc::new(store), self.tag.clone(), &self.limits),
            limits: self.limits.clone(),
        })
    }

    /// Whether helpers can be started and finish (see [`Runner::healthy`]); the error says
    /// what failed.
    pub async fn healthy(&self) -> Result<(), String> {
        self.runner.healthy().await
    }
}

/// A person's keys: where they are kept, the tag that marks keyhatch's among them, and the
/// operation under way they count for.
#[derive(Debug, Clone)]
pub struct Keys {
    store: Arc<dyn KeyStore>,
    tag: Tag,
    max_keys: Option<usize>,
    permit: Permit,
}

impl Keys {
    /// The keys kept in `store`, keyhatch's tagged `tag`, capped as `limits` say.
    fn new(store: Arc<dyn KeyStore>, tag: Tag, limits: &Limits) -> Self {
        Self {
            store,
            tag,
            max_keys: limits.max_keys,
            permit: Permit::unbounded(),
        }
    }

    /// The comment word of keyhatch's keys.
    pub fn tag(&self) -> &Tag {
        &self.tag
    }

    /// Keyhatch's keys, and what sshd would mind.
    pub async fn list_keys(&self) -> Result<KeyList, AppError> {
        let op = ListKeys {
            tag: self.tag.clone(),
        };
        self.store.run(op, self.permit.clone()).await
    }

    /// The other keys, read-only.
    pub async fn other_keys(&self) -> Result<OtherKeyList, AppError> {
        let op = OtherKeys {
            tag: self.tag.clone(),
        };
        self.store.run(op, self.permit.clone()).await
    }

    /// Checks that the home exists (asked before a slow key generation).
    pub async fn check_home(&self) -> Result<(), AppError> {
        self.store.run(CheckHome, self.permit.clone()).await
    }

    /// Has the line of `key`, generated this instant (so not read for duplicates), appended
    /// durably with `options`.
    pub async fn authorize_new(&self, key: &NewKey, options: &KeyOptions) -> Result<(), AppError> {
        self.append(key.public.clone(), options, true, None).await
    }

    /// [`Self::authorize_new`] for a key that replaces keyhatch's key `old` (as listed): only
    /// while the file still holds `old` as listed, and within the cap without it.
    pub async fn authorize_successor(
        &self,
        key: &NewKey,
        options: &KeyOptions,
        old: &KeyInfo,
    ) -> Result<(), AppError> {
        let replacing = Replaced {
            fingerprint: old.fingerprint.clone(),
            tag: self.tag.clone(),
            options: old.options.clone(),
        };
        self.append(key.public.clone(), options, true, Some(replacing))
            .await
    }

    /// Authorizes a key the person brought, commented with the tag and `label` in place of its
    /// own; returns it as written. A key already in the file is refused.
    pub async fn add_key(
        &self,
        key: &ssh_key::PublicKey,
        label: Option<&Label>,
        options: &KeyOptions,
    ) -> Result<ssh_key::PublicKey, AppError> {
        let key = keygen::with_comment(key, &self.tag.comment(label));
        self.append(key.clone(), options, false, None).await?;
        Ok(key)
    }

    /// Has `key`'s line with `options` appended durably, within the cap on keyhatch's keys;
    /// refused when the file holds the key already, unless it is `new`; see
    /// [`Self::authorize_successor`] for `replacing`.
    async fn append(
        &self,
        key: ssh_key::PublicKey,
        options: &KeyOptions,
        new: bool,
        replacing: Option<Replaced>,
    ) -> Result<(), AppError> {
        let op = AppendKey {
            key,
            options: options.clone(),
            cap: self.max_keys.map(|max| Cap {
                tag: self.tag.clone(),
                max,
            }),
            new,
            replacing,
        };
        self.store.run(op, self.permit.clone()).await
    }

    /// Removes keyhatch's key with `fingerprint`.
    pub async fn revoke_key(&self, fingerprint: &str) -> Result<(), AppError> {
        let op = RevokeKey {
            fingerprint: fingerprint.to_owned(),
            tag: self.tag.clone(),
        };
        self.store.run(op, self.permit.clone()).await
    }

    /// Removes `which` of keyhatch's keys in one rewrite (with `dry_run`, only judges them);
    /// returns each of keyhatch's keys with what became of it.
    pub async fn remove_keys(&self, which: Removing, dry_run: bool) -> Result<Removal, AppError> {
        let op = RemoveKeys {
            tag: self.tag.clone(),
            which,
            dry_run,
        };
        self.store.run(op, self.permit.clone()).await
    }

    /// Tightens keyhatch's key with `fingerprint` as `tightening` says, never past what
    /// `required` (the site's options) imposes; returns it as the list now shows it.
    pub async fn restrict_key(
        &self,
        fingerprint: &str,
        required: &KeyOptions,
        tightening: crate::ssh::restrict::Tightening,
    ) -> Result<KeyInfo, AppError> {
        let op = RestrictKey {
            fingerprint: fingerprint.to_owned(),
            tag: self.tag.clone(),
            required: required.clone(),
            from: tightening.from,
            expires: tightening.expires.map(crate::ssh::Date::days),
            today: crate::ssh::Date::today().days(),
        };
        self.store.run(op, self.permit.clone()).await
    }

    /// Makes one permission fix.
    pub async fn fix(&self, fix: PermissionFix) -> Result<(), AppError> {
        self.store
            .run(FixPermissions { fix }, self.permit.clone())
            .await
    }
}

#[cfg(test)]
mod tests;
