//! Turning a beta tester's email reply into feedback records.
//!
//! This crate is the logic behind the `feedback-default` plugin, kept free of
//! WIT bindings so it builds and tests natively. It has its own plain types
//! ([`Email`], [`Context`], [`Outcome`]...) which the plugin converts from and
//! to the WIT records.
//!
//! [`map_email`] runs these steps:
//! 1. machine-sent mail (auto-replies, bulk mail, delivery reports) is skipped;
//! 2. the author is the first `From` (else `Reply-To`) address;
//! 3. the target item is found by plus-address, notification Message-ID in
//!    `In-Reply-To`/`References`, or subject token, in the configured order;
//! 4. the body (text, else HTML converted to text) is split into the tester's
//!    words and the elided quotes and signature.

use std::borrow::Cow;

use config::Unmatched;

mod automated;
mod config;
mod html;
mod matching;
mod pattern;
mod quote;
mod types;

pub use config::{Config, ConfigError, KEYS as CONFIG_KEYS};
pub use html::html_to_text;
pub use quote::{Reply, split_reply};
pub use types::{
    Address, Attachment, Context, Email, Feedback, FeedbackKind, Header, MatchInfo, MatchMethod,
    Outcome,
};

/// Maps one email to feedback or a skip.
///
/// Errors only for a message that cannot be feedback at all (no author); the
/// host then dead-letters it.
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
    if let Some(reason) = automated::automated_reason(email) {
        return Ok(Outcome::Skip(reason));
    }
    let author = email
        .from
        .iter()
        .chain(&email.reply_to)
        .find(|a| !a.address.trim().is_empty())
        .cloned()
        .ok_or("message has no From address")?;

    let (kind, target, matched) = match matching::find_match(email, config) {
        Some(found) => (FeedbackKind::Reply, Some(found.target), Some(found.info)),
        None if config.unmatched == Unmatched::New => (FeedbackKind::New, None, None),
        None => {
            let checked: Vec<&str> = config.match_order.iter().map(|m| m.describe()).collect();
            return Ok(Outcome::Skip(format!(
                "no feedback reference found: checked {}",
                checked.join(", ")
            )));
        }
    };

    let text: Cow<str> = match (&email.text_body, &email.html_body) {
        (Some(text), _) if !text.trim().is_empty() => Cow::Borrowed(text),
        (_, Some(html)) => Cow::Owned(html_to_text(html)),
        (text, None) => Cow::Borrowed(text.as_deref().unwrap_or_default()),
    };
    let reply = split_reply(&text);

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
        matched,
        fields: Vec::new(),
    }]))
}
