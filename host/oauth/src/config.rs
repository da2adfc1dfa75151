//! `[mailboxes.NAME.oauth]`: how a mailbox gets its tokens, and the checks
//! that need no request (tenant against flow, account kind and cloud).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use popline_core::SecretRef;

use crate::assertion::{self, Algorithm};
use crate::cloud;

/// Tenants that name no directory: they route to the account's home tenant
/// and cannot serve client credentials or single-tenant apps.
const ROUTING_TENANTS: &[&str] = &["common", "organizations", "consumers"];

/// OAuth settings of a mailbox (`[mailboxes.NAME.oauth]`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// `microsoft` (default) or `generic`.
    #[serde(default = "default_provider")]
    pub provider: Provider,
    /// `authorization-code`, `device-code` or `client-credentials`.
    pub flow: Flow,
    /// Application (client) ID from the app registration's Overview page.
    pub client_id: String,
    /// Microsoft (required): the Directory (tenant) ID from the app
    /// registration's Overview page, or a verified domain; `organizations`
    /// only for a multi-tenant app; `consumers` for personal Outlook.com /
    /// Hotmail accounts (`pop-mail.outlook.com`). Client credentials need a
    /// real tenant.
    pub tenant: Option<String>,
    /// Microsoft: the sign-in host, which picks the cloud and with it the
    /// scopes: `https://login.microsoftonline.com` (default),
    /// `https://login.microsoftonline.us` (US Government),
    /// `https://login.partner.microsoftonline.cn` (China).
    #[serde(default = "default_authority")]
    pub authority: String,
    /// Generic provider: the token endpoint URL.
    pub token_url: Option<String>,
    /// Generic provider: the authorization endpoint URL.
    pub authorize_url: Option<String>,
    /// Generic provider: the device authorization endpoint URL.
    pub device_url: Option<String>,
    /// Scopes to request for this service's access tokens (default, for
    /// the authority's cloud: POP.AccessAsUser.All, or SMTP.Send for a
    /// notice server, + offline_access for delegated flows;
    /// `https://outlook.office365.com/.default` app-only). A sign-in asks
    /// for the scopes of every service sharing it.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Client secret: `{ env = "VAR" }` or `{ file = "path" }`.
    pub client_secret: Option<SecretRef>,
    /// Certificate credential (preferred for production).
    pub certificate: Option<CertificateConfig>,
    /// Loopback redirect URI registered for the app (authorization code).
    /// Without a port (the default, `http://localhost/callback`) popline
    /// listens on a free one: Microsoft matches loopback redirect URIs on
    /// any port. `localhost`, `127.0.0.1` or `[::1]`.
    #[serde(default = "default_redirect")]
    pub redirect_uri: String,
    /// The account that signs in (delegated flows), e.g. a delegate of a
    /// shared mailbox; `user` stays the mailbox address sent in XOAUTH2.
    pub login_hint: Option<String>,
    /// Token cache file (default: `tokens/NAME.json` beside the state file).
    /// Mailboxes (and notice servers) naming the same file share one
    /// sign-in, which must be the same app, tenant and flow: one refresh
    /// token, refreshed one request at a time, and an access token per
    /// service. The file names the app and account its tokens belong to;
    /// another app's are never used.
    pub token_cache: Option<PathBuf>,
    /// Environment variable holding a base64 32-byte key to encrypt the cache.
    pub cache_key_env: Option<String>,
    /// Refresh access tokens this long before they expire (default 5m).
    #[serde(
        default = "default_margin",
        deserialize_with = "popline_core::duration::deserialize"
    )]
    #[schemars(with = "String", extend("default" = "5m"))]
    pub refresh_margin: Duration,
    /// Refresh at least this often even when idle, so the refresh token
    /// never reaches Microsoft's 90-day inactivity limit (default 7 days).
    #[serde(
        default = "default_keepalive",
        deserialize_with = "popline_core::duration::deserialize"
    )]
    #[schemars(with = "String", extend("default" = "7days"))]
    pub refresh_keepalive: Duration,
}

pub(crate) const TENANT_REQUIRED: &str = "oauth.tenant is required: the Directory (tenant) ID from the app registration's Overview page (a single-tenant app, the usual kind, accepts nothing else), `organizations` for a multi-tenant app, or `consumers` for personal Outlook.com / Hotmail accounts";

impl OAuthConfig {
    /// What makes `other` a different sign-in from this one (`None`: the
    /// same app signed in the same way): `client_id`, the tenant or
    /// authority (provider, authority, tenant, token endpoint), or the flow.
    pub fn sign_in_difference(&self, other: &OAuthConfig) -> Option<&'static str> {
        let authority = |c: &OAuthConfig| c.authority.trim_end_matches('/').to_ascii_lowercase();
        let tenant = |c: &OAuthConfig| c.tenant.as_deref().map(str::to_ascii_lowercase);
        if self.client_id != other.client_id {
            Some("client_id")
        } else if self.provider != other.provider
            || authority(self) != authority(other)
            || tenant(self) != tenant(other)
            || self.token_url != other.token_url
        {
            Some("tenant or authority")
        } else if self.flow != other.flow {
            Some("flow")
        } else {
            None
        }
    }

    /// Checks that need the mailbox's POP host: the tenant fits the flow and
    /// the account kind, and the POP host is in the authority's cloud.
    /// `at` names the table in errors.
    pub fn validate(&self, at: &str, pop_host: &str) -> Result<(), String> {
        if self.provider != Provider::Microsoft {
            return Ok(());
        }
        let Some(tenant) = self.tenant.as_deref().filter(|t| !t.is_empty()) else {
            return Err(format!("{at}: {TENANT_REQUIRED}"));
        };
        let tenant = tenant.to_ascii_lowercase();
        if self.flow == Flow::ClientCredentials && ROUTING_TENANTS.contains(&tenant.as_str()) {
            return Err(format!(
                "{at}: client credentials need the Directory (tenant) ID in oauth.tenant, not {tenant:?}{}",
                if tenant == "consumers" {
                    "; personal Outlook.com accounts have no app-only access: use flow = \"device-code\" or \"authorization-code\""
                } else {
                    ""
                }
            ));
        }
        let host = pop_host.to_ascii_lowercase();
        if host == cloud::CONSUMER_POP_HOST && !matches!(tenant.as_str(), "consumers" | "common") {
            return Err(format!(
                "{at}: {host} serves personal Outlook.com / Hotmail accounts, which sign in with oauth.tenant = \"consumers\" (not {tenant:?}); Microsoft 365 mailboxes use outlook.office365.com"
            ));
        }
        if let (Some(signs_in), Some(serves)) = (
            cloud::by_authority(&self.authority),
            cloud::by_pop_host(&host),
        ) && signs_in != serves
        {
            return Err(format!(
                "{at}: the POP host {host} is in Microsoft's {} cloud, but oauth.authority {} signs in to the {} cloud; a token from one is refused by the other (see docs/microsoft-365.md, national clouds)",
                serves.name, self.authority, signs_in.name
            ));
        }
        Ok(())
    }
}

/// Certificate credential files: `cert` and `key`, or one `pfx`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    /// The certificate uploaded to the app registration: PEM
    /// (`.pem`/`.crt`/`.cer`) or DER (`.cer`).
    pub cert: Option<PathBuf>,
    /// Its private key, PEM: PKCS#8, PKCS#1, or encrypted PKCS#8 (with
    /// `password`). May be the same file as `cert`.
    pub key: Option<PathBuf>,
    /// Instead of `cert` and `key`: a PKCS#12 file (`.pfx`/`.p12`, as
    /// Windows exports it), with `password`.
    pub pfx: Option<PathBuf>,
    /// The password of an encrypted key or of the PFX:
    /// `{ env = "VAR" }` or `{ file = "path" }`.
    pub password: Option<SecretRef>,
    /// `PS256` (default, as Microsoft recommends) or `RS256`.
    #[serde(default = "default_alg")]
    pub algorithm: Algorithm,
}

impl CertificateConfig {
    /// Read and check the credential (paths relative to `base_dir`).
    pub(crate) fn load(&self, base_dir: &Path) -> anyhow::Result<assertion::Certificate> {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| base_dir.join(p));
        let (cert, key, pfx) = (path(&self.cert), path(&self.key), path(&self.pfx));
        let password = match &self.password {
            Some(p) => Some(
                p.resolve(base_dir)
                    .context("reading the certificate's password")?,
            ),
            None => None,
        };
        let files = assertion::Files {
            cert: cert.as_deref(),
            key: key.as_deref(),
            pfx: pfx.as_deref(),
            password: password.as_ref().map(|p| p.expose()),
        };
        assertion::Certificate::load(&files, self.algorithm, popline_core::clock::unix_now())
    }
}

/// The identity provider.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Microsoft identity platform v2.0 (`authority`/`tenant`/oauth2/v2.0/...).
    Microsoft,
    /// Any OAuth 2.0 provider by its endpoint URLs.
    Generic,
}

/// How tokens are obtained.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    /// A person signs in in a browser (`popline auth login`), PKCE, loopback redirect.
    AuthorizationCode,
    /// A person signs in on another device (`popline auth login --device`).
    DeviceCode,
    /// App-only, no person: client secret or certificate.
    ClientCredentials,
}

impl Flow {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Flow::AuthorizationCode => "authorization-code",
            Flow::DeviceCode => "device-code",
            Flow::ClientCredentials => "client-credentials",
        }
    }
}

fn default_provider() -> Provider {
    Provider::Microsoft
}
fn default_authority() -> String {
    "https://login.microsoftonline.com".into()
}
fn default_redirect() -> String {
    "http://localhost/callback".into()
}
fn default_margin() -> Duration {
    Duration::from_secs(300)
}
fn default_keepalive() -> Duration {
    Duration::from_secs(7 * 86_400)
}
fn default_alg() -> Algorithm {
    Algorithm::PS256
}
