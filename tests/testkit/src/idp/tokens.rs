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
    AccessRec, AppRec, ClientAuth, Grant, RefreshRec, RefreshState, Shared, State, Subject, guid,
    hashed_guid, random_b64, unix_now,
};
use super::{DOVECOT_CLIENT_ID, DOVECOT_CLIENT_SECRET, GRAPH, OUTLOOK_365, TENANT};

/// Microsoft's Exchange access tokens are about 2 KB; Dovecot drops the
/// connection for tokens over about 6 KB, so the size matters.
const ACCESS_TOKEN_LEN: usize = 2048;
/// The base64url length of a 2048-bit RS256 signature.
const SIGNATURE_LEN: usize = 342;
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

impl TokenResponse {
    fn new(st: &State, access_token: String) -> TokenResponse {
        let secs = lifetime_secs(st.access_lifetime);
        TokenResponse {
            token_type: "Bearer",
            scope: None,
            expires_in: secs,
            ext_expires_in: secs,
            access_token,
            refresh_token: None,
            id_token: None,
        }
    }
}

impl Shared {
    /// The client credentials answer: an app-only access token.
    pub fn issue_app_only(&self, st: &mut State, app: &AppRec, auth: ClientAuth) -> Reply {
        let access = self.mint_app_access(st, app, auth);
        json_reply(StatusCode::OK, &TokenResponse::new(st, access))
    }

    /// A delegated answer: access token, plus a refresh token for
    /// `offline_access` and an ID token for `openid`.
    pub fn issue_delegated(
        &self,
        st: &mut State,
        app: &AppRec,
        grant: &Grant,
        auth: ClientAuth,
    ) -> Reply {
        let access = self.mint_user_access(st, app, grant, auth);
        let scopes = &grant.scopes;
        let mut response = TokenResponse::new(st, access);
        let full_names = scopes
            .names
            .iter()
            .map(|s| format!("{}/{s}", scopes.resource));
        response.scope = Some(full_names.collect::<Vec<_>>().join(" "));
        if scopes.offline {
            let refresh = format!("1.A{}", random_b64(520));
            st.refresh.insert(
                refresh.clone(),
                RefreshRec {
                    grant: grant.clone(),
                    state: RefreshState::Active,
                    issued: unix_now(),
                },
            );
            response.refresh_token = Some(refresh);
        }
        if scopes.openid {
            response.id_token = Some(self.id_token(grant));
        }
        json_reply(StatusCode::OK, &response)
    }

    pub fn mint_user_access(
        &self,
        st: &mut State,
        app: &AppRec,
        grant: &Grant,
        auth: ClientAuth,
    ) -> String {
        let resource = &grant.scopes.resource;
        let aud = if resource == GRAPH {
            GRAPH_AUD
        } else {
            resource
        };
        let scp = grant.scopes.names.join(" ");
        let upn = &grant.upn;
        let given = given_name(upn);
        let puid = hashed_guid("puid", upn).replace('-', "")[..16].to_ascii_uppercase();
        let claims = json!({
            "aud": aud,
            "acct": 0,
            "acr": "1",
            "amr": ["pwd", "mfa"],
            "family_name": "Tester",
            "given_name": given,
            "idtyp": "user",
            "ipaddr": "127.0.0.1",
            "name": format!("{given} Tester"),
            "oid": hashed_guid("user", upn),
            "puid": puid,
            "scp": scp,
            "sub": random_b64(32),
            "unique_name": upn,
            "upn": upn,
        });
        let subject = Subject::User(upn.clone());
        self.mint_access(st, app, auth, subject, scp, claims)
    }

    fn mint_app_access(&self, st: &mut State, app: &AppRec, auth: ClientAuth) -> String {
        let sp = hashed_guid("sp", &app.app.client_id);
        let mut claims = json!({
            "aud": OUTLOOK_365,
            "idp": self.issuer_v1(),
            "idtyp": "app",
            "oid": sp,
            "sub": sp,
        });
        // Microsoft omits `roles` when the app has no application permission.
        if !app.app.roles.is_empty() {
            claims["roles"] = json!(app.app.roles);
        }
        let scope = app.app.roles.join(" ");
        self.mint_access(st, app, auth, Subject::App, scope, claims)
    }

    /// An access token with the claims every Exchange token has plus
    /// `claims` (`aud` among them), remembered for introspection with
    /// `scope`.
    fn mint_access(
        &self,
        st: &mut State,
        app: &AppRec,
        auth: ClientAuth,
        subject: Subject,
        scope: String,
        claims: Value,
    ) -> String {
        let aud = claims["aud"].as_str().unwrap_or_default().to_owned();
        let now = unix_now();
        let exp = now + lifetime_secs(st.access_lifetime);
        let token = self.jwt_padded(|aio| {
            let mut all = json!({
                "iss": self.issuer_v1(),
                "iat": now,
                "nbf": now,
                "exp": exp,
                "aio": aio,
                "app_displayname": app.app.display_name,
                "appid": app.app.client_id,
                "appidacr": (auth as u8).to_string(),
                "rh": format!("1.A{}", random_b64(40)),
                "sid": guid(),
                "tid": TENANT,
                "uti": random_b64(16),
                "ver": "1.0",
            });
            if let (Value::Object(all), Value::Object(extra)) = (&mut all, &claims) {
                all.extend(extra.clone());
            }
            all
        });
        st.access.insert(
            token.clone(),
            AccessRec {
                subject,
                client_id: app.app.client_id.clone(),
                scope,
                aud,
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
    fn jwt_padded(&self, claims: impl Fn(&str) -> Value) -> String {
        let header = json!({
            "typ": "JWT",
            "nonce": random_b64(32),
            "alg": "RS256",
            "x5t": "stand-in-not-signed",
            "kid": "stand-in-not-signed",
        });
        let header = URL_SAFE_NO_PAD.encode(header.to_string());
        let bare = claims("").to_string().len();
        let budget_b64 = ACCESS_TOKEN_LEN.saturating_sub(header.len() + SIGNATURE_LEN + 2);
        let pad = (budget_b64 * 3 / 4).saturating_sub(bare).max(24);
        // Random base64 bytes: ~4/3 characters per byte.
        let aio: String = random_b64(pad * 3 / 4 + 1).chars().take(pad).collect();
        let payload = URL_SAFE_NO_PAD.encode(claims(&aio).to_string());
        format!("{header}.{payload}.{}", random_b64(256))
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
            "name": format!("{} Tester", given_name(&grant.upn)),
            "oid": hashed_guid("user", &grant.upn),
            "preferred_username": grant.upn,
            "sub": random_b64(32),
            "tid": TENANT,
            "ver": "2.0",
        });
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            random_b64(256)
        )
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
        let username = match &rec.subject {
            Subject::User(upn) => upn.clone(),
            // Dovecot's app-only passdb compares only the domain (`%Ld`).
            Subject::App => format!("{}@{}", rec.client_id, self.domain),
        };
        let body = json!({
            "active": true,
            "username": username,
            "scope": rec.scope,
            "client_id": rec.client_id,
            "token_type": "Bearer",
            "aud": rec.aud,
            "iss": self.issuer_v1(),
            "iat": rec.iat,
            "exp": rec.exp,
        });
        json_reply(StatusCode::OK, &body)
    }
}

/// Whole seconds of a lifetime, rounded up (at least 1).
fn lifetime_secs(d: Duration) -> u64 {
    (d.as_secs_f64().ceil() as u64).max(1)
}

/// `alice@contoso.example` → `Alice`.
fn given_name(upn: &str) -> String {
    let local = upn.split('@').next().unwrap_or(upn);
    let mut c = local.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
