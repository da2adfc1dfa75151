//! Tokens for one account: the cache, refresh with rotation, single
//! flight, and the grants themselves through the `oauth2` crate (PKCE and
//! CSRF state, code exchange, device authorization and polling, client
//! credentials, refresh) over popline's own HTTP function (`http.rs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
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

use crate::cache::{Cache, Tokens};
use crate::config::{Flow, OAuthConfig, Provider, TENANT_REQUIRED};
use crate::http::{self, Http};
use crate::{AuthError, assertion, cache, cloud, redirect};

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

/// Tokens for one account: cache, refresh, single flight.
pub struct TokenManager {
    mailbox: String,
    cfg: OAuthConfig,
    base_dir: PathBuf,
    cache: Cache,
    http: reqwest::Client,
    certificate: Option<Arc<assertion::Certificate>>,
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

    pub(crate) fn scopes(&self) -> String {
        if !self.cfg.scopes.is_empty() {
            return self.cfg.scopes.join(" ");
        }
        let cloud = cloud::by_authority(&self.cfg.authority).unwrap_or(cloud::global());
        match self.cfg.flow {
            Flow::ClientCredentials => cloud.app.into(),
            _ => format!("{} offline_access", cloud.pop_delegated),
        }
    }

    fn scope_list(&self) -> Vec<Scope> {
        self.scopes()
            .split_whitespace()
            .map(|s| Scope::new(s.to_string()))
            .collect()
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

    /// Save a token response. A rotated refresh token is persisted before
    /// the new access token is handed out.
    fn save(&self, old: &Tokens, t: &BasicTokenResponse, flow: Flow) -> Result<Secret, AuthError> {
        let now = popline_core::clock::unix_now();
        let refresh = t.refresh_token().map(|r| r.secret().clone());
        let rotated = refresh.is_some();
        let granted = t
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "));
        let tokens = Tokens {
            access_token: Some(t.access_token().secret().clone()),
            access_expires_at: now + t.expires_in().map_or(3600, |d| d.as_secs() as i64),
            refresh_token: refresh.or_else(|| old.refresh_token.clone()),
            refresh_issued_at: if rotated { now } else { old.refresh_issued_at },
            scope: granted.unwrap_or_else(|| self.scopes()),
            flow: flow.as_str().into(),
            needs_login: None,
        };
        self.cache.store(&tokens).map_err(AuthError::Local)?;
        popline_metrics::record_token_expiry(&self.mailbox, tokens.access_expires_at);
        popline_metrics::record_needs_login(&self.mailbox, false);
        Ok(Secret::new(t.access_token().secret().clone()))
    }

    /// Put the cached tokens' state in metrics, asking nothing of the
    /// identity platform (at start, so the series exist before the first
    /// poll): whether a person must run `popline auth login` (a dead grant,
    /// or no token yet with a delegated flow) and when the access token
    /// expires (0: none cached). An unreadable cache is left to the poll.
    pub fn record_metrics(&self) {
        let Ok(tokens) = self.cache.load() else {
            return;
        };
        let no_grant = self.cfg.flow != Flow::ClientCredentials
            && tokens.refresh_token.is_none()
            && tokens.access_token.is_none();
        popline_metrics::record_needs_login(
            &self.mailbox,
            tokens.needs_login.is_some() || no_grant,
        );
        let expires = tokens
            .access_token
            .as_ref()
            .map_or(0, |_| tokens.access_expires_at);
        popline_metrics::record_token_expiry(&self.mailbox, expires);
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
        let client = self.client(None)?;
        let http = self.transport();
        if self.cfg.flow == Flow::ClientCredentials {
            let request = client
                .exchange_client_credentials()
                .add_scopes(self.scope_list());
            let t = with_assertion!(request, self.certificate.is_some())
                .request_async(&http)
                .await
                .map_err(|e| http.failure(e))?;
            return self.save(tokens, &t, Flow::ClientCredentials);
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
        let refresh_token = RefreshToken::new(rt.clone());
        let request = client
            .exchange_refresh_token(&refresh_token)
            .add_scopes(self.scope_list());
        let refreshed = with_assertion!(request, self.certificate.is_some())
            .request_async(&http)
            .await
            .map_err(|e| http.failure(e));
        match refreshed {
            Ok(t) => self.save(tokens, &t, self.cfg.flow),
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
        let client = self.client(None)?;
        let http = self.transport();
        let request = client.exchange_device_code().map_err(|_| {
            AuthError::Local(anyhow::anyhow!(
                "mailbox {}: oauth.device_url is not set",
                self.mailbox
            ))
        })?;
        let details: DeviceAuthorizationResponse<DeviceMessage> = request
            .add_scopes(self.scope_list())
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
        self.save(&Tokens::default(), &t, Flow::DeviceCode)?;
        Ok(())
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
            .add_scopes(self.scope_list())
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
            .add_extra_param("scope", self.scopes());
        let t = with_assertion!(request, self.certificate.is_some())
            .request_async(&http)
            .await
            .map_err(|e| http.failure(e))?;
        self.save(&Tokens::default(), &t, Flow::AuthorizationCode)?;
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
