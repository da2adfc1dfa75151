//! One submission with lettre: STARTTLS (required) or implicit TLS, the
//! certificate always verified (webpki roots plus `ca_file`), then
//! PLAIN/LOGIN with a password or XOAUTH2 with an access token from the
//! token manager; the message goes as built, and only a `250` counts.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use popline_core::Secret;
use popline_oauth::{AuthError, Tokens};

use crate::advice;
use crate::config::{NoticeServerConfig, SmtpTls};

/// How the submitter logs in.
pub enum Credential {
    /// PLAIN or LOGIN.
    Password(Secret),
    /// XOAUTH2 with a token for the SMTP scopes from the account's manager
    /// (shared with a mailbox when the server uses its sign-in).
    OAuth(Tokens),
}

/// Why a notice was not sent. Never carries a credential.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A `4xx` answer: try later.
    #[error("{0}")]
    Transient(String),
    /// The server could not be reached (connection, TLS, timeout): try later.
    #[error("{0}")]
    Unreachable(String),
    /// A `5xx` answer: sending it again as it is would fail again.
    #[error("{0}")]
    Permanent(String),
    /// No access token (the identity platform's answer, explained).
    #[error("getting an access token: {0}")]
    Token(String, bool),
}

impl SendError {
    /// Whether the server could not be reached at all.
    pub fn unreachable(&self) -> bool {
        matches!(self, SendError::Unreachable(_))
    }

    /// Whether a later attempt may succeed without anyone changing anything.
    pub fn retryable(&self) -> bool {
        match self {
            SendError::Transient(_) | SendError::Unreachable(_) => true,
            SendError::Permanent(_) => false,
            SendError::Token(_, retry) => *retry,
        }
    }
}

/// Whether the server refused the login: `535`, or (XOAUTH2) an error
/// challenge, which servers send instead of `535` when a token is refused
/// (Google's protocol, Dovecot) and which lettre reports as a client error
/// as it does not answer it.
fn refused_login(e: &lettre::transport::smtp::Error) -> bool {
    e.status().is_some_and(|c| c.to_string() == "535")
        || (e.is_client() && e.to_string().contains("does not expect a challenge"))
}

/// One `[notices.NAME]` server.
pub struct Submitter {
    name: String,
    cfg: NoticeServerConfig,
    tls: TlsParameters,
    credential: Credential,
}

impl Submitter {
    /// The submitter of `[notices.NAME]`; `ca_file` resolves against
    /// `base_dir`.
    pub fn new(
        name: &str,
        cfg: &NoticeServerConfig,
        base_dir: &Path,
        credential: Credential,
    ) -> anyhow::Result<Submitter> {
        let mut tls = TlsParameters::builder(cfg.host.clone())
            .certificate_store(CertificateStore::WebpkiRoots);
        if let Some(ca) = &cfg.ca_file {
            let path = base_dir.join(ca);
            let pem = std::fs::read(&path)
                .with_context(|| format!("[notices.{name}] ca_file {}", path.display()))?;
            tls = tls.add_root_certificate(
                Certificate::from_pem(&pem)
                    .with_context(|| format!("[notices.{name}] ca_file {}", path.display()))?,
            );
        }
        let tls = tls
            .build_rustls()
            .with_context(|| format!("[notices.{name}]: TLS settings"))?;
        Ok(Submitter {
            name: name.to_string(),
            cfg: cfg.clone(),
            tls,
            credential,
        })
    }

    /// The server's name in the config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its settings.
    pub fn config(&self) -> &NoticeServerConfig {
        &self.cfg
    }

    fn transport(&self, secret: &Secret) -> AsyncSmtpTransport<Tokio1Executor> {
        let tls = match self.cfg.tls {
            SmtpTls::Starttls => Tls::Required(self.tls.clone()),
            SmtpTls::Implicit => Tls::Wrapper(self.tls.clone()),
        };
        let mechanisms = match self.credential {
            Credential::Password(_) => vec![Mechanism::Plain, Mechanism::Login],
            Credential::OAuth(_) => vec![Mechanism::Xoauth2],
        };
        let login = self.cfg.login();
        let helo = login
            .rsplit_once('@')
            .map_or("localhost".to_string(), |(_, d)| d.to_string());
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.cfg.host.clone())
            .port(self.cfg.port())
            .tls(tls)
            .hello_name(ClientId::Domain(helo))
            .credentials(Credentials::new(login, secret.expose().to_string()))
            .authentication(mechanisms)
            .timeout(Some(Duration::from_secs(self.cfg.timeout_secs)))
            .build()
    }

    async fn token(&self, manager: &Tokens, renew: bool) -> Result<Secret, SendError> {
        let got = if renew {
            manager.renew_access_token().await
        } else {
            manager.access_token().await
        };
        got.map_err(|e| {
            let retry = matches!(e, AuthError::Unavailable(_));
            let text = e.to_string();
            let text = match advice::for_token(&text) {
                Some(a) => format!("{text}; {a}"),
                None => text,
            };
            SendError::Token(format!("[notices.{}]: {text}", self.name), retry)
        })
    }

    /// Submit `raw` from `sender` to `to`. `Ok` only after the server's
    /// `250`. With OAuth, a refused token is renewed and tried once more.
    pub async fn send(&self, sender: &str, to: &str, raw: &[u8]) -> Result<(), SendError> {
        let envelope =
            Envelope::new(
                Some(sender.parse().map_err(|e| {
                    SendError::Permanent(format!("envelope sender {sender:?}: {e}"))
                })?),
                vec![to.parse().map_err(|e| {
                    SendError::Permanent(format!("envelope recipient {to:?}: {e}"))
                })?],
            )
            .map_err(|e| SendError::Permanent(format!("envelope: {e}")))?;
        let envelope = &envelope;
        self.logged_in(|t| async move { t.send_raw(envelope, raw).await.map(|_| ()) })
            .await
    }

    /// Connect, secure the connection (STARTTLS or implicit TLS), log in and
    /// QUIT without sending anything: what `popline check --connect` does.
    /// Says how it logged in.
    pub async fn check(&self) -> Result<String, SendError> {
        let answered = self
            .logged_in(|t| async move { t.test_connection().await })
            .await?;
        if !answered {
            return Err(SendError::Unreachable(format!(
                "[notices.{}] {}:{}: logged in, but the server did not answer NOOP",
                self.name,
                self.cfg.host,
                self.cfg.port()
            )));
        }
        let (mechanism, credential) = match self.credential {
            Credential::Password(_) => ("PLAIN/LOGIN", "a password"),
            Credential::OAuth(_) => ("XOAUTH2", "an OAuth token"),
        };
        let tls = match self.cfg.tls {
            SmtpTls::Starttls => "STARTTLS",
            SmtpTls::Implicit => "implicit TLS",
        };
        Ok(format!(
            "{}:{} over {tls}: logged in as {} with {mechanism} ({credential}); nothing sent",
            self.cfg.host,
            self.cfg.port(),
            self.cfg.login()
        ))
    }

    /// Run `session` on a transport that logs in with the credential; with
    /// OAuth, a refused token is renewed and `session` run once more.
    async fn logged_in<T, F, Fut>(&self, session: F) -> Result<T, SendError>
    where
        F: Fn(AsyncSmtpTransport<Tokio1Executor>) -> Fut,
        Fut: std::future::Future<Output = Result<T, lettre::transport::smtp::Error>>,
    {
        let first = match &self.credential {
            Credential::Password(p) => p.clone(),
            Credential::OAuth(m) => self.token(m, false).await?,
        };
        let result = session(self.transport(&first)).await;
        let result = match (&self.credential, result) {
            (Credential::OAuth(m), Err(e)) if refused_login(&e) => {
                tracing::info!(server = %self.name, "access token refused; renewing it once");
                let renewed = self.token(m, true).await?;
                session(self.transport(&renewed)).await
            }
            (_, r) => r,
        };
        result.map_err(|e| self.explain(&e))
    }

    fn explain(&self, e: &lettre::transport::smtp::Error) -> SendError {
        let refused = refused_login(e);
        let mut text = e.to_string();
        if refused && e.status().is_none() {
            text.push_str(
                " (the server answered the XOAUTH2 login with an error: the token was refused)",
            );
        }
        let oauth = matches!(self.credential, Credential::OAuth(_));
        let login = self.cfg.login();
        let said = format!(
            "[notices.{}] {}:{}: {text}",
            self.name,
            self.cfg.host,
            self.cfg.port()
        );
        let advice = advice::for_smtp(&text, oauth, &login, &self.cfg.from)
            .or_else(|| refused.then(|| advice::login_refused(oauth, &login)));
        let said = match advice {
            Some(a) => format!("{said}; {a}"),
            None => said,
        };
        if e.is_permanent() || refused {
            SendError::Permanent(said)
        } else if e.is_transient() {
            SendError::Transient(said)
        } else {
            SendError::Unreachable(said)
        }
    }
}
