//! What server functions run on (server only): the person's `authorized_keys`, reached directly
//! (local mode: keyhatch runs as the person) or through a helper process that has taken the
//! person's uid (site mode: keyhatch runs as root and never touches a person's files itself).
//! Both run the same [`execute`]; the private key never leaves the server either way, only the
//! public line crosses to the helper.

use serde::{Deserialize, Serialize};

use super::helper::{Helper, Runner};
use super::limits::Permit;
use crate::error::AppError;
use crate::model::{Fix, KeyList, OtherKeyList};
use crate::ssh::{self, AuthorizedKeys, KeyOptions, Label, NewKey, Tag, keygen};

/// One operation on a person's `authorized_keys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// The keys tagged `tag`, and what would make sshd ignore them.
    ListKeys {
        /// The tag.
        tag: String,
    },
    /// The keys not tagged `tag`, and how many lines sshd cannot read.
    OtherKeys {
        /// The tag.
        tag: String,
    },
    /// Does the home directory exist? (Asked before a slow key generation.)
    CheckHome,
    /// Append `line`, the authorized line of `public_key` (OpenSSH format), durably.
    AppendKey {
        /// The public key, to refuse one already present.
        public_key: String,
        /// The whole line: options, key, comment.
        line: String,
        /// The most keys tagged `tag` the file may hold (site mode), and the tag.
        cap: Option<(usize, String)>,
        /// The key was generated this instant, so it cannot be in the file: skip the read
        /// for duplicates. Keys people bring are always checked.
        #[serde(default)]
        new: bool,
    },
    /// Remove keyhatch's key with `fingerprint`.
    RevokeKey {
        /// The key.
        fingerprint: String,
        /// The tag that marks keyhatch's keys.
        tag: String,
    },
    /// Make one of the permission fixes.
    Fix {
        /// Which.
        fix: Fix,
    },
    /// Nothing: answer at once (the health check's helper, which proves helpers start).
    Ping,
}

/// What an operation answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    /// The list, for [`Request::ListKeys`].
    Keys(KeyList),
    /// The other keys, for [`Request::OtherKeys`].
    Others(OtherKeyList),
    /// Done, for every other request.
    Done,
}

/// Runs `request` on `store`, for the account `uid`: in this process in local mode, in the
/// helper (as the person) in site mode.
pub fn execute(store: &AuthorizedKeys, uid: u32, request: Request) -> Result<Reply, AppError> {
    let tag = |s: &str| Tag::parse(s).map_err(|e| AppError::Storage(e.to_string()));
    match request {
        Request::ListKeys { tag: t } => {
            let problems = ssh::health::check(store, uid);
            let listing = ssh::list_keys(store, &tag(&t)?)?;
            Ok(Reply::Keys(super::convert::key_list(
                store, listing, problems,
            )))
        }
        Request::OtherKeys { tag: t } => {
            Ok(Reply::Others(ssh::other_keys(store, &tag(&t)?)?.into()))
        }
        Request::CheckHome => {
            store.check_home().map_err(ssh::Error::from)?;
            Ok(Reply::Done)
        }
        Request::AppendKey {
            public_key,
            line,
            cap,
            new,
        } => {
            let key = ssh_key::PublicKey::from_openssh(&public_key)
                .map_err(|e| AppError::Storage(format!("not a public key: {e}")))?;
            if line.contains('\n') {
                return Err(AppError::Storage("one line at a time".into()));
            }
            let cap = cap.map(|(max, t)| tag(&t).map(|t| (t, max))).transpose()?;
            let cap = cap.as_ref().map(|(t, max)| (t, *max));
            if new {
                store.append_new_key_within(&line, cap)
            } else {
                store.append_key_within(&key, &line, cap)
            }
            .map_err(ssh::Error::from)?;
            Ok(Reply::Done)
        }
        Request::RevokeKey {
            fingerprint,
            tag: t,
        } => {
            ssh::revoke_key(store, &tag(&t)?, &fingerprint)?;
            Ok(Reply::Done)
        }
        Request::Fix { fix } => {
            ssh::health::fix(store, uid, fix.into()).map_err(ssh::Error::from)?;
            Ok(Reply::Done)
        }
        Request::Ping => Ok(Reply::Done),
    }
}

/// Where a person's operations run.
#[derive(Debug, Clone)]
pub enum Backend {
    /// In this process, which runs as the account (local mode).
    Direct {
        /// The account's file.
        store: AuthorizedKeys,
        /// The account's uid.
        uid: u32,
    },
    /// In a helper process that takes the person's uid (site mode).
    Helper {
        /// The person and the limits of their file.
        helper: Helper,
        /// What starts helpers.
        runner: Runner,
        /// The operation under way this backend serves; taken by [`Backend::entered`].
        permit: Option<Permit>,
    },
}

impl Backend {
    /// This backend for one more operation of its person: in site mode, counted against their
    /// operations under way until every clone is dropped (429 when they have too many).
    pub fn entered(&self) -> Result<Self, AppError> {
        match self {
            Self::Direct { .. } => Ok(self.clone()),
            Self::Helper { helper, runner, .. } => Ok(Self::Helper {
                permit: Some(runner.enter(helper.identity.uid)?),
                helper: helper.clone(),
                runner: runner.clone(),
            }),
        }
    }

    /// Runs `request` where this backend runs operations: on a blocking thread in local mode,
    /// in a helper bounded in time in site mode.
    pub async fn run(&self, request: Request) -> Result<Reply, AppError> {
        match self {
            Self::Direct { store, uid } => {
                let (store, uid) = (store.clone(), *uid);
                tokio::task::spawn_blocking(move || execute(&store, uid, request))
                    .await
                    .unwrap_or_else(|e| Err(AppError::Storage(format!("the work failed: {e}"))))
            }
            Self::Helper {
                helper,
                runner,
                permit,
            } => runner.call(helper, request, permit.clone()).await,
        }
    }

    /// The person's keyhatch keys and what sshd would mind.
    pub async fn list_keys(&self, tag: &Tag) -> Result<KeyList, AppError> {
        match self
            .run(Request::ListKeys {
                tag: tag.as_str().to_owned(),
            })
            .await?
        {
            Reply::Keys(list) => Ok(list),
            _ => Err(unexpected()),
        }
    }

    /// The person's other keys, read-only.
    pub async fn other_keys(&self, tag: &Tag) -> Result<OtherKeyList, AppError> {
        match self
            .run(Request::OtherKeys {
                tag: tag.as_str().to_owned(),
            })
            .await?
        {
            Reply::Others(others) => Ok(others),
            _ => Err(unexpected()),
        }
    }

    /// Checks that the person's home exists (asked before a slow key generation).
    pub async fn check_home(&self) -> Result<(), AppError> {
        self.run(Request::CheckHome).await.map(drop)
    }

    /// Has the line of `key`, generated this instant (so not read for duplicates), appended
    /// durably with `options`.
    pub async fn authorize_new(
        &self,
        key: &NewKey,
        tag: &Tag,
        options: &KeyOptions,
    ) -> Result<(), AppError> {
        self.append(&key.public, tag, options, true).await
    }

    /// Authorizes a key the person brought, commented with `tag` and `label` in place of its
    /// own; returns it as written. A key already in the file is refused.
    pub async fn add_key(
        &self,
        key: &ssh_key::PublicKey,
        tag: &Tag,
        label: Option<&Label>,
        options: &KeyOptions,
    ) -> Result<ssh_key::PublicKey, AppError> {
        let key = keygen::with_comment(key, &tag.comment(label));
        self.append(&key, tag, options, false).await?;
        Ok(key)
    }

    /// Has `key`'s line with `options` appended durably, within the site's cap on keys tagged
    /// `tag`; refused when the file holds the key already, unless it is `new`.
    async fn append(
        &self,
        key: &ssh_key::PublicKey,
        tag: &Tag,
        options: &KeyOptions,
        new: bool,
    ) -> Result<(), AppError> {
        let line = keygen::authorized_line(key, options).map_err(ssh::Error::from)?;
        let public_key = key
            .to_openssh()
            .map_err(|e| AppError::Keygen(e.to_string()))?;
        let cap = match self {
            Self::Direct { .. } => None,
            Self::Helper { helper, .. } => {
                helper.max_keys.map(|max| (max, tag.as_str().to_owned()))
            }
        };
        self.run(Request::AppendKey {
            public_key,
            line,
            cap,
            new,
        })
        .await
        .map(drop)
    }

    /// Removes keyhatch's key with `fingerprint`.
    pub async fn revoke_key(&self, tag: &Tag, fingerprint: &str) -> Result<(), AppError> {
        self.run(Request::RevokeKey {
            fingerprint: fingerprint.to_owned(),
            tag: tag.as_str().to_owned(),
        })
        .await
        .map(drop)
    }

    /// Makes one permission fix.
    pub async fn fix(&self, fix: Fix) -> Result<(), AppError> {
        self.run(Request::Fix { fix }).await.map(drop)
    }
}

fn unexpected() -> AppError {
    AppError::Storage("the helper gave an unexpected answer".into())
}
