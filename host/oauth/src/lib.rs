//! OAuth 2.0 for POP: token acquisition, refresh and caching, owned by the
//! host. Flows: authorization code with PKCE (loopback redirect), device
//! code, client credentials, and refresh. Credentials: client secret or
//! certificate (signed client assertion). The token never enters a plugin,
//! a log line or an error message.

mod assertion;
mod cache;
pub mod cloud;
mod endpoint;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use rand_core::{OsRng, RngCore};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex as AsyncMutex;

pub use assertion::Algorithm;
use cache::{Cache, Tokens};
use endpoint::{Failure, TokenResponse};

use popline_core::Secret;
use popline_core::SecretRef;

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
    /// `https://login.chinacloudapi.cn` (China).
    #[serde(default = "default_authority")]
    pub authority: String,
    /// Generic provider: the token endpoint URL.
    pub token_url: Option<String>,
    /// Generic provider: the authorization endpoint URL.
    pub authorize_url: Option<String>,
    /// Generic provider: the device authorization endpoint URL.
    pub device_url: Option<String>,
    /// Scopes to request (default, for the authority's cloud:
    /// POP.AccessAsUser.All + offline_access for delegated flows,
    /// `https://outlook.office365.com/.default` app-only).
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
    /// Mailboxes naming the same file share one account and refresh once.
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

const TENANT_REQUIRED: &str = "oauth.tenant is required: the Directory (tenant) ID from the app registration's Overview page (a single-tenant app, the usual kind, accepts nothing else), `organizations` for a multi-tenant app, or `consumers` for personal Outlook.com / Hotmail accounts";

impl OAuthConfig {
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
    fn load(&self, base_dir: &Path) -> anyhow::Result<assertion::Certificate> {
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
    fn as_str(self) -> &'static str {
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

/// Authentication failures as an operator sees them. Never carries a token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A human has to sign in again; other mailboxes carry on.
    #[error("needs-login: {0}")]
    NeedsLogin(String),
    /// The identity platform refused (configuration or consent problem).
    #[error("{0}")]
    Refused(String),
    /// Network trouble, 429 or 5xx after retries.
    #[error("token endpoint unavailable: {0}")]
    Unavailable(String),
    #[error("{0:#}")]
    Local(anyhow::Error),
}

struct Endpoints {
    authorize: String,
    token: String,
    device: String,
}

impl Endpoints {
    /// The client secret, assertions, codes and refresh tokens go to these:
    /// `https`, or plain `http` to loopback only (a local test stand-in).
    fn check_security(&self, mailbox: &str) -> anyhow::Result<()> {
        for (what, url) in [
            ("token endpoint", &self.token),
            ("device authorization endpoint", &self.device),
            ("authorization endpoint", &self.authorize),
        ] {
            if url.is_empty() {
                continue;
            }
            let parsed = reqwest::Url::parse(url).with_context(|| {
                format!("mailbox {mailbox}: the oauth {what} {url:?} is not a valid URL")
            })?;
            if popline_net::check_url_security(&parsed).is_err() {
                anyhow::bail!(
                    "mailbox {mailbox}: the oauth {what} {url} is not https://, so client secrets \
                     and tokens would cross the network unencrypted; use https:// (plain http:// \
                     is allowed to loopback only)"
                );
            }
        }
        Ok(())
    }
}

/// Tokens for one account: cache, refresh, single flight.
pub struct TokenManager {
    mailbox: String,
    cfg: OAuthConfig,
    base_dir: PathBuf,
    cache: Cache,
    http: reqwest::Client,
    certificate: Option<assertion::Certificate>,
    /// Held across a refresh: concurrent callers wait, then reuse the result.
    lock: AsyncMutex<()>,
}

impl TokenManager {
    /// `default_cache`: used when `token_cache` is not set.
    pub fn new(
        mailbox: &str,
        cfg: &OAuthConfig,
        base_dir: &Path,
        default_cache: PathBuf,
    ) -> anyhow::Result<TokenManager> {
        let key = match &cfg.cache_key_env {
            Some(var) => {
                let v = std::env::var(var).with_context(|| {
                    format!("oauth.cache_key_env names {var}, which is not set")
                })?;
                Some(cache::parse_key(&v)?)
            }
            None => None,
        };
        let certificate = match &cfg.certificate {
            Some(c) => Some(
                c.load(base_dir)
                    .with_context(|| format!("mailbox {mailbox}: oauth.certificate"))?,
            ),
            None => None,
        };
        if cfg.flow == Flow::ClientCredentials
            && cfg.client_secret.is_none()
            && certificate.is_none()
        {
            anyhow::bail!(
                "mailbox {mailbox}: client credentials need client_secret or certificate in [mailboxes.{mailbox}.oauth]"
            );
        }
        let path = cfg
            .token_cache
            .as_ref()
            .map(|p| base_dir.join(p))
            .unwrap_or(default_cache);
        let m = TokenManager {
            mailbox: mailbox.to_string(),
            cfg: cfg.clone(),
            base_dir: base_dir.to_path_buf(),
            cache: Cache::new(path, key),
            http: popline_net::http_client(Duration::from_secs(30), None)?,
            certificate,
            lock: AsyncMutex::new(()),
        };
        m.endpoints()?.check_security(mailbox)?;
        Ok(m)
    }

    /// How this account gets its tokens.
    pub fn flow(&self) -> Flow {
        self.cfg.flow
    }

    /// The cache file (mailboxes sharing it share this manager).
    pub fn cache_path(&self) -> &Path {
        self.cache.path()
    }

    fn endpoints(&self) -> anyhow::Result<Endpoints> {
        match self.cfg.provider {
            Provider::Microsoft => {
                let tenant = self.cfg.tenant.as_deref().unwrap_or_default();
                anyhow::ensure!(
                    !tenant.is_empty(),
                    "mailbox {}: {}",
                    self.mailbox,
                    TENANT_REQUIRED
                );
                let base = format!(
                    "{}/{tenant}/oauth2/v2.0",
                    self.cfg.authority.trim_end_matches('/')
                );
                Ok(Endpoints {
                    authorize: format!("{base}/authorize"),
                    token: format!("{base}/token"),
                    device: format!("{base}/devicecode"),
                })
            }
            Provider::Generic => Ok(Endpoints {
                token: self.cfg.token_url.clone().with_context(|| {
                    format!(
                        "mailbox {}: provider = \"generic\" needs oauth.token_url",
                        self.mailbox
                    )
                })?,
                authorize: self.cfg.authorize_url.clone().unwrap_or_default(),
                device: self.cfg.device_url.clone().unwrap_or_default(),
            }),
        }
    }

    fn scopes(&self) -> String {
        if !self.cfg.scopes.is_empty() {
            return self.cfg.scopes.join(" ");
        }
        let cloud = cloud::by_authority(&self.cfg.authority).unwrap_or(cloud::global());
        match self.cfg.flow {
            Flow::ClientCredentials => cloud.app.into(),
            _ => format!("{} offline_access", cloud.pop_delegated),
        }
    }

    /// Client authentication fields: secret, assertion, or none (public client).
    fn client_auth(&self, token_url: &str) -> Result<Vec<(&'static str, String)>, AuthError> {
        let mut f = vec![("client_id", self.cfg.client_id.clone())];
        if let Some(cert) = &self.certificate {
            f.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ));
            f.push((
                "client_assertion",
                cert.assertion(
                    &self.cfg.client_id,
                    token_url,
                    popline_core::clock::unix_now(),
                ),
            ));
        } else if let Some(s) = &self.cfg.client_secret {
            let secret = s
                .resolve(&self.base_dir)
                .map_err(|e| AuthError::Local(e.into()))?;
            f.push(("client_secret", secret.expose().to_string()));
        }
        Ok(f)
    }

    /// POST to the token endpoint with retries on 429/5xx (honouring
    /// Retry-After), mapping errors to operator actions.
    async fn token_request(
        &self,
        grant: &[(&'static str, String)],
    ) -> Result<TokenResponse, AuthError> {
        let ep = self.endpoints().map_err(AuthError::Local)?;
        let mut last = String::new();
        for attempt in 1..=4u32 {
            let mut form = grant.to_vec();
            form.extend(self.client_auth(&ep.token)?);
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            match endpoint::post_form::<TokenResponse>(&self.http, &ep.token, &pairs).await {
                Ok(t) => return Ok(t),
                Err(Failure::OAuth(body)) => return Err(endpoint::explain(&self.mailbox, &body)),
                Err(Failure::Transient { why, retry_after }) => {
                    last = why;
                    if attempt < 4 {
                        let wait = retry_after.unwrap_or_else(|| {
                            popline_core::backoff::delay(
                                attempt,
                                Duration::from_millis(500),
                                Duration::from_secs(10),
                            )
                        });
                        tracing::warn!(mailbox = %self.mailbox, ?wait, "token endpoint: {last}; retrying");
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        Err(AuthError::Unavailable(last))
    }

    /// Save a token response. A rotated refresh token is persisted before
    /// the new access token is handed out.
    fn save(&self, old: &Tokens, t: TokenResponse, flow: Flow) -> Result<Secret, AuthError> {
        let now = popline_core::clock::unix_now();
        let rotated = t.refresh_token.is_some();
        let tokens = Tokens {
            access_token: Some(t.access_token.clone()),
            access_expires_at: now + t.expires_in.unwrap_or(3600),
            refresh_token: t.refresh_token.or_else(|| old.refresh_token.clone()),
            refresh_issued_at: if rotated { now } else { old.refresh_issued_at },
            scope: t.scope.unwrap_or_else(|| self.scopes()),
            flow: flow.as_str().into(),
            needs_login: None,
        };
        self.cache.store(&tokens).map_err(AuthError::Local)?;
        popline_metrics::record_token_expiry(&self.mailbox, tokens.access_expires_at);
        popline_metrics::record_needs_login(&self.mailbox, false);
        Ok(Secret::new(t.access_token))
    }

    /// A valid access token: cached, refreshed, or (app-only) acquired.
    /// Concurrent callers for one account trigger one refresh.
    pub async fn access_token(&self) -> Result<Secret, AuthError> {
        let _guard = self.lock.lock().await;
        let tokens = self.cache.load().map_err(AuthError::Local)?;
        let now = popline_core::clock::unix_now();
        let margin = self.cfg.refresh_margin.as_secs() as i64;
        let keepalive_due = tokens.refresh_token.is_some()
            && now - tokens.refresh_issued_at >= self.cfg.refresh_keepalive.as_secs() as i64;
        if let Some(at) = &tokens.access_token
            && tokens.access_expires_at - margin > now
            && !keepalive_due
        {
            popline_metrics::record_token_expiry(&self.mailbox, tokens.access_expires_at);
            return Ok(Secret::new(at.clone()));
        }
        self.renew(&tokens).await
    }

    /// Forget the cached access token (e.g. the server rejected it) and get
    /// a new one.
    pub async fn renew_access_token(&self) -> Result<Secret, AuthError> {
        let _guard = self.lock.lock().await;
        let tokens = self.cache.load().map_err(AuthError::Local)?;
        self.renew(&tokens).await
    }

    async fn renew(&self, tokens: &Tokens) -> Result<Secret, AuthError> {
        if self.cfg.flow == Flow::ClientCredentials {
            let t = self
                .token_request(&[
                    ("grant_type", "client_credentials".into()),
                    ("scope", self.scopes()),
                ])
                .await?;
            return self.save(tokens, t, Flow::ClientCredentials);
        }
        let Some(rt) = &tokens.refresh_token else {
            popline_metrics::record_needs_login(&self.mailbox, true);
            if let Some(why) = &tokens.needs_login {
                // Dead grant: asking again would only repeat the refusal.
                return Err(AuthError::NeedsLogin(why.clone()));
            }
            return Err(AuthError::NeedsLogin(format!(
                "no token yet; run `popline auth login {}{}`",
                self.mailbox,
                if self.cfg.flow == Flow::DeviceCode {
                    " --device"
                } else {
                    ""
                }
            )));
        };
        tracing::debug!(mailbox = %self.mailbox, "refreshing the access token");
        let refreshed = self
            .token_request(&[
                ("grant_type", "refresh_token".into()),
                ("refresh_token", rt.clone()),
                ("scope", self.scopes()),
            ])
            .await;
        match refreshed {
            Ok(t) => self.save(tokens, t, self.cfg.flow),
            Err(AuthError::NeedsLogin(why)) => {
                // The refresh token is dead (expired, revoked): forget it
                // and remember why, so later polls report this without
                // asking the identity platform again.
                let dead = Tokens {
                    access_token: None,
                    refresh_token: None,
                    needs_login: Some(why.clone()),
                    ..tokens.clone()
                };
                self.cache.store(&dead).map_err(AuthError::Local)?;
                popline_metrics::record_needs_login(&self.mailbox, true);
                tracing::warn!(mailbox = %self.mailbox, "the refresh token was refused; the mailbox waits for `popline auth login`: {why}");
                Err(AuthError::NeedsLogin(why))
            }
            Err(e) => Err(e),
        }
    }

    /// Device authorization grant: prints the code, polls until done.
    pub async fn login_device(&self) -> Result<(), AuthError> {
        let ep = self.endpoints().map_err(AuthError::Local)?;
        if ep.device.is_empty() {
            return Err(AuthError::Local(anyhow::anyhow!(
                "oauth.device_url is not set"
            )));
        }
        #[derive(Deserialize)]
        struct DeviceCode {
            device_code: String,
            user_code: String,
            verification_uri: String,
            #[serde(default)]
            expires_in: Option<u64>,
            #[serde(default)]
            interval: Option<u64>,
            #[serde(default)]
            message: Option<String>,
        }
        let scopes = self.scopes();
        let dc: DeviceCode = match endpoint::post_form(
            &self.http,
            &ep.device,
            &[
                ("client_id", self.cfg.client_id.as_str()),
                ("scope", scopes.as_str()),
            ],
        )
        .await
        {
            Ok(d) => d,
            Err(Failure::OAuth(b)) => return Err(endpoint::explain(&self.mailbox, &b)),
            Err(Failure::Transient { why, .. }) => return Err(AuthError::Unavailable(why)),
        };
        match &dc.message {
            Some(m) => println!("{m}"),
            None => println!(
                "To sign in, open {} and enter the code {}",
                dc.verification_uri, dc.user_code
            ),
        }
        let mut interval = Duration::from_secs(dc.interval.unwrap_or(5).max(1));
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(dc.expires_in.unwrap_or(900));
        let ep_token = ep.token.clone();
        loop {
            tokio::time::sleep(interval).await;
            if tokio::time::Instant::now() > deadline {
                return Err(AuthError::NeedsLogin(
                    "the device code expired before sign-in; run the login again".into(),
                ));
            }
            let mut form = vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:device_code".to_string(),
                ),
                ("device_code", dc.device_code.clone()),
            ];
            form.extend(self.client_auth(&ep_token)?);
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            match endpoint::post_form::<TokenResponse>(&self.http, &ep_token, &pairs).await {
                Ok(t) => {
                    self.save(&Tokens::default(), t, Flow::DeviceCode)?;
                    return Ok(());
                }
                Err(Failure::OAuth(b)) => match b.error.as_str() {
                    "authorization_pending" => {}
                    "slow_down" => interval += Duration::from_secs(5),
                    "expired_token" => {
                        return Err(AuthError::NeedsLogin(
                            "the device code expired; run the login again".into(),
                        ));
                    }
                    "access_denied" | "authorization_declined" => {
                        return Err(AuthError::Refused("sign-in was declined".into()));
                    }
                    _ => return Err(endpoint::explain(&self.mailbox, &b)),
                },
                Err(Failure::Transient { why, retry_after }) => {
                    tracing::warn!(mailbox = %self.mailbox, "device code polling: {why}");
                    tokio::time::sleep(retry_after.unwrap_or(interval)).await;
                }
            }
        }
    }

    /// Authorization code with PKCE: prints (and on a desktop opens) the
    /// authorization URL, receives the redirect on the loopback listener,
    /// checks `state`, exchanges the code. Gives up after `wait`.
    pub async fn login_code(&self, open_browser: bool, wait: Duration) -> Result<(), AuthError> {
        let ep = self.endpoints().map_err(AuthError::Local)?;
        let (listeners, redirect) = listen_for_redirect(&self.cfg.redirect_uri)
            .await
            .map_err(AuthError::Local)?;
        let redirect_uri = redirect.to_string();
        let verifier = random_token(48);
        let challenge = B64URL.encode(Sha256::digest(verifier.as_bytes()));
        let state = random_token(16);
        let mut url = reqwest::Url::parse(&ep.authorize)
            .map_err(|e| AuthError::Local(anyhow::anyhow!("authorization URL: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.cfg.client_id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("response_mode", "query")
                .append_pair("scope", &self.scopes())
                .append_pair("state", &state)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(h) = &self.cfg.login_hint {
                q.append_pair("login_hint", h);
            }
        }
        println!("Open this URL to sign in:\n\n  {url}\n");
        if open_browser && std::env::var_os("DISPLAY").is_some() {
            let _ = std::process::Command::new("xdg-open")
                .arg(url.as_str())
                .spawn();
        }
        let received = tokio::time::timeout(wait, receive_redirect(&listeners, redirect.path()));
        let (code, got_state) = received
            .await
            .map_err(|_| {
                AuthError::Local(anyhow::anyhow!(
                    "no sign-in reached {redirect_uri} within {}; run `popline auth login {}` again \
                     (with --wait for longer), or add --device where the browser cannot reach this machine",
                    humantime::format_duration(wait),
                    self.mailbox
                ))
            })?
            .map_err(AuthError::Local)?;
        if got_state != state {
            return Err(AuthError::Refused(
                "the redirect's state did not match; the login was not started here".into(),
            ));
        }
        let t = self
            .token_request(&[
                ("grant_type", "authorization_code".into()),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
                ("scope", self.scopes()),
            ])
            .await?;
        self.save(&Tokens::default(), t, Flow::AuthorizationCode)?;
        Ok(())
    }

    /// `popline auth status` lines: flow, scopes, expiry, refresh age, claims.
    pub fn status(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("flow".into(), self.cfg.flow.as_str().into()),
            (
                "token cache".into(),
                self.cache.path().display().to_string(),
            ),
        ];
        if let Some(cert) = &self.certificate {
            out.push((
                "certificate expires".into(),
                assertion::date(cert.not_after),
            ));
        }
        let tokens = match self.cache.load() {
            Ok(t) => t,
            Err(e) => {
                out.push(("state".into(), format!("unreadable cache: {e:#}")));
                return out;
            }
        };
        let now = popline_core::clock::unix_now();
        match &tokens.access_token {
            None => out.push((
                "state".into(),
                match &tokens.needs_login {
                    Some(why) => format!("needs-login: {why}"),
                    None => "needs-login (no token yet)".into(),
                },
            )),
            Some(at) => {
                let left = tokens.access_expires_at - now;
                out.push((
                    "access token".into(),
                    if left > 0 {
                        format!("valid for {left} s")
                    } else {
                        format!("expired {} s ago", -left)
                    },
                ));
                out.push(("scopes".into(), tokens.scope.clone()));
                for (k, v) in claims(at) {
                    out.push((format!("claim {k}"), v));
                }
            }
        }
        if tokens.refresh_token.is_some() {
            out.push((
                "refresh token age".into(),
                format!("{} days", (now - tokens.refresh_issued_at) / 86_400),
            ));
        }
        out
    }
}

/// Claims useful for diagnosis, decoded without verification. Never the token.
fn claims(jwt: &str) -> Vec<(String, String)> {
    let Some(payload) = jwt.split('.').nth(1) else {
        return Vec::new();
    };
    let Ok(bytes) = B64URL.decode(payload.trim_end_matches('=')) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    [
        "aud",
        "scp",
        "roles",
        "upn",
        "unique_name",
        "oid",
        "tid",
        "appid",
    ]
    .iter()
    .filter_map(|k| {
        let val = v.get(*k)?;
        Some((
            k.to_string(),
            match val {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        ))
    })
    .collect()
}

fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    OsRng.fill_bytes(&mut b);
    B64URL.encode(b)
}

/// Listen where `redirect_uri` (a loopback `http` URI) points, and the URI
/// to send: with no port given, on a free one (Microsoft matches loopback
/// redirect URIs on any port). `localhost` listens on 127.0.0.1 and, when
/// it can, on [::1] at the same port, since browsers may resolve it to
/// either.
async fn listen_for_redirect(
    redirect_uri: &str,
) -> anyhow::Result<(Vec<tokio::net::TcpListener>, reqwest::Url)> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use tokio::net::TcpListener;
    let mut url = reqwest::Url::parse(redirect_uri)
        .with_context(|| format!("oauth.redirect_uri {redirect_uri:?} is not a URL"))?;
    let ips: &[IpAddr] = match url.host() {
        Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => &[
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ],
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
        Some(url::Host::Ipv6(ip)) if ip.is_loopback() => &[IpAddr::V6(Ipv6Addr::LOCALHOST)],
        _ => anyhow::bail!(
            "oauth.redirect_uri must be a loopback http URI such as http://localhost/callback, not {redirect_uri:?}"
        ),
    };
    anyhow::ensure!(
        url.scheme() == "http",
        "oauth.redirect_uri must use http:// (a loopback listener has no certificate), not {redirect_uri:?}"
    );
    let first = TcpListener::bind((ips[0], url.port().unwrap_or(0)))
        .await
        .with_context(|| {
            format!(
                "listening on {}:{} for the redirect",
                ips[0],
                url.port().unwrap_or(0)
            )
        })?;
    let port = first.local_addr()?.port();
    let mut listeners = vec![first];
    for ip in &ips[1..] {
        // Best effort: a host without IPv6 still has 127.0.0.1.
        if let Ok(l) = TcpListener::bind((*ip, port)).await {
            listeners.push(l);
        }
    }
    url.set_port(Some(port))
        .map_err(|()| anyhow::anyhow!("oauth.redirect_uri {redirect_uri:?} cannot take a port"))?;
    Ok((listeners, url))
}

/// Accept one HTTP request on the redirect path, on any of `listeners`;
/// return `(code, state)`.
async fn receive_redirect(
    listeners: &[tokio::net::TcpListener],
    path: &str,
) -> anyhow::Result<(String, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let (mut sock, _) = match listeners {
            [only] => only.accept().await?,
            [a, b, ..] => tokio::select! {
                r = a.accept() => r?,
                r = b.accept() => r?,
            },
            [] => anyhow::bail!("no listener for the redirect"),
        };
        let mut buf = vec![0u8; 16 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf)).await??;
        let req = String::from_utf8_lossy(&buf[..n]);
        let target = req.split_whitespace().nth(1).unwrap_or("");
        let url = reqwest::Url::parse(&format!("http://localhost{target}"))?;
        if url.path() != path {
            let _ = sock
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await;
            continue;
        }
        let get = |k: &str| {
            url.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        let (body, result) = match (get("code"), get("state"), get("error")) {
            (Some(code), Some(state), _) => (
                "Signed in. You can close this window and return to popline.",
                Ok((code, state)),
            ),
            (_, _, Some(err)) => (
                "Sign-in failed; see popline's output.",
                Err(anyhow::anyhow!(
                    "sign-in failed: {err}: {}",
                    get("error_description").unwrap_or_default()
                )),
            ),
            _ => (
                "Unexpected request.",
                Err(anyhow::anyhow!("the redirect carried no code")),
            ),
        };
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = sock.write_all(resp.as_bytes()).await;
        return result;
    }
}

/// Registry so mailboxes naming the same cache file share one manager
/// (one refresh for all of them).
#[derive(Default)]
pub struct Accounts {
    by_cache: Vec<Arc<TokenManager>>,
}

impl Accounts {
    /// The manager for this mailbox, shared when the cache file is the same.
    pub fn get(
        &mut self,
        mailbox: &str,
        cfg: &OAuthConfig,
        base_dir: &Path,
        default_cache: PathBuf,
    ) -> anyhow::Result<Arc<TokenManager>> {
        let path = cfg
            .token_cache
            .as_ref()
            .map(|p| base_dir.join(p))
            .unwrap_or(default_cache.clone());
        if let Some(m) = self.by_cache.iter().find(|m| m.cache_path() == path) {
            return Ok(m.clone());
        }
        let m = Arc::new(TokenManager::new(mailbox, cfg, base_dir, default_cache)?);
        self.by_cache.push(m.clone());
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager(oauth: &str) -> anyhow::Result<TokenManager> {
        let cfg: OAuthConfig = toml::from_str(oauth).unwrap();
        let dir = tempfile::tempdir().unwrap();
        TokenManager::new("beta", &cfg, dir.path(), dir.path().join("t.json"))
    }

    /// Tenant, flow, account kind and cloud against the POP host.
    #[test]
    fn tenant_and_cloud_fit_the_mailbox() {
        let cases: &[(&str, &str, &str, &str, Option<&str>)] = &[
            // (flow, tenant, authority, pop host, error containing)
            (
                "device-code",
                "",
                "",
                "outlook.office365.com",
                Some("oauth.tenant is required"),
            ),
            (
                "device-code",
                "5c1a7e42-93d8-4b6f-a0e1-2f7d9c3b8a64",
                "",
                "outlook.office365.com",
                None,
            ),
            (
                "device-code",
                "organizations",
                "",
                "outlook.office365.com",
                None,
            ),
            (
                "client-credentials",
                "organizations",
                "",
                "outlook.office365.com",
                Some("Directory (tenant) ID"),
            ),
            (
                "client-credentials",
                "consumers",
                "",
                "pop-mail.outlook.com",
                Some("no app-only access"),
            ),
            (
                "client-credentials",
                "contoso.com",
                "",
                "outlook.office365.com",
                None,
            ),
            ("device-code", "consumers", "", "pop-mail.outlook.com", None),
            (
                "authorization-code",
                "common",
                "",
                "pop-mail.outlook.com",
                None,
            ),
            (
                "device-code",
                "contoso.com",
                "",
                "pop-mail.outlook.com",
                Some("tenant = \"consumers\""),
            ),
            (
                "device-code",
                "contoso.us",
                "https://login.microsoftonline.us",
                "outlook.office365.us",
                None,
            ),
            (
                "device-code",
                "contoso.us",
                "",
                "outlook.office365.us",
                Some("US Government"),
            ),
            (
                "device-code",
                "contoso.cn",
                "https://login.microsoftonline.us",
                "partner.outlook.cn",
                Some("China"),
            ),
            (
                "device-code",
                "contoso.cn",
                "https://login.chinacloudapi.cn",
                "partner.outlook.cn",
                None,
            ),
            (
                "device-code",
                "contoso.com",
                "http://127.0.0.1:4000",
                "127.0.0.1",
                None,
            ),
        ];
        for &(flow, tenant, authority, host, err) in cases {
            let mut text = format!("flow = \"{flow}\"\nclient_id = \"c\"\n");
            if !tenant.is_empty() {
                text.push_str(&format!("tenant = \"{tenant}\"\n"));
            }
            if !authority.is_empty() {
                text.push_str(&format!("authority = \"{authority}\"\n"));
            }
            let cfg: OAuthConfig = toml::from_str(&text).unwrap();
            let got = cfg.validate("[mailboxes.beta.oauth]", host);
            match (err, got) {
                (None, Ok(())) => {}
                (Some(want), Err(e)) => assert!(e.contains(want), "{flow} {tenant} {host}: {e}"),
                (want, got) => {
                    panic!("{flow} {tenant} {authority} {host}: want {want:?}, got {got:?}")
                }
            }
        }
    }

    #[test]
    fn scopes_follow_the_cloud() {
        let dir = tempfile::tempdir().unwrap();
        let scopes = |flow: &str, authority: &str| {
            let cfg: OAuthConfig = toml::from_str(&format!(
                "flow = \"{flow}\"\nclient_id = \"c\"\ntenant = \"t\"\nclient_secret = {{ env = \"X\" }}\nauthority = \"{authority}\"\n"
            ))
            .unwrap();
            TokenManager::new("beta", &cfg, dir.path(), dir.path().join("t.json"))
                .unwrap()
                .scopes()
        };
        assert_eq!(
            scopes("device-code", "https://login.microsoftonline.com"),
            "https://outlook.office.com/POP.AccessAsUser.All offline_access"
        );
        assert_eq!(
            scopes("client-credentials", "https://login.microsoftonline.us"),
            "https://outlook.office365.us/.default"
        );
        assert_eq!(
            scopes("device-code", "https://login.chinacloudapi.cn"),
            "https://partner.outlook.cn/POP.AccessAsUser.All offline_access"
        );
    }

    #[test]
    fn token_endpoints_must_be_https_or_loopback() {
        let generic = |url: &str| {
            format!(
                "provider = \"generic\"\nflow = \"device-code\"\nclient_id = \"c\"\ntoken_url = \"{url}\"\n"
            )
        };
        let err = manager(&generic("http://idp.example.com/token"))
            .err()
            .expect("plain http to a remote host is refused")
            .to_string();
        assert!(err.contains("not https://"), "{err}");
        assert!(manager(&generic("https://idp.example.com/token")).is_ok());
        assert!(manager(&generic("http://127.0.0.1:8080/token")).is_ok());

        let national = "flow = \"device-code\"\nclient_id = \"c\"\ntenant = \"t\"\nauthority = \"http://login.example.cn\"\n";
        let err = manager(national)
            .err()
            .expect("an http authority is refused");
        assert!(err.to_string().contains("token endpoint"), "{err}");
    }
}
