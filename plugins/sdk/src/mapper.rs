//! Mapper plugins: one parsed email in, feedback records or a skip out.
//!
//! The record types are the WIT's own (`popline:plugin/mail`), re-exported
//! with builders and helpers. The host creates a fresh instance per message,
//! so a mapper needs no state between calls.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use crate::bindings::mapper::exports::popline::plugin::mapper::Guest;
pub use crate::bindings::mapper::popline::plugin::mail::{
    Address, Attachment, Context, Email, Feedback, FeedbackKind, Header, MatchInfo, Outcome,
};

/// A feedback mapper. Implement it on a unit struct and export it with
/// [`export_mapper!`](crate::export_mapper).
pub trait Mapper {
    /// Turn one email into [`Outcome::Feedback`] (one or more records) or
    /// [`Outcome::Skip`] (not feedback, with a reason). An `Err` dead-letters
    /// the message: the host keeps the raw `.eml` and this message for an
    /// operator, so say what was wrong with the input.
    fn map(email: &Email, ctx: &Context, config: &Config) -> Result<Outcome, String>;
}

/// The glue between [`Mapper`] and the generated bindings; used by
/// [`export_mapper!`](crate::export_mapper).
#[doc(hidden)]
pub struct Export<T>(PhantomData<T>);

impl<T: Mapper> Guest for Export<T> {
    fn handle(
        message: Email,
        ctx: Context,
        config: Vec<(String, String)>,
    ) -> Result<Outcome, String> {
        crate::init_logger();
        T::map(&message, &ctx, &Config::new(config))
    }
}

/// The mapper's configuration: the `config = { ... }` table of the pipeline,
/// or `popline map --set KEY=VALUE`. Keys and values are strings; the getters
/// parse and produce errors that name the key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pairs: Vec<(String, String)>,
}

impl Config {
    /// Wrap key/value pairs (later pairs override earlier ones).
    pub fn new(pairs: Vec<(String, String)>) -> Config {
        Config { pairs }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, or `default` when unset.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    /// The value of `key`, or an error saying it is required.
    pub fn require(&self, key: &str) -> Result<&str, String> {
        self.get(key).ok_or_else(|| {
            format!("config key {key:?} is required; set it in the pipeline's mapper config or with --set {key}=VALUE")
        })
    }

    /// `key` parsed as `T`, `None` when unset, an error naming the key and
    /// value when it does not parse.
    pub fn parse<T>(&self, key: &str) -> Result<Option<T>, String>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.get(key)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| format!("config key {key:?}: cannot parse {v:?}: {e}"))
            })
            .transpose()
    }

    /// `key` as a boolean (`true/false`, `yes/no`, `on/off`, `1/0`), or
    /// `default` when unset.
    pub fn flag(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "yes" | "on" | "1") => Ok(true),
            Some("false" | "no" | "off" | "0") => Ok(false),
            Some(other) => Err(format!(
                "config key {key:?}: expected true or false, found {other:?}"
            )),
        }
    }

    /// Every pair, in the order given.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

impl Default for Email {
    /// An email with nothing in it: no addresses, headers, bodies or
    /// attachments, size 0. Fill in what a test needs with
    /// `Email { subject: ..., ..Email::default() }`.
    fn default() -> Email {
        Email {
            from: Vec::new(),
            to: Vec::new(),
            cc: Vec::new(),
            reply_to: Vec::new(),
            delivered_to: Vec::new(),
            subject: None,
            message_id: None,
            in_reply_to: Vec::new(),
            references: Vec::new(),
            date: None,
            headers: Vec::new(),
            text_body: None,
            html_body: None,
            attachments: Vec::new(),
            size: 0,
            warnings: Vec::new(),
        }
    }
}

impl Email {
    /// A minimal email from `from` with `subject` and a text body, everything
    /// else empty: for native unit tests of a mapper (`cargo test`).
    pub fn new(from: Address, subject: impl Into<String>, text_body: impl Into<String>) -> Email {
        let text_body: String = text_body.into();
        Email {
            from: vec![from],
            subject: Some(subject.into()),
            size: text_body.len() as u64,
            text_body: Some(text_body),
            ..Email::default()
        }
    }

    /// The first `From` address (the author of a reply), if any.
    pub fn sender(&self) -> Option<&Address> {
        self.from.first()
    }

    /// The first header named `name` (ASCII case-insensitive, whitespace
    /// around the written name ignored), raw value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers_named(name).next()
    }

    /// Every value of header `name` (ASCII case-insensitive, whitespace
    /// around the written name ignored), in order.
    pub fn headers_named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |h| h.name.trim().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The text body, or `""` when the message has none (HTML-only mail:
    /// see [`Email::html_body`]).
    pub fn text(&self) -> &str {
        self.text_body.as_deref().unwrap_or("")
    }

    /// Read the decoded bytes of attachment `index` from the host (the bytes
    /// stay in the host until asked for). Counts against the memory limit.
    pub fn read_attachment(&self, index: u32) -> Result<Vec<u8>, String> {
        let announced = self
            .attachments
            .iter()
            .find(|a| a.index == index)
            .map(|a| a.size)
            .ok_or_else(|| {
                format!(
                    "no attachment {index}; the message has {}",
                    self.attachments.len()
                )
            })?;
        let mut bytes = Vec::with_capacity(announced.min(1 << 20) as usize);
        loop {
            let chunk = crate::bindings::mapper::popline::plugin::attachments::read(
                index,
                bytes.len() as u64,
                64 * 1024,
            )?;
            if chunk.is_empty() {
                return Ok(bytes);
            }
            bytes.extend_from_slice(&chunk);
        }
    }
}

impl Default for Context {
    /// Everything empty, the receive time too (so nothing can be judged
    /// against it).
    fn default() -> Context {
        Context {
            pipeline: String::new(),
            mailbox: String::new(),
            uid: String::new(),
            received_at: String::new(),
        }
    }
}

impl Context {
    /// A context for pipeline `pipeline` with no mailbox or uid (what
    /// `popline map` passes): for native unit tests.
    pub fn new(pipeline: impl Into<String>) -> Context {
        Context {
            pipeline: pipeline.into(),
            received_at: "2026-01-01T00:00:00Z".into(),
            ..Context::default()
        }
    }
}

impl Header {
    /// A header as written: `name` and its raw `value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Header {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl Address {
    /// An address without a display name.
    pub fn new(address: impl Into<String>) -> Address {
        Address {
            name: None,
            address: address.into(),
        }
    }

    /// An address with a display name.
    pub fn named(name: impl Into<String>, address: impl Into<String>) -> Address {
        Address {
            name: Some(name.into()),
            address: address.into(),
        }
    }
}

impl Feedback {
    /// New feedback (kind [`FeedbackKind::New`], no target) by `author` with
    /// the clean `body_text`. Chain the setters for the rest.
    pub fn new(author: Address, body_text: impl Into<String>) -> Feedback {
        Feedback {
            target: None,
            kind: FeedbackKind::New,
            author,
            subject: None,
            body_text: body_text.into(),
            body_html: None,
            elided_text: None,
            attachments: Vec::new(),
            received_at: None,
            source_message_id: None,
            match_: None,
            fields: Vec::new(),
        }
    }

    /// Take the subject and Message-ID from the email it came from.
    pub fn from_email(mut self, email: &Email) -> Feedback {
        self.subject = email.subject.clone();
        self.source_message_id = email.message_id.clone();
        self
    }

    /// A reply to feedback item `target`, matched by `method` (e.g.
    /// `subject`, `in-reply-to`) on `value` (what matched).
    pub fn reply_to(
        mut self,
        target: impl Into<String>,
        method: impl Into<String>,
        value: impl Into<String>,
    ) -> Feedback {
        self.kind = FeedbackKind::Reply;
        self.target = Some(target.into());
        self.match_ = Some(MatchInfo {
            method: method.into(),
            value: value.into(),
        });
        self
    }

    /// Set the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Feedback {
        self.subject = Some(subject.into());
        self
    }

    /// Set the HTML body.
    pub fn html(mut self, html: impl Into<String>) -> Feedback {
        self.body_html = Some(html.into());
        self
    }

    /// Keep the text the mapper removed (quotes, signature).
    pub fn elided(mut self, text: impl Into<String>) -> Feedback {
        self.elided_text = Some(text.into());
        self
    }

    /// Attach the email's attachment `index`.
    pub fn attachment(mut self, index: u32) -> Feedback {
        self.attachments.push(index);
        self
    }

    /// Add a free-form key/value field.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<String>) -> Feedback {
        self.fields.push((key.into(), value.into()));
        self
    }
}

impl Outcome {
    /// Not feedback, for `reason` (logged by the host and kept in the state).
    pub fn skip(reason: impl Into<String>) -> Outcome {
        Outcome::Skip(reason.into())
    }
}

impl From<Feedback> for Outcome {
    fn from(f: Feedback) -> Outcome {
        Outcome::Feedback(vec![f])
    }
}

impl From<Vec<Feedback>> for Outcome {
    fn from(f: Vec<Feedback>) -> Outcome {
        Outcome::Feedback(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Config {
        Config::new(
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn config_getters_name_the_key() {
        let c = pairs(&[("n", "3"), ("n", "4"), ("on", "Yes"), ("bad", "x")]);
        assert_eq!(c.get("n"), Some("4"), "later pairs win");
        assert_eq!(c.get_or("missing", "d"), "d");
        assert_eq!(c.parse::<u32>("n"), Ok(Some(4)));
        assert_eq!(c.parse::<u32>("missing"), Ok(None));
        let err = c.parse::<u32>("bad").unwrap_err();
        assert!(err.contains("\"bad\"") && err.contains("\"x\""), "{err}");
        assert_eq!(c.flag("on", false), Ok(true));
        assert_eq!(c.flag("missing", true), Ok(true));
        assert!(c.flag("bad", true).unwrap_err().contains("true or false"));
        let err = c.require("token-keys").unwrap_err();
        assert!(err.contains("--set token-keys=VALUE"), "{err}");
    }

    #[test]
    fn feedback_builder() {
        let email = Email {
            from: vec![Address::named("Ann", "ann@example.com")],
            subject: Some("Re: [FB-7] crash".into()),
            message_id: Some("m1@example.com".into()),
            headers: vec![Header::new("X-Mailer ", "mutt")],
            size: 10,
            ..Email::default()
        };
        assert_eq!(email.header("x-mailer"), Some("mutt"));
        assert_eq!(email.text(), "");
        assert!(
            email
                .read_attachment(0)
                .unwrap_err()
                .contains("no attachment 0")
        );
        let f = Feedback::new(email.sender().unwrap().clone(), "hi")
            .from_email(&email)
            .reply_to("FB-7", "subject", "[FB-7]")
            .field("k", "v");
        assert_eq!(f.kind, FeedbackKind::Reply);
        assert_eq!(f.target.as_deref(), Some("FB-7"));
        assert_eq!(
            f.match_,
            Some(MatchInfo {
                method: "subject".into(),
                value: "[FB-7]".into()
            })
        );
        assert_eq!(f.subject.as_deref(), Some("Re: [FB-7] crash"));
        assert_eq!(f.source_message_id.as_deref(), Some("m1@example.com"));
        assert_eq!(f.fields, vec![("k".to_string(), "v".to_string())]);
        match Outcome::from(f) {
            Outcome::Feedback(v) => assert_eq!(v.len(), 1),
            Outcome::Skip(_) => panic!("expected feedback"),
        }
    }
}
