//! The OAuth endpoints: `/authorize` (code + PKCE), `/devicecode`, and
//! `/token` with its four grants (client credentials, authorization code,
//! refresh token with rotation, device code).

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::StatusCode;
use ring::digest;
use url::Url;

use super::errors::{OAuthError, aadsts, describe, fail, iso};
use super::http::{Cx, RecordedRequest as Req, Reply, json_reply, redirect, text_reply};
use super::state::{
    AppRec, ClientAuth, CodeRec, DEVICE_INTERVAL, DeviceRec, DeviceState, Grant, RefreshState,
    Scopes, Shared, State, guid, random, random_b64, unix_now,
};
use super::{DEVICE_CODE_GRANT, GRAPH, POP_APP_SCOPE};

type Answer = Result<Reply, OAuthError>;

impl Shared {
    pub fn authorize(&self, cx: &Cx, tenant: &str, req: &Req) -> Reply {
        // Until the redirect URI is known to be registered, errors are shown
        // to the "user" (a 400 page), never redirected.
        let page = |e: OAuthError| {
            text_reply(
                StatusCode::BAD_REQUEST,
                describe(cx, e.code, &e.description),
            )
        };
        if !self.tenant_known(tenant) {
            return page(aadsts(90002, &[("tenant", tenant)]));
        }
        let Some(client_id) = req.query("client_id") else {
            return page(OAuthError::missing("client_id"));
        };
        let Some(app) = self.apps.get(client_id) else {
            return page(aadsts(700016, &[("client_id", client_id)]));
        };
        if let Err(e) = tenant_serves(tenant, app) {
            return page(e);
        }
        let Some(redirect_uri) = req.query("redirect_uri") else {
            return page(OAuthError::missing("redirect_uri"));
        };
        let public = app
            .app
            .redirect_uris
            .iter()
            .any(|r| redirect_matches(r, redirect_uri));
        let web = app
            .app
            .web_redirect_uris
            .iter()
            .any(|r| redirect_matches(r, redirect_uri));
        if !public && !web {
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
        let mut query = form_urlencoded::Serializer::new(String::new());
        let issued = match self.authorize_grant(req, app, web) {
            Err(e) => {
                query.append_pair("error", &e.error);
                query.append_pair("error_description", &describe(cx, e.code, &e.description));
                false
            }
            Ok((grant, challenge)) => {
                let code = format!("1.A{}", random_b64(420));
                query.append_pair("code", &code);
                let redirect_uri = redirect_uri.to_owned();
                let rec = CodeRec {
                    grant,
                    redirect_uri,
                    challenge,
                    redeemed: false,
                };
                self.lock().codes.insert(code, rec);
                true
            }
        };
        if let Some(state) = req.query("state") {
            query.append_pair("state", state);
        }
        if issued {
            query.append_pair("session_state", &guid());
        }
        let sep = if redirect_uri.contains('?') { '&' } else { '?' };
        redirect(&format!("{redirect_uri}{sep}{}", query.finish()))
    }

    /// Validates an authorization request; returns the grant and the PKCE challenge.
    fn authorize_grant(
        &self,
        req: &Req,
        app: &AppRec,
        web: bool,
    ) -> Result<(Grant, String), OAuthError> {
        match req.query("response_type") {
            Some("code") => {}
            Some(other) => fail(700054, &[("response_type", other)])?,
            None => fail(900144, &[("param", "response_type")])?,
        }
        let scope = req.query("scope").ok_or(OAuthError::missing("scope"))?;
        let scopes = parse_scopes(scope)?;
        // Stricter than Microsoft, which lets confidential clients skip PKCE:
        // popline must always use it.
        let challenge = req.query("code_challenge").ok_or(aadsts(9002325, &[]))?;
        if req.query("code_challenge_method") != Some("S256") {
            return fail(501491, &[]);
        }
        let upn = match req.query("login_hint").map(str::to_ascii_lowercase) {
            Some(hint) if !self.users.contains(&hint) => fail(50034, &[("upn", &hint)])?,
            Some(hint) => hint,
            None => self.users.first().cloned().ok_or(aadsts(50058, &[]))?,
        };
        let client_id = app.app.client_id.clone();
        let grant = Grant {
            upn,
            client_id,
            scopes,
            auth_time: unix_now(),
            confidential: Some(web),
        };
        Ok((grant, challenge.to_owned()))
    }

    pub fn device_code(&self, cx: &Cx, tenant: &str, req: &Req) -> Reply {
        self.faultable(cx, tenant, req, |st| {
            self.start_device_flow(st, tenant, req)
        })
    }

    pub fn token(&self, cx: &Cx, tenant: &str, req: &Req) -> Reply {
        self.faultable(cx, tenant, req, |st| self.token_grant(st, tenant, req))
    }

    /// The next queued fault, or else (method and tenant checked) `answer`.
    fn faultable(
        &self,
        cx: &Cx,
        tenant: &str,
        req: &Req,
        answer: impl FnOnce(&mut State) -> Answer,
    ) -> Reply {
        let mut st = self.lock();
        let result = if let Some(fault) = st.faults.pop_front() {
            let client_id = req.client_id().unwrap_or_default();
            let name = self
                .apps
                .get(client_id)
                .map(|a| a.app.display_name.as_str());
            Err(OAuthError::from_fault(
                &fault,
                client_id,
                name.unwrap_or("unknown"),
            ))
        } else if req.method != "POST" {
            fail(900561, &[("method", &req.method)])
        } else if !self.tenant_known(tenant) {
            fail(90002, &[("tenant", tenant)])
        } else {
            answer(&mut st)
        };
        result.unwrap_or_else(|e| self.error_reply(cx, &e))
    }

    fn start_device_flow(&self, st: &mut State, tenant: &str, req: &Req) -> Answer {
        let app = self.registered(req.required("client_id")?)?;
        tenant_serves(tenant, app)?;
        let scopes = parse_scopes(req.required("scope")?)?;
        let device_code = format!("DAQABIQEAAAD{}", random_b64(180));
        let user_code = loop {
            const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
            let code: String = random(8)
                .iter()
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
                .collect();
            if !st.devices.iter().any(|d| d.user_code == code) {
                break code;
            }
        };
        let verification_uri = format!("{}/devicelogin", self.base);
        let body = serde_json::json!({
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": verification_uri,
            "expires_in": self.device_lifetime.as_secs(),
            "interval": DEVICE_INTERVAL.as_secs(),
            "message": format!(
                "To sign in, use a web browser to open the page {verification_uri} and enter \
                 the code {user_code} to authenticate."
            ),
        });
        st.devices.push(DeviceRec {
            device_code,
            user_code,
            client_id: app.app.client_id.clone(),
            scopes,
            expires: Instant::now() + self.device_lifetime,
            interval: DEVICE_INTERVAL,
            last_poll: None,
            state: DeviceState::Pending,
        });
        Ok(json_reply(StatusCode::OK, &body))
    }

    fn token_grant(&self, st: &mut State, tenant: &str, req: &Req) -> Answer {
        let grant_type = req.required("grant_type")?;
        let client_id = req.client_id().ok_or(OAuthError::missing("client_id"))?;
        let app = self.registered(client_id)?;
        tenant_serves(tenant, app)?;
        // Which kind of client the grant was issued to decides whether it
        // must, may or must not authenticate.
        let confidential = match grant_type {
            "client_credentials" => Some(true),
            "authorization_code" => req
                .form("code")
                .and_then(|c| st.codes.get(c))
                .and_then(|c| c.grant.confidential),
            "refresh_token" => req
                .form("refresh_token")
                .and_then(|t| st.refresh.get(t))
                .and_then(|r| r.grant.confidential),
            _ => (!app.app.public_client).then_some(true),
        };
        let auth = self.authenticate_client(st, tenant, req, app, confidential == Some(true))?;
        if confidential == Some(false) && !matches!(auth, ClientAuth::Public) {
            return fail(700025, &[]);
        }
        let mut consent = None;
        let grant = match grant_type {
            "client_credentials" => {
                app_only_scope(req)?;
                None
            }
            "authorization_code" => Some(self.redeem_code(st, req, app)?),
            "refresh_token" => {
                let (grant, consented) = self.refresh(st, req, app)?;
                consent = Some(consented);
                Some(grant)
            }
            DEVICE_CODE_GRANT => Some(self.poll_device(st, req, app)?),
            other => return fail(70003, &[("grant_type", other)]),
        };
        Ok(self.issue(st, app, auth, grant.as_ref(), consent.as_ref()))
    }

    /// The app registered as `client_id` (AADSTS700016 otherwise).
    fn registered(&self, client_id: &str) -> Result<&AppRec, OAuthError> {
        self.apps
            .get(client_id)
            .ok_or_else(|| aadsts(700016, &[("client_id", client_id)]))
    }

    fn redeem_code(&self, st: &mut State, req: &Req, app: &AppRec) -> Result<Grant, OAuthError> {
        let code = req.required("code")?;
        let rec = st.codes.get_mut(code).ok_or(aadsts(9002313, &[]))?;
        issued_to(&rec.grant.client_id, app, "authorization code")?;
        if rec.redeemed {
            return fail(54005, &[]);
        }
        let redirect_uri = req.required("redirect_uri")?;
        if redirect_uri != rec.redirect_uri {
            return Err(OAuthError::new(
                "invalid_grant",
                50011,
                format!(
                    "The redirect URI '{redirect_uri}' specified in the request does not match \
                     the redirect URI '{}' used to request the authorization code.",
                    rec.redirect_uri
                ),
            ));
        }
        if pkce_challenge(req.required("code_verifier")?) != rec.challenge {
            return fail(501481, &[]);
        }
        rec.redeemed = true;
        Ok(rec.grant.clone())
    }

    fn poll_device(&self, st: &mut State, req: &Req, app: &AppRec) -> Result<Grant, OAuthError> {
        let code = req.required("device_code")?;
        let Some(rec) = st.devices.iter_mut().find(|d| d.device_code == code) else {
            return fail(70018, &[]);
        };
        issued_to(&rec.client_id, app, "device code")?;
        let now = Instant::now();
        let upn = match &rec.state {
            DeviceState::Redeemed => {
                return fail(70000, &[("why", "The device code was already redeemed.")]);
            }
            _ if now >= rec.expires => return fail(70019, &[]),
            DeviceState::Denied(error) => {
                let error = error.to_string();
                return Err(OAuthError {
                    error,
                    ..aadsts(65004, &[])
                });
            }
            DeviceState::Pending => {
                let too_fast = rec
                    .last_poll
                    .is_some_and(|last| now.duration_since(last) < rec.interval);
                rec.last_poll = Some(now);
                if !too_fast {
                    return fail(70016, &[]);
                }
                // RFC 8628 §3.5: the client must add 5 s; the server enforces it.
                rec.interval += Duration::from_secs(5);
                return Err(OAuthError::new(
                    "slow_down",
                    70016,
                    format!(
                        "OAuth 2.0 device flow error. Authorization is pending, and the client \
                         polls faster than the interval: slow down (now {} s). (Microsoft \
                         documents slow_down as not yet sent.)",
                        rec.interval.as_secs()
                    ),
                ));
            }
            DeviceState::Approved(upn) => upn.clone(),
        };
        rec.state = DeviceState::Redeemed;
        Ok(Grant {
            upn,
            client_id: rec.client_id.clone(),
            scopes: rec.scopes.clone(),
            auth_time: unix_now(),
            confidential: (!app.app.public_client).then_some(true),
        })
    }

    /// Redeems a refresh token: the grant the access token is for (the
    /// requested scopes, which must have been consented), and the consent
    /// the rotated refresh token carries on: all of the original's, as at
    /// Microsoft, where a refresh token signed in for POP and SMTP can be
    /// redeemed for either, one resource per request.
    fn refresh(
        &self,
        st: &mut State,
        req: &Req,
        app: &AppRec,
    ) -> Result<(Grant, Grant), OAuthError> {
        let token = req.required("refresh_token")?;
        let rec = st.refresh.get_mut(token).ok_or(aadsts(9002313, &[]))?;
        issued_to(&rec.grant.client_id, app, "refresh token")?;
        match rec.state {
            RefreshState::Active => {}
            RefreshState::Rotated => {
                let why = "The refresh token was already exchanged for a new one (rotation).";
                return fail(70000, &[("why", why)]);
            }
            RefreshState::Revoked(since) => {
                let (issued, valid_from) = (iso(rec.grant.auth_time), iso(since));
                return fail(50173, &[("issued", &issued), ("valid_from", &valid_from)]);
            }
            RefreshState::Expired => return fail(700082, &[("issued", &iso(rec.issued))]),
        }
        let consent = rec.grant.clone();
        let mut grant = rec.grant.clone();
        if let Some(scope) = req.form("scope") {
            let requested = parse_scopes(scope)?;
            let consented = &grant.scopes;
            if requested.resource != consented.resource
                || !requested.names.iter().all(|s| consented.names.contains(s))
            {
                let app = &app.app;
                let args = [
                    ("client_id", &*app.client_id),
                    ("display_name", &app.display_name),
                ];
                return fail(65001, &args);
            }
            grant.scopes.names = requested.names;
            grant.scopes.openid = requested.openid;
        }
        rec.state = RefreshState::Rotated;
        Ok((grant, consent))
    }
}

/// The client credentials grant's `scope`: only [`POP_APP_SCOPE`].
fn app_only_scope(req: &Req) -> Result<(), OAuthError> {
    let scope = req.required("scope")?.trim();
    if scope == POP_APP_SCOPE {
        return Ok(());
    }
    match scope.strip_suffix("/.default").filter(|s| !s.contains(' ')) {
        Some(resource) => fail(500011, &[("resource", resource), ("scope", POP_APP_SCOPE)]),
        None => fail(1002012, &[("scope", scope)]),
    }
}

/// AADSTS70000 unless `app` is `client_id`, the client a code or token
/// (`what`) was issued to.
/// Whether `tenant` in the path may serve `app`: `organizations` and
/// `common` only multi-tenant apps (AADSTS50194), `consumers` only apps for
/// personal accounts (AADSTS9002332).
fn tenant_serves(tenant: &str, app: &AppRec) -> Result<(), OAuthError> {
    let app = &app.app;
    let args = [
        ("client_id", &*app.client_id),
        ("display_name", &*app.display_name),
    ];
    match tenant.to_ascii_lowercase().as_str() {
        "organizations" | "common" if app.single_tenant => fail(50194, &args),
        "consumers" if !app.personal_accounts => fail(9002332, &args),
        _ => Ok(()),
    }
}

fn issued_to(client_id: &str, app: &AppRec, what: &str) -> Result<(), OAuthError> {
    if client_id == app.app.client_id {
        return Ok(());
    }
    fail(
        70000,
        &[("why", &format!("The {what} was issued to another client."))],
    )
}

/// Splits a delegated `scope` into one resource's scopes and the OpenID ones.
/// Bare names (`User.Read`) are Graph's, as at Microsoft; no resource at all
/// means Graph `User.Read`.
pub(super) fn parse_scopes(scope: &str) -> Result<Scopes, OAuthError> {
    let mut out = Scopes::default();
    for s in scope.split_whitespace() {
        match s {
            "offline_access" => out.offline = true,
            "openid" => out.openid = true,
            "profile" | "email" => {}
            _ => {
                let (resource, name) = match s.rsplit_once('/') {
                    Some((r, n)) if r.starts_with("https://") || r.starts_with("api://") => {
                        (r.to_ascii_lowercase(), n)
                    }
                    _ => (GRAPH.to_owned(), s),
                };
                if !out.resource.is_empty() && out.resource != resource {
                    return fail(28000, &[("scope", scope)]);
                }
                // `.default`: what the app is configured for.
                let name = if name == ".default" && resource != GRAPH {
                    "POP.AccessAsUser.All"
                } else {
                    name
                };
                out.resource = resource;
                if !out.names.iter().any(|n| n == name) {
                    out.names.push(name.to_owned());
                }
            }
        }
    }
    if out.resource.is_empty() {
        out.resource = GRAPH.into();
        out.names = vec!["User.Read".into()];
    }
    Ok(out)
}

/// Exact match, except that loopback redirect URIs match on any port.
fn redirect_matches(registered: &str, requested: &str) -> bool {
    let (Ok(mut registered), Ok(mut requested)) = (Url::parse(registered), Url::parse(requested))
    else {
        return false;
    };
    if matches!(
        registered.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]")
    ) {
        // Fails only for URLs that cannot have a port; those keep theirs.
        let _ = (registered.set_port(None), requested.set_port(None));
    }
    registered == requested
}

/// `BASE64URL(SHA256(verifier))` (RFC 7636 S256).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::{OUTLOOK, POP_DELEGATED_SCOPE};

    #[test]
    fn loopback_redirects_match_any_port() {
        for (registered, requested, matches) in [
            ("http://localhost", "http://localhost:53123", true),
            ("http://localhost", "http://localhost:53123/", true),
            ("http://127.0.0.1/cb", "http://127.0.0.1:8400/cb", true),
            ("http://127.0.0.1/cb", "http://127.0.0.1:8400/other", false),
            ("http://[::1]/cb", "http://[::1]:8400/cb", true),
            ("http://localhost", "http://127.0.0.1:8400", false),
            (
                "https://app.example/cb",
                "https://app.example:444/cb",
                false,
            ),
            ("https://app.example/cb", "https://app.example/cb", true),
        ] {
            assert_eq!(
                redirect_matches(registered, requested),
                matches,
                "{registered} {requested}"
            );
        }
    }

    #[test]
    fn scopes_split_by_resource() {
        let r = parse_scopes(&format!("{POP_DELEGATED_SCOPE} offline_access openid")).unwrap();
        assert_eq!(r.resource, OUTLOOK);
        assert_eq!(r.names, ["POP.AccessAsUser.All"]);
        assert!(r.offline && r.openid);
        assert!(parse_scopes("https://outlook.office.com/POP.AccessAsUser.All User.Read").is_err());
        let graph = parse_scopes("offline_access").unwrap();
        assert_eq!((graph.resource.as_str(), graph.names.len()), (GRAPH, 1));
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
