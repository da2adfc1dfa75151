//! An identity-platform stand-in: Microsoft identity platform v2.0 on the wire,
//! for popline's OAuth tests.
//!
//! [`Idp::start`] serves on `127.0.0.1` (an ephemeral port) from its own
//! thread and Tokio runtime, so it works the same from `#[test]` and
//! `#[tokio::test]`. Its paths mirror `login.microsoftonline.com`:
//!
//! | path | what |
//! |---|---|
//! | `GET /{tenant}/oauth2/v2.0/authorize` | authorization code + PKCE (S256); consents automatically and redirects (302) to the app's redirect URI |
//! | `POST /{tenant}/oauth2/v2.0/token` | `authorization_code`, `refresh_token` (rotating), `client_credentials`, `urn:ietf:params:oauth:grant-type:device_code` |
//! | `POST /{tenant}/oauth2/v2.0/devicecode` | device authorization; tests approve with [`Idp::approve_device`] |
//! | `POST /introspect` | RFC 7662 introspection for Dovecot's `oauth2` passdb |
//!
//! Errors have Microsoft's shape (AADSTS codes and texts, trace and
//! correlation ids). Access tokens are JWT-shaped and about 2 KB like
//! Microsoft's, but are validated by lookup, never by signature (to clients
//! they are opaque). [`Idp::fail_next`] injects faults; [`Idp::requests`]
//! and [`Idp::token_requests`] show what a client sent.
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
//! With Dovecot, a delegated token (scope `POP.AccessAsUser.All`) opens only
//! its user's mailbox and an app-only token (role `POP.AccessAsApp`) any
//! mailbox of the tenant's domain; per-mailbox permissions cannot be modelled
//! (see [`crate::DovecotOptions::oauth2_introspection_url`]).

mod certificate;
mod client_auth;
mod errors;
mod grants;
mod http;
mod server;
mod state;
mod tokens;

use std::time::Duration;

pub use certificate::{AssertionAlg, AssertionOptions, ClientCertificate, KeyForm, Thumbprint};
pub use grants::pkce_challenge;
pub use http::{Endpoint, RecordedRequest};
pub use server::{Idp, Tokens};

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
/// The application permission for SMTP submission (app-only tokens'
/// `roles`); give it to an [`App`] to send mail with client credentials.
pub const SMTP_APP_ROLE: &str = "SMTP.SendAsApp";
/// `client_assertion_type` for certificate credentials.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// `grant_type` of the device authorization grant.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The tenant id in the paths: made up, a GUID as Microsoft's are. Requests
/// may also name the tenant by its domain, `organizations` or `common`;
/// anything else gets AADSTS90002.
const TENANT: &str = "5c1a7e42-93d8-4b6f-a0e1-2f7d9c3b8a64";
const DEFAULT_DOMAIN: &str = "contoso.example";
const OUTLOOK: &str = "https://outlook.office.com";
const OUTLOOK_365: &str = "https://outlook.office365.com";
const GRAPH: &str = "https://graph.microsoft.com";

/// What [`Idp::start`] serves: the tenant's users and registered apps.
#[derive(Clone, Debug)]
pub struct IdpOptions {
    /// The tenant's verified domain: app-only tokens open any mailbox in it.
    /// `None`: the domain of the first user, else `contoso.example`.
    pub domain: Option<String>,
    /// User principal names (`alice@contoso.example`). No passwords: the
    /// stand-in signs users in without asking (`/authorize` without a
    /// `login_hint` signs in the first).
    pub users: Vec<String>,
    /// Registered applications.
    pub apps: Vec<App>,
    /// Access token lifetime (`expires_in`); default 3600 s. Tests of refresh
    /// use a few seconds. Also [`Idp::set_access_token_lifetime`].
    pub access_token_lifetime: Duration,
    /// How long a device code can be approved and redeemed; default 900 s.
    /// Clients poll every second; polling faster gets `slow_down` and adds 5 s.
    pub device_code_lifetime: Duration,
}

impl Default for IdpOptions {
    fn default() -> Self {
        IdpOptions {
            domain: None,
            users: Vec::new(),
            apps: Vec::new(),
            access_token_lifetime: Duration::from_secs(3600),
            device_code_lifetime: Duration::from_secs(900),
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
    /// Admin-consented application permissions, the `roles` of app-only
    /// tokens. Default `["POP.AccessAsApp"]`; empty gives tokens that
    /// Exchange (here: Dovecot) refuses.
    pub roles: Vec<String>,
    /// Supported account types "this organizational directory only" (the
    /// portal's default): `organizations` and `common` are refused with
    /// AADSTS50194, as Microsoft does for apps made after 2018.
    pub single_tenant: bool,
    /// Supported account types include personal Microsoft accounts: the
    /// `consumers` tenant serves the app (else AADSTS9002332).
    pub personal_accounts: bool,
    /// "Allow public client flows": device code and loopback authorization
    /// code without a secret. Off, those flows need a secret or
    /// certificate (AADSTS7000218).
    pub public_client: bool,
    /// Redirect URIs under the Web platform: codes issued to them are
    /// redeemed by a confidential client (a secret or certificate is
    /// required), whereas codes for [`App::redirect_uris`] ("Mobile and
    /// desktop applications") must come without one (AADSTS700025).
    pub web_redirect_uris: Vec<String>,
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
            roles: vec![POP_APP_ROLE.into()],
            single_tenant: true,
            personal_accounts: false,
            public_client: true,
            web_redirect_uris: Vec::new(),
        }
    }

    /// Accounts in any organizational directory: `organizations` and
    /// `common` work.
    pub fn multi_tenant(mut self) -> Self {
        self.single_tenant = false;
        self
    }

    /// Personal Microsoft accounts too: the `consumers` tenant works.
    pub fn personal_accounts(mut self) -> Self {
        self.personal_accounts = true;
        self
    }

    /// Turns "Allow public client flows" off.
    pub fn confidential(mut self) -> Self {
        self.public_client = false;
        self
    }

    /// Adds a redirect URI under the Web platform (confidential client).
    pub fn web_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.web_redirect_uris.push(uri.into());
        self
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
    /// An AADSTS error with the OAuth error Microsoft sends with that code
    /// (e.g. 700082, 50173, 65001 → `invalid_grant`, 7000215, 7000222,
    /// 700024 → `invalid_client`, 700016 → `unauthorized_client`, 50076 →
    /// `interaction_required`; `invalid_request` for codes the stand-in does
    /// not know).
    pub fn aadsts(code: u32) -> Fault {
        let error = errors::oauth_error(code);
        Fault::Aadsts {
            code,
            error: error.into(),
        }
    }
}
