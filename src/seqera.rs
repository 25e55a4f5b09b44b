//! Seqera Platform, the reason people make these keys: keyhatch hands a new key to it as SSH
//! credentials, as Seqera's own `tw credentials add ssh` does, so the key never crosses by hand.
//!
//! Field names, paths and status codes follow Seqera's published OpenAPI description
//! (`seqera-api-latest.yml`, API version 1.97.0): `GET /user-info`,
//! `GET /user/{userId}/workspaces`, `POST /credentials?workspaceId=…`, and for a replaced key
//! `GET /credentials?workspaceId=…` and `PUT /credentials/{credentialsId}?workspaceId=…`.
//!
//! Nothing here knows about Leptos or axum. The access token and the private key pass through
//! in memory for one request each and are never logged, stored or put in a URL.
#![deny(missing_docs)]

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

mod error;
mod names;
mod url;

pub use error::PlatformError;
pub use names::{Credentials, CredentialsId, CredentialsName, InvalidName};
pub use url::{InvalidUrl, PlatformUrl};

/// How long keyhatch waits to reach Platform.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one call to Platform may take in all, unless the site says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// The largest answer read from Platform.
const MAX_ANSWER: u64 = 1024 * 1024;

/// A Platform access token: never shown by `Debug`, never logged.
pub struct Token(String);

impl Token {
    /// Wraps a token, surrounding blanks removed; none when nothing is left, or when what is
    /// left is not one word of visible ASCII (a line break, a blank, a control or non-ASCII
    /// character: no Platform token holds one, and it could not go in an HTTP header).
    pub fn new(token: &str) -> Option<Self> {
        let token = token.trim();
        let word = !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic());
        word.then(|| Self(token.to_owned()))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A workspace the person may add credentials to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    /// Platform's numeric id.
    pub id: i64,
    /// The organization's name.
    pub org: String,
    /// The workspace's name.
    pub name: String,
}

/// The person on Platform and their workspaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformAccount {
    /// Platform's user name.
    pub user_name: String,
    /// The workspaces, in Platform's order.
    pub workspaces: Vec<Workspace>,
}

/// Where the site's Platform is, and how to reach it.
#[derive(Clone)]
pub struct Platform {
    url: PlatformUrl,
    agent: ureq::Agent,
    timeout: Duration,
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Platform").field("url", &self.url).finish()
    }
}

impl Platform {
    /// A client for `url`, trusting the system's certificate authorities (as curl and every
    /// other client on the host do: `/etc/ssl/certs`, `/etc/pki/tls`, or `SSL_CERT_FILE`) and
    /// those in `ca_pem` (a site's own CA); Mozilla's roots where the system has none (the
    /// static binary on a bare host). TLS verification is always on, redirects are never
    /// followed (the key goes only to `url`), and every call is bounded in time.
    /// A call that takes longer than `timeout` in all is given up.
    pub fn new(
        url: PlatformUrl,
        ca_pem: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Self, CaError> {
        use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
        let mut roots: Vec<_> = rustls_native_certs::load_native_certs()
            .certs
            .iter()
            .map(|cert| Certificate::from_der(cert.as_ref()).to_owned())
            .collect();
        if let Some(pem) = ca_pem {
            let certs: Vec<_> = ureq::tls::parse_pem(pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(Ok(cert)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<_, _>>()
                .map_err(|e| CaError(e.to_string()))?;
            if certs.is_empty() {
                return Err(CaError("it holds no certificate".into()));
            }
            roots.extend(certs);
        }
        let roots = if roots.is_empty() {
            RootCerts::WebPki
        } else {
            RootCerts::new_with_certs(&roots)
        };
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(roots)
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("keyhatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Self {
            url,
            agent,
            timeout,
        })
    }

    /// The API URL.
    pub fn url(&self) -> &PlatformUrl {
        &self.url
    }

    /// The longest a call may take in all.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many calls [`Platform::account`] makes: who the token is, then their workspaces.
    pub const ACCOUNT_CALLS: usize = 2;

    /// The person behind `token`, and the workspaces they belong to.
    pub fn account(&self, token: &Token) -> Result<PlatformAccount, PlatformError> {
        #[derive(Deserialize)]
        struct UserInfo {
            user: User,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct User {
            id: i64,
            user_name: String,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Workspaces {
            #[serde(default)]
            orgs_and_workspaces: Vec<Entry>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Entry {
            org_name: Option<String>,
            workspace_id: Option<i64>,
            workspace_name: Option<String>,
        }

        let info: UserInfo = self.get(token, "/user-info")?;
        let list: Workspaces = self.get(token, &format!("/user/{}/workspaces", info.user.id))?;
        // Platform lists each organization once without a workspace: those are not places.
        let workspaces = list
            .orgs_and_workspaces
            .into_iter()
            .filter_map(|e| {
                Some(Workspace {
                    id: e.workspace_id?,
                    org: e.org_name.unwrap_or_default(),
                    name: e.workspace_name?,
                })
            })
            .collect();
        Ok(PlatformAccount {
            user_name: info.user.user_name,
            workspaces,
        })
    }

    /// Adds SSH credentials named `name` holding `private_key` (and `passphrase`, when given)
    /// to `workspace`, or to the person's own context when `None`; returns their id.
    pub fn add_ssh_credentials(
        &self,
        token: &Token,
        workspace: Option<i64>,
        name: &CredentialsName,
        private_key: &str,
        passphrase: Option<&str>,
    ) -> Result<String, PlatformError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Created {
            credentials_id: String,
        }
        let body = json!({
            "credentials": {
                "name": name.as_str(),
                "provider": "ssh",
                "keys": ssh_keys(private_key, passphrase),
            }
        });
        let path = in_workspace("/credentials", workspace);
        let request = self
            .agent
            .post(self.url.join(&path))
            .header("Authorization", &format!("Bearer {}", token.0))
            .header("Accept", "application/json");
        let answer = request.send_json(&body).map_err(|e| self.network(&e))?;
        let created: Created = self.read(answer, Some(name))?;
        Ok(created.credentials_id)
    }

    /// The SSH credentials in `workspace` (the person's own when `None`), in Platform's order.
    pub fn ssh_credentials(
        &self,
        token: &Token,
        workspace: Option<i64>,
    ) -> Result<Vec<Credentials>, PlatformError> {
        #[derive(Deserialize)]
        struct Listed {
            #[serde(default)]
            credentials: Vec<Entry>,
        }
        #[derive(Deserialize)]
        struct Entry {
            id: String,
            name: String,
            provider: String,
        }
        let listed: Listed = self.get(token, &in_workspace("/credentials", workspace))?;
        Ok(listed
            .credentials
            .into_iter()
            .filter(|c| c.provider == "ssh" && CredentialsId::parse(&c.id).is_some())
            .map(|c| Credentials {
                id: c.id,
                name: c.name,
            })
            .collect())
    }

    /// Puts `private_key` (and `passphrase`, when given) in place of the key the SSH
    /// credentials `id`, named `name`, hold in `workspace`, as `tw credentials update ssh`
    /// does; the credentials keep their id and name.
    pub fn update_ssh_credentials(
        &self,
        token: &Token,
        workspace: Option<i64>,
        (id, name): (&CredentialsId, &CredentialsName),
        private_key: &str,
        passphrase: Option<&str>,
    ) -> Result<(), PlatformError> {
        let body = json!({
            "credentials": {
                "id": id.0,
                "name": name.as_str(),
                "provider": "ssh",
                "keys": ssh_keys(private_key, passphrase),
            }
        });
        let path = in_workspace(&format!("/credentials/{}", id.0), workspace);
        let request = self
            .agent
            .put(self.url.join(&path))
            .header("Authorization", &format!("Bearer {}", token.0))
            .header("Accept", "application/json");
        // Once sent, an answer lost or garbled leaves the outcome unknown, and the person must
        // be told so rather than that Platform was never reached.
        let answer = request
            .send_json(&body)
            .map_err(|e| self.unconfirmed_unless_unsent(e))?;
        match answer.status().as_u16() {
            204 => Ok(()),
            // Only Platform's own answer counts: a proxy's or a sign-in page's 200 does not.
            200 => {
                let text = answer
                    .into_body()
                    .with_config()
                    .limit(MAX_ANSWER)
                    .read_to_string()
                    .map_err(|e| PlatformError::Unconfirmed(error::visible(&e.to_string())))?;
                let platforms = text.trim().is_empty()
                    || serde_json::from_str::<serde_json::Value>(&text).is_ok();
                platforms.then_some(()).ok_or_else(|| {
                    PlatformError::Unconfirmed("HTTP 200, but not Platform's answer".into())
                })
            }
            404 => Err(PlatformError::NoSuchCredentials(id.0.clone())),
            status @ 500.. => Err(PlatformError::Unconfirmed(format!("HTTP {status}"))),
            _ => self.read::<serde_json::Value>(answer, Some(name)).map(drop),
        }
    }

    /// The error of a request that may have reached Platform: unknown outcome, unless it
    /// failed before anything was sent (no such host, no connection, TLS, a bad address).
    fn unconfirmed_unless_unsent(&self, error: ureq::Error) -> PlatformError {
        use ureq::Timeout as Stage;
        match error {
            ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::BadUri(_)
            | ureq::Error::Http(_)
            | ureq::Error::Tls(_)
            | ureq::Error::Rustls(_)
            | ureq::Error::Timeout(Stage::Resolve | Stage::Connect) => self.network(&error),
            ureq::Error::Timeout(_) => PlatformError::Unconfirmed(format!(
                "no answer within {} seconds",
                self.timeout.as_secs()
            )),
            other => PlatformError::Unconfirmed(error::visible(&other.to_string())),
        }
    }

    fn get<T: serde::de::DeserializeOwned>(
        &self,
        token: &Token,
        path: &str,
    ) -> Result<T, PlatformError> {
        let answer = self
            .agent
            .get(self.url.join(path))
            .header("Authorization", &format!("Bearer {}", token.0))
            .header("Accept", "application/json")
            .call()
            .map_err(|e| self.network(&e))?;
        self.read(answer, None)
    }

    /// Platform's answer as `T`, or what its refusal means.
    fn read<T: serde::de::DeserializeOwned>(
        &self,
        answer: ureq::http::Response<ureq::Body>,
        name: Option<&CredentialsName>,
    ) -> Result<T, PlatformError> {
        let status = answer.status().as_u16();
        let mut body = answer.into_body();
        let text = body
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_string()
            .unwrap_or_default();
        let message = || {
            serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
        };
        match status {
            200 => serde_json::from_str(&text).map_err(|_| PlatformError::Unexpected { status }),
            401 => Err(PlatformError::BadToken),
            403 => Err(PlatformError::NotAllowed),
            409 => Err(PlatformError::NameTaken(
                name.map(|n| n.as_str().to_owned()).unwrap_or_default(),
            )),
            400 => match (message(), name) {
                (Some(m), Some(n)) if m.to_ascii_lowercase().contains("already exist") => {
                    Err(PlatformError::NameTaken(n.as_str().to_owned()))
                }
                _ => Err(PlatformError::Refused(status)),
            },
            _ => Err(PlatformError::Unexpected { status }),
        }
    }

    fn network(&self, error: &ureq::Error) -> PlatformError {
        match error {
            ureq::Error::Timeout(_) => PlatformError::Timeout(self.timeout.as_secs()),
            other => PlatformError::Unreachable {
                url: self.url.as_str().to_owned(),
                why: error::visible(&other.to_string()),
            },
        }
    }
}

/// The `keys` of SSH credentials: the private key, and its passphrase when given.
fn ssh_keys(private_key: &str, passphrase: Option<&str>) -> serde_json::Value {
    let mut keys = json!({ "discriminator": "ssh", "privateKey": private_key });
    if let Some(passphrase) = passphrase {
        keys["passphrase"] = passphrase.into();
    }
    keys
}

/// `path` in `workspace`: with `?workspaceId=…`, or as is for the person's own context.
fn in_workspace(path: &str, workspace: Option<i64>) -> String {
    match workspace {
        Some(id) => format!("{path}?workspaceId={id}"),
        None => path.to_owned(),
    }
}

/// The CA bundle could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seqera-ca-file: {0}")]
pub struct CaError(String);

#[cfg(test)]
mod tests;
