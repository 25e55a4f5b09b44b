//! Local or site mode, chosen once at start from the settings: how a request is tied to its
//! person, and what the guard layers and the accept loop check. Past this file, nothing asks
//! which mode keyhatch runs in: each request carries its [`Person`].

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::accept::Gate;
use super::auth::Auth;
use super::guard::{Guard, Serves};
use super::settings::{HealthAccount, Settings};
use super::site::{self, Site};
use crate::api::helper::Identity;
use crate::api::person::{Person, SitePeople};
use crate::audit::Audit;
use crate::ssh::AuthorizedKeys;

/// How requests are tied to a person.
#[derive(Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "made once at start; each request clones only its parts"
)]
pub enum Access {
    /// Local mode: the account keyhatch runs as, logged in with its token.
    Local {
        /// The login.
        auth: Auth,
        /// The one person served.
        person: Person,
    },
    /// Site mode: whoever the site's login proxy names.
    Site(Arc<Site>),
}

impl Access {
    /// Chooses local or site mode from `settings`, recording in `audit`; in local mode the
    /// session cookie is named `cookie`. In site mode, first checks that no thread started so
    /// far kept root's capabilities.
    pub fn choose(settings: &Settings, audit: &Audit, cookie: String) -> io::Result<Self> {
        match &settings.site {
            None => local(settings, audit, cookie),
            Some(site_settings) => {
                // Every thread there is now (the runtime's, the key-derivation pool's) was
                // started after the drop; a thread that was not would serve requests with
                // root's powers.
                site::check_every_thread_is_narrowed()?;
                Ok(Self::Site(Arc::new(Site {
                    settings: site_settings.clone(),
                    audit: audit.clone(),
                    people: SitePeople::new(&settings.keys, &settings.limits)
                        .with_health_check_as(health_identity(&site_settings.health_account)),
                })))
            }
        }
    }

    /// What the guard layers check, for requests to `settings`' keyhatch.
    pub fn guard(&self, settings: &Settings, audit: &Audit) -> Guard {
        let serves = match self {
            Self::Local { person, .. } => Serves::Owner {
                uid: settings.uid,
                account: person.account.user.as_str().into(),
            },
            Self::Site(site) => Serves::Site(Arc::clone(site)),
        };
        Guard {
            serves,
            allowed_hosts: settings.allowed_hosts.clone().into(),
            audit: audit.clone(),
        }
    }

    /// What closes a connection as soon as it is accepted: in local mode, another account's.
    pub fn gate(&self, settings: &Settings, audit: &Audit) -> Option<Gate> {
        match self {
            Self::Local { person, .. } => {
                Some(Gate::new(settings.uid, &person.account.user, audit.clone()))
            }
            Self::Site(_) => None,
        }
    }

    /// Whether people can be served: in site mode, whether helpers start and finish (the
    /// error says what fails).
    pub async fn healthy(&self) -> Result<(), String> {
        match self {
            Self::Local { .. } => Ok(()),
            Self::Site(site) => site.people.healthy().await,
        }
    }
}

/// Whom the health check's helper becomes.
fn health_identity(account: &HealthAccount) -> Identity {
    Identity::system(&account.name, account.uid, account.gid)
}

/// Local mode: the account's own file, worked on in this process.
fn local(settings: &Settings, audit: &Audit, cookie: String) -> io::Result<Access> {
    if !settings.home.is_dir() {
        eprintln!(
            "warning: home directory {} does not exist",
            settings.home.display()
        );
    }
    let store = local_store(settings)?
        .with_max_size(settings.limits.max_file_size)
        .with_lock_timeout(Duration::from_secs(settings.limits.lock_timeout))
        .with_crash_at(settings.crash_at);
    let account = &settings.account;
    Ok(Access::Local {
        auth: Auth::new(settings, cookie, audit.clone()),
        person: Person::local(
            account.clone(),
            settings.uid,
            nix::unistd::getgid().as_raw(),
            settings.home.clone(),
            store,
            settings.keys.tag.clone(),
        ),
    })
}

/// The keys file local mode manages: the account's, where the settings say.
pub fn local_store(settings: &Settings) -> io::Result<AuthorizedKeys> {
    let keys_file = &settings.keys.authorized_keys_file;
    keys_file
        .of(&settings.home, &settings.account.user)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "authorized-keys-file {:?} leaves the home for {}",
                    keys_file.as_str(),
                    settings.account.user
                ),
            )
        })
}
