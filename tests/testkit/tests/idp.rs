//! The identity-platform stand-in against real clients' wire behaviour and
//! against the real Dovecot: every grant, Microsoft's error shape, fault
//! injection, and bearer logins (XOAUTH2 two-step, OAUTHBEARER) validated
//! through Dovecot's `oauth2` passdb calling `/introspect`.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use popline_testkit::idp::{
    AssertionAlg, AssertionOptions, DEVICE_CODE_GRANT, JWT_BEARER, POP_APP_SCOPE,
    POP_DELEGATED_SCOPE, Thumbprint, pkce_challenge,
};
mod support;

use popline_testkit::{App, ClientCertificate, Dovecot, DovecotOptions, Fault, Idp, IdpOptions};
use rustls_pki_types::ServerName;
use serde_json::Value;
use support::{Pop3, connector};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const ALICE: &str = "alice@contoso.example";
const BOB: &str = "bob@contoso.example";
const CAROL: &str = "carol@fabrikam.example";
const DESKTOP: &str = "11111111-2222-4333-8444-555555555555";
const DAEMON: &str = "99999999-8888-4777-8666-555555555555";
const SECRET: &str = "s3cret~value.with+chars";

fn idp_options() -> IdpOptions {
    IdpOptions::default()
        .user(ALICE)
        .user(BOB)
        .app(App::new(DESKTOP).display_name("popline desktop"))
        .app(
            App::new(DAEMON)
                .secret(SECRET)
                .display_name("popline daemon"),
        )
}

fn dovecot(idp: &Idp) -> Dovecot {
    Dovecot::start(
        DovecotOptions::default()
            .user(ALICE, "unused-a")
            .user(BOB, "unused-b")
            .user(CAROL, "unused-c")
            .oauth2_introspection_url(idp.introspection_url()),
    )
    .expect("starting dovecot")
}

// --- a small HTTP client ---------------------------------------------------

struct Http {
    status: u16,
    headers: hyper::HeaderMap,
    body: String,
}

impl Http {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One request on a fresh connection; a POST carries `form` as its body.
async fn request(
    method: Method,
    url: &str,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Http {
    let uri: hyper::Uri = url.parse().expect("URL");
    let authority = uri.authority().expect("authority").clone();
    let tcp = TcpStream::connect((authority.host(), authority.port_u16().unwrap_or(80)))
        .await
        .expect("connecting");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("HTTP handshake");
    tokio::spawn(conn);
    let mut builder = Request::builder()
        .method(method.clone())
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header("host", authority.as_str());
    let mut body = String::new();
    if method == Method::POST {
        body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        builder = builder.header("content-type", "application/x-www-form-urlencoded");
    }
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let response = sender
        .send_request(builder.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .expect("HTTP request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Http {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn post(url: &str, form: &[(&str, &str)]) -> Http {
    request(Method::POST, url, form, &[]).await
}

async fn get(url: &str) -> Http {
    request(Method::GET, url, &[], &[]).await
}

fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("JWT-shaped");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Asserts a Microsoft-shaped error with this status, `error` and AADSTS code.
fn assert_error(r: &Http, status: u16, error: &str, code: u64) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    let json = r.json();
    assert_eq!(json["error"], error, "{}", r.body);
    assert_eq!(json["error_codes"], serde_json::json!([code]), "{}", r.body);
    let description = json["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    json
}

async fn app_token(idp: &Idp) -> String {
    let r = post(
        &idp.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", SECRET),
            ("scope", POP_APP_SCOPE),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["access_token"].as_str().unwrap().to_owned()
}

/// The whole authorization code flow as a desktop app does it: a loopback
/// listener, the browser's GET to /authorize following the redirect to it,
/// and the code redeemed with PKCE. Returns the token response.
async fn code_flow(idp: &Idp, scope: &str) -> Value {
    let (code, redirect_uri, verifier) = authorize(idp, scope).await;
    let r = post(
        &idp.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", DESKTOP),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", &verifier),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// `/authorize` → 302 → the app's loopback listener. Returns (code, redirect_uri, verifier).
async fn authorize(idp: &Idp, scope: &str) -> (String, String, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_uri = format!(
        // Registered as `http://127.0.0.1`: any port, path `/`.
        "http://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let verifier = URL_SAFE_NO_PAD.encode([7u8; 48]);
    let url = format!(
        "{}?{}",
        idp.authorize_url(),
        form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", DESKTOP)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", "st4te")
            .append_pair("code_challenge", &pkce_challenge(&verifier))
            .append_pair("code_challenge_method", "S256")
            .append_pair("login_hint", ALICE)
            .finish()
    );
    let r = get(&url).await;
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.header("location").unwrap().to_owned();
    assert!(location.starts_with(&redirect_uri), "{location}");
    // The "browser" follows the redirect; the app's listener reads the query.
    let app = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut io = BufReader::new(stream);
        let mut request_line = String::new();
        io.read_line(&mut request_line).await.unwrap();
        let mut line = String::new();
        while io.read_line(&mut line).await.unwrap() > 2 {
            line.clear();
        }
        io.get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            .await
            .unwrap();
        request_line
    });
    assert_eq!(get(&location).await.body, "ok");
    let request_line = app.await.unwrap();
    let target = request_line.split(' ').nth(1).unwrap();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(target.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    let field = |n: &str| query.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(field("state").as_deref(), Some("st4te"));
    (
        field("code").expect("code in the redirect"),
        redirect_uri,
        verifier,
    )
}

// --- a small POP3 client ---------------------------------------------------

/// How a bearer login ended.
#[derive(Debug)]
enum Login {
    Ok,
    /// The `+ <base64 JSON>` challenge (decoded) and the final line after
    /// the client's empty answer.
    Refused {
        mech: String,
        challenge: Value,
        last: String,
    },
    /// Anything else (e.g. `-ERR [SYS/TEMP] ...`).
    Other(String),
}

/// `AUTH <mech>`, wait for `+ `, then the base64 response: the two-step form
/// Office 365 needs.
async fn bearer_login(dovecot: &Dovecot, mech: &str, user: &str, token: &str) -> Login {
    let tcp = TcpStream::connect(("127.0.0.1", dovecot.tls_port()))
        .await
        .unwrap();
    let tls = connector(dovecot.ca_pem())
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let mut pop = Pop3::new(tls);
    assert!(pop.line().await.starts_with("+OK"));
    let go_ahead = pop.cmd(&format!("AUTH {mech}")).await;
    assert_eq!(go_ahead, "+", "AUTH {mech}");
    let response = match mech {
        "XOAUTH2" => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
        "OAUTHBEARER" => format!(
            "n,a={user},\x01host=127.0.0.1\x01port={}\x01auth=Bearer {token}\x01\x01",
            dovecot.tls_port()
        ),
        _ => unreachable!(),
    };
    let answer = pop.cmd(&STANDARD.encode(response)).await;
    if answer == "+OK Logged in." {
        return Login::Ok;
    }
    if let Some(b64) = answer.strip_prefix("+ ") {
        let challenge = serde_json::from_slice(&STANDARD.decode(b64).unwrap()).unwrap();
        // The client must answer the error challenge with an empty line.
        let last = pop.cmd("").await;
        return Login::Refused {
            mech: mech.into(),
            challenge,
            last,
        };
    }
    Login::Other(answer)
}

fn assert_refused(login: Login, dovecot: &Dovecot) {
    match login {
        Login::Refused {
            mech,
            challenge,
            last,
        } => {
            // XOAUTH2 answers with Google's error JSON, OAUTHBEARER with RFC 7628's.
            let expected = match mech.as_str() {
                "XOAUTH2" => {
                    serde_json::json!({"status": "401", "schemes": "bearer", "scope": "mail"})
                }
                _ => serde_json::json!({"status": "invalid_token"}),
            };
            assert_eq!(challenge, expected, "{mech}");
            assert_eq!(last, "-ERR [AUTH] Authentication failed.");
        }
        other => panic!("expected a refusal, got {other:?}\n{}", dovecot.log()),
    }
}

// --- tests -----------------------------------------------------------------

#[tokio::test]
async fn client_credentials_with_secret_then_xoauth2_two_step() {
    let idp = Idp::start(idp_options()).unwrap();
    let dovecot = dovecot(&idp);

    let r = post(
        &idp.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", SECRET),
            ("scope", POP_APP_SCOPE),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let json = r.json();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 3600);
    assert!(
        json.get("scope").is_none() && json.get("refresh_token").is_none(),
        "{json}"
    );
    let token = json["access_token"].as_str().unwrap();
    assert!(
        (1900..=2200).contains(&token.len()),
        "{} bytes",
        token.len()
    );
    let claims = jwt_claims(token);
    assert_eq!(claims["roles"], serde_json::json!(["POP.AccessAsApp"]));
    assert_eq!(claims["aud"], "https://outlook.office365.com");
    assert_eq!(claims["appid"], DAEMON);
    assert_eq!(claims["appidacr"], "1");
    assert_eq!(claims["tid"], idp.tenant());
    assert_eq!(idp.token_requests("client_credentials"), 1);
    let sent = idp.last_token_request().unwrap();
    assert_eq!(sent.field("client_secret"), Some(SECRET));

    // App-only: any mailbox of the tenant's domain, none outside it.
    for user in [ALICE, BOB] {
        let login = bearer_login(&dovecot, "XOAUTH2", user, token).await;
        assert!(
            matches!(login, Login::Ok),
            "{user}: {login:?}\n{}",
            dovecot.log()
        );
    }
    assert_refused(
        bearer_login(&dovecot, "XOAUTH2", CAROL, token).await,
        &dovecot,
    );

    // HTTP Basic client authentication works too.
    let basic = format!("Basic {}", STANDARD.encode(format!("{DAEMON}:{SECRET}")));
    let r = request(
        Method::POST,
        &idp.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("scope", POP_APP_SCOPE),
        ],
        &[("authorization", &basic)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Refusals: (client_id, client_secret, scope) → Microsoft's answer.
    for (client_id, secret, scope, status, error, code) in [
        (
            DAEMON,
            Some("nope"),
            POP_APP_SCOPE,
            401,
            "invalid_client",
            7000215,
        ),
        (
            DAEMON,
            Some(SECRET),
            POP_DELEGATED_SCOPE,
            400,
            "invalid_scope",
            1002012,
        ),
        (DAEMON, None, POP_APP_SCOPE, 401, "invalid_client", 7000218),
        (
            "nobody",
            Some("x"),
            POP_APP_SCOPE,
            400,
            "unauthorized_client",
            700016,
        ),
    ] {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("scope", scope),
        ];
        form.extend(secret.map(|s| ("client_secret", s)));
        let r = post(&idp.token_url(), &form).await;
        assert_error(&r, status, error, code);
    }
}

#[tokio::test]
async fn app_without_pop_role_gets_a_token_that_dovecot_refuses() {
    let idp = Idp::start(
        idp_options().app(
            App::new("no-role")
                .secret(SECRET)
                .roles(Vec::<String>::new()),
        ),
    )
    .unwrap();
    let dovecot = dovecot(&idp);
    let r = post(
        &idp.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "no-role"),
            ("client_secret", SECRET),
            ("scope", POP_APP_SCOPE),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["access_token"].as_str().unwrap().to_owned();
    assert!(jwt_claims(&token).get("roles").is_none());
    assert_refused(
        bearer_login(&dovecot, "XOAUTH2", ALICE, &token).await,
        &dovecot,
    );
}

#[tokio::test]
async fn authorization_code_with_pkce_then_oauthbearer() {
    let idp = Idp::start(idp_options()).unwrap();
    let dovecot = dovecot(&idp);
    let scope = format!("{POP_DELEGATED_SCOPE} offline_access openid");

    let tokens = code_flow(&idp, &scope).await;
    assert_eq!(tokens["scope"], POP_DELEGATED_SCOPE);
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("1.A"));
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["preferred_username"],
        ALICE
    );
    let access = tokens["access_token"].as_str().unwrap();
    let claims = jwt_claims(access);
    assert_eq!(claims["scp"], "POP.AccessAsUser.All");
    assert_eq!(claims["upn"], ALICE);
    assert_eq!(claims["aud"], "https://outlook.office.com");
    assert_eq!(claims["appidacr"], "0");

    let login = bearer_login(&dovecot, "OAUTHBEARER", ALICE, access).await;
    assert!(matches!(login, Login::Ok), "{login:?}\n{}", dovecot.log());
    let login = bearer_login(&dovecot, "XOAUTH2", ALICE, access).await;
    assert!(matches!(login, Login::Ok), "{login:?}\n{}", dovecot.log());
    // A delegated token opens only its own user's mailbox.
    assert_refused(
        bearer_login(&dovecot, "OAUTHBEARER", BOB, access).await,
        &dovecot,
    );

    // Codes are single-use, bound to the verifier and the redirect URI.
    let (code, redirect_uri, verifier) = authorize(&idp, &scope).await;
    let redeem = |code: String, redirect_uri: String, verifier: String| {
        let url = idp.token_url();
        async move {
            post(
                &url,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", DESKTOP),
                    ("code", &code),
                    ("redirect_uri", &redirect_uri),
                    ("code_verifier", &verifier),
                ],
            )
            .await
        }
    };
    let bad_verifier = redeem(code.clone(), redirect_uri.clone(), "x".repeat(43)).await;
    assert_error(&bad_verifier, 400, "invalid_grant", 501481);
    let bad_redirect = redeem(
        code.clone(),
        "http://127.0.0.1:1/other".into(),
        verifier.clone(),
    )
    .await;
    assert_error(&bad_redirect, 400, "invalid_grant", 50011);
    assert_eq!(
        redeem(code.clone(), redirect_uri.clone(), verifier.clone())
            .await
            .status,
        200
    );
    let again = redeem(code, redirect_uri, verifier).await;
    assert_error(&again, 400, "invalid_grant", 54005);

    // A redirect URI that is not registered is shown, not redirected to.
    let r = get(&format!(
        "{}?client_id={DESKTOP}&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2F&scope=openid&code_challenge=abc&code_challenge_method=S256",
        idp.authorize_url()
    ))
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("AADSTS50011: "), "{}", r.body);
}

#[tokio::test]
async fn revoked_and_expired_tokens_get_the_error_challenge() {
    let idp = Idp::start(idp_options()).unwrap();
    let dovecot = dovecot(&idp);

    let user_token = idp.mint_user_token(DESKTOP, ALICE).unwrap();
    let app_token = app_token(&idp).await;
    assert!(matches!(
        bearer_login(&dovecot, "XOAUTH2", ALICE, &user_token).await,
        Login::Ok
    ));
    assert!(matches!(
        bearer_login(&dovecot, "XOAUTH2", BOB, &app_token).await,
        Login::Ok
    ));

    idp.revoke_all_for(ALICE);
    assert!(!idp.is_active(&user_token));
    let before = idp.introspections();
    assert_refused(
        bearer_login(&dovecot, "XOAUTH2", ALICE, &user_token).await,
        &dovecot,
    );
    // One lookup per oauth2 passdb (delegated, then app-only).
    assert_eq!(idp.introspections() - before, 2);
    idp.revoke_app(DAEMON);
    assert_refused(
        bearer_login(&dovecot, "OAUTHBEARER", BOB, &app_token).await,
        &dovecot,
    );

    // Expiry: valid while unexpired only.
    idp.set_access_token_lifetime(Duration::from_secs(1));
    let short = idp.mint_user_token(DESKTOP, BOB).unwrap();
    assert!(matches!(
        bearer_login(&dovecot, "XOAUTH2", BOB, &short).await,
        Login::Ok
    ));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_refused(
        bearer_login(&dovecot, "XOAUTH2", BOB, &short).await,
        &dovecot,
    );
    assert_refused(
        bearer_login(&dovecot, "XOAUTH2", BOB, "not-a-token").await,
        &dovecot,
    );

    // The introspection endpoint itself: client authentication and answers.
    let r = post(&idp.introspection_url(), &[("token", &short)]).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, r#"{"error":"invalid_client"}"#)
    );
    let basic = format!(
        "Basic {}",
        STANDARD.encode("dovecot-resource-server:popline-testkit-secret")
    );
    let fresh = idp.mint_user_token(DESKTOP, BOB).unwrap();
    let r = request(
        Method::POST,
        &idp.introspection_url(),
        &[("token", &fresh)],
        &[("authorization", &basic)],
    )
    .await;
    let json = r.json();
    assert_eq!(
        (json["active"].as_bool(), json["username"].as_str()),
        (Some(true), Some(BOB))
    );
    assert_eq!(json["scope"], "POP.AccessAsUser.All");

    // Identity platform down: Dovecot answers with a temporary failure.
    drop(idp);
    match bearer_login(&dovecot, "XOAUTH2", BOB, &fresh).await {
        Login::Other(line) => assert!(line.starts_with("-ERR [SYS/TEMP]"), "{line}"),
        other => panic!("{other:?}"),
    }
}

/// A sign-in for POP and SMTP gives one refresh token that each rotation
/// carries on: redeemed for POP, its successor is still good for SMTP (and
/// the other way round), each access token for what was asked.
#[tokio::test]
async fn one_sign_in_refreshes_for_pop_and_smtp_in_turn() {
    let idp = Idp::start(idp_options()).unwrap();
    let smtp_scope = "https://outlook.office.com/SMTP.Send";
    let both = format!("{POP_DELEGATED_SCOPE} {smtp_scope} offline_access");
    let first = code_flow(&idp, &both).await;
    let scp = |json: &Value| {
        let at = json["access_token"].as_str().unwrap();
        idp.tokens().active_claims(at).unwrap()["scp"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(scp(&first), "POP.AccessAsUser.All SMTP.Send");
    let mut rt = first["refresh_token"].as_str().unwrap().to_owned();
    for (scope, want) in [
        (POP_DELEGATED_SCOPE, "POP.AccessAsUser.All"),
        (smtp_scope, "SMTP.Send"),
        (smtp_scope, "SMTP.Send"),
        (POP_DELEGATED_SCOPE, "POP.AccessAsUser.All"),
    ] {
        let r = post(
            &idp.token_url(),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", DESKTOP),
                ("refresh_token", &rt),
                ("scope", &format!("{scope} offline_access")),
            ],
        )
        .await;
        assert_eq!(r.status, 200, "{scope}: {}", r.body);
        let json = r.json();
        assert_eq!(scp(&json), want);
        let next = json["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(next, rt);
        rt = next;
    }
}

#[tokio::test]
async fn refresh_tokens_rotate() {
    let idp = Idp::start(idp_options().access_token_lifetime(Duration::from_secs(2))).unwrap();
    let scope = format!("{POP_DELEGATED_SCOPE} offline_access");
    let first = code_flow(&idp, &scope).await;
    assert_eq!(first["expires_in"], 2);
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |rt: String, scope: String| {
        let url = idp.token_url();
        async move {
            post(
                &url,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", DESKTOP),
                    ("refresh_token", &rt),
                    ("scope", &scope),
                ],
            )
            .await
        }
    };

    let second = refresh(rt1.clone(), scope.clone()).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let second = second.json();
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2, "a refresh returns a new refresh token");
    assert_ne!(first["access_token"], second["access_token"]);
    assert!(idp.is_active(second["access_token"].as_str().unwrap()));

    // The old one is dead; the new one works (and rotates again).
    assert_error(
        &refresh(rt1, scope.clone()).await,
        400,
        "invalid_grant",
        70000,
    );
    let third = refresh(rt2.clone(), scope.clone()).await;
    assert_eq!(third.status, 200, "{}", third.body);
    let rt3 = third.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_error(
        &refresh(rt2, scope.clone()).await,
        400,
        "invalid_grant",
        70000,
    );
    assert_eq!(idp.token_requests("refresh_token"), 4);

    // Asking for more than was consented.
    let more = refresh(
        rt3.clone(),
        format!("{scope} https://outlook.office.com/SMTP.Send"),
    )
    .await;
    let json = assert_error(&more, 400, "invalid_grant", 65001);
    assert_eq!(json["suberror"], "consent_required");

    // 90 days unused (simulated), and an admin revocation.
    idp.expire_refresh_tokens_for(ALICE);
    let expired = refresh(rt3, scope.clone()).await;
    let json = assert_error(&expired, 400, "invalid_grant", 700082);
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains("expired due to inactivity")
    );
    let rt = code_flow(&idp, &scope).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    idp.revoke_all_for(ALICE);
    assert_error(&refresh(rt, scope).await, 400, "invalid_grant", 50173);
}

#[tokio::test]
async fn client_assertion_signed_with_the_registered_certificate() {
    let (registered, other) = tokio::task::spawn_blocking(|| {
        (
            ClientCertificate::generate("popline registered").unwrap(),
            ClientCertificate::generate("popline other").unwrap(),
        )
    })
    .await
    .unwrap();
    let idp =
        Idp::start(idp_options().app(App::new("cert-app").certificate(registered.cert_pem())))
            .unwrap();
    let aud = idp.token_url();
    let exchange = |assertion: String| {
        let url = idp.token_url();
        async move {
            post(
                &url,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", "cert-app"),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", &assertion),
                    ("scope", POP_APP_SCOPE),
                ],
            )
            .await
        }
    };

    let ok = exchange(registered.client_assertion("cert-app", &aud).unwrap()).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        jwt_claims(ok.json()["access_token"].as_str().unwrap())["appidacr"],
        "2"
    );
    let ps256 = AssertionOptions {
        alg: AssertionAlg::Ps256,
        thumbprint: Thumbprint::Sha1,
        ..AssertionOptions::default()
    };
    let ok = exchange(
        registered
            .client_assertion_with("cert-app", &aud, &ps256)
            .unwrap(),
    )
    .await;
    assert_eq!(ok.status, 200, "PS256 + x5t: {}", ok.body);

    // Another key: unknown thumbprint, or the registered thumbprint with a
    // signature it cannot verify.
    let sha1 = AssertionOptions {
        thumbprint: Thumbprint::Sha1,
        ..AssertionOptions::default()
    };
    let unknown = exchange(
        other
            .client_assertion_with("cert-app", &aud, &sha1)
            .unwrap(),
    )
    .await;
    let json = assert_error(&unknown, 401, "invalid_client", 700027);
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains(&other.thumbprint_hex())
    );
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t#S256": registered.thumbprint_sha256()});
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "aud": aud, "iss": "cert-app", "sub": "cert-app", "jti": "forged",
        "nbf": now, "exp": now + 300,
    });
    let forged = other
        .sign_jwt(&header, &claims, AssertionAlg::Rs256)
        .unwrap();
    let json = assert_error(&exchange(forged).await, 401, "invalid_client", 700027);
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains("signature validation")
    );

    // Time range: expired, and valid for longer than 10 minutes.
    for (not_before_offset, lifetime) in [(-900, 300), (0, 1200), (120, 300)] {
        let opts = AssertionOptions {
            not_before_offset,
            lifetime,
            ..AssertionOptions::default()
        };
        let r = exchange(
            registered
                .client_assertion_with("cert-app", &aud, &opts)
                .unwrap(),
        )
        .await;
        assert_error(&r, 401, "invalid_client", 700024);
    }
    // Replay, wrong audience.
    let once = AssertionOptions {
        jti: Some("only-once".into()),
        ..AssertionOptions::default()
    };
    let assertion = registered
        .client_assertion_with("cert-app", &aud, &once)
        .unwrap();
    assert_eq!(exchange(assertion.clone()).await.status, 200);
    assert_error(&exchange(assertion).await, 401, "invalid_client", 50027);
    let wrong_aud = registered
        .client_assertion(
            "cert-app",
            "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        )
        .unwrap();
    assert_error(&exchange(wrong_aud).await, 401, "invalid_client", 700023);
    // The certificate app has no secret: a secret is refused.
    let r = post(
        &idp.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "cert-app"),
            ("client_secret", SECRET),
            ("scope", POP_APP_SCOPE),
        ],
    )
    .await;
    assert_error(&r, 401, "invalid_client", 7000215);
    assert_eq!(
        idp.last_token_request().unwrap().field("client_secret"),
        Some(SECRET)
    );
}

#[tokio::test]
async fn device_flow_pending_then_approved() {
    let idp = Idp::start(idp_options()).unwrap();
    let scope = format!("{POP_DELEGATED_SCOPE} offline_access");
    let start = || {
        let url = idp.device_code_url();
        let scope = scope.clone();
        async move {
            let r = post(&url, &[("client_id", DESKTOP), ("scope", &scope)]).await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()
        }
    };
    let poll = |device_code: String| {
        let url = idp.token_url();
        async move {
            post(
                &url,
                &[
                    ("grant_type", DEVICE_CODE_GRANT),
                    ("client_id", DESKTOP),
                    ("device_code", &device_code),
                ],
            )
            .await
        }
    };

    let dc = start().await;
    let user_code = dc["user_code"].as_str().unwrap().to_owned();
    let device_code = dc["device_code"].as_str().unwrap().to_owned();
    assert_eq!(
        (dc["interval"].as_u64(), dc["expires_in"].as_u64()),
        (Some(1), Some(900))
    );
    let uri = dc["verification_uri"].as_str().unwrap();
    assert_eq!(
        dc["message"],
        format!(
            "To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."
        )
    );
    assert_eq!(idp.latest_user_code().as_deref(), Some(user_code.as_str()));

    assert_error(
        &poll(device_code.clone()).await,
        400,
        "authorization_pending",
        70016,
    );
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_error(
        &poll(device_code.clone()).await,
        400,
        "authorization_pending",
        70016,
    );
    idp.approve_device(&user_code, ALICE).unwrap();
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let r = poll(device_code.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tokens = r.json();
    assert_eq!(
        jwt_claims(tokens["access_token"].as_str().unwrap())["upn"],
        ALICE
    );
    assert!(tokens["refresh_token"].is_string());
    assert_error(&poll(device_code).await, 400, "invalid_grant", 70000);
    assert_eq!(idp.token_requests(DEVICE_CODE_GRANT), 4);

    // Polling faster than the interval.
    let fast = start().await["device_code"].as_str().unwrap().to_owned();
    assert_error(
        &poll(fast.clone()).await,
        400,
        "authorization_pending",
        70016,
    );
    assert_error(&poll(fast).await, 400, "slow_down", 70016);

    // Denied and declined.
    let denied = start().await;
    idp.deny_device(denied["user_code"].as_str().unwrap())
        .unwrap();
    let r = poll(denied["device_code"].as_str().unwrap().into()).await;
    assert_error(&r, 400, "access_denied", 65004);
    let declined = start().await;
    idp.decline_device(declined["user_code"].as_str().unwrap())
        .unwrap();
    let r = poll(declined["device_code"].as_str().unwrap().into()).await;
    assert_error(&r, 400, "authorization_declined", 65004);
    assert!(idp.approve_device("NOSUCHCD", ALICE).is_err());

    // Expiry.
    let short = Idp::start(idp_options().device_code_lifetime(Duration::from_secs(1))).unwrap();
    let r = post(
        &short.device_code_url(),
        &[("client_id", DESKTOP), ("scope", &scope)],
    )
    .await;
    let device_code = r.json()["device_code"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = post(
        &short.token_url(),
        &[
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", DESKTOP),
            ("device_code", &device_code),
        ],
    )
    .await;
    assert_error(&r, 400, "expired_token", 70019);
}

#[tokio::test]
async fn fault_injection_answers_exactly_like_microsoft() {
    let idp = Idp::start(idp_options()).unwrap();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", DESKTOP),
        ("refresh_token", "1.Aanything"),
    ];

    idp.fail_next(1, Fault::aadsts(700082));
    let r = request(
        Method::POST,
        &idp.token_url(),
        &form,
        &[("client-request-id", "c0ffee00-0000-4000-8000-000000000001")],
    )
    .await;
    assert_eq!(r.status, 400);
    // Field order as Microsoft sends it.
    let positions: Vec<usize> = [
        "error",
        "error_description",
        "error_codes",
        "timestamp",
        "trace_id",
        "correlation_id",
        "error_uri",
    ]
    .iter()
    .map(|k| {
        r.body
            .find(&format!("\"{k}\":"))
            .unwrap_or_else(|| panic!("{k} in {}", r.body))
    })
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{}", r.body);
    let json = r.json();
    assert_eq!(json.as_object().unwrap().len(), 7, "{}", r.body);
    assert_eq!(json["error"], "invalid_grant");
    assert_eq!(json["error_codes"], serde_json::json!([700082]));
    let (trace, correlation, ts) = (
        json["trace_id"].as_str().unwrap(),
        json["correlation_id"].as_str().unwrap(),
        json["timestamp"].as_str().unwrap(),
    );
    // `2016-01-09 02:02:12Z`
    assert!(
        ts.len() == 20 && &ts[10..11] == " " && ts.ends_with('Z'),
        "{ts}"
    );
    assert_eq!(trace.len(), 36);
    assert_eq!(
        correlation, "c0ffee00-0000-4000-8000-000000000001",
        "client-request-id is the correlation id"
    );
    assert_eq!(r.header("client-request-id"), Some(correlation));
    assert_eq!(r.header("x-ms-request-id"), Some(trace));
    let description = json["error_description"].as_str().unwrap();
    assert!(description.starts_with("AADSTS700082: The refresh token has expired due to inactivity. The token was issued on "), "{description}");
    assert!(
        description.ends_with(&format!(
            "\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {ts}"
        )),
        "{description}"
    );
    assert!(
        json["error_uri"]
            .as_str()
            .unwrap()
            .ends_with("/error?code=700082")
    );

    // The table of operator-facing errors.
    for (code, status, error) in [
        (50173, 400, "invalid_grant"),
        (7000215, 401, "invalid_client"),
        (7000222, 401, "invalid_client"),
        (700016, 400, "unauthorized_client"),
        (50076, 400, "interaction_required"),
        (700024, 401, "invalid_client"),
    ] {
        idp.fail_next(1, Fault::aadsts(code));
        assert_error(
            &post(&idp.token_url(), &form).await,
            status,
            error,
            code.into(),
        );
    }
    idp.fail_next(1, Fault::aadsts(65001));
    let json = assert_error(
        &post(&idp.token_url(), &form).await,
        400,
        "invalid_grant",
        65001,
    );
    assert_eq!(json["suberror"], "consent_required");
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains(&format!("'{DESKTOP}' named 'popline desktop'"))
    );

    // Throttling and outage, then back to normal (here: the real answer).
    idp.fail_next(2, Fault::TooManyRequests { retry_after: 7 });
    idp.fail_next(1, Fault::Unavailable);
    for _ in 0..2 {
        let r = post(&idp.token_url(), &form).await;
        assert_eq!(
            (r.status, r.header("retry-after")),
            (429, Some("7")),
            "{}",
            r.body
        );
    }
    let r = post(&idp.token_url(), &form).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"], "temporarily_unavailable");
    assert_error(
        &post(&idp.token_url(), &form).await,
        400,
        "invalid_grant",
        9002313,
    );
    assert_eq!(idp.token_requests("refresh_token"), 12);

    // Faults hit /devicecode too.
    idp.fail_next(
        1,
        Fault::Aadsts {
            code: 50079,
            error: "interaction_required".into(),
        },
    );
    let r = post(
        &idp.device_code_url(),
        &[("client_id", DESKTOP), ("scope", POP_DELEGATED_SCOPE)],
    )
    .await;
    assert_error(&r, 400, "interaction_required", 50079);

    // Unknown tenant, wrong method.
    let r = post(
        &idp.token_url().replace(idp.tenant(), "nosuchtenant"),
        &form,
    )
    .await;
    assert_error(&r, 400, "invalid_request", 90002);
    assert_error(&get(&idp.token_url()).await, 400, "invalid_request", 900561);
    let r = post(
        &idp.token_url().replace(idp.tenant(), "contoso.example"),
        &[("grant_type", "password"), ("client_id", DESKTOP)],
    )
    .await;
    assert_error(&r, 400, "unsupported_grant_type", 70003);
}

/// From a plain `#[test]` (no runtime): raw HTTP/1.1 over a std socket, and
/// key generation time in this build profile.
#[test]
fn works_from_a_synchronous_test() {
    use std::io::{Read, Write};
    let idp = Idp::start(idp_options()).unwrap();
    let body = format!(
        "client_id={DESKTOP}&scope=https%3A%2F%2Foutlook.office.com%2FPOP.AccessAsUser.All"
    );
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", idp.port())).unwrap();
    write!(
        tcp,
        "POST /{}/oauth2/v2.0/devicecode HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        idp.tenant(),
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\"user_code\":"), "{answer}");
    assert_eq!(idp.requests().len(), 1);
    assert!(idp.latest_user_code().is_some());

    let started = std::time::Instant::now();
    let cert = ClientCertificate::generate("timing").unwrap();
    eprintln!("RSA-2048 key + certificate in {:?}", started.elapsed());
    assert!(cert.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(cert.key_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
    drop(idp);
}
