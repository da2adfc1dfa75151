//! What the stand-in remembers: the tenant as started, and the codes and
//! tokens it issued.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore as _};
use serde_json::Value;
use uuid::Uuid;

use super::client_auth::CertRec;
use super::{App, DEFAULT_DOMAIN, Fault, IdpOptions, RecordedRequest, TENANT};

/// A refresh token unused this long expires (AADSTS700082) at Microsoft;
/// here only [`super::Idp::expire_refresh_tokens_for`] expires them.
pub(super) const REFRESH_MAX_INACTIVE: Duration = Duration::from_secs(90 * 24 * 3600);
/// The device flow's polling `interval`.
pub(super) const DEVICE_INTERVAL: Duration = Duration::from_secs(1);

/// What never changes after start, and the [`State`] behind a lock.
pub(super) struct Shared {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub domain: String,
    /// Lower-case user principal names.
    pub users: Vec<String>,
    pub apps: HashMap<String, AppRec>,
    pub device_lifetime: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
pub(super) struct State {
    pub access_lifetime: Duration,
    pub access: HashMap<String, AccessRec>,
    pub refresh: HashMap<String, RefreshRec>,
    pub codes: HashMap<String, CodeRec>,
    /// In order of issue.
    pub devices: Vec<DeviceRec>,
    /// Client assertion ids seen, with their `exp`, against replay.
    pub jtis: HashMap<String, i64>,
    pub faults: VecDeque<Fault>,
    pub requests: Vec<RecordedRequest>,
}

pub(super) struct AppRec {
    pub app: App,
    pub certs: Vec<CertRec>,
}

pub(super) struct AccessRec {
    /// The token's claims; introspection answers from them.
    pub claims: Value,
    /// Introspection's `scope`: the `scp` (delegated) or `roles` (app), space-separated.
    pub scope: String,
    pub expires: Instant,
    pub revoked: bool,
}

impl AccessRec {
    pub fn active(&self) -> bool {
        !self.revoked && Instant::now() < self.expires
    }

    /// The user of a delegated token.
    pub fn upn(&self) -> Option<&str> {
        self.claims["upn"].as_str()
    }

    pub fn client_id(&self) -> &str {
        self.claims["appid"].as_str().unwrap_or_default()
    }
}

/// A delegated `scope` split up: one resource's scopes and the OpenID ones.
#[derive(Clone, Debug, Default)]
pub(super) struct Scopes {
    /// `https://outlook.office.com`, ...
    pub resource: String,
    /// Short names (`POP.AccessAsUser.All`).
    pub names: Vec<String>,
    pub offline: bool,
    pub openid: bool,
}

/// What a user consented to, carried by codes, device codes and refresh tokens.
#[derive(Clone, Debug)]
pub(super) struct Grant {
    pub upn: String,
    pub client_id: String,
    pub scopes: Scopes,
    pub auth_time: u64,
    /// `Some(true)`: issued to a confidential client (a Web redirect, or a
    /// device flow with public client flows off), so redeeming and
    /// refreshing it need the client's secret or certificate (AADSTS7000218
    /// without). `Some(false)`: to a public client (a "Mobile and desktop"
    /// redirect), which must not send one (AADSTS700025). `None`: either.
    pub confidential: Option<bool>,
}

#[derive(Clone, Copy)]
pub(super) enum RefreshState {
    Active,
    /// Exchanged for a new one (rotation).
    Rotated,
    /// Since then (AADSTS50173's "TokensValidFrom").
    Revoked(u64),
    Expired,
}

pub(super) struct RefreshRec {
    pub grant: Grant,
    pub state: RefreshState,
    pub issued: u64,
}

pub(super) struct CodeRec {
    pub grant: Grant,
    pub redirect_uri: String,
    pub challenge: String,
    pub redeemed: bool,
}

pub(super) enum DeviceState {
    Pending,
    Approved(String),
    /// The OAuth error polling gets.
    Denied(&'static str),
    Redeemed,
}

pub(super) struct DeviceRec {
    pub device_code: String,
    pub user_code: String,
    pub client_id: String,
    pub scopes: Scopes,
    pub expires: Instant,
    pub interval: Duration,
    pub last_poll: Option<Instant>,
    pub state: DeviceState,
}

/// How the client authenticated; the number is the `appidacr` claim.
#[derive(Clone, Copy)]
pub(super) enum ClientAuth {
    Public = 0,
    Secret = 1,
    Certificate = 2,
}

impl Shared {
    /// The tenant as `opts` describe it, served at `base`. Fails on an
    /// unparsable certificate or a duplicate client id.
    pub fn new(opts: &IdpOptions, base: String) -> anyhow::Result<Shared> {
        use anyhow::Context as _;
        let mut apps = HashMap::new();
        for app in &opts.apps {
            let certs = app
                .certificates
                .iter()
                .map(|pem| CertRec::parse(pem))
                .collect::<anyhow::Result<_>>()
                .with_context(|| format!("certificate registered for {}", app.client_id))?;
            let rec = AppRec {
                app: app.clone(),
                certs,
            };
            if apps.insert(app.client_id.clone(), rec).is_some() {
                anyhow::bail!("app {} registered twice", app.client_id);
            }
        }
        let first_users_domain = opts.users.first().and_then(|u| u.split_once('@'));
        let domain = match (&opts.domain, first_users_domain) {
            (Some(domain), _) => domain.as_str(),
            (None, Some((_, domain))) => domain,
            (None, None) => DEFAULT_DOMAIN,
        };
        Ok(Shared {
            base,
            domain: domain.to_ascii_lowercase(),
            users: opts.users.iter().map(|u| u.to_ascii_lowercase()).collect(),
            apps,
            device_lifetime: opts.device_code_lifetime,
            state: Mutex::new(State {
                access_lifetime: opts.access_token_lifetime,
                ..State::default()
            }),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The v1 issuer Exchange tokens carry.
    pub fn issuer_v1(&self) -> String {
        format!("https://sts.windows.net/{TENANT}/")
    }

    pub fn tenant_known(&self, tenant: &str) -> bool {
        tenant == TENANT
            || tenant.eq_ignore_ascii_case(&self.domain)
            || tenant == "organizations"
            || tenant == "consumers"
            || tenant == "common"
    }
}

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(super) fn random(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// `n` random bytes, base64url.
pub(super) fn random_b64(n: usize) -> String {
    URL_SAFE_NO_PAD.encode(random(n))
}

/// A random (version 4) GUID.
pub(super) fn guid() -> String {
    Uuid::new_v4().to_string()
}

/// A stable GUID derived from `kind` and `name` (object ids that stay the
/// same across tokens).
pub(super) fn hashed_guid(kind: &str, name: &str) -> String {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{kind}:{name}").as_bytes()).to_string()
}
