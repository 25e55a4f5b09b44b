//! Every conversion from the domain's types to the types that cross to the browser (server
//! only). The domain (`ssh`) knows nothing of the wire; the wire (`model`, `error`) knows
//! nothing of the domain; this is where they meet.

#![deny(missing_docs)]

use std::time::SystemTime;

use crate::error::AppError;
use crate::model::{
    FromList, GeneratedKey, HealthProblem, KeyInfo, KeyList, OtherKeyList, PermissionFix,
    SeqeraAccount, SeqeraTarget, SeqeraWorkspace,
};
use crate::seqera;
use crate::ssh::{self, NewKey, StoreError, health};

impl From<ssh::ListedKey> for KeyInfo {
    fn from(key: ssh::ListedKey) -> Self {
        let now = SystemTime::now();
        Self {
            fingerprint: key.fingerprint,
            label: key.label,
            public_key: key.public_line,
            options: key.options,
            expires: key.expiry.map(|e| e.date().to_string()),
            expired: key.expiry.is_some_and(|e| e.has_passed(now)),
            allowed_from: key.allowed_from,
            last_used: None,
        }
    }
}

/// What the list will show for `key` once written with `options`.
pub fn key_info(key: &ssh_key::PublicKey, options: &ssh::KeyOptions) -> KeyInfo {
    ssh::ListedKey::as_written(key, options).into()
}

impl From<ssh::OtherKeys> for OtherKeyList {
    fn from(others: ssh::OtherKeys) -> Self {
        Self {
            keys: others.keys.into_iter().map(KeyInfo::from).collect(),
            keys_not_listed: others.keys_not_listed,
            unreadable_lines: others.unreadable_lines,
        }
    }
}

impl GeneratedKey {
    /// The key to show once, listed as it was written with `options`, and where Platform is
    /// when the site has one.
    pub fn new(
        key: &NewKey,
        options: &ssh::KeyOptions,
        platform: Option<&seqera::Platform>,
    ) -> Self {
        Self {
            info: key_info(&key.public, options),
            encrypted: key.encrypted,
            private_key: key.private_openssh.to_string(),
            seqera: platform.map(|p| SeqeraTarget {
                web_url: p.url().web(),
                credentials_name: format!("keyhatch-{}", ssh::Date::today()),
            }),
            replaces: None,
        }
    }
}

/// The page's list: where the file is, what the listing found, and what sshd would mind.
pub fn key_list(
    store: &ssh::AuthorizedKeys,
    listing: ssh::Listing,
    problems: Vec<health::Problem>,
) -> KeyList {
    KeyList {
        path: store.path().display().to_string(),
        keys: listing.keys.into_iter().map(KeyInfo::from).collect(),
        keys_not_listed: listing.keys_not_listed,
        other_keys: listing.other_keys,
        unreadable_lines: listing.unreadable_lines,
        unreadable_lines_not_listed: listing.unreadable_lines_not_listed,
        problems: problems.into_iter().map(HealthProblem::from).collect(),
        from_lists: Vec::new(),
        usage: None,
    }
}

/// Fills `list` with what `reading` saw of `user`'s keys' logins.
pub fn with_usage(list: &mut KeyList, reading: &crate::sshd_log::Reading, user: &str) {
    let prints = list.keys.iter().map(|k| k.fingerprint.as_str());
    let Some(seen) = reading.seen(user, prints) else {
        return;
    };
    for (key, last) in list.keys.iter_mut().zip(seen.last) {
        key.last_used = last.map(|l| crate::model::LastUsed {
            at: l.at,
            from: l.from,
        });
    }
    list.usage = Some(crate::model::UsageSeen {
        since: ssh::Date::from_days(seen.since.div_euclid(86_400)).to_string(),
        now: crate::sshd_log::now(),
    });
}

impl From<&ssh::NamedFrom> for FromList {
    fn from(list: &ssh::NamedFrom) -> Self {
        Self {
            name: list.name.clone(),
            patterns: list.from.to_string(),
        }
    }
}

impl From<health::Problem> for HealthProblem {
    fn from(problem: health::Problem) -> Self {
        Self {
            message: problem.message,
            fix: problem.fix.map(PermissionFix::from),
        }
    }
}

impl From<health::Fix> for PermissionFix {
    fn from(fix: health::Fix) -> Self {
        match fix {
            health::Fix::SshDirMode => Self::SshDirMode,
            health::Fix::FileMode => Self::FileMode,
        }
    }
}

impl From<PermissionFix> for health::Fix {
    fn from(fix: PermissionFix) -> Self {
        match fix {
            PermissionFix::SshDirMode => Self::SshDirMode,
            PermissionFix::FileMode => Self::FileMode,
        }
    }
}

impl From<ssh::Error> for AppError {
    fn from(error: ssh::Error) -> Self {
        match error {
            ssh::Error::Store(e @ (StoreError::KeyNotFound(_) | StoreError::Missing(_))) => {
                Self::NotFound(e.to_string())
            }
            ssh::Error::Store(
                e @ (StoreError::NotOurs(_)
                | StoreError::CopyBeside { .. }
                | StoreError::BesideIsOld(_)
                | StoreError::NotYours { .. }),
            ) => Self::Forbidden(e.to_string()),
            ssh::Error::Store(e @ StoreError::TooManyKeys(_)) => Self::TooMany(e.to_string()),
            ssh::Error::Store(
                e @ (StoreError::AlreadyPresent(_)
                | StoreError::ChangedMeanwhile(_)
                | StoreError::EditedMeanwhile(_)
                | StoreError::Moved(_)),
            ) => Self::Conflict(e.to_string()),
            // The file's state, not a fault: a 409 with the sentence, never a 500.
            ssh::Error::Store(
                e @ (StoreError::TooLarge { .. }
                | StoreError::WouldBeTooLarge { .. }
                | StoreError::Symlink(_)
                | StoreError::NotRegular(_)
                | StoreError::HardLinked { .. }
                | StoreError::OldInTheWay(_)),
            ) => Self::Conflict(e.to_string()),
            ssh::Error::Store(
                e @ (StoreError::Locked(_)
                | StoreError::LockedOpen { .. }
                | StoreError::LockedByAnother(_)
                | StoreError::Busy(_)),
            ) => Self::Busy(e.to_string()),
            ssh::Error::Store(e) => Self::Storage(e.to_string()),
            ssh::Error::Keygen(e) => Self::Keygen(e.to_string()),
            ssh::Error::Refused(e) => Self::Invalid(e.to_string()),
        }
    }
}

impl From<ssh::InvalidFrom> for AppError {
    fn from(error: ssh::InvalidFrom) -> Self {
        Self::Invalid(error.to_string())
    }
}

impl From<ssh::ImportError> for AppError {
    fn from(error: ssh::ImportError) -> Self {
        Self::Invalid(error.to_string())
    }
}

impl From<ssh::InvalidLabel> for AppError {
    fn from(error: ssh::InvalidLabel) -> Self {
        Self::Invalid(error.to_string())
    }
}

impl From<ssh::expiry::InvalidLifetime> for AppError {
    fn from(error: ssh::expiry::InvalidLifetime) -> Self {
        Self::Invalid(error.to_string())
    }
}

impl From<seqera::PlatformAccount> for SeqeraAccount {
    fn from(account: seqera::PlatformAccount) -> Self {
        Self {
            user_name: account.user_name,
            workspaces: account
                .workspaces
                .into_iter()
                .map(|w| SeqeraWorkspace {
                    id: w.id,
                    org: w.org,
                    name: w.name,
                })
                .collect(),
        }
    }
}

impl From<seqera::PlatformError> for AppError {
    fn from(error: seqera::PlatformError) -> Self {
        Self::Platform(error.to_string())
    }
}
