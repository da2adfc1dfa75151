//! An identity-platform stand-in: Microsoft identity platform v2.0 on the wire,
//! for popline's OAuth tests.
//!
//! [`Idp::start`] serves on `127.0.0.1` (an ephemeral port) from a dedicated
//! thread with its own Tokio runtime, so it works the same from `#[test]` and
//! `#[tokio::test]`. Its paths mirror `login.microsoftonline.com`:
//!
//! | path | what |
//! |---|---|
//! | `GET /{tenant}/oauth2/v2.0/authorize` | authorization code + PKCE (S256); consents automatically and redirects (302) to the app's redirect URI |
//! | `POST /{tenant}/oauth2/v2.0/token` | `authorization_code`, `refresh_token` (rotating), `client_credentials`, `urn:ietf:params:oauth:grant-type:device_code` |
//! | `POST /{tenant}/oauth2/v2.0/devicecode` | device authorization; tests approve with [`Idp::approve_device`] |
//! | `POST /introspect` | RFC 7662 introspection for Dovecot's `oauth2` passdb |
//!
//! Errors have Microsoft's shape (`error`, `error_description` starting with
//! `AADSTSnnn:` and ending with trace/correlation id and timestamp,
//! `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`).
//! Access tokens are JWT-shaped and about 2 KB like Microsoft's, but the
//! stand-in validates them by lookup, never by signature (as Microsoft tells
//! clients: access tokens are opaque to them). [`Idp::fail_next`] injects
//! faults; [`Idp::requests`] and [`Idp::token_requests`] let tests check what
//! a client sent.
//!
//! ```no_run
//! use popline_testkit::idp::{App, Idp, IdpOptions};
//! use popline_testkit::{Dovecot, DovecotOptions};
//!
//! let idp = Idp::start(
//!     IdpOptions::default()
//!         .user("alice@contoso.example")
//!         .app(App::new("popline-app").secret("s3cret")),
//! )?;
//! let dovecot = Dovecot::start(
//!     DovecotOptions::default()
//!         .user("alice@contoso.example", "unused")
//!         .oauth2_introspection_url(idp.introspection_url()),
//! )?;
//! // POST client_credentials to idp.token_url(), then AUTH XOAUTH2 ...
//! # anyhow::Ok(())
//! ```
//!
//! With Dovecot: a delegated token (scope `POP.AccessAsUser.All`) opens only
//! its user's mailbox; an app-only token (role `POP.AccessAsApp`) opens any
//! mailbox of [`Idp::domain`], because introspection names it
//! `{client_id}@{domain}` and Dovecot's second `oauth2` passdb compares
//! domains only (`username_format = %Ld`). Dovecot never sends the mailbox
//! name to the introspection endpoint, so per-mailbox permissions
//! (`Add-MailboxPermission`) cannot be modelled.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, TcpListener as StdTcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use tokio::sync::oneshot;

/// The `client_id` Dovecot's `oauth2` passdb authenticates with at
/// `/introspect` (see [`crate::DovecotOptions::oauth2_introspection_url`]).
pub const DOVECOT_CLIENT_ID: &str = "dovecot-resource-server";
/// The matching `client_secret`.
pub const DOVECOT_CLIENT_SECRET: &str = "popline-testkit-secret";
/// The delegated scope for POP (authorization code and device code flows).
pub const POP_DELEGATED_SCOPE: &str = "https://outlook.office.com/POP.AccessAsUser.All";
/// The only scope the client credentials grant accepts.
pub const POP_APP_SCOPE: &str = "https://outlook.office365.com/.default";
/// The application permission app-only POP needs.
pub const POP_APP_ROLE: &str = "POP.AccessAsApp";
/// `client_assertion_type` for certificate credentials.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// `grant_type` of the device authorization grant.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A made-up tenant id (a GUID, as Microsoft's are).
const DEFAULT_TENANT: &str = "5c1a7e42-93d8-4b6f-a0e1-2f7d9c3b8a64";
const DEFAULT_DOMAIN: &str = "contoso.example";
/// Microsoft's authorization codes live about ten minutes.
const AUTH_CODE_LIFETIME: Duration = Duration::from_secs(600);
/// Microsoft accepts client assertions valid for at most about ten minutes.
const MAX_ASSERTION_LIFETIME: i64 = 600;
/// Request bodies beyond this are refused (413).
const MAX_BODY: usize = 1 << 20;
/// Microsoft's Exchange access tokens are about 2 KB; Dovecot drops the
/// connection for tokens over about 6 KB, so the size matters.
const ACCESS_TOKEN_LEN: usize = 2048;
/// The base64url length of a 2048-bit RS256 signature.
const SIGNATURE_LEN: usize = 342;
const OUTLOOK: &str = "https://outlook.office.com";
const OUTLOOK_365: &str = "https://outlook.office365.com";
const GRAPH: &str = "https://graph.microsoft.com";
/// Graph's audience as it appears in tokens.
const GRAPH_AUD: &str = "00000003-0000-0000-c000-000000000000";
const CERT_DOCS: &str = "Review the documentation at \
     https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/// What [`Idp::start`] serves: the tenant, its users and registered apps.
///
/// ```
/// # use popline_testkit::idp::{App, IdpOptions};
/// # use std::time::Duration;
/// let opts = IdpOptions::default()
///     .user("alice@contoso.example")
///     .app(App::new("popline-app").secret("s3cret"))
///     .access_token_lifetime(Duration::from_secs(3));
/// ```
#[derive(Clone, Debug)]
pub struct IdpOptions {
    /// The tenant id in the paths (`/{tenant}/oauth2/v2.0/...`). Requests may
    /// also name the tenant by [`IdpOptions::domain`], `organizations` or
    /// `common`; anything else gets AADSTS90002.
    pub tenant: String,
    /// The tenant's verified domain: app-only tokens open any mailbox in it.
    /// `None`: the domain of the first user, else `contoso.example`.
    pub domain: Option<String>,
    /// User principal names (`alice@contoso.example`). No passwords: the
    /// stand-in signs users in without asking.
    pub users: Vec<String>,
    /// Registered applications.
    pub apps: Vec<App>,
    /// Access token lifetime (`expires_in`); default 3600 s. Tests of refresh
    /// use a few seconds. Also [`Idp::set_access_token_lifetime`].
    pub access_token_lifetime: Duration,
    /// A refresh token unused this long expires (AADSTS700082); default 90 days.
    pub refresh_token_max_inactive_time: Duration,
    /// How long a device code can be approved and redeemed; default 900 s.
    pub device_code_lifetime: Duration,
    /// The device flow's polling `interval` (whole seconds, at least 1);
    /// default 1 s. Polling faster gets `slow_down` and adds 5 s.
    pub device_code_interval: Duration,
    /// The resource server's credentials for `/introspect` (HTTP Basic or
    /// form fields); default [`DOVECOT_CLIENT_ID`] / [`DOVECOT_CLIENT_SECRET`],
    /// which is what [`crate::Dovecot`] sends.
    pub introspection_client: (String, String),
}

impl Default for IdpOptions {
    fn default() -> Self {
        IdpOptions {
            tenant: DEFAULT_TENANT.into(),
            domain: None,
            users: Vec::new(),
            apps: Vec::new(),
            access_token_lifetime: Duration::from_secs(3600),
            refresh_token_max_inactive_time: Duration::from_secs(90 * 24 * 3600),
            device_code_lifetime: Duration::from_secs(900),
            device_code_interval: Duration::from_secs(1),
            introspection_client: (DOVECOT_CLIENT_ID.into(), DOVECOT_CLIENT_SECRET.into()),
        }
    }
}

impl IdpOptions {
    /// Adds a user (user principal name, e.g. `alice@contoso.example`).
    pub fn user(mut self, upn: impl Into<String>) -> Self {
        self.users.push(upn.into());
        self
    }

    /// Registers an application.
    pub fn app(mut self, app: App) -> Self {
        self.apps.push(app);
        self
    }

    /// Sets [`IdpOptions::tenant`].
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = tenant.into();
        self
    }

    /// Sets [`IdpOptions::domain`].
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Sets [`IdpOptions::access_token_lifetime`].
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.access_token_lifetime = lifetime;
        self
    }

    /// Sets [`IdpOptions::device_code_interval`].
    pub fn device_code_interval(mut self, interval: Duration) -> Self {
        self.device_code_interval = interval;
        self
    }

    /// Sets [`IdpOptions::device_code_lifetime`].
    pub fn device_code_lifetime(mut self, lifetime: Duration) -> Self {
        self.device_code_lifetime = lifetime;
        self
    }
}

/// An app registration.
///
/// [`App::new`] is a public client ("Allow public client flows": device code
/// and authorization code without a secret), with loopback redirect URIs and
/// the `POP.AccessAsApp` application permission admin-consented. Add a secret
/// or certificate for the client credentials grant.
#[derive(Clone, Debug)]
pub struct App {
    /// The application (client) id.
    pub client_id: String,
    /// Shown in errors and the `app_displayname` claim.
    pub display_name: String,
    /// The client secret (value), if any.
    pub secret: Option<String>,
    /// Registered certificates (PEM) for client assertions.
    pub certificates: Vec<String>,
    /// Registered redirect URIs. For loopback hosts (`localhost`,
    /// `127.0.0.1`, `[::1]`) any port matches, as Microsoft allows for
    /// "Mobile and desktop applications". Default `http://localhost` and
    /// `http://127.0.0.1`.
    pub redirect_uris: Vec<String>,
    /// Whether flows may omit client credentials (device code, authorization
    /// code). Client credentials always need them. Default `true`.
    pub public_client: bool,
    /// Admin-consented application permissions, the `roles` of app-only
    /// tokens. Default `["POP.AccessAsApp"]`; empty gives tokens that
    /// Exchange (here: Dovecot) refuses.
    pub roles: Vec<String>,
}

impl App {
    /// A public client app with loopback redirect URIs and `POP.AccessAsApp`.
    pub fn new(client_id: impl Into<String>) -> Self {
        App {
            client_id: client_id.into(),
            display_name: "popline test app".into(),
            secret: None,
            certificates: Vec::new(),
            redirect_uris: vec!["http://localhost".into(), "http://127.0.0.1".into()],
            public_client: true,
            roles: vec![POP_APP_ROLE.into()],
        }
    }

    /// Sets the client secret.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// Registers a certificate (PEM), e.g. [`ClientCertificate::cert_pem`].
    pub fn certificate(mut self, pem: impl Into<String>) -> Self {
        self.certificates.push(pem.into());
        self
    }

    /// Adds a redirect URI.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// Requires client credentials in every flow (a web app without "Allow
    /// public client flows").
    pub fn confidential(mut self) -> Self {
        self.public_client = false;
        self
    }

    /// Replaces the application permissions (app-only `roles`).
    pub fn roles<S: Into<String>>(mut self, roles: impl IntoIterator<Item = S>) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the display name.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = name.into();
        self
    }
}

/// A fault for [`Idp::fail_next`], answered instead of the next request to
/// `/token` or `/devicecode`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// An error in Microsoft's format: `error` is the OAuth error string,
    /// `code` the AADSTS number. The description is Microsoft's text for
    /// known codes. HTTP 401 for `invalid_client`, else 400.
    Aadsts {
        /// The AADSTS number, e.g. 700082.
        code: u32,
        /// The OAuth `error`, e.g. `invalid_grant`.
        error: String,
    },
    /// HTTP 429 with `Retry-After: retry_after` (seconds).
    TooManyRequests {
        /// The `Retry-After` value in seconds.
        retry_after: u64,
    },
    /// HTTP 503 (`temporarily_unavailable`).
    Unavailable,
}

impl Fault {
    /// An AADSTS error with Microsoft's OAuth error for that code: 700082,
    /// 50173, 70000, 65001 (`suberror: consent_required`) → `invalid_grant`;
    /// 7000215, 7000222, 700024, 700027, 7000218 → `invalid_client`; 700016 →
    /// `unauthorized_client`; 50076, 50079 → `interaction_required`; 53003 →
    /// `access_denied`; 90002 → `invalid_request`; others → `invalid_request`.
    pub fn aadsts(code: u32) -> Fault {
        let error = match code {
            700082 | 50173 | 70000 | 65001 | 70008 | 54005 | 501481 => "invalid_grant",
            7000215 | 7000222 | 700024 | 700027 | 7000218 | 700025 => "invalid_client",
            700016 => "unauthorized_client",
            50076 | 50079 => "interaction_required",
            53003 => "access_denied",
            _ => "invalid_request",
        };
        Fault::Aadsts {
            code,
            error: error.into(),
        }
    }
}

/// Which endpoint a [`RecordedRequest`] went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/{tenant}/oauth2/v2.0/authorize`
    Authorize,
    /// `/{tenant}/oauth2/v2.0/token`
    Token,
    /// `/{tenant}/oauth2/v2.0/devicecode`
    DeviceCode,
    /// `/introspect`
    Introspect,
}

/// A request as the stand-in received it, secrets included (this is test
/// code: tests check what a client sent).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, e.g. `/{tenant}/oauth2/v2.0/token`.
    pub path: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Form body fields (`application/x-www-form-urlencoded`), decoded, in order.
    pub form: Vec<(String, String)>,
    /// Headers (lower-case names), in order.
    pub headers: Vec<(String, String)>,
    /// HTTP Basic credentials (base64-decoded, not form-decoded), if sent.
    pub basic_auth: Option<(String, String)>,
}

impl RecordedRequest {
    /// The first form field `name`, else the first query parameter `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        find(&self.form, name).or_else(|| find(&self.query, name))
    }

    /// The first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------------------
// The running server
// ---------------------------------------------------------------------------

/// A running identity-platform stand-in. Dropping it stops the server
/// (connections are closed; Dovecot then answers logins with `[SYS/TEMP]`).
pub struct Idp {
    shared: Arc<Shared>,
    port: u16,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Idp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idp")
            .field("authority", &self.authority())
            .finish_non_exhaustive()
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Idp {
    /// Starts the server on `127.0.0.1` (ephemeral port) on its own thread
    /// and runtime; ready when this returns. Fails on an unusable option (an
    /// unparsable certificate, a duplicate client id, no tenant).
    pub fn start(opts: IdpOptions) -> Result<Idp> {
        if opts.tenant.is_empty() || opts.tenant.contains('/') {
            bail!("unusable tenant {:?}", opts.tenant);
        }
        let mut apps = HashMap::new();
        for app in &opts.apps {
            let mut certs = Vec::new();
            for pem in &app.certificates {
                certs
                    .push(CertRec::parse(pem).with_context(|| {
                        format!("certificate registered for {}", app.client_id)
                    })?);
            }
            let rec = AppRec {
                app: app.clone(),
                certs,
            };
            if apps.insert(app.client_id.clone(), rec).is_some() {
                bail!("app {} registered twice", app.client_id);
            }
        }
        let domain = opts
            .domain
            .clone()
            .or_else(|| {
                opts.users
                    .first()
                    .and_then(|u| u.split_once('@'))
                    .map(|(_, d)| d.to_owned())
            })
            .unwrap_or_else(|| DEFAULT_DOMAIN.into())
            .to_ascii_lowercase();

        let listener = StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("binding the identity stand-in")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            base: format!("http://127.0.0.1:{port}"),
            tenant: opts.tenant.clone(),
            domain,
            users: opts.users.iter().map(|u| u.to_ascii_lowercase()).collect(),
            apps,
            refresh_max_inactive: opts.refresh_token_max_inactive_time,
            device_lifetime: opts.device_code_lifetime,
            device_interval: Duration::from_secs(
                opts.device_code_interval.as_secs_f64().ceil().max(1.0) as u64,
            ),
            introspection_client: opts.introspection_client.clone(),
            rng: SystemRandom::new(),
            state: Mutex::new(State {
                access_lifetime: opts.access_token_lifetime,
                ..State::default()
            }),
        });
        // Built here so a failure is an error, not a panic on the thread.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building the identity stand-in's runtime")?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name("popline-idp".into())
            .spawn(move || {
                runtime.block_on(serve(listener, serving, stop_rx));
                // Dropping the runtime here cancels open connections.
            })
            .context("spawning the identity stand-in's thread")?;
        Ok(Idp {
            shared,
            port,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> &str {
        &self.shared.base
    }

    /// The tenant id.
    pub fn tenant(&self) -> &str {
        &self.shared.tenant
    }

    /// The tenant's domain (app-only tokens open its mailboxes).
    pub fn domain(&self) -> &str {
        &self.shared.domain
    }

    /// `http://127.0.0.1:PORT/{tenant}/oauth2/v2.0`, as
    /// `https://login.microsoftonline.com/{tenant}/oauth2/v2.0`.
    pub fn authority(&self) -> String {
        format!("{}/{}/oauth2/v2.0", self.shared.base, self.shared.tenant)
    }

    /// `{authority}/authorize`
    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", self.authority())
    }

    /// `{authority}/token` (also the `aud` of client assertions).
    pub fn token_url(&self) -> String {
        format!("{}/token", self.authority())
    }

    /// `{authority}/devicecode`
    pub fn device_code_url(&self) -> String {
        format!("{}/devicecode", self.authority())
    }

    /// `http://127.0.0.1:PORT/introspect`, for
    /// [`crate::DovecotOptions::oauth2_introspection_url`].
    pub fn introspection_url(&self) -> String {
        format!("{}/introspect", self.shared.base)
    }

    /// Approves the pending device authorization with `user_code` as `upn`
    /// (what the user would do at the verification URI).
    pub fn approve_device(&self, user_code: &str, upn: &str) -> Result<()> {
        let upn = upn.to_ascii_lowercase();
        if !self.shared.users.contains(&upn) {
            bail!("{upn} is not a user of this identity stand-in");
        }
        self.settle_device(user_code, DeviceState::Approved(upn))
    }

    /// Denies the device authorization: polling then gets `access_denied`
    /// (RFC 8628).
    pub fn deny_device(&self, user_code: &str) -> Result<()> {
        self.settle_device(user_code, DeviceState::Denied("access_denied"))
    }

    /// Declines the device authorization: polling then gets
    /// `authorization_declined`, the error Microsoft documents for this.
    pub fn decline_device(&self, user_code: &str) -> Result<()> {
        self.settle_device(user_code, DeviceState::Denied("authorization_declined"))
    }

    fn settle_device(&self, user_code: &str, to: DeviceState) -> Result<()> {
        let mut st = self.shared.lock();
        let rec = st
            .devices
            .values_mut()
            .find(|d| d.user_code.eq_ignore_ascii_case(user_code))
            .ok_or_else(|| anyhow!("no device authorization with user code {user_code}"))?;
        if !matches!(rec.state, DeviceState::Pending) {
            bail!("device authorization {user_code} is no longer pending");
        }
        if Instant::now() >= rec.expires {
            bail!("device authorization {user_code} has expired");
        }
        rec.state = to;
        Ok(())
    }

    /// The user code of the most recent device authorization still pending,
    /// for tests that drive a client which prints the code to its user.
    pub fn latest_user_code(&self) -> Option<String> {
        let st = self.shared.lock();
        st.device_order
            .iter()
            .rev()
            .filter_map(|code| st.devices.get(code))
            .find(|d| matches!(d.state, DeviceState::Pending))
            .map(|d| d.user_code.clone())
    }

    /// Answers the next `n` requests to `/token` or `/devicecode` with `fault`
    /// (after recording them). Queued faults are used in order.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        let mut st = self.shared.lock();
        st.faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Drops the faults not yet used.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Revokes every access and refresh token of `upn` (a password reset or
    /// an admin's "revoke sessions"): introspection says inactive, refresh
    /// gets AADSTS50173. New sign-ins work.
    pub fn revoke_all_for(&self, upn: &str) {
        let upn = upn.to_ascii_lowercase();
        let mut st = self.shared.lock();
        for t in st.access.values_mut() {
            if matches!(&t.subject, Subject::User(u) if *u == upn) {
                t.revoked = true;
            }
        }
        for r in st.refresh.values_mut() {
            if r.grant.upn == upn && matches!(r.state, RefreshState::Active) {
                r.state = RefreshState::Revoked;
            }
        }
        st.tokens_valid_from.insert(upn, unix_now());
    }

    /// Makes every refresh token of `upn` expired (as after 90 days unused):
    /// refresh gets AADSTS700082. Access tokens stay valid.
    pub fn expire_refresh_tokens_for(&self, upn: &str) {
        let upn = upn.to_ascii_lowercase();
        let mut st = self.shared.lock();
        for r in st.refresh.values_mut() {
            if r.grant.upn == upn && matches!(r.state, RefreshState::Active) {
                r.state = RefreshState::Expired;
            }
        }
    }

    /// Revokes every token issued to `client_id` (app-only and delegated).
    pub fn revoke_app(&self, client_id: &str) {
        let mut st = self.shared.lock();
        for t in st.access.values_mut() {
            if t.client_id == client_id {
                t.revoked = true;
            }
        }
        for r in st.refresh.values_mut() {
            if r.grant.client_id == client_id && matches!(r.state, RefreshState::Active) {
                r.state = RefreshState::Revoked;
            }
        }
    }

    /// Revokes one access or refresh token. Whether it was known.
    pub fn revoke(&self, token: &str) -> bool {
        let mut st = self.shared.lock();
        if let Some(t) = st.access.get_mut(token) {
            t.revoked = true;
            return true;
        }
        if let Some(r) = st.refresh.get_mut(token) {
            r.state = RefreshState::Revoked;
            return true;
        }
        false
    }

    /// Changes the lifetime of access tokens issued from now on.
    pub fn set_access_token_lifetime(&self, lifetime: Duration) {
        self.shared.lock().access_lifetime = lifetime;
    }

    /// Who `/authorize` signs in when the request has no `login_hint`
    /// (default: the first user).
    pub fn sign_in(&self, upn: &str) -> Result<()> {
        let upn = upn.to_ascii_lowercase();
        if !self.shared.users.contains(&upn) {
            bail!("{upn} is not a user of this identity stand-in");
        }
        self.shared.lock().signed_in = Some(upn);
        Ok(())
    }

    /// Whether introspection would call `access_token` active now.
    pub fn is_active(&self, access_token: &str) -> bool {
        let st = self.shared.lock();
        st.access.get(access_token).is_some_and(AccessRec::active)
    }

    /// Issues a delegated POP access token for `upn` via `client_id` without
    /// any flow, for tests that only need a valid bearer token.
    pub fn mint_user_token(&self, client_id: &str, upn: &str) -> Result<String> {
        let upn = upn.to_ascii_lowercase();
        if !self.shared.users.contains(&upn) {
            bail!("{upn} is not a user of this identity stand-in");
        }
        let app = self
            .shared
            .apps
            .get(client_id)
            .ok_or_else(|| anyhow!("no app {client_id}"))?;
        let grant = Grant {
            upn,
            client_id: client_id.into(),
            resource: OUTLOOK.into(),
            scopes: vec!["POP.AccessAsUser.All".into()],
            offline: false,
            openid: false,
            auth_time: unix_now(),
        };
        let mut st = self.shared.lock();
        Ok(self
            .shared
            .mint_user_access(&mut st, app, &grant, ClientAuth::Public))
    }

    /// Issues an app-only access token for `client_id` without any flow.
    pub fn mint_app_token(&self, client_id: &str) -> Result<String> {
        let app = self
            .shared
            .apps
            .get(client_id)
            .ok_or_else(|| anyhow!("no app {client_id}"))?;
        let mut st = self.shared.lock();
        Ok(self
            .shared
            .mint_app_access(&mut st, app, ClientAuth::Secret))
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The last request to `/token`.
    pub fn last_token_request(&self) -> Option<RecordedRequest> {
        let st = self.shared.lock();
        st.requests
            .iter()
            .rev()
            .find(|r| r.endpoint == Endpoint::Token)
            .cloned()
    }

    /// How many requests to `/token` had `grant_type` = `grant_type` (e.g.
    /// `refresh_token`, [`DEVICE_CODE_GRANT`]), faulted ones included.
    pub fn token_requests(&self, grant_type: &str) -> usize {
        let st = self.shared.lock();
        st.requests
            .iter()
            .filter(|r| r.endpoint == Endpoint::Token && r.field("grant_type") == Some(grant_type))
            .count()
    }

    /// How many introspection requests arrived (one per Dovecot passdb
    /// lookup: a failed bearer login costs two, one per `oauth2` passdb).
    pub fn introspections(&self) -> usize {
        let st = self.shared.lock();
        st.requests
            .iter()
            .filter(|r| r.endpoint == Endpoint::Introspect)
            .count()
    }
}

async fn serve(listener: StdTcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("popline-testkit idp: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(shared, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

/// What never changes after start.
struct Shared {
    base: String,
    tenant: String,
    domain: String,
    users: Vec<String>,
    apps: HashMap<String, AppRec>,
    refresh_max_inactive: Duration,
    device_lifetime: Duration,
    device_interval: Duration,
    introspection_client: (String, String),
    rng: SystemRandom,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    access_lifetime: Duration,
    access: HashMap<String, AccessRec>,
    refresh: HashMap<String, RefreshRec>,
    codes: HashMap<String, CodeRec>,
    devices: HashMap<String, DeviceRec>,
    device_order: Vec<String>,
    /// Client assertion ids seen, with their `exp`, against replay.
    jtis: HashMap<String, i64>,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
    signed_in: Option<String>,
    /// When `revoke_all_for` last ran per user (for AADSTS50173's text).
    tokens_valid_from: HashMap<String, u64>,
}

struct AppRec {
    app: App,
    certs: Vec<CertRec>,
}

struct CertRec {
    sha1: Vec<u8>,
    sha256: Vec<u8>,
    /// PKCS#1 `RSAPublicKey`, what ring verifies with.
    public_key: Vec<u8>,
}

impl CertRec {
    fn parse(pem: &str) -> Result<CertRec> {
        let der = CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| anyhow!("not a PEM certificate: {e:?}"))?;
        Ok(CertRec {
            sha1: digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &der)
                .as_ref()
                .to_vec(),
            sha256: digest::digest(&digest::SHA256, &der).as_ref().to_vec(),
            public_key: rsa_public_key(&der)?,
        })
    }
}

#[derive(Clone, Debug)]
enum Subject {
    User(String),
    App,
}

struct AccessRec {
    subject: Subject,
    client_id: String,
    /// Introspection's `scope`: the `scp` (delegated) or `roles` (app), space-separated.
    scope: String,
    aud: String,
    expires: Instant,
    iat: u64,
    exp: u64,
    revoked: bool,
}

impl AccessRec {
    fn active(&self) -> bool {
        !self.revoked && Instant::now() < self.expires
    }
}

/// What a user consented to, carried by codes, device codes and refresh tokens.
#[derive(Clone, Debug)]
struct Grant {
    upn: String,
    client_id: String,
    /// `https://outlook.office.com`, ...
    resource: String,
    /// Short names (`POP.AccessAsUser.All`).
    scopes: Vec<String>,
    offline: bool,
    openid: bool,
    auth_time: u64,
}

enum RefreshState {
    Active,
    /// Exchanged for a new one (rotation).
    Rotated,
    Revoked,
    Expired,
}

struct RefreshRec {
    grant: Grant,
    state: RefreshState,
    issued: u64,
    last_used: Instant,
}

struct CodeRec {
    grant: Grant,
    redirect_uri: String,
    challenge: String,
    expires: Instant,
    redeemed: bool,
}

#[derive(Clone, Debug)]
enum DeviceState {
    Pending,
    Approved(String),
    /// The OAuth error polling gets.
    Denied(&'static str),
    Redeemed,
}

struct DeviceRec {
    client_id: String,
    user_code: String,
    resource: String,
    scopes: Vec<String>,
    offline: bool,
    openid: bool,
    expires: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
    state: DeviceState,
}

#[derive(Clone, Copy)]
enum ClientAuth {
    Public,
    Secret,
    Certificate,
}

impl ClientAuth {
    /// The `appidacr` claim.
    fn acr(self) -> &'static str {
        match self {
            ClientAuth::Public => "0",
            ClientAuth::Secret => "1",
            ClientAuth::Certificate => "2",
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn random(&self, n: usize) -> Vec<u8> {
        let mut bytes = vec![0; n];
        self.rng.fill(&mut bytes).expect("system randomness");
        bytes
    }

    fn random_b64(&self, n: usize) -> String {
        URL_SAFE_NO_PAD.encode(self.random(n))
    }

    fn guid(&self) -> String {
        let mut b = self.random(16);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        guid_string(&b)
    }

    fn issuer_v1(&self) -> String {
        format!("https://sts.windows.net/{}/", self.tenant)
    }

    fn tenant_known(&self, tenant: &str) -> bool {
        tenant == self.tenant
            || tenant.eq_ignore_ascii_case(&self.domain)
            || tenant == "organizations"
            || tenant == "common"
    }
}

// ---------------------------------------------------------------------------
// HTTP plumbing
// ---------------------------------------------------------------------------

/// One parsed request.
struct Req {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    basic: Option<(String, String)>,
}

impl Req {
    fn form(&self, name: &str) -> Option<&str> {
        find(&self.form, name).filter(|v| !v.is_empty())
    }

    /// A form parameter the request must have (AADSTS900144 otherwise).
    fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.form(name).ok_or_else(|| OAuthError::missing(name))
    }

    fn query(&self, name: &str) -> Option<&str> {
        find(&self.query, name).filter(|v| !v.is_empty())
    }

    fn record(&self, endpoint: Endpoint) -> RecordedRequest {
        RecordedRequest {
            endpoint,
            method: self.method.to_string(),
            path: self.path.clone(),
            query: self.query.clone(),
            form: self.form.clone(),
            headers: self.headers.clone(),
            basic_auth: self.basic.clone(),
        }
    }
}

/// Per-request identifiers, as Microsoft puts them in every error.
struct Cx {
    trace_id: String,
    correlation_id: String,
    /// Echoed as `client-request-id` if the client sent one.
    client_request_id: Option<String>,
}

struct Reply {
    status: u16,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Reply {
    fn json(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: "application/json; charset=utf-8",
            headers: Vec::new(),
            body,
        }
    }

    fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn redirect(location: String) -> Reply {
        Reply {
            status: 302,
            content_type: "text/html; charset=utf-8",
            headers: vec![("location", location)],
            body: String::new(),
        }
    }

    fn into_response(self, cx: &Cx) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        let mut put = |name: &str, value: &str| {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(n, v);
            }
        };
        put("content-type", self.content_type);
        put("cache-control", "no-store, no-cache");
        put("pragma", "no-cache");
        put("x-ms-request-id", &cx.trace_id);
        if let Some(id) = &cx.client_request_id {
            put("client-request-id", id);
        }
        for (name, value) in &self.headers {
            put(name, value);
        }
        response
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let client_request_id = find(&headers, "client-request-id").map(str::to_owned);
    let cx = Cx {
        trace_id: shared.guid(),
        correlation_id: client_request_id.clone().unwrap_or_else(|| shared.guid()),
        client_request_id,
    };
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Reply::text(413, "request body too large").into_response(&cx),
    };
    let basic = find(&headers, "authorization").and_then(parse_basic);
    let req = Req {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: decode_form(parts.uri.query().unwrap_or("").as_bytes()),
        form: decode_form(&body),
        headers,
        basic,
    };
    shared.dispatch(&cx, &req).into_response(&cx)
}

fn decode_form(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

/// `Authorization: Basic base64(id:secret)`, as sent (see [`credential_eq`]).
fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Whether a credential from HTTP Basic equals `expected`. RFC 6749 §2.3.1
/// has clients form-urlencode id and secret before base64, but many HTTP
/// libraries' basic auth does not, so both spellings are accepted.
fn credential_eq(sent: &str, expected: &str) -> bool {
    sent == expected
        || form_urlencoded::parse(format!("x={sent}").as_bytes())
            .next()
            .is_some_and(|(_, v)| v == expected)
}

// ---------------------------------------------------------------------------
// Errors in Microsoft's shape
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct OAuthError {
    status: u16,
    error: String,
    code: u32,
    description: String,
    suberror: Option<String>,
    retry_after: Option<u64>,
}

impl OAuthError {
    fn new(error: &str, code: u32, description: impl Into<String>) -> OAuthError {
        OAuthError {
            // Microsoft answers invalid_client with 401, everything else with 400.
            status: if error == "invalid_client" { 401 } else { 400 },
            error: error.into(),
            code,
            description: description.into(),
            suberror: None,
            retry_after: None,
        }
    }

    fn missing(param: &str) -> OAuthError {
        OAuthError::new(
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{param}'."),
        )
    }

    fn malformed_assertion(why: &str) -> OAuthError {
        OAuthError::new(
            "invalid_client",
            50027,
            format!("JWT token is invalid or malformed. {why}"),
        )
    }

    /// AADSTS70000 for a code or token presented by another client than
    /// the one it was issued to.
    fn issued_to_another_client(what: &str) -> OAuthError {
        OAuthError::invalid_grant(
            70000,
            format!(
                "Provided grant is invalid or malformed. The {what} was issued to another client."
            ),
        )
    }

    /// AADSTS9002313: a code or token the endpoint does not know.
    fn malformed_grant() -> OAuthError {
        OAuthError::invalid_grant(9002313, "Invalid request. Request is malformed or invalid.")
    }

    fn invalid_grant(code: u32, description: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_grant", code, description)
    }
}

/// Ordered JSON object writer: Microsoft's field order, without switching
/// serde_json to `preserve_order` for the whole workspace.
struct JsonObj(String);

impl JsonObj {
    fn new() -> JsonObj {
        JsonObj(String::from("{"))
    }

    fn field(mut self, key: &str, value: impl serde::Serialize) -> JsonObj {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0
            .push_str(&serde_json::to_string(key).expect("string serialises"));
        self.0.push(':');
        self.0
            .push_str(&serde_json::to_string(&value).expect("value serialises"));
        self
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

impl Shared {
    /// The full description Microsoft sends: text, trace, correlation, time.
    fn describe(&self, cx: &Cx, code: u32, text: &str) -> String {
        format!(
            "AADSTS{code}: {text}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
            cx.trace_id,
            cx.correlation_id,
            timestamp(unix_now())
        )
    }

    fn error_reply(&self, cx: &Cx, e: &OAuthError) -> Reply {
        let mut obj = JsonObj::new()
            .field("error", &e.error)
            .field(
                "error_description",
                self.describe(cx, e.code, &e.description),
            )
            .field("error_codes", [e.code])
            .field("timestamp", timestamp(unix_now()))
            .field("trace_id", &cx.trace_id)
            .field("correlation_id", &cx.correlation_id)
            .field("error_uri", format!("{}/error?code={}", self.base, e.code));
        if let Some(sub) = &e.suberror {
            obj = obj.field("suberror", sub);
        }
        let mut reply = Reply::json(e.status, obj.finish());
        if let Some(secs) = e.retry_after {
            reply.headers.push(("retry-after", secs.to_string()));
        }
        reply
    }

    /// A [`Fault`] as an error, with Microsoft's text for known codes.
    fn fault_error(&self, fault: &Fault, client_id: &str) -> OAuthError {
        match fault {
            Fault::TooManyRequests { retry_after } => {
                let mut e = OAuthError::new(
                    "temporarily_unavailable",
                    90055,
                    "There are too many incoming requests. Retry later.",
                );
                e.status = 429;
                e.retry_after = Some(*retry_after);
                e
            }
            Fault::Unavailable => {
                let mut e = OAuthError::new(
                    "temporarily_unavailable",
                    90033,
                    "A transient error has occurred. Please try again.",
                );
                e.status = 503;
                e
            }
            Fault::Aadsts { code, error } => {
                let mut e = OAuthError::new(error, *code, self.aadsts_text(*code, client_id));
                if *code == 65001 {
                    e.suberror = Some("consent_required".into());
                }
                e
            }
        }
    }

    /// Microsoft's description for an AADSTS code (without the prefix).
    fn aadsts_text(&self, code: u32, client_id: &str) -> String {
        let now = unix_now();
        let tenant = &self.tenant;
        match code {
            700082 => format!(
                "The refresh token has expired due to inactivity. The token was issued on {} \
                 and was inactive for {}.",
                iso(now.saturating_sub(self.refresh_max_inactive.as_secs())),
                span(self.refresh_max_inactive)
            ),
            50173 => format!(
                "The provided grant has expired due to it being revoked, a fresh auth token is \
                 needed. The user might have changed or reset their password. The grant was \
                 issued on '{}' and the TokensValidFrom date (before which tokens are not valid) \
                 for this user is '{}'.",
                iso(now.saturating_sub(3600)),
                iso(now)
            ),
            65001 => format!(
                "The user or administrator has not consented to use the application with ID \
                 '{client_id}' named '{}'. Send an interactive authorization request for this \
                 user and resource.",
                self.apps
                    .get(client_id)
                    .map_or("unknown", |a| a.app.display_name.as_str())
            ),
            7000215 => format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is \
                 the client secret value, not the client secret ID, for a secret added to app \
                 '{client_id}'."
            ),
            7000222 => format!(
                "The provided client secret keys for app '{client_id}' are expired. Visit the \
                 Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or \
                 consider using certificate credentials for added security: \
                 https://aka.ms/certCreds."
            ),
            700016 => format!(
                "Application with identifier '{client_id}' was not found in the directory \
                 '{tenant}'. This can happen if the application has not been installed by the \
                 administrator of the tenant or consented to by any user in the tenant. You may \
                 have sent your authentication request to the wrong tenant."
            ),
            50076 => format!(
                "Due to a configuration change made by your administrator, or because you moved \
                 to a new location, you must use multi-factor authentication to access '{OUTLOOK}'."
            ),
            50079 => format!(
                "Due to a configuration change made by your administrator, or because you moved \
                 to a new location, you must enroll in multi-factor authentication to access \
                 '{OUTLOOK}'."
            ),
            700024 => format!(
                "Client assertion is not within its valid time range. Current time: {}, \
                 assertion valid from {}, expiry time of assertion {}. {CERT_DOCS}",
                iso(now),
                iso(now.saturating_sub(1200)),
                iso(now.saturating_sub(600))
            ),
            700027 => "Client assertion failed signature validation.".into(),
            7000218 => "The request body must contain the following parameter: \
                        'client_assertion' or 'client_secret'."
                .into(),
            70000 => "Provided grant is invalid or malformed.".into(),
            53003 => "Access has been blocked by Conditional Access policies. The access policy \
                      does not allow token issuance."
                .into(),
            90002 => format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID \
                 and are signing into the correct cloud. Check with your subscription \
                 administrator, this may happen if there are no active subscriptions for the \
                 tenant."
            ),
            _ => "Injected fault.".into(),
        }
    }

    fn tenant_not_found(&self, tenant: &str) -> OAuthError {
        OAuthError::new(
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID \
                 and are signing into the correct cloud. Check with your subscription \
                 administrator, this may happen if there are no active subscriptions for the \
                 tenant."
            ),
        )
    }

    fn app_not_found(&self, client_id: &str) -> OAuthError {
        OAuthError::new(
            "unauthorized_client",
            700016,
            self.aadsts_text(700016, client_id),
        )
    }
}

// ---------------------------------------------------------------------------
// Routing and endpoints
// ---------------------------------------------------------------------------

impl Shared {
    fn dispatch(&self, cx: &Cx, req: &Req) -> Reply {
        if req.path == "/introspect" {
            return self.introspect(req);
        }
        if req.path == "/devicelogin" {
            return Reply::text(
                200,
                "popline-testkit identity stand-in: tests approve device codes with \
                 Idp::approve_device.\n",
            );
        }
        let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        let [tenant, "oauth2", "v2.0", endpoint] = segments[..] else {
            return Reply::text(404, "not found\n");
        };
        match endpoint {
            "authorize" => self.authorize(cx, tenant, req),
            "token" => self.token(cx, tenant, req),
            "devicecode" => self.device_code(cx, tenant, req),
            _ => Reply::text(404, "not found\n"),
        }
    }

    // --- /authorize -------------------------------------------------------

    fn authorize(&self, cx: &Cx, tenant: &str, req: &Req) -> Reply {
        let mut st = self.lock();
        st.requests.push(req.record(Endpoint::Authorize));
        // Until the redirect URI is known to be registered, errors are shown
        // to the "user" (a 400 page), never redirected.
        let page = |e: OAuthError| Reply::text(400, self.describe(cx, e.code, &e.description));
        if !self.tenant_known(tenant) {
            return page(self.tenant_not_found(tenant));
        }
        let Some(client_id) = req.query("client_id") else {
            return page(OAuthError::missing("client_id"));
        };
        let Some(app) = self.apps.get(client_id) else {
            return page(self.app_not_found(client_id));
        };
        let Some(redirect_uri) = req.query("redirect_uri") else {
            return page(OAuthError::missing("redirect_uri"));
        };
        if !app
            .app
            .redirect_uris
            .iter()
            .any(|r| redirect_matches(r, redirect_uri))
        {
            return page(OAuthError::new(
                "invalid_request",
                50011,
                format!(
                    "The redirect URI '{redirect_uri}' specified in the request does not match \
                     the redirect URIs configured for the application '{client_id}'. Make sure \
                     the redirect URI sent in the request matches one added to your application \
                     in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to \
                     learn more about how to fix this."
                ),
            ));
        }
        let state = req.query("state");
        let redirect_error = |e: OAuthError| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("error", &e.error);
            q.append_pair(
                "error_description",
                &self.describe(cx, e.code, &e.description),
            );
            if let Some(s) = state {
                q.append_pair("state", s);
            }
            Reply::redirect(with_query(redirect_uri, &q.finish()))
        };
        match self.authorize_grant(&mut st, req, app) {
            Err(e) => redirect_error(e),
            Ok((grant, challenge)) => {
                let code = format!("1.A{}", self.random_b64(420));
                st.codes.insert(
                    code.clone(),
                    CodeRec {
                        grant,
                        redirect_uri: redirect_uri.to_owned(),
                        challenge,
                        expires: Instant::now() + AUTH_CODE_LIFETIME,
                        redeemed: false,
                    },
                );
                let mut q = form_urlencoded::Serializer::new(String::new());
                q.append_pair("code", &code);
                if let Some(s) = state {
                    q.append_pair("state", s);
                }
                q.append_pair("session_state", &self.guid());
                Reply::redirect(with_query(redirect_uri, &q.finish()))
            }
        }
    }

    /// Validates an authorization request; returns the grant and the PKCE challenge.
    fn authorize_grant(
        &self,
        st: &mut State,
        req: &Req,
        app: &AppRec,
    ) -> Result<(Grant, String), OAuthError> {
        match req.query("response_type") {
            Some("code") => {}
            Some(other) => {
                return Err(OAuthError::new(
                    "unsupported_response_type",
                    700054,
                    format!(
                        "response_type '{other}' is not enabled for the application. \
                         The stand-in supports only 'code'."
                    ),
                ));
            }
            None => return Err(OAuthError::missing("response_type")),
        }
        let scope = req
            .query("scope")
            .ok_or_else(|| OAuthError::missing("scope"))?;
        let requested = parse_scopes(scope)?;
        // Stricter than Microsoft, which lets confidential clients skip PKCE:
        // popline must always use it.
        let challenge = req.query("code_challenge").ok_or_else(|| {
            OAuthError::new(
                "invalid_request",
                9002325,
                "Proof Key for Code Exchange is required for cross-origin authorization code \
                 redemption.",
            )
        })?;
        if req.query("code_challenge_method") != Some("S256") {
            return Err(OAuthError::new(
                "invalid_request",
                501491,
                "Invalid size of Code_Challenge parameter or code_challenge_method is not S256 \
                 (the stand-in accepts only S256).",
            ));
        }
        let upn = match req.query("login_hint") {
            Some(hint) => {
                let hint = hint.to_ascii_lowercase();
                if !self.users.contains(&hint) {
                    return Err(OAuthError::new(
                        "invalid_request",
                        50034,
                        format!(
                            "The user account {hint} does not exist in the {} directory. To sign \
                             into this application, the account must be added to the directory.",
                            self.tenant
                        ),
                    ));
                }
                hint
            }
            None => st
                .signed_in
                .clone()
                .or_else(|| self.users.first().cloned())
                .ok_or_else(|| {
                    OAuthError::new(
                        "login_required",
                        50058,
                        "A silent sign-in request was sent but no user is signed in.",
                    )
                })?,
        };
        let grant = Grant {
            upn,
            client_id: app.app.client_id.clone(),
            resource: requested.resource,
            scopes: requested.scopes,
            offline: requested.offline,
            openid: requested.openid,
            auth_time: unix_now(),
        };
        Ok((grant, challenge.to_owned()))
    }

    // --- /devicecode ------------------------------------------------------

    fn device_code(&self, cx: &Cx, tenant: &str, req: &Req) -> Reply {
        let mut st = self.lock();
        st.requests.push(req.record(Endpoint::DeviceCode));
        let client_id = req.form("client_id").unwrap_or_default().to_owned();
        if let Some(fault) = st.faults.pop_front() {
            return self.error_reply(cx, &self.fault_error(&fault, &client_id));
        }
        match self.device_code_inner(&mut st, tenant, req) {
            Ok(reply) => reply,
            Err(e) => self.error_reply(cx, &e),
        }
    }

    fn device_code_inner(
        &self,
        st: &mut State,
        tenant: &str,
        req: &Req,
    ) -> Result<Reply, OAuthError> {
        if req.method != Method::POST {
            return Err(not_post(&req.method));
        }
        if !self.tenant_known(tenant) {
            return Err(self.tenant_not_found(tenant));
        }
        let client_id = req.required("client_id")?;
        let app = self
            .apps
            .get(client_id)
            .ok_or_else(|| self.app_not_found(client_id))?;
        let scope = req.required("scope")?;
        let requested = parse_scopes(scope)?;
        let device_code = format!("DAQABIQEAAAD{}", self.random_b64(180));
        let user_code = loop {
            const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
            let code: String = self
                .random(8)
                .iter()
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
                .collect();
            if !st.devices.values().any(|d| d.user_code == code) {
                break code;
            }
        };
        st.devices.insert(
            device_code.clone(),
            DeviceRec {
                client_id: app.app.client_id.clone(),
                user_code: user_code.clone(),
                resource: requested.resource,
                scopes: requested.scopes,
                offline: requested.offline,
                openid: requested.openid,
                expires: Instant::now() + self.device_lifetime,
                interval: self.device_interval,
                last_poll: None,
                state: DeviceState::Pending,
            },
        );
        st.device_order.push(device_code.clone());
        let verification_uri = format!("{}/devicelogin", self.base);
        let body = JsonObj::new()
            .field("user_code", &user_code)
            .field("device_code", &device_code)
            .field("verification_uri", &verification_uri)
            .field("expires_in", self.device_lifetime.as_secs())
            .field("interval", self.device_interval.as_secs())
            .field(
                "message",
                format!(
                    "To sign in, use a web browser to open the page {verification_uri} and enter \
                     the code {user_code} to authenticate."
                ),
            )
            .finish();
        Ok(Reply::json(200, body))
    }

    // --- /token -----------------------------------------------------------

    fn token(&self, cx: &Cx, tenant: &str, req: &Req) -> Reply {
        let mut st = self.lock();
        st.requests.push(req.record(Endpoint::Token));
        let client_id = req
            .form("client_id")
            .or(req.basic.as_ref().map(|(id, _)| id.as_str()))
            .unwrap_or_default()
            .to_owned();
        if let Some(fault) = st.faults.pop_front() {
            return self.error_reply(cx, &self.fault_error(&fault, &client_id));
        }
        match self.token_inner(&mut st, tenant, req) {
            Ok(reply) => reply,
            Err(e) => self.error_reply(cx, &e),
        }
    }

    fn token_inner(&self, st: &mut State, tenant: &str, req: &Req) -> Result<Reply, OAuthError> {
        if req.method != Method::POST {
            return Err(not_post(&req.method));
        }
        if !self.tenant_known(tenant) {
            return Err(self.tenant_not_found(tenant));
        }
        let grant_type = req.required("grant_type")?;
        let client_id = req
            .form("client_id")
            .or(req.basic.as_ref().map(|(id, _)| id.as_str()))
            .ok_or_else(|| OAuthError::missing("client_id"))?;
        let app = self
            .apps
            .get(client_id)
            .ok_or_else(|| self.app_not_found(client_id))?;
        let auth =
            self.authenticate_client(st, tenant, req, app, grant_type == "client_credentials")?;
        match grant_type {
            "client_credentials" => self.client_credentials(st, req, app, auth),
            "authorization_code" => self.redeem_code(st, req, app, auth),
            "refresh_token" => self.refresh(st, req, app, auth),
            DEVICE_CODE_GRANT => self.poll_device(st, req, app, auth),
            other => Err(OAuthError::new(
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{other}'."),
            )),
        }
    }

    /// Client authentication: a secret (form or HTTP Basic) or a certificate
    /// assertion; none only for public clients outside client credentials.
    fn authenticate_client(
        &self,
        st: &mut State,
        tenant: &str,
        req: &Req,
        app: &AppRec,
        credentials_required: bool,
    ) -> Result<ClientAuth, OAuthError> {
        let client_id = &app.app.client_id;
        let secret = req.form("client_secret").or(req
            .basic
            .as_ref()
            .filter(|(id, _)| credential_eq(id, client_id))
            .map(|(_, s)| s.as_str()));
        let assertion = req.form("client_assertion");
        if secret.is_none() && assertion.is_none() {
            if credentials_required || !app.app.public_client {
                return Err(OAuthError::new(
                    "invalid_client",
                    7000218,
                    self.aadsts_text(7000218, client_id),
                ));
            }
            return Ok(ClientAuth::Public);
        }
        if app.app.secret.is_none() && app.certs.is_empty() {
            return Err(OAuthError::new(
                "invalid_client",
                700025,
                "Client is public so neither 'client_assertion' nor 'client_secret' should be \
                 presented.",
            ));
        }
        if let Some(secret) = secret {
            let matches = if req.form("client_secret").is_some() {
                app.app.secret.as_deref() == Some(secret)
            } else {
                app.app
                    .secret
                    .as_deref()
                    .is_some_and(|s| credential_eq(secret, s))
            };
            if !matches {
                return Err(OAuthError::new(
                    "invalid_client",
                    7000215,
                    self.aadsts_text(7000215, client_id),
                ));
            }
            if assertion.is_none() {
                return Ok(ClientAuth::Secret);
            }
        }
        let assertion = assertion.unwrap_or_default();
        if req.form("client_assertion_type") != Some(JWT_BEARER) {
            return Err(OAuthError::malformed_assertion(&format!(
                "client_assertion_type must be '{JWT_BEARER}'."
            )));
        }
        // The audience is the token endpoint as the client addressed it.
        let audiences = [
            format!("{}/{}/oauth2/v2.0/token", self.base, tenant),
            format!("{}/{}/oauth2/v2.0/token", self.base, self.tenant),
        ];
        self.validate_assertion(st, app, assertion, &audiences)?;
        Ok(ClientAuth::Certificate)
    }

    fn validate_assertion(
        &self,
        st: &mut State,
        app: &AppRec,
        jwt: &str,
        audiences: &[String],
    ) -> Result<(), OAuthError> {
        let client_id = &app.app.client_id;
        let parts: Vec<&str> = jwt.split('.').collect();
        let [header_b64, claims_b64, sig_b64] = parts[..] else {
            return Err(OAuthError::malformed_assertion(
                "Not a JWS compact serialization.",
            ));
        };
        let json = |part: &str| -> Option<Value> {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
        };
        let (Some(header), Some(claims), Ok(sig)) = (
            json(header_b64),
            json(claims_b64),
            URL_SAFE_NO_PAD.decode(sig_b64),
        ) else {
            return Err(OAuthError::malformed_assertion(
                "Undecodable header, claims or signature.",
            ));
        };
        let alg = match header["alg"].as_str() {
            Some("RS256") => &signature::RSA_PKCS1_2048_8192_SHA256,
            Some("PS256") => &signature::RSA_PSS_2048_8192_SHA256,
            other => {
                return Err(OAuthError::malformed_assertion(&format!(
                    "Unsupported alg {other:?}; RS256 or PS256 expected."
                )));
            }
        };
        let thumbprint = |name: &str| {
            header[name]
                .as_str()
                .and_then(|t| URL_SAFE_NO_PAD.decode(t).ok())
        };
        let cert = match (thumbprint("x5t#S256"), thumbprint("x5t")) {
            (Some(t), _) => (app.certs.iter().find(|c| c.sha256 == t), t),
            (None, Some(t)) => (app.certs.iter().find(|c| c.sha1 == t), t),
            (None, None) => {
                return Err(OAuthError::malformed_assertion(
                    "The client assertion header has neither 'x5t#S256' nor 'x5t'.",
                ));
            }
        };
        let cert = match cert {
            (Some(cert), _) => cert,
            (None, thumb) => {
                return Err(OAuthError::new(
                    "invalid_client",
                    700027,
                    format!(
                        "The certificate with identifier used to sign the client assertion is \
                         not registered on application. [Reason - The key was not found., \
                         Thumbprint of key used by client: '{}', Please visit the Azure Portal, \
                         Graph Explorer or directly use MS Graph to see configured keys for app \
                         Id '{client_id}'.]",
                        hex_upper(&thumb)
                    ),
                ));
            }
        };
        let signing_input = format!("{header_b64}.{claims_b64}");
        if signature::UnparsedPublicKey::new(alg, &cert.public_key)
            .verify(signing_input.as_bytes(), &sig)
            .is_err()
        {
            return Err(OAuthError::new(
                "invalid_client",
                700027,
                "Client assertion failed signature validation.",
            ));
        }
        if !claims["aud"]
            .as_str()
            .is_some_and(|aud| audiences.iter().any(|a| a == aud))
        {
            return Err(OAuthError::new(
                "invalid_client",
                700023,
                format!("Client assertion audience claim does not match Realm issuer. {CERT_DOCS}"),
            ));
        }
        if claims["iss"].as_str() != Some(client_id) || claims["sub"].as_str() != Some(client_id) {
            return Err(OAuthError::new(
                "invalid_client",
                700021,
                format!(
                    "Client assertion application identifier doesn't match 'client_id' \
                     parameter. {CERT_DOCS}"
                ),
            ));
        }
        let (Some(nbf), Some(exp)) = (claims["nbf"].as_i64(), claims["exp"].as_i64()) else {
            return Err(OAuthError::malformed_assertion(
                "The 'nbf' and 'exp' claims are required.",
            ));
        };
        let now = unix_now() as i64;
        if now < nbf || now >= exp || exp - nbf > MAX_ASSERTION_LIFETIME {
            return Err(OAuthError::new(
                "invalid_client",
                700024,
                format!(
                    "Client assertion is not within its valid time range. Current time: {}, \
                     assertion valid from {}, expiry time of assertion {}. {CERT_DOCS}",
                    iso(now as u64),
                    iso(nbf.max(0) as u64),
                    iso(exp.max(0) as u64)
                ),
            ));
        }
        let Some(jti) = claims["jti"].as_str().filter(|j| !j.is_empty()) else {
            return Err(OAuthError::malformed_assertion(
                "The 'jti' claim is required.",
            ));
        };
        st.jtis.retain(|_, e| *e > now);
        if st.jtis.insert(jti.to_owned(), exp).is_some() {
            // Microsoft's exact code for a replayed assertion is not documented.
            return Err(OAuthError::malformed_assertion(&format!(
                "The assertion with jti '{jti}' was already used."
            )));
        }
        Ok(())
    }

    fn client_credentials(
        &self,
        st: &mut State,
        req: &Req,
        app: &AppRec,
        auth: ClientAuth,
    ) -> Result<Reply, OAuthError> {
        let scope = req.required("scope")?;
        if scope.trim() != POP_APP_SCOPE {
            if scope.trim().ends_with("/.default") && !scope.contains(' ') {
                return Err(OAuthError::new(
                    "invalid_resource",
                    500011,
                    format!(
                        "The resource principal named {} was not found in the tenant named {}. \
                         This can happen if the application has not been installed by the \
                         administrator of the tenant or consented to by any user in the tenant. \
                         You might have sent your authentication request to the wrong tenant. \
                         (The stand-in serves only {POP_APP_SCOPE}.)",
                        scope.trim().trim_end_matches("/.default"),
                        self.tenant
                    ),
                ));
            }
            return Err(OAuthError::new(
                "invalid_scope",
                1002012,
                format!(
                    "The provided value for scope {scope} is not valid. Client credential flows \
                     must have a scope value with /.default suffixed to the resource identifier \
                     (application ID URI)."
                ),
            ));
        }
        let access = self.mint_app_access(st, app, auth);
        let secs = lifetime_secs(st.access_lifetime);
        // Like Microsoft: no `scope` in a client credentials response.
        let body = JsonObj::new()
            .field("token_type", "Bearer")
            .field("expires_in", secs)
            .field("ext_expires_in", secs)
            .field("access_token", access)
            .finish();
        Ok(Reply::json(200, body))
    }

    fn redeem_code(
        &self,
        st: &mut State,
        req: &Req,
        app: &AppRec,
        auth: ClientAuth,
    ) -> Result<Reply, OAuthError> {
        let code = req.required("code")?;
        let Some(rec) = st.codes.get_mut(code) else {
            return Err(OAuthError::malformed_grant());
        };
        if rec.grant.client_id != app.app.client_id {
            return Err(OAuthError::issued_to_another_client("authorization code"));
        }
        if rec.redeemed {
            return Err(OAuthError::invalid_grant(
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid \
                 code or use an existing refresh token.",
            ));
        }
        if Instant::now() >= rec.expires {
            return Err(OAuthError::invalid_grant(
                70008,
                "The provided authorization code or refresh token has expired due to inactivity. \
                 Send a new interactive authorization request for this user and resource.",
            ));
        }
        let redirect_uri = req.required("redirect_uri")?;
        if redirect_uri != rec.redirect_uri {
            return Err(OAuthError::invalid_grant(
                50011,
                format!(
                    "The redirect URI '{redirect_uri}' specified in the request does not match \
                     the redirect URI '{}' used to request the authorization code.",
                    rec.redirect_uri
                ),
            ));
        }
        let verifier = req.required("code_verifier")?;
        if pkce_challenge(verifier) != rec.challenge {
            return Err(OAuthError::invalid_grant(
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the \
                 authorization request.",
            ));
        }
        rec.redeemed = true;
        let grant = rec.grant.clone();
        Ok(self.issue_delegated(st, app, &grant, auth))
    }

    fn poll_device(
        &self,
        st: &mut State,
        req: &Req,
        app: &AppRec,
        auth: ClientAuth,
    ) -> Result<Reply, OAuthError> {
        let code = req.required("device_code")?;
        let Some(rec) = st.devices.get_mut(code) else {
            return Err(OAuthError::new(
                "bad_verification_code",
                70018,
                "The device_code sent to the token endpoint wasn't recognized.",
            ));
        };
        if rec.client_id != app.app.client_id {
            return Err(OAuthError::issued_to_another_client("device code"));
        }
        let now = Instant::now();
        let grant = match &rec.state {
            DeviceState::Redeemed => {
                return Err(OAuthError::invalid_grant(
                    70000,
                    "Provided grant is invalid or malformed. The device code was already redeemed.",
                ));
            }
            _ if now >= rec.expires => {
                return Err(OAuthError::new(
                    "expired_token",
                    70019,
                    "Verification code expired.",
                ));
            }
            DeviceState::Denied(error) => {
                return Err(OAuthError::new(
                    error,
                    65004,
                    "User declined to consent to access the app.",
                ));
            }
            DeviceState::Pending => {
                let too_fast = rec
                    .last_poll
                    .is_some_and(|last| now.duration_since(last) < rec.interval);
                rec.last_poll = Some(now);
                if too_fast {
                    // RFC 8628 §3.5: the client must add 5 s; the server enforces it.
                    rec.interval += Duration::from_secs(5);
                    return Err(OAuthError::new(
                        "slow_down",
                        70016,
                        format!(
                            "OAuth 2.0 device flow error. Authorization is pending, and the \
                             client polls faster than the interval: slow down (now {} s). \
                             (Microsoft documents slow_down as not yet sent.)",
                            rec.interval.as_secs()
                        ),
                    ));
                }
                return Err(OAuthError::new(
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                ));
            }
            DeviceState::Approved(upn) => Grant {
                upn: upn.clone(),
                client_id: rec.client_id.clone(),
                resource: rec.resource.clone(),
                scopes: rec.scopes.clone(),
                offline: rec.offline,
                openid: rec.openid,
                auth_time: unix_now(),
            },
        };
        rec.state = DeviceState::Redeemed;
        Ok(self.issue_delegated(st, app, &grant, auth))
    }

    fn refresh(
        &self,
        st: &mut State,
        req: &Req,
        app: &AppRec,
        auth: ClientAuth,
    ) -> Result<Reply, OAuthError> {
        let token = req.required("refresh_token")?;
        let max_inactive = self.refresh_max_inactive;
        let Some(rec) = st.refresh.get_mut(token) else {
            return Err(OAuthError::malformed_grant());
        };
        if rec.grant.client_id != app.app.client_id {
            return Err(OAuthError::issued_to_another_client("refresh token"));
        }
        if matches!(rec.state, RefreshState::Active) && rec.last_used.elapsed() > max_inactive {
            rec.state = RefreshState::Expired;
        }
        match rec.state {
            RefreshState::Active => {}
            RefreshState::Rotated => {
                return Err(OAuthError::invalid_grant(
                    70000,
                    "Provided grant is invalid or malformed. The refresh token was already \
                     exchanged for a new one (rotation).",
                ));
            }
            RefreshState::Revoked => {
                let valid_from = st
                    .tokens_valid_from
                    .get(&rec.grant.upn)
                    .copied()
                    .unwrap_or_else(unix_now);
                return Err(OAuthError::invalid_grant(
                    50173,
                    format!(
                        "The provided grant has expired due to it being revoked, a fresh auth \
                         token is needed. The user might have changed or reset their password. \
                         The grant was issued on '{}' and the TokensValidFrom date (before which \
                         tokens are not valid) for this user is '{}'.",
                        iso(rec.grant.auth_time),
                        iso(valid_from)
                    ),
                ));
            }
            RefreshState::Expired => {
                return Err(OAuthError::invalid_grant(
                    700082,
                    format!(
                        "The refresh token has expired due to inactivity. The token was issued \
                         on {} and was inactive for {}.",
                        iso(rec.issued),
                        span(max_inactive)
                    ),
                ));
            }
        }
        let mut grant = rec.grant.clone();
        if let Some(scope) = req.form("scope") {
            let requested = parse_scopes(scope)?;
            let granted = requested.resource == grant.resource
                && requested.scopes.iter().all(|s| grant.scopes.contains(s));
            if !granted {
                let mut e =
                    OAuthError::invalid_grant(65001, self.aadsts_text(65001, &grant.client_id));
                e.suberror = Some("consent_required".into());
                return Err(e);
            }
            grant.scopes = requested.scopes;
            grant.openid = requested.openid;
        }
        rec.state = RefreshState::Rotated;
        Ok(self.issue_delegated(st, app, &grant, auth))
    }

    // --- /introspect ------------------------------------------------------

    fn introspect(&self, req: &Req) -> Reply {
        let mut st = self.lock();
        st.requests.push(req.record(Endpoint::Introspect));
        if req.method != Method::POST {
            return Reply::json(405, r#"{"error":"invalid_request"}"#.into());
        }
        let (id, secret) = &self.introspection_client;
        let authenticated = match &req.basic {
            Some((i, s)) => credential_eq(i, id) && credential_eq(s, secret),
            None => req.form("client_id") == Some(id) && req.form("client_secret") == Some(secret),
        };
        if !authenticated {
            // Dovecot turns this into `-ERR [SYS/TEMP]`.
            return Reply::json(401, r#"{"error":"invalid_client"}"#.into());
        }
        let record = req
            .form("token")
            .and_then(|t| st.access.get(t))
            .filter(|r| r.active());
        let Some(rec) = record else {
            return Reply::json(200, r#"{"active":false}"#.into());
        };
        let username = match &rec.subject {
            Subject::User(upn) => upn.clone(),
            // Dovecot's app-only passdb compares only the domain (`%Ld`).
            Subject::App => format!("{}@{}", rec.client_id, self.domain),
        };
        let body = JsonObj::new()
            .field("active", true)
            .field("username", username)
            .field("scope", &rec.scope)
            .field("client_id", &rec.client_id)
            .field("token_type", "Bearer")
            .field("aud", &rec.aud)
            .field("iss", self.issuer_v1())
            .field("iat", rec.iat)
            .field("exp", rec.exp)
            .finish();
        Reply::json(200, body)
    }
}

fn not_post(method: &Method) -> OAuthError {
    OAuthError::new(
        "invalid_request",
        900561,
        format!("The endpoint only accepts POST requests. Received a {method} request."),
    )
}

// ---------------------------------------------------------------------------
// Scopes, redirects, PKCE
// ---------------------------------------------------------------------------

struct Requested {
    resource: String,
    scopes: Vec<String>,
    offline: bool,
    openid: bool,
}

/// Splits a delegated `scope` into one resource's scopes and the OpenID ones.
/// Bare names (`User.Read`) are Graph's, as at Microsoft; no resource at all
/// means Graph `User.Read`.
fn parse_scopes(scope: &str) -> Result<Requested, OAuthError> {
    let mut out = Requested {
        resource: String::new(),
        scopes: Vec::new(),
        offline: false,
        openid: false,
    };
    for s in scope.split_whitespace() {
        match s {
            "offline_access" => out.offline = true,
            "openid" => out.openid = true,
            "profile" | "email" => {}
            _ => {
                let (resource, name) = match s.rsplit_once('/') {
                    Some((r, n)) if r.starts_with("https://") || r.starts_with("api://") => {
                        (r.to_ascii_lowercase(), n.to_owned())
                    }
                    _ => (GRAPH.to_owned(), s.to_owned()),
                };
                if !out.resource.is_empty() && out.resource != resource {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        28000,
                        format!(
                            "Provided value for the input parameter scope is not valid because \
                             it contains more than one resource. Scope {scope} is not valid."
                        ),
                    ));
                }
                out.resource = resource;
                // `.default`: what the app is configured for.
                let name = if name == ".default" && out.resource != GRAPH {
                    "POP.AccessAsUser.All".to_owned()
                } else {
                    name
                };
                if !out.scopes.contains(&name) {
                    out.scopes.push(name);
                }
            }
        }
    }
    if out.resource.is_empty() {
        out.resource = GRAPH.into();
        out.scopes = vec!["User.Read".into()];
    }
    Ok(out)
}

/// Exact match, except that loopback redirect URIs match on any port.
fn redirect_matches(registered: &str, requested: &str) -> bool {
    fn split(uri: &str) -> Option<(&str, &str, &str)> {
        let (scheme, rest) = uri.split_once("://")?;
        let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        let host = if let Some(v6) = authority.strip_prefix('[') {
            v6.split_once(']').map(|(h, _)| h)?
        } else {
            authority.split(':').next()?
        };
        Some((scheme, host, path))
    }
    if registered == requested {
        return true;
    }
    let (Some((s1, h1, p1)), Some((s2, h2, p2))) = (split(registered), split(requested)) else {
        return false;
    };
    let loopback = matches!(h1, "localhost" | "127.0.0.1" | "::1");
    let path = |p: &str| {
        if p.is_empty() {
            "/".to_owned()
        } else {
            p.to_owned()
        }
    };
    loopback && s1 == s2 && h1.eq_ignore_ascii_case(h2) && path(p1) == path(p2)
}

fn with_query(uri: &str, query: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

/// `BASE64URL(SHA256(verifier))` (RFC 7636 S256).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

impl Shared {
    fn issue_delegated(
        &self,
        st: &mut State,
        app: &AppRec,
        grant: &Grant,
        auth: ClientAuth,
    ) -> Reply {
        let access = self.mint_user_access(st, app, grant, auth);
        let secs = lifetime_secs(st.access_lifetime);
        let scope = grant
            .scopes
            .iter()
            .map(|s| format!("{}/{s}", grant.resource))
            .collect::<Vec<_>>()
            .join(" ");
        let mut obj = JsonObj::new()
            .field("token_type", "Bearer")
            .field("scope", scope)
            .field("expires_in", secs)
            .field("ext_expires_in", secs)
            .field("access_token", access);
        if grant.offline {
            let refresh = format!("1.A{}", self.random_b64(520));
            st.refresh.insert(
                refresh.clone(),
                RefreshRec {
                    grant: grant.clone(),
                    state: RefreshState::Active,
                    issued: unix_now(),
                    last_used: Instant::now(),
                },
            );
            obj = obj.field("refresh_token", refresh);
        }
        if grant.openid {
            obj = obj.field("id_token", self.id_token(grant));
        }
        Reply::json(200, obj.finish())
    }

    fn mint_user_access(
        &self,
        st: &mut State,
        app: &AppRec,
        grant: &Grant,
        auth: ClientAuth,
    ) -> String {
        let now = unix_now();
        let exp = now + lifetime_secs(st.access_lifetime);
        let aud = if grant.resource == GRAPH {
            GRAPH_AUD.to_owned()
        } else {
            grant.resource.clone()
        };
        let scp = grant.scopes.join(" ");
        let upn = &grant.upn;
        let oid = hashed_guid("user", upn);
        let local = upn.split('@').next().unwrap_or(upn);
        let given = capitalise(local);
        let token = self.jwt_padded(|aio| {
            JsonObj::new()
                .field("aud", &aud)
                .field("iss", self.issuer_v1())
                .field("iat", now)
                .field("nbf", now)
                .field("exp", exp)
                .field("acct", 0)
                .field("acr", "1")
                .field("aio", aio)
                .field("amr", ["pwd", "mfa"])
                .field("app_displayname", &app.app.display_name)
                .field("appid", &app.app.client_id)
                .field("appidacr", auth.acr())
                .field("family_name", "Tester")
                .field("given_name", &given)
                .field("idtyp", "user")
                .field("ipaddr", "127.0.0.1")
                .field("name", format!("{given} Tester"))
                .field("oid", &oid)
                .field(
                    "puid",
                    hashed_guid("puid", upn).replace('-', "")[..16].to_ascii_uppercase(),
                )
                .field("rh", format!("1.A{}", self.random_b64(40)))
                .field("scp", &scp)
                .field("sid", self.guid())
                .field("sub", self.random_b64(32))
                .field("tid", &self.tenant)
                .field("unique_name", upn)
                .field("upn", upn)
                .field("uti", self.random_b64(16))
                .field("ver", "1.0")
                .finish()
        });
        st.access.insert(
            token.clone(),
            AccessRec {
                subject: Subject::User(upn.clone()),
                client_id: app.app.client_id.clone(),
                scope: scp,
                aud,
                expires: Instant::now() + st.access_lifetime,
                iat: now,
                exp,
                revoked: false,
            },
        );
        token
    }

    fn mint_app_access(&self, st: &mut State, app: &AppRec, auth: ClientAuth) -> String {
        let now = unix_now();
        let exp = now + lifetime_secs(st.access_lifetime);
        let sp = hashed_guid("sp", &app.app.client_id);
        let token = self.jwt_padded(|aio| {
            let mut obj = JsonObj::new()
                .field("aud", OUTLOOK_365)
                .field("iss", self.issuer_v1())
                .field("iat", now)
                .field("nbf", now)
                .field("exp", exp)
                .field("aio", aio)
                .field("app_displayname", &app.app.display_name)
                .field("appid", &app.app.client_id)
                .field("appidacr", auth.acr())
                .field("idp", self.issuer_v1())
                .field("idtyp", "app")
                .field("oid", &sp)
                .field("rh", format!("1.A{}", self.random_b64(40)));
            // Microsoft omits `roles` when the app has no application permission.
            if !app.app.roles.is_empty() {
                obj = obj.field("roles", &app.app.roles);
            }
            obj.field("sid", self.guid())
                .field("sub", &sp)
                .field("tid", &self.tenant)
                .field("uti", self.random_b64(16))
                .field("ver", "1.0")
                .finish()
        });
        st.access.insert(
            token.clone(),
            AccessRec {
                subject: Subject::App,
                client_id: app.app.client_id.clone(),
                scope: app.app.roles.join(" "),
                aud: OUTLOOK_365.into(),
                expires: Instant::now() + st.access_lifetime,
                iat: now,
                exp,
                revoked: false,
            },
        );
        token
    }

    /// A JWT-shaped token of about [`ACCESS_TOKEN_LEN`] characters: the
    /// `aio` claim (opaque at Microsoft too) is padded to get there. The
    /// signature is random bytes of an RS256 signature's size.
    fn jwt_padded(&self, claims: impl Fn(&str) -> String) -> String {
        let header = JsonObj::new()
            .field("typ", "JWT")
            .field("nonce", self.random_b64(32))
            .field("alg", "RS256")
            .field("x5t", "stand-in-not-signed")
            .field("kid", "stand-in-not-signed")
            .finish();
        let header = URL_SAFE_NO_PAD.encode(header);
        let bare = claims("").len();
        let budget_b64 = ACCESS_TOKEN_LEN.saturating_sub(header.len() + SIGNATURE_LEN + 2);
        let pad = (budget_b64 * 3 / 4).saturating_sub(bare).max(24);
        // Random base64 bytes: ~4/3 characters per byte.
        let aio: String = self.random_b64(pad * 3 / 4 + 1).chars().take(pad).collect();
        let payload = URL_SAFE_NO_PAD.encode(claims(&aio));
        let sig = self.random_b64(256);
        format!("{header}.{payload}.{sig}")
    }

    fn id_token(&self, grant: &Grant) -> String {
        let now = unix_now();
        let local = grant.upn.split('@').next().unwrap_or(&grant.upn);
        let header = JsonObj::new()
            .field("typ", "JWT")
            .field("alg", "RS256")
            .field("kid", "stand-in-not-signed")
            .finish();
        let claims = JsonObj::new()
            .field("aud", &grant.client_id)
            .field("iss", format!("{}/{}/v2.0", self.base, self.tenant))
            .field("iat", now)
            .field("nbf", now)
            .field("exp", now + 3600)
            .field("name", format!("{} Tester", capitalise(local)))
            .field("oid", hashed_guid("user", &grant.upn))
            .field("preferred_username", &grant.upn)
            .field("sub", self.random_b64(32))
            .field("tid", &self.tenant)
            .field("ver", "2.0")
            .finish();
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims),
            self.random_b64(256)
        )
    }
}

/// Whole seconds of a lifetime, rounded up (at least 1).
fn lifetime_secs(d: Duration) -> u64 {
    (d.as_secs_f64().ceil() as u64).max(1)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A stable GUID-shaped id derived from `kind` and `name` (object ids that
/// stay the same across tokens).
fn hashed_guid(kind: &str, name: &str) -> String {
    let d = digest::digest(&digest::SHA256, format!("{kind}:{name}").as_bytes());
    guid_string(&d.as_ref()[..16])
}

fn guid_string(b: &[u8]) -> String {
    let hex = hex_lower(b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn hex_upper(b: &[u8]) -> String {
    hex_lower(b).to_ascii_uppercase()
}

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `(year, month, day, hour, minute, second)` in UTC.
fn civil(unix: u64) -> (i64, u32, u32, u64, u64, u64) {
    // Howard Hinnant's days-to-civil.
    let days = (unix / 86400) as i64;
    let secs = unix % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs / 60 % 60, secs % 60)
}

/// Microsoft's error `timestamp`: `2016-01-09 02:02:12Z`.
fn timestamp(unix: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}Z")
}

/// The dates inside descriptions: `2016-01-09T02:02:12.0000000Z`.
fn iso(unix: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.0000000Z")
}

/// .NET's `d.hh:mm:ss`, as in "inactive for 90.00:00:00".
fn span(d: Duration) -> String {
    let s = d.as_secs();
    format!(
        "{}.{:02}:{:02}:{:02}",
        s / 86400,
        s / 3600 % 24,
        s / 60 % 60,
        s % 60
    )
}

// ---------------------------------------------------------------------------
// Client certificates (for tests that act as the client)
// ---------------------------------------------------------------------------

/// Signature algorithm of a client assertion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AssertionAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[default]
    Rs256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
}

/// Which certificate thumbprint header a client assertion carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Thumbprint {
    /// `x5t#S256`: base64url SHA-256 of the DER certificate.
    #[default]
    Sha256,
    /// `x5t`: base64url SHA-1 (the older form).
    Sha1,
    /// Neither (Microsoft refuses this).
    None,
}

/// How [`ClientCertificate::client_assertion_with`] builds an assertion;
/// the default is a valid one.
#[derive(Clone, Debug)]
pub struct AssertionOptions {
    /// RS256 (default) or PS256.
    pub alg: AssertionAlg,
    /// Which thumbprint header (default `x5t#S256`).
    pub thumbprint: Thumbprint,
    /// `nbf` relative to now, in seconds (default 0).
    pub not_before_offset: i64,
    /// `exp - nbf` in seconds (default 300; Microsoft allows at most 600).
    pub lifetime: i64,
    /// The `jti`; default a fresh random one.
    pub jti: Option<String>,
}

impl Default for AssertionOptions {
    fn default() -> Self {
        AssertionOptions {
            alg: AssertionAlg::Rs256,
            thumbprint: Thumbprint::Sha256,
            not_before_offset: 0,
            lifetime: 300,
            jti: None,
        }
    }
}

/// A self-signed RSA-2048 certificate and its key, as an app registration's
/// certificate credential.
///
/// `ring` cannot generate RSA keys, so the key comes from the `rsa` crate
/// (optimised even in dev builds by the workspace profile; still about a
/// second); signing uses ring.
#[derive(Clone)]
pub struct ClientCertificate {
    cert_pem: String,
    cert_der: Vec<u8>,
    key_pem: String,
    key_pkcs8: Vec<u8>,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.thumbprint_sha256())
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Generates a 2048-bit RSA key and a self-signed certificate (CN =
    /// `common_name`).
    pub fn generate(common_name: &str) -> Result<ClientCertificate> {
        use rsa::pkcs8::EncodePrivateKey as _;
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
            .context("generating an RSA key")?;
        let pkcs8 = key
            .to_pkcs8_der()
            .context("encoding the RSA key")?
            .as_bytes()
            .to_vec();
        let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(pkcs8.as_slice()),
            &rcgen::PKCS_RSA_SHA256,
        )?;
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let cert = params.self_signed(&key_pair)?;
        Ok(ClientCertificate {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: key_pair.serialize_pem(),
            key_pkcs8: pkcs8,
        })
    }

    /// Loads a certificate (PEM) and its PKCS#8 RSA key (PEM).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<ClientCertificate> {
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| anyhow!("not a PEM certificate: {e:?}"))?
            .to_vec();
        let key_pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| anyhow!("not a PKCS#8 PEM key: {e:?}"))?
            .secret_pkcs8_der()
            .to_vec();
        RsaKeyPair::from_pkcs8(&key_pkcs8).map_err(|e| anyhow!("not an RSA key: {e}"))?;
        Ok(ClientCertificate {
            cert_pem: cert_pem.into(),
            cert_der,
            key_pem: key_pem.into(),
            key_pkcs8,
        })
    }

    /// The certificate, PEM (register it with [`App::certificate`]).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// `x5t#S256`: base64url of the certificate's SHA-256.
    pub fn thumbprint_sha256(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &self.cert_der))
    }

    /// `x5t`: base64url of the certificate's SHA-1.
    pub fn thumbprint_sha1(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            &self.cert_der,
        ))
    }

    /// The SHA-1 thumbprint in hex, as the Azure portal shows it.
    pub fn thumbprint_hex(&self) -> String {
        hex_upper(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.cert_der).as_ref())
    }

    /// Writes `client.crt` and `client.key` (mode 0600) into `dir`; returns
    /// their paths.
    pub fn write_pem(&self, dir: &Path) -> Result<(PathBuf, PathBuf)> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let cert = dir.join("client.crt");
        let key = dir.join("client.key");
        fs::write(&cert, &self.cert_pem).with_context(|| format!("writing {}", cert.display()))?;
        fs::write(&key, &self.key_pem).with_context(|| format!("writing {}", key.display()))?;
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600))?;
        Ok((cert, key))
    }

    /// A valid client assertion for `client_id` at `audience` (the token
    /// URL): RS256, `x5t#S256`, five minutes, fresh `jti`.
    pub fn client_assertion(&self, client_id: &str, audience: &str) -> Result<String> {
        self.client_assertion_with(client_id, audience, &AssertionOptions::default())
    }

    /// A client assertion shaped by `opts` (for negative tests).
    pub fn client_assertion_with(
        &self,
        client_id: &str,
        audience: &str,
        opts: &AssertionOptions,
    ) -> Result<String> {
        let mut header = serde_json::json!({
            "alg": match opts.alg { AssertionAlg::Rs256 => "RS256", AssertionAlg::Ps256 => "PS256" },
            "typ": "JWT",
        });
        match opts.thumbprint {
            Thumbprint::Sha256 => header["x5t#S256"] = self.thumbprint_sha256().into(),
            Thumbprint::Sha1 => header["x5t"] = self.thumbprint_sha1().into(),
            Thumbprint::None => {}
        }
        let now = unix_now() as i64;
        let nbf = now + opts.not_before_offset;
        let jti = match &opts.jti {
            Some(j) => j.clone(),
            None => {
                let mut b = [0u8; 16];
                SystemRandom::new()
                    .fill(&mut b)
                    .map_err(|_| anyhow!("no randomness"))?;
                guid_string(&b)
            }
        };
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": jti,
            "nbf": nbf,
            "iat": nbf,
            "exp": nbf + opts.lifetime,
        });
        self.sign_jwt(&header, &claims, opts.alg)
    }

    /// Signs arbitrary `header` and `claims` with this key (the header is
    /// used as given: set `alg` to match `alg`).
    pub fn sign_jwt(&self, header: &Value, claims: &Value, alg: AssertionAlg) -> Result<String> {
        let key = RsaKeyPair::from_pkcs8(&self.key_pkcs8).map_err(|e| anyhow!("RSA key: {e}"))?;
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
        );
        let mut sig = vec![0; key.public().modulus_len()];
        let padding: &dyn signature::RsaEncoding = match alg {
            AssertionAlg::Rs256 => &signature::RSA_PKCS1_SHA256,
            AssertionAlg::Ps256 => &signature::RSA_PSS_SHA256,
        };
        key.sign(padding, &SystemRandom::new(), input.as_bytes(), &mut sig)
            .map_err(|_| anyhow!("RSA signing failed"))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// The PKCS#1 `RSAPublicKey` inside an X.509 certificate (DER), found by
/// walking the DER: Certificate → tbsCertificate → subjectPublicKeyInfo.
fn rsa_public_key(cert: &[u8]) -> Result<Vec<u8>> {
    const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let bad = || anyhow!("malformed certificate DER");
    let (0x30, cert, _) = der_tlv(cert).ok_or_else(bad)? else {
        return Err(bad());
    };
    let (0x30, mut tbs, _) = der_tlv(cert).ok_or_else(bad)? else {
        return Err(bad());
    };
    // version [0] (optional), then serial, signature, issuer, validity, subject.
    if tbs.first() == Some(&0xa0) {
        tbs = der_tlv(tbs).ok_or_else(bad)?.2;
    }
    for _ in 0..5 {
        tbs = der_tlv(tbs).ok_or_else(bad)?.2;
    }
    let (0x30, spki, _) = der_tlv(tbs).ok_or_else(bad)? else {
        return Err(bad());
    };
    let (0x30, alg, rest) = der_tlv(spki).ok_or_else(bad)? else {
        return Err(bad());
    };
    let (0x06, oid, _) = der_tlv(alg).ok_or_else(bad)? else {
        return Err(bad());
    };
    if oid != RSA_ENCRYPTION {
        bail!("the certificate's key is not RSA (Microsoft accepts RSA certificates)");
    }
    let (0x03, bits, _) = der_tlv(rest).ok_or_else(bad)? else {
        return Err(bad());
    };
    match bits.split_first() {
        Some((0, key)) => Ok(key.to_vec()),
        _ => Err(bad()),
    }
}

/// One DER tag-length-value: `(tag, contents, rest)`.
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, r) = rest.split_at_checked(n)?;
        rest = r;
        bytes.iter().fold(0, |acc, &b| acc << 8 | usize::from(b))
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_like_microsoft() {
        assert_eq!(timestamp(1_452_304_932), "2016-01-09 02:02:12Z");
        assert_eq!(iso(951_782_400), "2000-02-29T00:00:00.0000000Z");
        assert_eq!(span(Duration::from_secs(90 * 86400 + 3661)), "90.01:01:01");
    }

    #[test]
    fn loopback_redirects_match_any_port() {
        assert!(redirect_matches(
            "http://localhost",
            "http://localhost:53123"
        ));
        assert!(redirect_matches(
            "http://localhost",
            "http://localhost:53123/"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:8400/cb"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:8400/other"
        ));
        assert!(!redirect_matches(
            "http://localhost",
            "http://127.0.0.1:8400"
        ));
        assert!(!redirect_matches(
            "https://app.example/cb",
            "https://app.example:444/cb"
        ));
        assert!(redirect_matches(
            "https://app.example/cb",
            "https://app.example/cb"
        ));
    }

    #[test]
    fn scopes_split_by_resource() {
        let r = parse_scopes(&format!("{POP_DELEGATED_SCOPE} offline_access openid")).unwrap();
        assert_eq!(r.resource, OUTLOOK);
        assert_eq!(r.scopes, ["POP.AccessAsUser.All"]);
        assert!(r.offline && r.openid);
        assert!(parse_scopes("https://outlook.office.com/POP.AccessAsUser.All User.Read").is_err());
        let graph = parse_scopes("offline_access").unwrap();
        assert_eq!((graph.resource.as_str(), graph.scopes.len()), (GRAPH, 1));
    }

    #[test]
    fn pkce_s256_is_base64url_sha256() {
        // Computed independently (Python hashlib + base64.urlsafe_b64encode).
        assert_eq!(
            pkce_challenge("popline-testkit-verifier-0123456789-abcdefghij"),
            "t5YjnlI6gBat3QTNYI3q9c2JipssFv_CVy3tiy8H9eo"
        );
    }
}
