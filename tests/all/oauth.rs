//! OAuth end to end: the host gets tokens from the identity-platform
//! stand-in (Microsoft's v2.0 wire format) and logs in to a real Dovecot,
//! which validates every bearer token against that same stand-in.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use popline_testkit::idp::KeyForm;
use popline_testkit::{
    App, ClientCertificate, Dovecot, DovecotOptions, Fault, Idp, IdpOptions, beta_replies,
};
use serde_json::Value;

use crate::support;
use crate::support::{expect_ok, text};

const USER: &str = "replies@beta.example.com";
const OTHER: &str = "other@beta.example.com";
const DESKTOP: &str = "11111111-2222-4333-8444-555555555555";
const DAEMON: &str = "99999999-8888-4777-8666-555555555555";
const SECRET: &str = "daemon-secret~with+chars";
/// Multi-tenant, personal accounts too.
const PERSONAL: &str = "33333333-2222-4333-8444-555555555555";
/// Public client flows off; its redirect is under the Web platform.
const WEBAPP: &str = "44444444-2222-4333-8444-555555555555";
/// A secret, and a "Mobile and desktop" redirect.
const HYBRID: &str = "55555555-2222-4333-8444-555555555555";

struct Env {
    idp: Idp,
    dovecot: Dovecot,
    dir: tempfile::TempDir,
    cert: ClientCertificate,
    redirect_port: u16,
}

impl Env {
    fn new(access_lifetime: Duration) -> Env {
        let cert = ClientCertificate::generate("popline test app").unwrap();
        let idp = Idp::start(
            IdpOptions::default()
                .user(USER)
                .user(OTHER)
                .domain("beta.example.com")
                .access_token_lifetime(access_lifetime)
                .app(App::new(DESKTOP).redirect_uri("http://localhost/callback"))
                .app(App::new(DAEMON).secret(SECRET).certificate(cert.cert_pem()))
                .app(App::new(PERSONAL).multi_tenant().personal_accounts())
                .app(App {
                    redirect_uris: Vec::new(),
                    ..App::new(WEBAPP)
                        .confidential()
                        .secret(SECRET)
                        .web_redirect_uri("http://localhost/callback")
                })
                .app(
                    App::new(HYBRID)
                        .secret(SECRET)
                        .redirect_uri("http://localhost/callback"),
                ),
        )
        .unwrap();
        let dovecot = Dovecot::start(
            DovecotOptions::default()
                .user(USER, "unused-1")
                .user(OTHER, "pw-other")
                .oauth2_introspection_url(idp.introspection_url()),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), SECRET).unwrap();
        std::fs::write(dir.path().join("other-pw"), "pw-other").unwrap();
        cert.write_pem(dir.path()).unwrap();
        Env {
            idp,
            dovecot,
            dir,
            cert,
            redirect_port: crate::support::free_port(),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// One OAuth mailbox `beta` (plus, optionally, a password mailbox `other`).
    fn config(&self, oauth: &str, extra_mailbox: bool, mechanisms: &str) -> PathBuf {
        let (cert, key) = self.cert.write_pem(self.dir.path()).unwrap();
        let common = |user: &str| {
            format!(
                r#"host = "localhost"
port = {port}
ca_file = "{ca}"
user = "{user}"
dialogue = "{dialogue}"
mapper = {{ plugin = "{mapper}", config = {{ unmatched = "new" }} }}
sinks = ["out"]
retention = "keep"
"#,
                port = self.dovecot.tls_port(),
                ca = self.dovecot.ca_pem().display(),
                dialogue = support::plugin("pop3-standard").display(),
                mapper = support::plugin("feedback-default").display(),
            )
        };
        let mut text = format!(
            r#"[state]
path = "state.db"
[sinks.out]
type = "jsonl"
path = "feedback.jsonl"

[mailboxes.beta]
{common}{mechanisms}
[mailboxes.beta.oauth]
authority = "{authority}"
tenant = "{tenant}"
redirect_uri = "http://localhost:{redirect}/callback"
{oauth}
"#,
            common = common(USER),
            authority = self.idp.base_url(),
            tenant = self.idp.tenant(),
            redirect = self.redirect_port,
        );
        text = text
            .replace("CERT", &cert.display().to_string())
            .replace("KEY", &key.display().to_string());
        if extra_mailbox {
            text.push_str(&format!(
                "\n[mailboxes.other]\n{}password = {{ file = \"other-pw\" }}\n",
                common(OTHER)
            ));
        }
        let p = self.path("popline.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn popline(&self, config: &Path) -> Command {
        let mut c = support::popline();
        c.arg("--config").arg(config);
        c
    }

    fn once(&self, config: &Path) -> Output {
        self.popline(config).arg("once").output().unwrap()
    }

    /// `popline auth login beta --device`, approved in the stand-in as USER.
    fn device_login(&self, config: &Path) {
        let before = self.idp.latest_user_code();
        let mut child = self
            .popline(config)
            .args(["auth", "login", "beta", "--device"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.idp
            .approve_next_device(before.as_deref(), USER)
            .unwrap();
        assert!(child.wait().unwrap().success());
    }

    fn records(&self) -> usize {
        std::fs::read_to_string(self.path("feedback.jsonl")).map_or(0, |t| t.lines().count())
    }

    fn cache(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path("tokens/beta.json")).unwrap())
            .unwrap()
    }

    /// The access token cached for POP (the one with the POP scope).
    fn cached_access(&self) -> String {
        let cache = self.cache();
        let access = cache["access"].as_object().expect("format 2");
        let pop = access
            .values()
            .find(|a| {
                let scope = a["scope"].as_str().unwrap_or_default();
                scope.contains("POP") || scope.contains(".default")
            })
            .expect("a POP access token");
        pop["token"].as_str().unwrap().to_string()
    }
}

const CLIENT_SECRET: &str = "flow = \"client-credentials\"\nclient_id = \"99999999-8888-4777-8666-555555555555\"\nclient_secret = { file = \"secret\" }";

#[test]
fn client_credentials_with_a_secret_log_in_with_two_step_xoauth2() {
    let env = Env::new(Duration::from_secs(3600));
    env.dovecot.seed(USER, &beta_replies()).unwrap();
    let cfg = env.config(CLIENT_SECRET, false, "");
    let out = expect_ok(&env.once(&cfg));
    assert!(out.contains("beta: listed 6, fetched 6"), "{out}");
    // Six replies, one of them an auto-reply (skipped).
    assert_eq!(env.records(), 5);
    assert_eq!(env.idp.token_requests("client_credentials"), 1);
    // The token cache is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.path("tokens/beta.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // A second run reuses the cached token.
    expect_ok(&env.once(&cfg));
    assert_eq!(env.idp.token_requests("client_credentials"), 1);
}

#[test]
fn client_credentials_with_a_certificate_and_oauthbearer() {
    let env = Env::new(Duration::from_secs(3600));
    env.dovecot.seed(USER, &beta_replies()[..2]).unwrap();
    let oauth = "flow = \"client-credentials\"\nclient_id = \"99999999-8888-4777-8666-555555555555\"\ncertificate = { cert = \"CERT\", key = \"KEY\" }";
    let cfg = env.config(oauth, false, "mechanisms = [\"OAUTHBEARER\"]\n");
    let out = expect_ok(&env.once(&cfg));
    assert!(out.contains("beta: listed 2, fetched 2"), "{out}");
    let req = env.idp.last_token_request().unwrap();
    assert_eq!(
        req.field("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    assert!(req.field("client_secret").is_none());
}

/// Every form the portal or Windows hands a certificate out in signs in,
/// with PS256 by default: DER `.cer` with a PKCS#1 key, an encrypted PKCS#8
/// key (password from a file), a PFX as OpenSSL 3 writes it and one as
/// Windows' TripleDES-SHA1 export (password from the environment).
#[test]
fn certificate_credentials_in_every_portal_form_sign_in() {
    let env = Env::new(Duration::from_secs(3600));
    let dir = env.dir.path();
    let der = env.cert.write_der(dir).unwrap();
    let pkcs1 = env.cert.write_key(dir, KeyForm::Pkcs1).unwrap();
    let encrypted = env
        .cert
        .write_key(dir, KeyForm::EncryptedPkcs8("key pass"))
        .unwrap();
    std::fs::write(env.path("key-password"), "key pass\n").unwrap();
    let signs_in_with_ps256 = |form: String| {
        let oauth = format!(
            "flow = \"client-credentials\"\nclient_id = \"{DAEMON}\"\ncertificate = {{ {form} }}"
        );
        let cfg = env.config(&oauth, false, "");
        let out = env
            .popline(&cfg)
            .env("POPLINE_TEST_PFX", "pfx pass")
            .args(["auth", "login", "beta"])
            .output()
            .unwrap();
        expect_ok(&out);
        let req = env.idp.last_token_request().unwrap();
        let assertion = req.field("client_assertion").unwrap();
        let header = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            assertion.split('.').next().unwrap(),
        )
        .unwrap();
        let header: Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(header["alg"], "PS256", "{form}");
    };
    signs_in_with_ps256(format!("cert = {der:?}, key = {pkcs1:?}"));
    signs_in_with_ps256(format!(
        "cert = \"CERT\", key = {encrypted:?}, password = {{ file = \"key-password\" }}"
    ));
    for legacy in [false, true] {
        let pfx = env.cert.write_pfx(dir, "pfx pass", legacy).unwrap();
        signs_in_with_ps256(format!(
            "pfx = {pfx:?}, password = {{ env = \"POPLINE_TEST_PFX\" }}"
        ));
    }
}

/// A certificate credential that cannot work is refused at `check`, saying
/// why, before any request: expired, a key of another certificate, a wrong
/// PFX password, an encrypted key without its password.
#[test]
fn unusable_certificates_are_refused_before_any_request() {
    let env = Env::new(Duration::from_secs(3600));
    let dir = env.dir.path();
    let expired =
        ClientCertificate::generate_valid("old", Some(((2020, 1, 1), (2021, 1, 1)))).unwrap();
    let old_dir = env.path("old");
    let (old_cert, old_key) = expired.write_pem(&old_dir).unwrap();
    let other = ClientCertificate::generate("other").unwrap();
    let (_, other_key) = other.write_pem(&env.path("other")).unwrap();
    let pfx = env.cert.write_pfx(dir, "Right-pfx-pass", false).unwrap();
    let encrypted = env
        .cert
        .write_key(dir, KeyForm::EncryptedPkcs8("key pass"))
        .unwrap();
    let cases = [
        (
            format!("cert = {old_cert:?}, key = {old_key:?}"),
            "expired on 2021-01-01",
        ),
        (
            format!("cert = \"CERT\", key = {other_key:?}"),
            "does not belong to the certificate",
        ),
        (
            format!("pfx = {pfx:?}, password = {{ env = \"POPLINE_TEST_PFX\" }}"),
            "MAC",
        ),
        (
            format!("cert = \"CERT\", key = {encrypted:?}"),
            "is encrypted: set the certificate's `password`",
        ),
    ];
    for (form, said) in cases {
        let oauth = format!(
            "flow = \"client-credentials\"\nclient_id = \"{DAEMON}\"\ncertificate = {{ {form} }}"
        );
        let cfg = env.config(&oauth, false, "");
        let out = env
            .popline(&cfg)
            .env("POPLINE_TEST_PFX", "Wr0ng-pfx-pass")
            .arg("check")
            .output()
            .unwrap();
        let t = text(&out);
        assert!(!out.status.success() && t.contains(said), "{form}: {t}");
        assert!(
            !t.contains("wrong") && !t.contains("key pass"),
            "no password in errors: {t}"
        );
    }
    assert_eq!(env.idp.token_requests("client_credentials"), 0);
}

#[test]
fn device_code_login_then_refresh_rotation_survives_restarts() {
    // Access tokens shorter than the refresh margin: every poll refreshes.
    let env = Env::new(Duration::from_secs(120));
    env.dovecot.seed(USER, &beta_replies()[..3]).unwrap();
    let oauth = format!("flow = \"device-code\"\nclient_id = \"{DESKTOP}\"");
    let cfg = env.config(&oauth, false, "");

    // Before login: needs-login, nothing fetched.
    let out = env.once(&cfg);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("needs-login")
            && text(&out).contains("popline auth login beta --device"),
        "{}",
        text(&out)
    );

    env.device_login(&cfg);
    let first_rt = env.cache()["refresh_token"].as_str().unwrap().to_string();

    expect_ok(&env.once(&cfg));
    assert_eq!(env.records(), 3);
    let second_rt = env.cache()["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(
        first_rt, second_rt,
        "the rotated refresh token is persisted"
    );
    assert!(env.idp.token_requests("refresh_token") >= 1);

    // A new process picks up the rotated token (the old one is now invalid).
    expect_ok(&env.once(&cfg));
    assert_ne!(env.cache()["refresh_token"].as_str().unwrap(), second_rt);

    // auth status shows claims, never the token.
    let status = expect_ok(&env.popline(&cfg).args(["auth", "status"]).output().unwrap());
    assert!(
        status.contains("device-code") && status.contains(USER),
        "{status}"
    );
    let at = env.cached_access();
    assert!(!status.contains(&at));
}

#[tokio::test]
async fn authorization_code_with_pkce_through_the_loopback_redirect() {
    let env = Env::new(Duration::from_secs(3600));
    env.dovecot.seed(USER, &beta_replies()[..1]).unwrap();
    let oauth = format!(
        "flow = \"authorization-code\"\nclient_id = \"{DESKTOP}\"\nlogin_hint = \"{USER}\""
    );
    let cfg = set_key(env.config(&oauth, false, ""), "redirect_uri", None);
    let (url, ok, said) = browser_login(&env, &cfg).await;
    assert!(ok, "{said}");
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("state="),
        "{url}"
    );
    // No port configured: popline listened on a free one and said so.
    let at = url
        .find("redirect_uri=http%3A%2F%2Flocalhost%3A")
        .map(|i| &url[i + "redirect_uri=http%3A%2F%2Flocalhost%3A".len()..])
        .unwrap_or_else(|| panic!("no loopback redirect with a port in {url}"));
    let port: u16 = at[..at.find('%').unwrap()].parse().unwrap();
    assert_ne!(port, 80, "{url}");
    assert_eq!(
        env.idp.last_token_request().unwrap().field("grant_type"),
        Some("authorization_code")
    );
    assert!(
        env.idp
            .last_token_request()
            .unwrap()
            .field("code_verifier")
            .is_some()
    );

    expect_ok(&env.once(&cfg));
    assert_eq!(env.records(), 1);
}

/// The browser sign-in of a mailbox whose notice server shares it asks for
/// POP and SMTP at once, in the authorization URL and again at the token
/// endpoint; the one grant then serves both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_browser_sign_in_asks_for_pop_and_smtp() {
    let env = Env::new(Duration::from_secs(3600));
    env.dovecot.seed(USER, &beta_replies()[..1]).unwrap();
    let oauth = format!(
        "flow = \"authorization-code\"\nclient_id = \"{DESKTOP}\"\nlogin_hint = \"{USER}\""
    );
    let cfg = env.config(&oauth, false, "");
    with_shared_notices(&cfg);
    let (url, ok, said) = browser_login(&env, &cfg).await;
    assert!(ok, "{said}");
    let both = [
        "https%3A%2F%2Foutlook.office.com%2FPOP.AccessAsUser.All",
        "https%3A%2F%2Foutlook.office.com%2FSMTP.Send",
        "offline_access",
    ];
    for scope in both {
        assert!(url.contains(scope), "{url}");
    }
    let exchanged = env.idp.last_token_request().unwrap();
    let scope = exchanged.field("scope").unwrap();
    assert!(
        scope.contains("POP.AccessAsUser.All") && scope.contains("SMTP.Send"),
        "{scope}"
    );
    let out = tokio::task::block_in_place(|| env.once(&cfg));
    assert!(expect_ok(&out).contains("beta: listed 1, fetched 1"));
    let config = popline_config::Config::load(&cfg).unwrap();
    let logins = popline_ingest::logins::Logins::new(&config).unwrap();
    let token = logins.notices["smtp"].access_token().await.unwrap();
    let claims = env.idp.tokens().active_claims(token.expose()).unwrap();
    assert!(
        claims["scp"].as_str().unwrap().contains("SMTP.Send"),
        "{claims}"
    );
}

/// The configuration with `key` of the oauth table set to `value` (a TOML
/// value), or removed (so its default applies).
fn set_key(cfg: PathBuf, key: &str, value: Option<&str>) -> PathBuf {
    let text = std::fs::read_to_string(&cfg).unwrap();
    let prefix = format!("{key} = ");
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    if let Some(v) = value {
        let at = lines
            .iter()
            .position(|l| l == "[mailboxes.beta.oauth]")
            .unwrap();
        lines.insert(at + 1, format!("{key} = {v}"));
    }
    std::fs::write(&cfg, lines.join("\n")).unwrap();
    cfg
}

/// `popline auth login beta` with a browser that signs in as soon as the URL
/// appears: the URL, whether the login succeeded, and what it said.
async fn browser_login(env: &Env, cfg: &Path) -> (String, bool, String) {
    let mut child = env
        .popline(cfg)
        .args(["auth", "login", "beta", "--no-browser"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("popline printed no URL").unwrap();
        if let Some(u) = line.trim().strip_prefix("http") {
            break format!("http{u}");
        }
    };
    let http = popline_net::http_client(Duration::from_secs(10), None).unwrap();
    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302, "{url}");
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let _ = http.get(&location).send().await;
    let out = child.wait_with_output().unwrap();
    (url, out.status.success(), text(&out))
}

/// `popline auth login beta --device`, approved as USER once the code shows:
/// whether it succeeded, and what it said.
fn device_login_result(env: &Env, cfg: &Path) -> (bool, String) {
    let before = env.idp.latest_user_code();
    let mut child = env
        .popline(cfg)
        .args(["auth", "login", "beta", "--device"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(5) && child.try_wait().unwrap().is_none() {
        if let Some(code) = env
            .idp
            .latest_user_code()
            .filter(|c| Some(c) != before.as_ref())
        {
            let _ = env.idp.approve_device(&code, USER);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.success(), text(&out))
}

/// The stand-in refuses what Microsoft refuses, and popline names the fix:
/// a single-tenant app through `organizations` (50194), a work-only app
/// through `consumers` (9002332), a device login to an app with public
/// client flows off (7000218), a secret sent for a code issued to a
/// "Mobile and desktop" redirect (700025). A multi-tenant app for personal
/// accounts signs in through `consumers`, and a Web redirect with a secret
/// works.
#[tokio::test]
async fn tenant_and_client_kind_are_refused_as_microsoft_does_with_the_fix() {
    let env = Env::new(Duration::from_secs(3600));
    let device = |client: &str| format!("flow = \"device-code\"\nclient_id = \"{client}\"");
    let cases: &[(&str, &str, &str)] = &[
        (DESKTOP, "\"organizations\"", "Directory (tenant) ID"),
        (DESKTOP, "\"consumers\"", "personal Microsoft accounts"),
        (
            WEBAPP,
            &format!("\"{}\"", env.idp.tenant()),
            "Allow public client flows",
        ),
    ];
    for (client, tenant, fix) in cases {
        let cfg = set_key(
            env.config(&device(client), false, ""),
            "tenant",
            Some(tenant),
        );
        let (ok, said) = device_login_result(&env, &cfg);
        assert!(!ok && said.contains(fix), "{client} {tenant}: {said}");
    }
    let cfg = set_key(
        env.config(&device(PERSONAL), false, ""),
        "tenant",
        Some("\"consumers\""),
    );
    let (ok, said) = device_login_result(&env, &cfg);
    assert!(ok, "{said}");

    let code = |client: &str| {
        format!(
            "flow = \"authorization-code\"\nclient_id = \"{client}\"\nclient_secret = {{ file = \"secret\" }}"
        )
    };
    let cfg = set_key(env.config(&code(HYBRID), false, ""), "redirect_uri", None);
    let (_, ok, said) = browser_login(&env, &cfg).await;
    assert!(!ok && said.contains("remove client_secret"), "{said}");
    let cfg = set_key(env.config(&code(WEBAPP), false, ""), "redirect_uri", None);
    let (_, ok, said) = browser_login(&env, &cfg).await;
    assert!(ok, "{said}");
}

/// Nobody signs in: the login gives up after `--wait`, saying how to go on.
#[test]
fn an_unanswered_browser_login_times_out_with_a_clear_message() {
    let env = Env::new(Duration::from_secs(3600));
    let oauth = format!("flow = \"authorization-code\"\nclient_id = \"{DESKTOP}\"");
    let cfg = set_key(env.config(&oauth, false, ""), "redirect_uri", None);
    let out = env
        .popline(&cfg)
        .args(["auth", "login", "beta", "--no-browser", "--wait", "1s"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("no sign-in reached http://localhost:"), "{t}");
    assert!(t.contains("within 1s") && t.contains("--device"), "{t}");
}

#[test]
fn an_expired_refresh_token_marks_only_that_mailbox_needs_login() {
    let env = Env::new(Duration::from_secs(60));
    env.dovecot.seed(USER, &beta_replies()[..2]).unwrap();
    env.dovecot.seed(OTHER, &beta_replies()[2..4]).unwrap();
    let oauth = format!("flow = \"device-code\"\nclient_id = \"{DESKTOP}\"");
    let cfg = env.config(&oauth, true, "");
    env.device_login(&cfg);

    env.idp.expire_refresh_tokens_for(USER);
    let out = env.once(&cfg);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(
        t.contains("beta: FAILED: needs-login: the refresh token expired"),
        "{t}"
    );
    assert!(t.contains("popline auth login beta"), "{t}");
    assert!(t.contains("other: listed 2, fetched 2"), "{t}");

    // The dead grant is remembered: the next poll fails the same way without
    // asking the identity platform, and status says why.
    let refreshes = env.idp.token_requests("refresh_token");
    let out = env.once(&cfg);
    assert!(
        text(&out).contains("beta: FAILED: needs-login: the refresh token expired"),
        "{}",
        text(&out)
    );
    assert_eq!(
        env.idp.token_requests("refresh_token"),
        refreshes,
        "no refresh was tried"
    );
    assert!(env.cache().get("refresh_token").is_none_or(Value::is_null));
    let status = expect_ok(&env.popline(&cfg).args(["auth", "status"]).output().unwrap());
    assert!(
        status.contains("needs-login: the refresh token expired"),
        "{status}"
    );

    // A successful login clears it.
    env.device_login(&cfg);
    let out = env.once(&cfg);
    assert!(
        text(&out).contains("beta: listed 2, fetched 2"),
        "{}",
        text(&out)
    );
    let status = expect_ok(&env.popline(&cfg).args(["auth", "status"]).output().unwrap());
    assert!(!status.contains("needs-login"), "{status}");
}

#[test]
fn a_revoked_access_token_is_renewed_and_secrets_never_reach_the_logs() {
    let env = Env::new(Duration::from_secs(3600));
    env.dovecot.seed(USER, &beta_replies()[..2]).unwrap();
    let cfg = env.config(CLIENT_SECRET, false, "");
    expect_ok(&env.once(&cfg));
    let revoked = env.cached_access();
    assert!(env.idp.revoke(&revoked));
    env.dovecot.seed(USER, &beta_replies()[2..3]).unwrap();

    let out = env
        .popline(&cfg)
        .env("POPLINE_LOG", "trace")
        .arg("once")
        .output()
        .unwrap();
    let t = expect_ok(&out);
    assert!(t.contains("renewing"), "{t}");
    assert_eq!(env.records(), 3);
    let fresh = env.cached_access();
    assert_ne!(fresh, revoked);
    for secret in [revoked.as_str(), fresh.as_str(), SECRET] {
        assert!(!t.contains(secret), "a secret reached the output");
    }
}

#[test]
fn token_endpoint_errors_are_actionable_and_429_is_retried() {
    let env = Env::new(Duration::from_secs(3600));
    env.dovecot.seed(USER, &beta_replies()[..1]).unwrap();
    let cfg = env.config(CLIENT_SECRET, false, "");
    env.idp.fail_next(1, Fault::aadsts(7000222));
    let t = text(&env.once(&cfg));
    assert!(
        t.contains("the client secret has expired") && t.contains("new secret"),
        "{t}"
    );
    assert!(!t.contains(SECRET));

    env.idp
        .fail_next(1, Fault::TooManyRequests { retry_after: 1 });
    let t = expect_ok(&env.once(&cfg));
    assert!(t.contains("beta: listed 1, fetched 1"), "{t}");
}

/// Two mailboxes of one account (same token cache), polled concurrently,
/// share one token: the endpoint is asked once.
#[test]
fn mailboxes_sharing_an_account_fetch_one_token() {
    let env = Env::new(Duration::from_secs(3600));
    env.dovecot.seed(USER, &beta_replies()[..1]).unwrap();
    env.dovecot.seed(OTHER, &beta_replies()[1..2]).unwrap();
    let cfg = env.config(
        &format!("{CLIENT_SECRET}\ntoken_cache = \"shared.json\""),
        false,
        "",
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    let beta = text.split("[mailboxes.beta]").nth(1).unwrap().to_string();
    let other = beta
        .replace(
            &format!("user = \"{USER}\""),
            &format!("user = \"{OTHER}\""),
        )
        .replace("[mailboxes.beta.oauth]", "[mailboxes.other.oauth]");
    std::fs::write(&cfg, format!("{text}\n[mailboxes.other]{other}")).unwrap();
    let out = expect_ok(&env.once(&cfg));
    assert!(
        out.contains("beta: listed 1, fetched 1") && out.contains("other: listed 1, fetched 1"),
        "{out}"
    );
    assert_eq!(env.idp.token_requests("client_credentials"), 1);
    assert_eq!(env.records(), 2);
}

/// Office 365's POP login, on the scripted server: XOAUTH2 in two steps
/// only (the one-line form closes the connection), and an app-only token
/// opens only the mailboxes the app was given (Add-MailboxPermission);
/// elsewhere `-ERR Authentication failure`, which popline explains step by
/// step for app-only access.
#[test]
fn app_only_login_as_office_365_judges_it_two_step_and_per_mailbox() {
    use crate::support::scripted::{Script, ScriptedServer, TokenCheck};
    use std::sync::Arc;
    let env = Env::new(Duration::from_secs(3600));
    let tokens = env.idp.tokens();
    let check = TokenCheck(Arc::new(move |user: &str, token: &str| {
        let Some(claims) = tokens.active_claims(token) else {
            return false;
        };
        let app_only = claims["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == "POP.AccessAsApp"));
        // Add-MailboxPermission was run for USER only.
        app_only && user == USER
    }));
    let server = ScriptedServer::spawn(
        Script {
            capa: vec!["SASL XOAUTH2".into(), "UIDL".into()],
            user: USER.into(),
            password: "unused".into(),
            xoauth2: Some(check),
            ..Script::default()
        },
        beta_replies()[..2].to_vec(),
    );
    server.add_user(OTHER, "unused", beta_replies()[2..3].to_vec());
    let mailbox = |name: &str, user: &str| {
        format!(
            r#"[mailboxes.{name}]
host = "127.0.0.1"
port = {port}
tls = "none"
allow_plaintext = true
user = "{user}"
dialogue = "{dialogue}"
mapper = {{ plugin = "{mapper}", config = {{ unmatched = "new" }} }}
sinks = ["out"]
[mailboxes.{name}.oauth]
flow = "client-credentials"
client_id = "{DAEMON}"
client_secret = {{ file = "secret" }}
authority = "{authority}"
tenant = "{tenant}"
"#,
            port = server.port,
            dialogue = support::plugin("pop3-standard").display(),
            mapper = support::plugin("feedback-default").display(),
            authority = env.idp.base_url(),
            tenant = env.idp.tenant(),
        )
    };
    let cfg = env.path("office365.toml");
    std::fs::write(
        &cfg,
        format!(
            "[state]\npath = \"state.db\"\n[sinks.out]\ntype = \"jsonl\"\npath = \"feedback.jsonl\"\n\n{}\n{}",
            mailbox("beta", USER),
            mailbox("other", OTHER)
        ),
    )
    .unwrap();
    let out = env.once(&cfg);
    let t = text(&out);
    assert!(t.contains("beta: listed 2, fetched 2"), "{t}");
    // Recorded before login, so under no user.
    let auths: Vec<String> = server
        .commands_of("")
        .into_iter()
        .filter(|c| c.starts_with("AUTH"))
        .collect();
    assert!(!auths.is_empty(), "{t}");
    assert!(
        auths.iter().all(|a| a == "AUTH XOAUTH2"),
        "two-step only: {auths:?}"
    );
    assert!(
        t.contains("other: FAILED") && t.contains("-ERR Authentication failure"),
        "{t}"
    );
    assert!(t.contains("Add-MailboxPermission -Identity other@"), "{t}");
    assert!(t.contains("Set-CASMailbox"), "{t}");
    assert_eq!(server.remaining_of(OTHER), 1);
}

/// `[notices.smtp]` sharing mailbox beta's sign-in, for tests that need no
/// Postfix (nothing is sent).
fn with_shared_notices(cfg: &Path) {
    let mut text = std::fs::read_to_string(cfg).unwrap();
    text.push_str(&format!(
        "\n[notices.smtp]\nhost = \"127.0.0.1\"\nfrom = \"{USER}\"\noauth = {{ mailbox = \"beta\" }}\n"
    ));
    std::fs::write(cfg, text).unwrap();
}

/// POP and SMTP tokens asked for at once, many times over, from one
/// account whose every use refreshes: the refreshes go one after the
/// other, each with the refresh token the one before stored, so none is
/// refused; each service gets a token for its own scope. (Two managers, or
/// two unserialised refreshes, would redeem one refresh token twice:
/// AADSTS70000, and the account would wait for a sign-in.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pop_and_smtp_refreshes_share_one_refresh_token() {
    let env = Env::new(Duration::from_secs(3600));
    let oauth =
        format!("flow = \"device-code\"\nclient_id = \"{DESKTOP}\"\nrefresh_margin = \"2h\"");
    let cfg = env.config(&oauth, false, "");
    with_shared_notices(&cfg);
    tokio::task::block_in_place(|| env.device_login(&cfg));
    let config = popline_config::Config::load(&cfg).unwrap();
    let logins = popline_ingest::logins::Logins::new(&config).unwrap();
    let pop = logins.mailboxes["beta"].clone();
    let smtp = logins.notices["smtp"].clone();
    assert!(std::sync::Arc::ptr_eq(&pop.manager, &smtp.manager));

    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let tokens = if i % 2 == 0 {
                pop.clone()
            } else {
                smtp.clone()
            };
            tokio::spawn(async move { (i % 2 == 1, tokens.access_token().await) })
        })
        .collect();
    for task in tasks {
        let (is_smtp, token) = task.await.unwrap();
        let token = token.unwrap_or_else(|e| panic!("smtp={is_smtp}: {e}"));
        let claims = env
            .idp
            .tokens()
            .active_claims(token.expose())
            .expect("an active token");
        let want = if is_smtp {
            "SMTP.Send"
        } else {
            "POP.AccessAsUser.All"
        };
        assert_eq!(claims["scp"], want);
    }
    let refreshes: Vec<String> = env
        .idp
        .requests()
        .into_iter()
        .filter(|r| r.field("grant_type") == Some("refresh_token"))
        .map(|r| r.field("refresh_token").unwrap().to_string())
        .collect();
    assert_eq!(refreshes.len(), 12);
    let mut unique = refreshes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 12, "a refresh token was redeemed twice");
    // And POP still logs in with what the last refresh left.
    env.dovecot.seed(USER, &beta_replies()[..1]).unwrap();
    let out = tokio::task::block_in_place(|| env.once(&cfg));
    assert!(expect_ok(&out).contains("beta: listed 1, fetched 1"));
}

/// A token cache written by an earlier popline (format 1: one access
/// token, no app) is read as this account's, used, and written again as
/// format 2 naming the app; it stays 0600.
#[test]
fn a_format_1_token_cache_is_read_and_rewritten() {
    let env = Env::new(Duration::from_secs(3600));
    env.dovecot.seed(USER, &beta_replies()[..2]).unwrap();
    let oauth = format!("flow = \"device-code\"\nclient_id = \"{DESKTOP}\"");
    let cfg = env.config(&oauth, false, "");
    env.device_login(&cfg);
    let v2 = env.cache();
    let access = v2["access"].as_object().unwrap().values().next().unwrap();
    let v1 = serde_json::json!({
        "access_token": access["token"],
        "access_expires_at": access["expires_at"],
        "refresh_token": v2["refresh_token"],
        "refresh_issued_at": v2["refresh_issued_at"],
        "scope": access["scope"],
        "flow": "device-code",
    });
    std::fs::write(env.path("tokens/beta.json"), v1.to_string()).unwrap();

    let out = expect_ok(&env.once(&cfg));
    assert!(out.contains("beta: listed 2, fetched 2"), "{out}");
    // The cached access token served: no refresh was needed.
    assert_eq!(env.idp.token_requests("refresh_token"), 0);
    let cache = env.cache();
    assert_eq!(cache["format"], 2, "{cache}");
    assert_eq!(cache["client_id"], DESKTOP);
    assert_eq!(cache["account"], USER);
    assert_eq!(cache["refresh_token"], v2["refresh_token"]);
    assert!(cache.get("access_token").is_none());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.path("tokens/beta.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // The refresh token it carried still works (rotation from format 2).
    let t = env.cached_access();
    assert!(env.idp.revoke(&t));
    env.dovecot.seed(USER, &beta_replies()[2..3]).unwrap();
    let out = expect_ok(&env.once(&cfg));
    assert!(out.contains("beta: listed 3, fetched 1"), "{out}");
    assert_eq!(env.idp.token_requests("refresh_token"), 1);
}

/// The cache names the app its tokens were issued to: after a change of
/// `client_id`, the old app's tokens are not used (nothing is sent to the
/// identity platform with them) and the mailbox asks for a sign-in,
/// saying why; signing in replaces them.
#[test]
fn another_client_id_does_not_reuse_the_cached_tokens() {
    let env = Env::new(Duration::from_secs(3600));
    env.dovecot.seed(USER, &beta_replies()[..1]).unwrap();
    let cfg = env.config(
        &format!("flow = \"device-code\"\nclient_id = \"{DESKTOP}\""),
        false,
        "",
    );
    env.device_login(&cfg);
    let old_rt = env.cache()["refresh_token"].as_str().unwrap().to_string();
    let old_at = env.cached_access();

    let cfg = env.config(
        &format!("flow = \"device-code\"\nclient_id = \"{HYBRID}\"\nclient_secret = {{ file = \"secret\" }}"),
        false,
        "",
    );
    let out = env.once(&cfg);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(
        t.contains("needs-login") && t.contains(&format!("issued to app {DESKTOP}")),
        "{t}"
    );
    assert!(t.contains("popline auth login beta --device"), "{t}");
    assert!(!t.contains(&old_rt) && !t.contains(&old_at));
    assert_eq!(env.idp.token_requests("refresh_token"), 0);
    assert_eq!(
        env.idp.introspections(),
        0,
        "the old app's token was not tried"
    );
    let status = expect_ok(&env.popline(&cfg).args(["auth", "status"]).output().unwrap());
    assert!(
        status.contains(&format!("issued to app {DESKTOP}")),
        "{status}"
    );
}
