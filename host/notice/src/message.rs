//! A notice as RFC 5322 bytes, built with lettre: threaded under the
//! tester's message (`In-Reply-To`, `References`), marked
//! `Auto-Submitted: auto-replied` (RFC 3834) and
//! `X-Auto-Response-Suppress: All` (so Exchange sends no out-of-office
//! back), with a Message-ID derived from the source message's idempotency
//! key, so a resend after a crash carries the same one.

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use crate::config::MailboxNotices;
use crate::policy::{NOTICE_ID_PREFIX, Source};
use crate::reason::Reason;
use crate::template::{self, Vars};

/// At most this many ids of the tester's `References` are carried over
/// (the newest), so a long thread cannot grow the header without bound.
const MAX_REFERENCES: usize = 20;

/// A built notice.
#[derive(Debug, Clone)]
pub struct Built {
    /// Its Message-ID, without angle brackets.
    pub message_id: String,
    /// The envelope sender: the bare address of `from`.
    pub sender: String,
    /// The envelope recipient.
    pub to: String,
    /// The message.
    pub raw: Vec<u8>,
}

/// Why a notice could not be built (a bad address in the config or the
/// message).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{what} {value:?} is not a usable address")]
    Address { what: &'static str, value: String },
    #[error("building the notice: {0}")]
    Message(#[from] lettre::error::Error),
}

/// The notice's Message-ID (without brackets) for the message of pipeline
/// `pipeline` whose raw SHA-256 is `sha256`: the source's idempotency key
/// and the reason, at the sender's domain. The same message and reason
/// always give the same id.
pub fn message_id(pipeline: &str, sha256: &str, reason: Reason, from: &str) -> String {
    let key = popline_core::record::idempotency_key(pipeline, sha256, 0);
    let domain = crate::address::bare(from)
        .rsplit_once('@')
        .map_or("popline.invalid", |(_, d)| d);
    format!("{NOTICE_ID_PREFIX}{}.{key}@{domain}", reason.as_str())
}

/// `Auto-Submitted: auto-replied` (RFC 3834 §5).
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-replied".into())
    }
}

/// `X-Auto-Response-Suppress: All`: Exchange's own "no automatic replies".
#[derive(Clone)]
struct SuppressAutoResponses;

impl Header for SuppressAutoResponses {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Auto-Response-Suppress")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(SuppressAutoResponses)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "All".into())
    }
}

/// A message id usable inside `<...>`.
fn clean_id(id: &str) -> Option<&str> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    (!id.is_empty() && id.contains('@') && !id.contains(['<', '>', ' ', '\r', '\n', '\t']))
        .then_some(id)
}

/// Build the notice about `source` for `reason` to `to`, from `from`, with
/// the mailbox's templates; `pipeline` and `sha256` name the source message.
pub fn build(
    notices: &MailboxNotices,
    from: &str,
    to: &str,
    reason: Reason,
    source: &Source,
    pipeline: &str,
    sha256: &str,
) -> Result<Built, BuildError> {
    let from_box: Mailbox = from.parse().map_err(|_| BuildError::Address {
        what: "the notices' from",
        value: from.into(),
    })?;
    let to_box: Mailbox = to.parse().map_err(|_| BuildError::Address {
        what: "the tester's address",
        value: to.into(),
    })?;
    let vars = Vars {
        reason: Some(reason),
        feedback_id: source.feedback_id.clone(),
        subject: source.subject.clone(),
        excerpt: source.excerpt.clone(),
        mailbox: pipeline.to_string(),
    };
    let subject = template::render(
        notices
            .subject
            .as_deref()
            .unwrap_or(template::DEFAULT_SUBJECT),
        &vars,
        template::plain,
    );
    // One line: a template or subject cannot add headers.
    let subject = subject.replace(['\r', '\n'], " ");
    let body = template::render(
        notices.body.as_deref().unwrap_or(template::DEFAULT_BODY),
        &vars,
        template::plain,
    );
    let id = message_id(pipeline, sha256, reason, from);
    let mut builder = lettre::Message::builder()
        .from(from_box.clone())
        .to(to_box)
        .subject(subject)
        .message_id(Some(format!("<{id}>")))
        .header(AutoSubmitted)
        .header(SuppressAutoResponses);
    let parent = source.message_id.as_deref().and_then(clean_id);
    if let Some(parent) = parent {
        builder = builder.in_reply_to(format!("<{parent}>"));
    }
    let mut refs: Vec<&str> = source
        .references
        .iter()
        .filter_map(|r| clean_id(r))
        .collect();
    if refs.is_empty() {
        refs = source
            .in_reply_to
            .iter()
            .filter_map(|r| clean_id(r))
            .collect();
    }
    refs.extend(parent);
    let refs = &refs[refs.len().saturating_sub(MAX_REFERENCES)..];
    if !refs.is_empty() {
        let joined = refs
            .iter()
            .map(|r| format!("<{r}>"))
            .collect::<Vec<_>>()
            .join(" ");
        builder = builder.references(joined);
    }
    let message = match &notices.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            body,
            template::render(html, &vars, template::html),
        ))?,
        None => builder.header(ContentType::TEXT_PLAIN).body(body)?,
    };
    Ok(Built {
        message_id: id,
        sender: from_box.email.to_string(),
        to: to.to_string(),
        raw: message.formatted(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notices() -> MailboxNotices {
        toml::from_str(r#"via = "m365""#).unwrap()
    }

    fn source() -> Source {
        Source {
            from: vec!["dana@example.org".into()],
            subject: Some("Re: [FB-1042] Crash on start".into()),
            message_id: Some("reply-1@example.org".into()),
            in_reply_to: vec!["feedback-FB-1042@notify.example".into()],
            references: vec!["feedback-FB-1042@notify.example".into()],
            excerpt: "It still crashes.".into(),
            ..Source::default()
        }
    }

    fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
        raw.split("\r\n\r\n").next().unwrap().lines().find_map(|l| {
            let (n, v) = l.split_once(": ")?;
            n.eq_ignore_ascii_case(name).then_some(v)
        })
    }

    #[test]
    fn threaded_marked_and_stable() {
        let from = "Beta team <beta@contoso.example>";
        let b = build(
            &notices(),
            from,
            "dana@example.org",
            Reason::NoMatch,
            &source(),
            "beta",
            "ab12",
        )
        .unwrap();
        let raw = String::from_utf8(b.raw.clone()).unwrap();
        assert_eq!(header(&raw, "Auto-Submitted"), Some("auto-replied"));
        assert_eq!(header(&raw, "X-Auto-Response-Suppress"), Some("All"));
        assert_eq!(header(&raw, "In-Reply-To"), Some("<reply-1@example.org>"));
        assert_eq!(
            header(&raw, "References"),
            Some("<feedback-FB-1042@notify.example> <reply-1@example.org>")
        );
        assert_eq!(
            header(&raw, "Subject"),
            Some("Re: Re: [FB-1042] Crash on start")
        );
        assert_eq!(
            header(&raw, "Message-ID"),
            Some(format!("<{}>", b.message_id).as_str())
        );
        assert!(
            b.message_id.starts_with("popline-notice.no-match."),
            "{}",
            b.message_id
        );
        assert!(b.message_id.ends_with("@contoso.example"));
        assert_eq!(
            (b.sender.as_str(), b.to.as_str()),
            ("beta@contoso.example", "dana@example.org")
        );
        assert!(raw.contains("> It still crashes."), "{raw}");
        // The same message and reason: the same id; another reason or message: another.
        let again = build(
            &notices(),
            from,
            "dana@example.org",
            Reason::NoMatch,
            &source(),
            "beta",
            "ab12",
        )
        .unwrap();
        assert_eq!(again.message_id, b.message_id);
        let other = build(
            &notices(),
            from,
            "dana@example.org",
            Reason::DeadLetter,
            &source(),
            "beta",
            "ab12",
        )
        .unwrap();
        assert_ne!(other.message_id, b.message_id);
        assert_ne!(
            message_id("beta", "cd34", Reason::NoMatch, from),
            b.message_id
        );
    }

    #[test]
    fn templates_html_and_hostile_subjects() {
        let mut n = notices();
        n.subject = Some("[{mailbox}] {subject}".into());
        n.html = Some("<p>{reason}</p><blockquote>{subject}</blockquote>".into());
        let mut s = source();
        s.subject = Some("<b>hi</b>\r\nBcc: eve@example.org".into());
        s.message_id = Some("bad id".into());
        let b = build(
            &n,
            "beta@contoso.example",
            "dana@example.org",
            Reason::DeadLetter,
            &s,
            "beta",
            "ab",
        )
        .unwrap();
        let raw = String::from_utf8(b.raw).unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap();
        assert!(!head.lines().any(|l| l.starts_with("Bcc:")), "{raw}");
        assert!(header(&raw, "In-Reply-To").is_none());
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("&lt;b&gt;hi&lt;/b&gt;"), "{raw}");
    }
}
