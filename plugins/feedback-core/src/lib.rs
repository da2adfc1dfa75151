//! Turning a beta tester's email reply into feedback records.
//!
//! This crate is the logic behind the `feedback-default` plugin. It works on
//! the SDK's record types ([`Email`], [`Context`], [`Outcome`]... from
//! `popline_plugin`, re-exported here), so the plugin passes them through
//! unconverted; those types build and test natively like the rest.
//!
//! [`map_email`] runs these steps:
//! 1. mail that is not a human reply is skipped with a reason: loops from
//!    the mailbox itself, bounces, automatic replies, bulk and list mail;
//! 2. the author is the first `From` (else `Reply-To`) address; a message
//!    with neither (malformed or truncated mail) is skipped as `no-sender`,
//!    since there is nobody to attribute the feedback to or to answer;
//! 3. the target item is found by plus-address (optionally a signed token,
//!    see [`token`]), notification Message-ID in `In-Reply-To`/`References`,
//!    subject token or body marker, in the configured order; a message that
//!    matches nothing is skipped with what each signal said, or kept as new
//!    feedback;
//! 4. the body (text, else HTML converted to text) is split into the
//!    tester's words and the elided quotes, reply headers and signatures.
//!
//! Every skip reason starts with a [`SkipCategory`] name and a colon.

use config::Unmatched;

mod automated;
mod config;
mod html;
mod matching;
mod pattern;
mod quote;
mod types;

pub use automated::is_out_of_office_subject;
pub use config::{Config, ConfigError, KEYS as CONFIG_KEYS};
pub use html::html_to_text;
pub use popline_plugin::{
    Address, Attachment, Context, Email, Feedback, FeedbackKind, Header, MatchInfo, Outcome,
};
/// Signed reply tokens (the `popline-reply-token` crate).
pub use popline_reply_token as token;
pub use popline_reply_token::{format_rfc3339, parse_rfc3339};
pub use quote::{Reply, split_forward, split_html_forward, split_html_reply, split_reply};
pub use types::{MatchMethod, SkipCategory};

/// Maps one email to feedback or a skip.
///
/// Every message maps to feedback or to a skip with a reason, malformed mail
/// included (no author: `no-sender: …`). The `Result` is the
/// [`Mapper`](popline_plugin::Mapper) contract's: an error would make the
/// host dead-letter the message, and `map_email` returns none.
///
/// ```
/// use feedback_core::{map_email, Address, Config, Context, Email, Outcome};
///
/// let email = Email {
///     from: vec![Address::named("Dana", "dana@example.org")],
///     to: vec![Address::new("replies+FB-1042@beta.example.com")],
///     text_body: Some("Works now.\n\n> Does it work?\n".into()),
///     ..Email::default()
/// };
/// let Outcome::Feedback(items) = map_email(&email, &Context::default(), &Config::default())?
/// else {
///     panic!("expected feedback");
/// };
/// assert_eq!(items[0].target.as_deref(), Some("FB-1042"));
/// assert_eq!(items[0].body_text, "Works now.");
/// # Ok::<(), String>(())
/// ```
pub fn map_email(email: &Email, ctx: &Context, config: &Config) -> Result<Outcome, String> {
    if let Some(reason) = automated::machine_sent(email, ctx) {
        return Ok(Outcome::Skip(reason));
    }
    let Some(author) = email
        .from
        .iter()
        .chain(&email.reply_to)
        .find(|a| !a.address.trim().is_empty())
        .cloned()
    else {
        return Ok(Outcome::Skip(
            SkipCategory::NoSender.reason(no_sender(email)),
        ));
    };

    let (kind, target, matched) = match matching::find_match(email, ctx, config) {
        Ok(found) => (
            FeedbackKind::Reply,
            Some(found.target),
            Some(found.method.info(found.value)),
        ),
        Err(_) if config.unmatched == Unmatched::New => (FeedbackKind::New, None, None),
        Err(misses) => {
            return Ok(Outcome::Skip(
                SkipCategory::NoMatch.reason(misses.join("; ")),
            ));
        }
    };

    // A subject that says it is a forward (`Fwd:`, `WG:`...) makes a
    // separator or header block with nothing of the tester's own above it
    // the start of the forwarded text, which is then the substance.
    let forward = email
        .subject
        .as_deref()
        .is_some_and(quote::is_forward_subject);
    let text = email.text_body.as_deref().unwrap_or_default();
    let reply = match email.html_body.as_deref() {
        Some(html) if text.trim().is_empty() => quote::split_html(html, forward),
        _ => quote::split_text(text, forward),
    };
    // The record carries the host's decoding problems, so a garbled body
    // is flagged where people read it.
    let mut fields = Vec::new();
    if !email.warnings.is_empty() {
        fields.push(("decode-warnings".to_owned(), email.warnings.join("; ")));
    }
    // A forward with no text of the tester's own: the body is the forwarded
    // message, and the record says so.
    if reply.forwarded {
        fields.push(("forwarded".to_owned(), "true".to_owned()));
    }

    Ok(Outcome::Feedback(vec![Feedback {
        target,
        kind,
        author,
        subject: email.subject.clone(),
        body_text: reply.body,
        body_html: email.html_body.clone(),
        elided_text: reply.elided,
        attachments: email.attachments.iter().map(|a| a.index).collect(),
        received_at: Some(ctx.received_at.clone()).filter(|t| !t.is_empty()),
        source_message_id: email.message_id.clone(),
        match_: matched,
        fields,
    }]))
}

/// What a skip for a message with no author says: the raw `From` field when
/// there is one (a name without an address, `<>`...), else that it is missing.
fn no_sender(email: &Email) -> String {
    let raw = email
        .headers
        .iter()
        .find(|h| h.name.trim().eq_ignore_ascii_case("From"))
        .map(|h| h.value.trim());
    match raw {
        Some("") => "the From field is empty, and there is no Reply-To address".to_owned(),
        Some(value) => format!(
            "no address in From \"{}\", nor in Reply-To",
            automated::shorten(value)
        ),
        None => "no From field, and no Reply-To address".to_owned(),
    }
}
