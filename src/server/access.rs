//! Local or site mode, chosen once at start from the settings: how a request is tied to its
//! person, and what the guard layers and the accept loop check. Past this file, nothing asks
//! which mode keyhatch runs in: each request carries its [`Person`].

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderName;

use super::accept::Gate;
use super::auth::Auth;
use super::guard::{Guard, Serves};
use super::settings::{Settings, SiteSettings};
use super::site::{self, Site, UserMap};
use crate::api::helper::Runner;
use crate::api::limits::{InFlight, KeysPerHour, Limits};
use crate::api::person::{Person, SitePeople};
use crate::audit::Audit;
use crate::ssh::AuthorizedKeys;

/// How requests are tied to a person.
#[derive(Clone)]
pub enum Access {
    /// Local mode: the account keyhatch runs as, logged in with its token.
    Local {
        /// The login.
        auth: Auth,
        /// The one person served.
        person: Person,
    },
    /// Site mode: whoever the site's login proxy names.
    Site(Site),
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
                site(settings, site_settings, audit).map(Self::Site)
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
            Self::Site(site) => Serves::Site(Arc::new(site.clone())),
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
        auth: Auth::new(settings.token.clone(), cookie, audit.clone(), &account.user),
        person: Person::local(
            account.clone(),
            settings.uid,
            nix::unistd::getgid().as_raw(),
            settings.home.clone(),
            store,
            settings.tag.clone(),
        ),
    })
}

/// The keys file local mode manages: the account's, where the settings say.
pub fn local_store(settings: &Settings) -> io::Result<AuthorizedKeys> {
    settings
        .keys_file
        .of(&settings.home, &settings.account.user)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "authorized-keys-file {:?} leaves the home for {}",
                    settings.keys_file.as_str(),
                    settings.account.user
                ),
            )
        })
}

/// Site mode: the login proxy names each person, whose work helpers do within the site's
/// limits.
fn site(settings: &Settings, site: &SiteSettings, audit: &Audit) -> io::Result<Site> {
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
    let limits = Limits {
        keys_per_hour: Some(KeysPerHour::new(settings.limits.keys_per_hour)),
        in_flight: Some(InFlight::new(settings.limits.max_in_flight)),
        max_keys: Some(settings.limits.max_keys),
    };
    let people = SitePeople::new(
        Runner::new(Duration::from_secs(settings.limits.helper_timeout)),
        settings.keys_file.clone(),
        settings.limits.max_file_size,
        Duration::from_secs(settings.limits.lock_timeout),
        settings.tag.clone(),
        limits,
    );
    Ok(Site {
        header: HeaderName::try_from(site.user_header.as_str())
            .map_err(|e| invalid(format!("user-header: {e}")))?,
        proxy_uid: site.proxy.as_ref().map(|(_, uid)| *uid),
        trusted_proxies: site.trusted_proxies.clone().into(),
        user_map: UserMap::new(&site.user_map_match, site.user_map_lowercase)
            .map_err(|e| invalid(e.to_string()))?,
        min_uid: site.min_uid,
        max_uid: site.max_uid,
        overflow_uid: site.overflow_uid,
        allowed_group: site.allowed_group.clone(),
        logout_url: site.logout_url.clone(),
        audit: audit.clone(),
        people,
    })
}
