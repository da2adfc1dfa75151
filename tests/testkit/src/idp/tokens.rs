//! Tokens: token responses, JWT-shaped access tokens of Microsoft's size,
//! ID tokens, refresh tokens, and `/introspect` for Dovecot.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use super::http::{RecordedRequest as Req, Reply, credential_eq, json_reply};
use super::state::{
    AccessRec, AppRec, ClientAuth, Grant, RefreshRec, RefreshState, Shared, State, guid,
    hashed_guid, random_b64, unix_now,
};
use super::{DOVECOT_CLIENT_ID, DOVECOT_CLIENT_SECRET, GRAPH, OUTLOOK_365, TENANT};

/// Microsoft's Exchange access tokens are about 2 KB; Dovecot drops the
/// connection for tokens over about 6 KB, so the size matters.
const ACCESS_TOKEN_LEN: usize = 2048;
/// Graph's audience as it appears in tokens.
const GRAPH_AUD: &str = "00000003-0000-0000-c000-000000000000";

/// A successful `/token` answer, fields in Microsoft's order.
#[derive(Serialize)]
struct TokenResponse {
    token_type: &'static str,
    /// Absent for client credentials, like at Microsoft.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    expires_in: u64,
    ext_expires_in: u64,
    access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl Shared {
    /// A `/token` answer: an access token for `grant`'s user, or app-only
    /// without a grant (client credentials). Delegated answers also carry
    /// their `scope`, a refresh token for `offline_access` and an ID token
    /// for `openid`.
    pub fn issue(
        &self,
        st: &mut State,
        app: &AppRec,
        auth: ClientAuth,
        grant: Option<&Grant>,
        consent: Option<&Grant>,
    ) -> Reply {
        let secs = lifetime_secs(st.access_lifetime);
        let scope = grant.map(|g| {
            let full_names = g.scopes.names.iter();
            let full_names = full_names.map(|s| format!("{}/{s}", g.scopes.resource));
            full_names.collect::<Vec<_>>().join(" ")
        });
        let response = TokenResponse {
            token_type: "Bearer",
            scope,
            expires_in: secs,
            ext_expires_in: secs,
            access_token: self.mint_access(st, app, auth, grant),
            // The refresh token carries the consent (a refresh's original
            // grant), the access token only what was asked for.
            refresh_token: consent.or(grant).filter(|g| g.scopes.offline).map(|g| {
                let token = format!("1.A{}", random_b64(520));
                let rec = RefreshRec {
                    grant: g.clone(),
                    state: RefreshState::Active,
                    issued: unix_now(),
                };
                st.refresh.insert(token.clone(), rec);
                token
            }),
            id_token: grant.filter(|g| g.scopes.openid).map(|g| self.id_token(g)),
        };
        json_reply(StatusCode::OK, &response)
    }

    /// An access token with the claims Exchange tokens have, for `grant`'s
    /// user or (without a grant) app-only, remembered for introspection.
    pub fn mint_access(
        &self,
        st: &mut State,
        app: &AppRec,
        auth: ClientAuth,
        grant: Option<&Grant>,
    ) -> String {
        let now = unix_now();
        let mut claims = json!({
            "iss": self.issuer_v1(),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_secs(st.access_lifetime),
            "app_displayname": app.app.display_name,
            "appid": app.app.client_id,
            "appidacr": (auth as u8).to_string(),
            "rh": format!("1.A{}", random_b64(40)),
            "sid": guid(),
            "tid": TENANT,
            "uti": random_b64(16),
            "ver": "1.0",
        });
        let (scope, subject) = match grant {
            Some(grant) => {
                let resource = grant.scopes.resource.as_str();
                let scp = grant.scopes.names.join(" ");
                let subject = json!({
                    "aud": if resource == GRAPH { GRAPH_AUD } else { resource },
                    "amr": ["pwd", "mfa"],
                    "idtyp": "user",
                    "oid": hashed_guid("user", &grant.upn),
                    "scp": scp,
                    "sub": random_b64(32),
                    "unique_name": grant.upn,
                    "upn": grant.upn,
                });
                (scp, subject)
            }
            None => {
                let sp = hashed_guid("sp", &app.app.client_id);
                let mut subject = json!({
                    "aud": OUTLOOK_365,
                    "idp": self.issuer_v1(),
                    "idtyp": "app",
                    "oid": sp,
                    "sub": sp,
                });
                // Microsoft omits `roles` when the app has no application permission.
                if !app.app.roles.is_empty() {
                    subject["roles"] = json!(app.app.roles);
                }
                (app.app.roles.join(" "), subject)
            }
        };
        if let (Value::Object(claims), Value::Object(subject)) = (&mut claims, subject) {
            claims.extend(subject);
        }
        let token = padded_jwt(&mut claims);
        let rec = AccessRec {
            claims,
            scope,
            expires: Instant::now() + st.access_lifetime,
            revoked: false,
        };
        st.access.insert(token.clone(), rec);
        token
    }

    fn id_token(&self, grant: &Grant) -> String {
        let now = unix_now();
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": "stand-in-not-signed"});
        let claims = json!({
            "aud": grant.client_id,
            "iss": format!("{}/{TENANT}/v2.0", self.base),
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "oid": hashed_guid("user", &grant.upn),
            "preferred_username": grant.upn,
            "sub": random_b64(32),
            "tid": TENANT,
            "ver": "2.0",
        });
        jwt(&header, &claims)
    }

    /// RFC 7662 introspection, as Dovecot's `oauth2` passdb asks it: the
    /// resource server authenticates with [`DOVECOT_CLIENT_ID`] and
    /// [`DOVECOT_CLIENT_SECRET`] (form fields or HTTP Basic).
    pub fn introspect(&self, req: &Req) -> Reply {
        let st = self.lock();
        if req.method != "POST" {
            return json_reply(
                StatusCode::METHOD_NOT_ALLOWED,
                &json!({"error": "invalid_request"}),
            );
        }
        let authenticated = match &req.basic_auth {
            Some((id, secret)) => {
                credential_eq(id, DOVECOT_CLIENT_ID) && credential_eq(secret, DOVECOT_CLIENT_SECRET)
            }
            None => {
                req.form("client_id") == Some(DOVECOT_CLIENT_ID)
                    && req.form("client_secret") == Some(DOVECOT_CLIENT_SECRET)
            }
        };
        if !authenticated {
            // Dovecot turns this into `-ERR [SYS/TEMP]`.
            return json_reply(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "invalid_client"}),
            );
        }
        let record = req
            .form("token")
            .and_then(|t| st.access.get(t))
            .filter(|r| r.active());
        let Some(rec) = record else {
            return json_reply(StatusCode::OK, &json!({"active": false}));
        };
        let claims = &rec.claims;
        let username = match rec.upn() {
            Some(upn) => upn.to_owned(),
            // Dovecot's app-only passdb compares only the domain (`%Ld`).
            None => format!("{}@{}", rec.client_id(), self.domain),
        };
        let body = json!({
            "active": true,
            "username": username,
            "scope": rec.scope,
            "client_id": claims["appid"],
            "token_type": "Bearer",
            "aud": claims["aud"],
            "iss": claims["iss"],
            "iat": claims["iat"],
            "exp": claims["exp"],
        });
        json_reply(StatusCode::OK, &body)
    }
}

/// A JWT-shaped token of about [`ACCESS_TOKEN_LEN`] characters: the `aio`
/// claim (opaque at Microsoft too) is padded to get there. The signature is
/// random bytes of an RS256 signature's size.
fn padded_jwt(claims: &mut Value) -> String {
    let header = json!({
        "typ": "JWT",
        "nonce": random_b64(32),
        "alg": "RS256",
        "x5t": "stand-in-not-signed",
        "kid": "stand-in-not-signed",
    });
    claims["aio"] = json!("");
    let unpadded = jwt(&header, claims).len();
    // Each padding character adds 4/3 characters of base64.
    let pad = (ACCESS_TOKEN_LEN.saturating_sub(unpadded) * 3 / 4).max(24);
    claims["aio"] = json!(&random_b64(pad)[..pad]);
    jwt(&header, claims)
}

/// `header.claims.signature`, the signature random bytes of an RS256
/// signature's size.
fn jwt(header: &Value, claims: &Value) -> String {
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.{}", b64(header), b64(claims), random_b64(256))
}

/// Whole seconds of a lifetime, rounded up (at least 1).
fn lifetime_secs(d: Duration) -> u64 {
    (d.as_secs_f64().ceil() as u64).max(1)
}
