//! The running stand-in: [`Idp`], started on its own thread, with the
//! controls tests use to act as user or administrator and to inspect what
//! clients sent.

use std::net::{Ipv4Addr, TcpListener as StdTcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use super::grants::parse_scopes;
use super::http::{Endpoint, RecordedRequest, serve};
use super::state::{AccessRec, ClientAuth, DeviceState, Grant, RefreshState, Shared, unix_now};
use super::{Fault, IdpOptions, POP_DELEGATED_SCOPE, TENANT};
use crate::server_thread::ServerThread;

/// A running identity-platform stand-in. Dropping it stops the server
/// (connections are closed; Dovecot then answers logins with `[SYS/TEMP]`).
pub struct Idp {
    shared: Arc<Shared>,
    port: u16,
    _thread: ServerThread,
}

impl std::fmt::Debug for Idp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idp")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

impl Idp {
    /// Starts the server on `127.0.0.1` (ephemeral port) on its own thread
    /// and runtime; ready when this returns. Fails on an unusable option (an
    /// unparsable certificate, a duplicate client id).
    pub fn start(opts: IdpOptions) -> Result<Idp> {
        let listener = StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("binding the identity stand-in")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::new(&opts, format!("http://127.0.0.1:{port}"))?);
        let serving = shared.clone();
        let thread = ServerThread::spawn("popline-idp", move |stop| serve(listener, serving, stop))
            .context("starting the identity stand-in's thread")?;
        Ok(Idp {
            shared,
            port,
            _thread: thread,
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
        TENANT
    }

    /// `{base_url}/{tenant}/oauth2/v2.0/{endpoint}`, as at
    /// `https://login.microsoftonline.com`.
    fn endpoint(&self, endpoint: &str) -> String {
        format!("{}/{TENANT}/oauth2/v2.0/{endpoint}", self.shared.base)
    }

    /// The authorization endpoint.
    pub fn authorize_url(&self) -> String {
        self.endpoint("authorize")
    }

    /// The token endpoint (also the `aud` of client assertions).
    pub fn token_url(&self) -> String {
        self.endpoint("token")
    }

    /// The device authorization endpoint.
    pub fn device_code_url(&self) -> String {
        self.endpoint("devicecode")
    }

    /// `http://127.0.0.1:PORT/introspect`, for
    /// [`crate::DovecotOptions::oauth2_introspection_url`].
    pub fn introspection_url(&self) -> String {
        format!("{}/introspect", self.shared.base)
    }

    /// Approves the pending device authorization with `user_code` as `upn`
    /// (what the user would do at the verification URI).
    pub fn approve_device(&self, user_code: &str, upn: &str) -> Result<()> {
        let upn = self.user(upn)?;
        self.settle_device(user_code, DeviceState::Approved(upn))
    }

    /// Waits (up to 30 s) for a device authorization whose user code is not
    /// `before` (the latest one before the client started), then approves
    /// it as `upn`: what a user does after reading the code a client prints.
    pub fn approve_next_device(&self, before: Option<&str>, upn: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(code) = self
                .latest_user_code()
                .filter(|c| Some(c.as_str()) != before)
            {
                return self.approve_device(&code, upn);
            }
            if Instant::now() >= deadline {
                bail!("no new device authorization within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
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
            .iter_mut()
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
        st.devices
            .iter()
            .rev()
            .find(|d| matches!(d.state, DeviceState::Pending))
            .map(|d| d.user_code.clone())
    }

    /// Answers the next `n` requests to `/token` or `/devicecode` with `fault`
    /// (after recording them). Queued faults are used in order.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        let mut st = self.shared.lock();
        st.faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Revokes every access and refresh token of `upn` (a password reset or
    /// an admin's "revoke sessions"): introspection says inactive, refresh
    /// gets AADSTS50173. New sign-ins work.
    pub fn revoke_all_for(&self, upn: &str) {
        let upn = upn.to_ascii_lowercase();
        let revoked = RefreshState::Revoked(unix_now());
        self.settle_tokens(|t| t.upn() == Some(&upn), |g| g.upn == upn, revoked);
    }

    /// Makes every refresh token of `upn` expired (as after 90 days unused):
    /// refresh gets AADSTS700082. Access tokens stay valid.
    pub fn expire_refresh_tokens_for(&self, upn: &str) {
        let upn = upn.to_ascii_lowercase();
        self.settle_tokens(|_| false, |g| g.upn == upn, RefreshState::Expired);
    }

    /// Revokes every token issued to `client_id` (app-only and delegated).
    pub fn revoke_app(&self, client_id: &str) {
        let revoked = RefreshState::Revoked(unix_now());
        self.settle_tokens(
            |t| t.client_id() == client_id,
            |g| g.client_id == client_id,
            revoked,
        );
    }

    /// Revokes the access tokens `access` picks and moves the active refresh
    /// tokens `refresh` picks to `to`.
    fn settle_tokens(
        &self,
        access: impl Fn(&AccessRec) -> bool,
        refresh: impl Fn(&Grant) -> bool,
        to: RefreshState,
    ) {
        let mut st = self.shared.lock();
        for t in st.access.values_mut().filter(|t| access(t)) {
            t.revoked = true;
        }
        for r in st.refresh.values_mut() {
            if refresh(&r.grant) && matches!(r.state, RefreshState::Active) {
                r.state = to;
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
            r.state = RefreshState::Revoked(unix_now());
            return true;
        }
        false
    }

    /// Changes the lifetime of access tokens issued from now on.
    pub fn set_access_token_lifetime(&self, lifetime: Duration) {
        self.shared.lock().access_lifetime = lifetime;
    }

    /// Whether introspection would call `access_token` active now.
    pub fn is_active(&self, access_token: &str) -> bool {
        let st = self.shared.lock();
        st.access.get(access_token).is_some_and(|t| t.active())
    }

    /// A handle that reads the stand-in's tokens from anywhere (a scripted
    /// server's login check), for as long as it is kept.
    pub fn tokens(&self) -> Tokens {
        Tokens {
            shared: self.shared.clone(),
        }
    }

    /// Issues a delegated POP access token for `upn` via `client_id` without
    /// any flow, for tests that only need a valid bearer token.
    pub fn mint_user_token(&self, client_id: &str, upn: &str) -> Result<String> {
        let upn = self.user(upn)?;
        let app = self
            .shared
            .apps
            .get(client_id)
            .ok_or_else(|| anyhow!("no app {client_id}"))?;
        let grant = Grant {
            upn,
            client_id: client_id.into(),
            scopes: parse_scopes(POP_DELEGATED_SCOPE).expect("POP's scope parses"),
            auth_time: unix_now(),
            confidential: None,
        };
        let mut st = self.shared.lock();
        let auth = ClientAuth::Public;
        Ok(self.shared.mint_access(&mut st, app, auth, Some(&grant)))
    }

    /// `upn`, lower-cased, if it is a user of this tenant.
    fn user(&self, upn: &str) -> Result<String> {
        let upn = upn.to_ascii_lowercase();
        if !self.shared.users.contains(&upn) {
            bail!("{upn} is not a user of this identity stand-in");
        }
        Ok(upn)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The requests to `endpoint` that `keep` picks, in order.
    fn requests_to(
        &self,
        endpoint: Endpoint,
        keep: impl Fn(&RecordedRequest) -> bool,
    ) -> Vec<RecordedRequest> {
        let st = self.shared.lock();
        let picked = st
            .requests
            .iter()
            .filter(|r| r.endpoint == endpoint && keep(r));
        picked.cloned().collect()
    }

    /// The last request to `/token`.
    pub fn last_token_request(&self) -> Option<RecordedRequest> {
        self.requests_to(Endpoint::Token, |_| true).pop()
    }

    /// How many requests to `/token` had `grant_type` = `grant_type` (e.g.
    /// `refresh_token`, [`super::DEVICE_CODE_GRANT`]), faulted ones included.
    pub fn token_requests(&self, grant_type: &str) -> usize {
        let grant = |r: &RecordedRequest| r.field("grant_type") == Some(grant_type);
        self.requests_to(Endpoint::Token, grant).len()
    }

    /// How many introspection requests arrived (one per Dovecot passdb
    /// lookup: a failed bearer login costs two, one per `oauth2` passdb).
    pub fn introspections(&self) -> usize {
        self.requests_to(Endpoint::Introspect, |_| true).len()
    }
}

/// The stand-in's issued tokens, as a resource server sees them
/// ([`Idp::tokens`]).
#[derive(Clone)]
pub struct Tokens {
    shared: Arc<Shared>,
}

impl Tokens {
    /// An active token's claims (`upn` for delegated tokens, `roles` and
    /// `appid` for app-only ones), as Exchange reads them; `None` when the
    /// token is unknown, expired or revoked.
    pub fn active_claims(&self, access_token: &str) -> Option<serde_json::Value> {
        let st = self.shared.lock();
        st.access
            .get(access_token)
            .filter(|t| t.active())
            .map(|t| t.claims.clone())
    }
}
