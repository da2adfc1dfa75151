//! Tokens for one account: the cache, refresh with rotation, single
//! flight, and the grants themselves through the `oauth2` crate (PKCE and
//! CSRF state, code exchange, device authorization and polling, client
//! credentials, refresh) over popline's own HTTP function (`http.rs`).
//!
//! One account, one manager, one refresh token: the services sharing the
//! account (a mailbox's POP logins, a notice server's SMTP submission) each
//! get an access token for their own scope set, all refreshed from the one
//! refresh token. The identity platform rotates it on every use, so every
//! refresh holds the account's lock (in the process, and a file lock
//! against other popline processes) from reading the refresh token to
//! storing the rotated one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenResponse,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    DeviceAuthorizationResponse, DeviceAuthorizationUrl, DeviceCodeErrorResponseType,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, ExtraDeviceAuthorizationFields,
    PkceCodeChallenge, RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardRevocableToken,
    TokenResponse as _, TokenUrl,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex as AsyncMutex;

use popline_core::Secret;

use crate::cache::{Access, Cache, Owner, Tokens};
use crate::config::{Flow, OAuthConfig, Provider, TENANT_REQUIRED};
use crate::http::{self, Http};
use crate::scopes::ScopeSet;
use crate::{AuthError, assertion, cache, redirect};

/// `client_assertion_type` of a certificate credential (RFC 7523).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A token request with a certificate credential's parameters when `$cert`
/// holds; [`Http`] signs the assertion itself afresh for every request.
macro_rules! with_assertion {
    ($request:expr, $cert:expr) => {{
        let request = $request;
        if $cert {
            request
                .add_extra_param("client_assertion_type", JWT_BEARER)
                .add_extra_param("client_assertion", "signed-per-request")
        } else {
            request
        }
    }};
}

/// The endpoints of the account's identity provider.
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

/// The oauth2 client: error bodies are read from the HTTP function's copy
/// (`BasicErrorResponse` keeps no AADSTS codes), so the basic types serve.
type Client = oauth2::Client<
    BasicErrorResponse,
    BasicTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointMaybeSet,
    EndpointMaybeSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Microsoft's device authorization answer also carries a `message`.
#[derive(Debug, Deserialize, Serialize)]
struct DeviceMessage {
    #[serde(default)]
    message: Option<String>,
}

impl ExtraDeviceAuthorizationFields for DeviceMessage {}

/// A service sharing the account: who (`beta`, `notices.smtp`) and the
/// scopes of its access token.
struct Service {
    name: String,
    scopes: ScopeSet,
}

/// The cache as this account sees it.
struct Loaded {
    tokens: Tokens,
    /// Why the file's tokens are not this account's (another app, tenant
    /// or account): they are ignored, and the next write replaces them.
    foreign: Option<String>,
    /// Read from format 1: written again as format 2.
    migrated: bool,
}

/// Tokens for one account: cache, refresh, single flight.
pub struct TokenManager {
    /// The first service's name (`beta`): its metrics' `mailbox` label and
    /// what `popline auth login` takes.
    mailbox: String,
    cfg: OAuthConfig,
    owner: Owner,
    base_dir: PathBuf,
    cache: Cache,
    http: reqwest::Client,
    certificate: Option<Arc<assertion::Certificate>>,
    /// The services sharing the account, the first the manager's own.
    services: Mutex<Vec<Service>>,
    /// Held across a refresh: concurrent callers (whatever their scope set)
    /// wait, then use the rotated refresh token or the token obtained.
    lock: AsyncMutex<()>,
}

impl TokenManager {
    /// The manager of `mailbox`'s account, serving `scopes` first.
    /// `account`: who signs in (delegated flows; `login_hint`, else the
    /// mailbox's user). `default_cache`: used when `token_cache` is not set.
    pub fn new(
        mailbox: &str,
        cfg: &OAuthConfig,
        account: &str,
        scopes: ScopeSet,
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
            Some(c) => {
                Some(Arc::new(c.load(base_dir).with_context(|| {
                    format!("mailbox {mailbox}: oauth.certificate")
                })?))
            }
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
        let mut m = TokenManager {
            mailbox: mailbox.to_string(),
            cfg: cfg.clone(),
            owner: Owner::default(),
            base_dir: base_dir.to_path_buf(),
            cache: Cache::new(path, key),
            http: popline_net::http_client(Duration::from_secs(30), None)?,
            certificate,
            services: Mutex::new(vec![Service {
                name: mailbox.to_string(),
                scopes,
            }]),
            lock: AsyncMutex::new(()),
        };
        let endpoints = m.endpoints()?;
        endpoints.check_security(mailbox)?;
        m.owner = Owner {
            client_id: cfg.client_id.clone(),
            token_url: endpoints.token,
            account: if cfg.flow == Flow::ClientCredentials {
                String::new()
            } else {
                account.to_ascii_lowercase()
            },
        };
        Ok(m)
    }

    /// Whose tokens these are: app, token endpoint, account.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// The settings the account was set up with (the first service's).
    pub fn config(&self) -> &OAuthConfig {
        &self.cfg
    }

    /// Let service `name` share the account with its own scope set; the
    /// next sign-in asks for its scopes too.
    pub fn add_service(&self, name: &str, scopes: ScopeSet) {
        let mut services = self.services.lock().expect("services lock");
        if !services.iter().any(|s| s.name == name) {
            services.push(Service {
                name: name.to_string(),
                scopes,
            });
        }
    }

    /// The names of the services sharing the account, the first the
    /// manager's own.
    pub fn services(&self) -> Vec<String> {
        let services = self.services.lock().expect("services lock");
        services.iter().map(|s| s.name.clone()).collect()
    }

    /// The first service's scope set.
    pub fn scopes(&self) -> ScopeSet {
        self.services.lock().expect("services lock")[0]
            .scopes
            .clone()
    }

    /// What a sign-in asks for: every service's scopes, so that one
    /// consent and one refresh token serve them all.
    pub fn sign_in_scopes(&self) -> ScopeSet {
        let services = self.services.lock().expect("services lock");
        ScopeSet::union(services.iter().map(|s| &s.scopes))
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

    fn scope_list(scopes: &ScopeSet) -> Vec<Scope> {
        scopes.iter().map(|s| Scope::new(s.to_string())).collect()
    }

    /// The oauth2 client for this account; `redirect` for the code flow.
    /// A secret goes in the form body, as Microsoft documents; a
    /// certificate as a client assertion (extra parameters, signed afresh
    /// per request by [`Http`]).
    fn client(&self, redirect: Option<&str>) -> Result<Client, AuthError> {
        let ep = self.endpoints().map_err(AuthError::Local)?;
        let local = |what: &str, e: oauth2::url::ParseError| {
            AuthError::Local(anyhow::anyhow!("mailbox {}: {what}: {e}", self.mailbox))
        };
        let optional = |u: String| (!u.is_empty()).then_some(u);
        let mut client = oauth2::Client::new(ClientId::new(self.cfg.client_id.clone()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(TokenUrl::new(ep.token).map_err(|e| local("token URL", e))?)
            .set_auth_uri_option(
                optional(ep.authorize)
                    .map(AuthUrl::new)
                    .transpose()
                    .map_err(|e| local("authorization URL", e))?,
            )
            .set_device_authorization_url_option(
                optional(ep.device)
                    .map(DeviceAuthorizationUrl::new)
                    .transpose()
                    .map_err(|e| local("device authorization URL", e))?,
            );
        if let Some(r) = redirect {
            client = client.set_redirect_uri(
                RedirectUrl::new(r.to_string()).map_err(|e| local("redirect URI", e))?,
            );
        }
        if self.certificate.is_none()
            && let Some(s) = &self.cfg.client_secret
        {
            let secret = s
                .resolve(&self.base_dir)
                .map_err(|e| AuthError::Local(e.into()))?;
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
        }
        Ok(client)
    }

    /// The HTTP function for one operation, signing client assertions with
    /// the certificate, if any.
    fn transport(&self) -> Http {
        let signer = self.certificate.clone().map(|cert| {
            let client_id = self.cfg.client_id.clone();
            Arc::new(move |token_url: &str| {
                cert.assertion(&client_id, token_url, popline_core::clock::unix_now())
            }) as http::Assert
        });
        Http::new(self.http.clone(), self.mailbox.clone(), signer)
    }

    /// Read the cache as this account's: tokens of another app, tenant or
    /// account are set aside (`foreign`); format 1 is adopted.
    fn load(&self) -> Result<Loaded, AuthError> {
        let tokens = self.cache.load().map_err(AuthError::Local)?;
        let migrated = tokens.format < cache::FORMAT;
        if !migrated && let Some(why) = tokens.owner.differs_from(&self.owner) {
            return Ok(Loaded {
                tokens: Tokens {
                    owner: self.owner.clone(),
                    ..Tokens::default()
                },
                foreign: Some(why),
                migrated: false,
            });
        }
        Ok(Loaded {
            tokens: Tokens {
                owner: self.owner.clone(),
                ..tokens
            },
            foreign: None,
            migrated,
        })
    }

    /// Save a token response for `scopes`. A rotated refresh token is
    /// persisted before the new access token is handed out; the other
    /// scope sets' access tokens stay (rotation does not revoke them),
    /// expired ones are dropped.
    fn save(
        &self,
        old: &Tokens,
        t: &BasicTokenResponse,
        flow: Flow,
        scopes: &ScopeSet,
    ) -> Result<Secret, AuthError> {
        let now = popline_core::clock::unix_now();
        let refresh = t.refresh_token().map(|r| r.secret().clone());
        let rotated = refresh.is_some();
        let granted = t
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "));
        let mut access = old.access.clone();
        access.retain(|_, a| a.expires_at > now);
        access.insert(
            scopes.key(),
            Access {
                token: t.access_token().secret().clone(),
                expires_at: now + t.expires_in().map_or(3600, |d| d.as_secs() as i64),
                scope: granted.unwrap_or_else(|| scopes.request()),
            },
        );
        let tokens = Tokens {
            format: cache::FORMAT,
            owner: self.owner.clone(),
            flow: flow.as_str().into(),
            refresh_token: refresh.or_else(|| old.refresh_token.clone()),
            refresh_issued_at: if rotated { now } else { old.refresh_issued_at },
            signed_in_for: old.signed_in_for.clone(),
            needs_login: None,
            access,
        };
        self.cache.store(&tokens).map_err(AuthError::Local)?;
        self.record_expiry(&tokens);
        popline_metrics::record_needs_login(&self.mailbox, false);
        Ok(Secret::new(t.access_token().secret().clone()))
    }

    /// The first service's access token expiry (0: none) in metrics.
    fn record_expiry(&self, tokens: &Tokens) {
        let expires = tokens
            .access_for(&self.scopes())
            .map_or(0, |a| a.expires_at);
        popline_metrics::record_token_expiry(&self.mailbox, expires);
    }

    /// Put the cached tokens' state in metrics, asking nothing of the
    /// identity platform (at start, so the series exist before the first
    /// poll): whether a person must run `popline auth login` (a dead grant,
    /// or no token yet with a delegated flow) and when the access token
    /// expires (0: none cached). An unreadable cache is left to the poll.
    pub fn record_metrics(&self) {
        let Ok(loaded) = self.load() else {
            return;
        };
        let tokens = &loaded.tokens;
        let no_grant = self.cfg.flow != Flow::ClientCredentials
            && tokens.refresh_token.is_none()
            && !tokens.has_access();
        popline_metrics::record_needs_login(
            &self.mailbox,
            tokens.needs_login.is_some() || no_grant,
        );
        self.record_expiry(tokens);
    }

    /// The cached token for `scopes` if it is still good (not within
    /// `refresh_margin` of expiry, no keepalive refresh due).
    fn cached(&self, tokens: &Tokens, scopes: &ScopeSet) -> Option<Secret> {
        let now = popline_core::clock::unix_now();
        let margin = self.cfg.refresh_margin.as_secs() as i64;
        let keepalive_due = tokens.refresh_token.is_some()
            && now - tokens.refresh_issued_at >= self.cfg.refresh_keepalive.as_secs() as i64;
        let access = tokens.access_for(scopes)?;
        (access.expires_at - margin > now && !keepalive_due)
            .then(|| Secret::new(access.token.clone()))
    }

    /// A valid access token for `scopes`: cached, refreshed, or (app-only)
    /// acquired. Concurrent callers for one account, whatever their scopes,
    /// refresh one after the other, each with the refresh token the one
    /// before stored.
    pub async fn access_token(&self, scopes: &ScopeSet) -> Result<Secret, AuthError> {
        let _guard = self.lock.lock().await;
        let loaded = self.load()?;
        if let Some(token) = self.cached(&loaded.tokens, scopes) {
            if loaded.migrated {
                // Rewritten as format 2 under the file lock, from a fresh
                // read: never over a refresh token another process rotated.
                let _file = self.cache.lock().await.map_err(AuthError::Local)?;
                let again = self.load()?;
                if again.migrated {
                    self.cache.store(&again.tokens).map_err(AuthError::Local)?;
                }
            }
            self.record_expiry(&loaded.tokens);
            return Ok(token);
        }
        // Another popline process may be refreshing: wait for it, then
        // read what it stored.
        let _file = self.cache.lock().await.map_err(AuthError::Local)?;
        let loaded = self.load()?;
        if let Some(token) = self.cached(&loaded.tokens, scopes) {
            return Ok(token);
        }
        self.renew(&loaded, scopes).await
    }

    /// Forget the cached access token for `scopes` (e.g. the server
    /// rejected it) and get a new one.
    pub async fn renew_access_token(&self, scopes: &ScopeSet) -> Result<Secret, AuthError> {
        let _guard = self.lock.lock().await;
        let _file = self.cache.lock().await.map_err(AuthError::Local)?;
        let loaded = self.load()?;
        self.renew(&loaded, scopes).await
    }

    async fn renew(&self, loaded: &Loaded, scopes: &ScopeSet) -> Result<Secret, AuthError> {
        let tokens = &loaded.tokens;
        let client = self.client(None)?;
        let http = self.transport();
        if self.cfg.flow == Flow::ClientCredentials {
            let request = client
                .exchange_client_credentials()
                .add_scopes(Self::scope_list(scopes));
            let t = with_assertion!(request, self.certificate.is_some())
                .request_async(&http)
                .await
                .map_err(|e| http.failure(e))?;
            return self.save(tokens, &t, Flow::ClientCredentials, scopes);
        }
        let Some(rt) = &tokens.refresh_token else {
            popline_metrics::record_needs_login(&self.mailbox, true);
            if let Some(why) = &tokens.needs_login {
                // Dead grant: asking again would only repeat the refusal.
                return Err(AuthError::NeedsLogin(why.clone()));
            }
            let login = format!(
                "popline auth login {}{}",
                self.mailbox,
                if self.cfg.flow == Flow::DeviceCode {
                    " --device"
                } else {
                    ""
                }
            );
            return Err(AuthError::NeedsLogin(match &loaded.foreign {
                Some(why) => format!("{why}; run `{login}`"),
                None => format!("no token yet; run `{login}`"),
            }));
        };
        tracing::debug!(account = %self.mailbox, scopes = %scopes, "refreshing the access token");
        let refresh_token = RefreshToken::new(rt.clone());
        let request = client
            .exchange_refresh_token(&refresh_token)
            .add_scopes(Self::scope_list(scopes));
        let refreshed = with_assertion!(request, self.certificate.is_some())
            .request_async(&http)
            .await
            .map_err(|e| http.failure(e));
        match refreshed {
            Ok(t) => self.save(tokens, &t, self.cfg.flow, scopes),
            Err(AuthError::NeedsLogin(why)) => {
                // The refresh token is dead (expired, revoked): forget it
                // and remember why, so later polls report this without
                // asking the identity platform again.
                let dead = Tokens {
                    access: Default::default(),
                    refresh_token: None,
                    needs_login: Some(why.clone()),
                    ..tokens.clone()
                };
                self.cache.store(&dead).map_err(AuthError::Local)?;
                popline_metrics::record_needs_login(&self.mailbox, true);
                tracing::warn!(account = %self.mailbox, "the refresh token was refused; the account waits for `popline auth login`: {why}");
                Err(AuthError::NeedsLogin(why))
            }
            Err(e) => Err(e),
        }
    }

    /// Store a sign-in's tokens: a new grant for every service, replacing
    /// whatever the file held.
    async fn signed_in(&self, t: &BasicTokenResponse, flow: Flow) -> Result<(), AuthError> {
        let _guard = self.lock.lock().await;
        let _file = self.cache.lock().await.map_err(AuthError::Local)?;
        let scopes = self.sign_in_scopes();
        let fresh = Tokens {
            owner: self.owner.clone(),
            signed_in_for: scopes.request(),
            ..Tokens::default()
        };
        self.save(&fresh, t, flow, &scopes)?;
        Ok(())
    }

    /// Device authorization grant: prints the code, polls until done.
    pub async fn login_device(&self) -> Result<(), AuthError> {
        let client = self.client(None)?;
        let http = self.transport();
        let request = client.exchange_device_code().map_err(|_| {
            AuthError::Local(anyhow::anyhow!(
                "mailbox {}: oauth.device_url is not set",
                self.mailbox
            ))
        })?;
        let details: DeviceAuthorizationResponse<DeviceMessage> = request
            .add_scopes(Self::scope_list(&self.sign_in_scopes()))
            .request_async(&http)
            .await
            .map_err(|e| http.failure(e))?;
        match &details.extra_fields().message {
            Some(m) => println!("{m}"),
            None => println!(
                "To sign in, open {} and enter the code {}",
                details.verification_uri().as_str(),
                details.user_code().secret()
            ),
        }
        let request = client.exchange_device_access_token(&details);
        let polled = with_assertion!(request, self.certificate.is_some())
            .set_max_backoff_interval(Duration::from_secs(30))
            .request_async(&http, tokio::time::sleep, Some(details.expires_in()))
            .await;
        let t = match polled {
            Ok(t) => t,
            Err(RequestTokenError::ServerResponse(e)) => {
                return Err(match e.error() {
                    DeviceCodeErrorResponseType::ExpiredToken => AuthError::NeedsLogin(
                        "the device code expired before sign-in; run the login again".into(),
                    ),
                    DeviceCodeErrorResponseType::AccessDenied => {
                        AuthError::Refused("sign-in was declined".into())
                    }
                    DeviceCodeErrorResponseType::Basic(
                        oauth2::basic::BasicErrorResponseType::Extension(x),
                    ) if x == "authorization_declined" => {
                        AuthError::Refused("sign-in was declined".into())
                    }
                    _ => http.failure(RequestTokenError::ServerResponse(e)),
                });
            }
            Err(e) => return Err(http.failure(e)),
        };
        self.signed_in(&t, Flow::DeviceCode).await
    }

    /// Authorization code with PKCE: prints (and on a desktop opens) the
    /// authorization URL, receives the redirect on the loopback listener,
    /// checks `state`, exchanges the code. Gives up after `wait`.
    pub async fn login_code(&self, open_browser: bool, wait: Duration) -> Result<(), AuthError> {
        let (listeners, redirect) = redirect::listen_for_redirect(&self.cfg.redirect_uri)
            .await
            .map_err(AuthError::Local)?;
        let redirect_uri = redirect.to_string();
        let client = self.client(Some(&redirect_uri))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .map_err(|_| {
                AuthError::Local(anyhow::anyhow!(
                    "mailbox {}: oauth.authorize_url is not set",
                    self.mailbox
                ))
            })?
            .add_scopes(Self::scope_list(&self.sign_in_scopes()))
            .set_pkce_challenge(challenge)
            .add_extra_param("response_mode", "query");
        if let Some(h) = &self.cfg.login_hint {
            request = request.add_extra_param("login_hint", h.clone());
        }
        let (url, state) = request.url();
        println!("Open this URL to sign in:\n\n  {url}\n");
        if open_browser && std::env::var_os("DISPLAY").is_some() {
            let _ = std::process::Command::new("xdg-open")
                .arg(url.as_str())
                .spawn();
        }
        let received = tokio::time::timeout(
            wait,
            redirect::receive_redirect(&listeners, redirect.path()),
        );
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
        if got_state != *state.secret() {
            return Err(AuthError::Refused(
                "the redirect's state did not match; the login was not started here".into(),
            ));
        }
        let http = self.transport();
        let request = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(verifier)
            // Microsoft takes the scopes again at the token endpoint.
            .add_extra_param("scope", self.sign_in_scopes().request());
        let t = with_assertion!(request, self.certificate.is_some())
            .request_async(&http)
            .await
            .map_err(|e| http.failure(e))?;
        self.signed_in(&t, Flow::AuthorizationCode).await
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
        let services: Vec<(String, ScopeSet)> = {
            let services = self.services.lock().expect("services lock");
            services
                .iter()
                .map(|s| (s.name.clone(), s.scopes.clone()))
                .collect()
        };
        if services.len() > 1 {
            let others: Vec<&str> = services[1..].iter().map(|(n, _)| n.as_str()).collect();
            out.push(("shared with".into(), others.join(", ")));
        }
        let loaded = match self.load() {
            Ok(t) => t,
            Err(e) => {
                out.push(("state".into(), format!("unreadable cache: {e}")));
                return out;
            }
        };
        let tokens = &loaded.tokens;
        let now = popline_core::clock::unix_now();
        let state = match (&tokens.needs_login, &loaded.foreign) {
            (Some(why), _) => Some(format!("needs-login: {why}")),
            (None, Some(why)) => Some(format!("needs-login: {why}")),
            (None, None) if tokens.refresh_token.is_none() && !tokens.has_access() => {
                Some("needs-login (no token yet)".into())
            }
            _ => None,
        };
        if let Some(state) = state {
            out.push(("state".into(), state));
        }
        for (i, (name, scopes)) in services.iter().enumerate() {
            let suffix = if i == 0 {
                String::new()
            } else {
                format!(" ({name})")
            };
            let Some(access) = tokens.access_for(scopes) else {
                if i > 0 || tokens.refresh_token.is_some() {
                    out.push((
                        format!("access token{suffix}"),
                        "none cached (the next use gets one)".into(),
                    ));
                }
                continue;
            };
            let left = access.expires_at - now;
            out.push((
                format!("access token{suffix}"),
                if left > 0 {
                    format!("valid for {left} s")
                } else {
                    format!("expired {} s ago", -left)
                },
            ));
            out.push((format!("scopes{suffix}"), access.scope.clone()));
            if i == 0 {
                for (k, v) in claims(&access.token) {
                    out.push((format!("claim {k}"), v));
                }
            }
        }
        if tokens.refresh_token.is_some() {
            if !tokens.signed_in_for.is_empty() {
                out.push(("signed in for".into(), tokens.signed_in_for.clone()));
            }
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
