//! `[notices.NAME]`: an SMTP submission server and its credential; and a
//! mailbox's `notices = { via, on, acknowledge }` with its templates.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use popline_core::SecretRef;
use popline_oauth::OAuthConfig;

pub use crate::reason::Reason;

/// An SMTP submission server notices are sent through (`[notices.NAME]`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeServerConfig {
    /// Submission host, e.g. `smtp.office365.com` (Microsoft 365) or
    /// `smtp-mail.outlook.com` (Outlook.com accounts).
    pub host: String,
    /// Port (default: 587 for `starttls`, 465 for `implicit`).
    pub port: Option<u16>,
    /// `starttls` (default; Microsoft 365 on 587) or `implicit` (465).
    /// The certificate is always verified.
    #[serde(default)]
    pub tls: SmtpTls,
    /// Extra CA certificate (PEM) to trust for this server, for private CAs.
    pub ca_file: Option<PathBuf>,
    /// The notices' sender, `beta@contoso.example` or
    /// `Beta team <beta@contoso.example>`; the login must be allowed to
    /// send as it (else Exchange answers `5.7.60` SendAsDenied).
    pub from: String,
    /// Login name (default: the address in `from`); the XOAUTH2 `user=`.
    pub user: Option<String>,
    /// The password: `{ env = "VAR" }` or `{ file = "path" }`.
    pub password: Option<SecretRef>,
    /// OAuth 2.0 instead of a password: `{ mailbox = "NAME" }` to submit
    /// with the sign-in of mailbox NAME, or a table like a mailbox's
    /// `oauth`. Delegated flows request `https://outlook.office.com/SMTP.Send`
    /// (plus `offline_access`) unless `scopes` says otherwise; client
    /// credentials request `https://outlook.office365.com/.default`, which
    /// carries `SMTP.SendAsApp` once it is admin-consented. A table naming
    /// the same app (`client_id`), tenant, authority and flow as a
    /// mailbox's, and the same account (`login_hint`, else `user` or the
    /// address in `from`, against the mailbox's `login_hint`, else `user`;
    /// any account with client credentials), shares that mailbox's sign-in
    /// (the first such mailbox by name) and token cache unless it sets its
    /// own `token_cache`: one sign-in,
    /// one refresh token, for POP and SMTP. Otherwise its tokens are cached
    /// in `tokens/notices-NAME.json` unless `token_cache` says.
    pub oauth: Option<NoticeOAuth>,
    /// Notices to one address in 24 hours at most (default 3); more are
    /// recorded as suppressed, never sent. Ends any loop with another
    /// auto-responder that ignores `Auto-Submitted`.
    #[serde(default = "default_per_sender")]
    pub max_per_sender_per_day: u32,
    /// Sending attempts before a notice fails for good (default 8); it then
    /// shows in `popline status`, `popline notices list` and the metrics,
    /// and `popline notices retry` queues it again.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Wait before the first retry after a `4xx` answer or a connection
    /// failure; doubled for each further attempt (default 1m).
    #[serde(
        default = "default_retry",
        deserialize_with = "popline_core::duration::deserialize"
    )]
    #[schemars(with = "String", extend("default" = "1m"))]
    pub retry_initial: Duration,
    /// The longest wait between two attempts (default 1h).
    #[serde(
        default = "default_retry_max",
        deserialize_with = "popline_core::duration::deserialize"
    )]
    #[schemars(with = "String", extend("default" = "1h"))]
    pub retry_max: Duration,
    /// Connect and command timeout, in seconds (default 30).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

/// A notice server's OAuth: a mailbox's sign-in, or its own settings.
#[derive(Debug, Clone, schemars::JsonSchema)]
#[serde(untagged)]
pub enum NoticeOAuth {
    /// `{ mailbox = "NAME" }`.
    Mailbox(SharedLogin),
    /// A table like a mailbox's `oauth`.
    Own(Box<OAuthConfig>),
}

/// `oauth = { mailbox = "NAME" }`: the notices are submitted with mailbox
/// NAME's sign-in (its app, tenant, account and token cache), which then
/// asks for `SMTP.Send` as well as POP: one sign-in, one refresh token.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedLogin {
    /// The `[mailboxes.NAME]` whose OAuth sign-in serves SMTP submission too.
    pub mailbox: String,
}

impl<'de> Deserialize<'de> for NoticeOAuth {
    /// A table with `mailbox` is a shared login (and may hold nothing
    /// else); any other is the notice server's own settings, with the same
    /// errors as a mailbox's `oauth` table.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let value = toml::Value::deserialize(d)?;
        let shared = value.as_table().is_some_and(|t| t.contains_key("mailbox"));
        let parsed = if shared {
            SharedLogin::deserialize(value).map(NoticeOAuth::Mailbox)
        } else {
            OAuthConfig::deserialize(value).map(|o| NoticeOAuth::Own(Box::new(o)))
        };
        parsed.map_err(|e| D::Error::custom(e.message().trim()))
    }
}

/// How the connection to the submission server is secured.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS before anything else is
    /// sent; refused if the server does not offer it.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Implicit,
}

/// A mailbox's notices: `notices = { via = "NAME", on = [...] }`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxNotices {
    /// The `[notices.NAME]` server to send through.
    pub via: String,
    /// Which outcomes get a notice: any of `no-match`, `oversize`,
    /// `dead-letter`, `expired-token` (default: all four).
    #[serde(default = "default_on")]
    pub on: Vec<Reason>,
    /// Also thank the sender when the reply was added to a feedback item
    /// (default false).
    #[serde(default)]
    pub acknowledge: bool,
    /// Subject template (default `Re: {subject}`). Variables: `{reason}`
    /// (a sentence saying what happened), `{reason_code}` (`no-match`...),
    /// `{feedback_id}`, `{subject}` (the reply's), `{excerpt}` (its first
    /// lines), `{mailbox}`.
    pub subject: Option<String>,
    /// Plain-text body template, same variables (default: a short note
    /// with the reason and the excerpt quoted).
    pub body: Option<String>,
    /// Optional HTML body template, same variables (values are
    /// HTML-escaped); sent as an alternative to the plain text.
    pub html: Option<String>,
}

fn default_per_sender() -> u32 {
    3
}
fn default_attempts() -> u32 {
    8
}
fn default_retry() -> Duration {
    Duration::from_secs(60)
}
fn default_retry_max() -> Duration {
    Duration::from_secs(3600)
}
fn default_timeout() -> u64 {
    30
}
fn default_on() -> Vec<Reason> {
    vec![
        Reason::NoMatch,
        Reason::Oversize,
        Reason::DeadLetter,
        Reason::ExpiredToken,
    ]
}

impl NoticeServerConfig {
    /// The configured port, or the usual one for the TLS mode.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Implicit => 465,
        })
    }

    /// The login name: `user`, else the address in `from`.
    pub fn login(&self) -> String {
        self.user
            .clone()
            .unwrap_or_else(|| crate::address::bare(&self.from).to_string())
    }

    /// Checks that need no network; `at` names the table in errors.
    pub fn validate(&self, at: &str) -> Result<(), String> {
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(format!(
                "{at}: from = {:?} is not an address; write \"beta@contoso.example\" or \"Beta team <beta@contoso.example>\"",
                self.from
            ));
        }
        match (&self.password, &self.oauth) {
            (None, None) => {
                return Err(format!(
                    "{at}: no credential; add password = {{ env = \"VAR\" }} (or {{ file = \"path\" }}), or an oauth table"
                ));
            }
            (Some(_), Some(_)) => {
                return Err(format!("{at}: both password and oauth are set; keep one"));
            }
            // The POP host check of a mailbox's oauth does not apply here;
            // a shared login is checked against the mailboxes by the config.
            (None, Some(NoticeOAuth::Own(oauth))) => oauth.validate(&format!("{at}.oauth"), "")?,
            (None, Some(NoticeOAuth::Mailbox(_))) => {}
            (Some(_), None) => {}
        }
        if self.max_attempts == 0 {
            return Err(format!("{at}: max_attempts must be at least 1"));
        }
        Ok(())
    }
}

impl MailboxNotices {
    /// Checks against the defined servers; `at` names the mailbox table.
    pub fn validate(&self, at: &str, servers: &[&str]) -> Result<(), String> {
        if !servers.contains(&self.via.as_str()) {
            return Err(format!(
                "{at}: notices.via = {:?} is not defined; defined [notices.NAME] tables: [{}]",
                self.via,
                servers.join(", ")
            ));
        }
        if self.on.contains(&Reason::Acknowledged) {
            return Err(format!(
                "{at}: notices.on lists \"acknowledged\"; set notices.acknowledge = true instead"
            ));
        }
        for (what, t) in [
            ("subject", &self.subject),
            ("body", &self.body),
            ("html", &self.html),
        ] {
            if let Some(t) = t {
                crate::template::check(t).map_err(|e| format!("{at}: notices.{what}: {e}"))?;
            }
        }
        Ok(())
    }

    /// Whether an outcome of this kind gets a notice.
    pub fn wants(&self, reason: Reason) -> bool {
        match reason {
            Reason::Acknowledged => self.acknowledge,
            r => self.on.contains(&r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_is_a_mailbox_login_or_a_table() {
        let server = |oauth: &str| {
            toml::from_str::<NoticeServerConfig>(&format!(
                "host = \"smtp.office365.com\"\nfrom = \"beta@contoso.example\"\noauth = {oauth}\n"
            ))
        };
        let s = server(r#"{ mailbox = "beta" }"#).unwrap();
        assert!(matches!(&s.oauth, Some(NoticeOAuth::Mailbox(l)) if l.mailbox == "beta"));
        s.validate("[notices.m365]").unwrap();
        let s = server(r#"{ flow = "device-code", client_id = "c", tenant = "t" }"#).unwrap();
        assert!(matches!(&s.oauth, Some(NoticeOAuth::Own(o)) if o.client_id == "c"));
        let err = server(r#"{ mailbox = "beta", client_id = "c" }"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `client_id`"), "{err}");
        let err = server(r#"{ flow = "device-code", client_idd = "c" }"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `client_idd`"), "{err}");
    }

    #[test]
    fn defaults_and_checks() {
        let s: NoticeServerConfig = toml::from_str(
            r#"host = "smtp.office365.com"
from = "Beta team <beta@contoso.example>"
password = { env = "SMTP_PW" }"#,
        )
        .unwrap();
        assert_eq!(
            (s.tls, s.port(), s.max_per_sender_per_day),
            (SmtpTls::Starttls, 587, 3)
        );
        assert_eq!(s.login(), "beta@contoso.example");
        s.validate("[notices.m365]").unwrap();
        let mut bad = s.clone();
        bad.from = "not an address".into();
        assert!(
            bad.validate("[notices.m365]")
                .unwrap_err()
                .contains("is not an address")
        );
        bad = s.clone();
        bad.password = None;
        assert!(
            bad.validate("[notices.m365]")
                .unwrap_err()
                .contains("no credential")
        );

        let m: MailboxNotices = toml::from_str(r#"via = "m365""#).unwrap();
        assert!(m.wants(Reason::NoMatch) && m.wants(Reason::ExpiredToken));
        assert!(!m.wants(Reason::Acknowledged));
        m.validate("[mailboxes.beta]", &["m365"]).unwrap();
        let err = m.validate("[mailboxes.beta]", &["other"]).unwrap_err();
        assert!(err.contains("not defined"), "{err}");
        let m: MailboxNotices = toml::from_str(
            r#"via = "m365"
on = ["dead-letter"]
acknowledge = true
subject = "About {nope}""#,
        )
        .unwrap();
        assert!(m.wants(Reason::Acknowledged) && !m.wants(Reason::NoMatch));
        let err = m.validate("[mailboxes.beta]", &["m365"]).unwrap_err();
        assert!(err.contains("{nope}"), "{err}");
    }
}
