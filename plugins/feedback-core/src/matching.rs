//! Finding the feedback item an email replies to, and explaining misses.

use crate::config::{Config, Matcher};
use crate::parse_rfc3339;
use crate::token::{SignedToken, TokenError};
use crate::types::MatchMethod;
use crate::{Context, Email};

/// A successful match: how, and the target item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Which signal matched.
    pub method: MatchMethod,
    /// The value that matched: the token, the Message-ID or the subject token.
    pub value: String,
    /// The feedback item id or token.
    pub target: String,
}

/// The first match in the configured order, or why each matcher missed
/// (`matcher: reason`, in order).
pub fn find_match(email: &Email, ctx: &Context, config: &Config) -> Result<Found, Vec<String>> {
    let mut misses = Vec::new();
    for matcher in &config.match_order {
        let attempt = match matcher {
            Matcher::PlusAddress => by_plus_address(email, ctx, config),
            Matcher::InReplyTo => by_message_id(email, config),
            Matcher::Subject => by_subject(email, config),
            Matcher::BodyMarker => by_body_marker(email, config),
        };
        match attempt {
            Ok(found) => return Ok(found),
            Err(why) => misses.push(format!("{}: {why}", matcher.describe())),
        }
    }
    Err(misses)
}

fn found(method: MatchMethod, value: &str, target: &str) -> Found {
    Found {
        method,
        value: value.to_owned(),
        target: target.to_owned(),
    }
}

fn by_plus_address(email: &Email, ctx: &Context, config: &Config) -> Result<Found, String> {
    let prefix = &config.plus_prefix;
    let parsed = email
        .to
        .iter()
        .chain(&email.cc)
        .chain(&email.delivered_to)
        .map(|a| a.address.as_str());
    // The host does not parse X-Original-To (Postfix's record of the
    // envelope recipient), so read the raw header.
    let original_to = email
        .headers_named("X-Original-To")
        .flat_map(|v| v.split(','))
        .map(addr_spec);
    let mut tokens: Vec<&str> = Vec::new();
    for token in parsed
        .chain(original_to)
        .filter_map(|address| plus_token(address, prefix))
    {
        // To, Delivered-To and X-Original-To usually repeat one address.
        if !tokens.iter().any(|t| t.eq_ignore_ascii_case(token)) {
            tokens.push(token);
        }
    }
    if tokens.is_empty() {
        return Err(format!("no {prefix}+TOKEN recipient"));
    }
    if config.token_keys.is_empty() {
        return Ok(found(MatchMethod::PlusAddress, tokens[0], tokens[0]));
    }
    let mut rejected = Vec::new();
    for token in tokens {
        match verify_token(token, email, ctx, config) {
            Ok(id) => return Ok(found(MatchMethod::PlusAddress, token, id)),
            Err(why) => rejected.push(format!("token {token} rejected: {why}")),
        }
    }
    Err(rejected.join("; "))
}

/// Checks a signed token against the sender and the receive time; returns
/// the feedback id.
fn verify_token<'a>(
    token: &'a str,
    email: &Email,
    ctx: &Context,
    config: &Config,
) -> Result<&'a str, String> {
    let signed = SignedToken::parse(token).map_err(|e| e.to_string())?;
    let senders = sender_addresses(email, config.sender_check);
    if senders.is_empty() {
        return Err("the message names no sender to check the token against".into());
    }
    if !senders
        .iter()
        .any(|s| signed.signed_for(s, &config.token_keys))
    {
        let checked = if config.sender_check {
            "for sender"
        } else {
            "for any of"
        };
        return Err(format!(
            "{} {checked} {}",
            TokenError::BadSignature,
            senders.join(", ")
        ));
    }
    // The plugin has no clock: expiry is judged at the time the host
    // received the message, which is also what a replay should see.
    let now = parse_rfc3339(&ctx.received_at)
        .ok_or("cannot check its expiry without the message's receive time")?;
    if signed.expired_at(now) {
        return Err(TokenError::Expired(signed.expires_at).to_string());
    }
    Ok(signed.id)
}

/// Where a signed token may have been sent: the `From` address with the
/// sender check, else also `Sender`, `Reply-To` and `Return-Path`, for
/// testers who reply through a delegate or another alias.
fn sender_addresses(email: &Email, sender_check: bool) -> Vec<&str> {
    let from = email.from.iter().map(|a| a.address.trim());
    let mut senders: Vec<&str> = if sender_check {
        from.take(1).collect()
    } else {
        let raw = |name| email.headers_named(name).map(addr_spec);
        from.chain(raw("Sender"))
            .chain(email.reply_to.iter().map(|a| a.address.trim()))
            .chain(raw("Return-Path"))
            .collect()
    };
    senders.retain(|s| !s.is_empty());
    senders.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    senders
}

/// The addr-spec of `Name <addr>` or a bare address.
fn addr_spec(mailbox: &str) -> &str {
    let mailbox = mailbox.trim();
    match (mailbox.rfind('<'), mailbox.rfind('>')) {
        (Some(open), Some(close)) if open < close => mailbox[open + 1..close].trim(),
        _ => mailbox,
    }
}

/// `TOKEN` of `<prefix>+TOKEN@domain`; the prefix compares case-insensitively.
fn plus_token<'a>(address: &'a str, prefix: &str) -> Option<&'a str> {
    let (local, _domain) = address.trim().rsplit_once('@')?;
    let (base, token) = local.split_once('+')?;
    (base.eq_ignore_ascii_case(prefix) && !token.is_empty()).then_some(token)
}

fn by_message_id(email: &Email, config: &Config) -> Result<Found, String> {
    let pattern = &config.message_id_pattern;
    let in_reply_to = email
        .in_reply_to
        .iter()
        .map(|id| (MatchMethod::InReplyTo, id));
    // References run oldest first; the nearest ancestor is the best guess.
    let references = email
        .references
        .iter()
        .rev()
        .map(|id| (MatchMethod::References, id));
    in_reply_to
        .chain(references)
        .find_map(|(method, id)| {
            let value = id.trim().trim_start_matches('<').trim_end_matches('>');
            pattern
                .extract(value)
                .map(|target| found(method, value, target))
        })
        .ok_or_else(|| {
            if email.in_reply_to.is_empty() && email.references.is_empty() {
                "no In-Reply-To or References".to_owned()
            } else {
                "no notification Message-ID among them".to_owned()
            }
        })
}

fn by_subject(email: &Email, config: &Config) -> Result<Found, String> {
    let subject = email.subject.as_deref().ok_or("no subject")?;
    let (token, id) = config
        .subject_pattern
        .find(subject)
        .ok_or("no token in the subject")?;
    Ok(found(MatchMethod::Subject, token, id))
}

/// The marker in the text body, else anywhere in the HTML source (hidden
/// elements included, which is where notifications usually put it).
fn by_body_marker(email: &Email, config: &Config) -> Result<Found, String> {
    [&email.text_body, &email.html_body]
        .into_iter()
        .flatten()
        .find_map(|body| config.body_marker_pattern.find(body))
        .map(|(marker, id)| found(MatchMethod::BodyMarker, marker, id))
        .ok_or_else(|| "no marker in the body".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::mint;
    use crate::{Address, Header};

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_pairs(pairs.iter().copied()).unwrap()
    }

    fn ctx() -> Context {
        Context {
            received_at: "2026-03-03T10:17:42Z".into(),
            ..Context::default()
        }
    }

    fn matched(email: &Email, config: &Config) -> Option<Found> {
        find_match(email, &ctx(), config).ok()
    }

    fn method_and_target(email: &Email, config: &Config) -> Option<(MatchMethod, String, String)> {
        matched(email, config).map(|f| (f.method, f.value, f.target))
    }

    #[test]
    fn plus_address_in_to_cc_delivered_to_and_x_original_to() {
        let default = Config::default();
        let expected = Some((
            MatchMethod::PlusAddress,
            "FB-1042".to_owned(),
            "FB-1042".to_owned(),
        ));
        let to = Email {
            to: vec![Address::named(
                "Lumen Beta",
                "Replies+FB-1042@beta.example.com",
            )],
            ..Email::default()
        };
        assert_eq!(method_and_target(&to, &default), expected);
        let cc = Email {
            to: vec![Address::new("someone@example.org")],
            cc: vec![Address::new("replies+FB-1042@beta.example.com")],
            ..Email::default()
        };
        assert_eq!(method_and_target(&cc, &default), expected);
        let delivered = Email {
            delivered_to: vec![Address::new("replies+FB-1042@beta.example.com")],
            ..Email::default()
        };
        assert_eq!(method_and_target(&delivered, &default), expected);
        let original = Email {
            headers: vec![Header::new(
                "X-Original-To",
                "Beta <replies+FB-1042@beta.example.com>",
            )],
            ..Email::default()
        };
        assert_eq!(method_and_target(&original, &default), expected);
    }

    #[test]
    fn plus_address_needs_the_prefix_and_a_token() {
        let email = |address: &str| Email {
            to: vec![Address::new(address)],
            ..Email::default()
        };
        let default = Config::default();
        assert_eq!(matched(&email("replies@beta.example.com"), &default), None);
        assert_eq!(matched(&email("replies+@beta.example.com"), &default), None);
        assert_eq!(
            matched(&email("support+FB-1@beta.example.com"), &default),
            None
        );
        let custom = config(&[("plus-prefix", "support")]);
        assert_eq!(
            matched(&email("support+FB-1@beta.example.com"), &custom).map(|f| f.target),
            Some("FB-1".to_owned())
        );
    }

    #[test]
    fn in_reply_to_then_references() {
        let default = Config::default();
        let email = Email {
            in_reply_to: vec!["CAF=x@mail.gmail.com".into()],
            references: vec![
                "feedback-1001@notify.beta.example.com".into(),
                "CAF=x@mail.gmail.com".into(),
                "<feedback-1043@notify.beta.example.com>".into(),
            ],
            ..Email::default()
        };
        assert_eq!(
            method_and_target(&email, &default),
            Some((
                MatchMethod::References,
                "feedback-1043@notify.beta.example.com".into(),
                "1043".into()
            ))
        );
        let email = Email {
            in_reply_to: vec!["feedback-1043@notify.beta.example.com".into()],
            references: vec!["feedback-1001@notify.beta.example.com".into()],
            ..email
        };
        assert_eq!(
            method_and_target(&email, &default),
            Some((
                MatchMethod::InReplyTo,
                "feedback-1043@notify.beta.example.com".into(),
                "1043".into()
            ))
        );
    }

    #[test]
    fn custom_message_id_pattern() {
        let config = config(&[("message-id-pattern", "fb.{id}@notify.example.com")]);
        let email = Email {
            in_reply_to: vec!["feedback-9@notify.example.com".into()],
            references: vec!["fb.77@notify.example.com".into()],
            ..Email::default()
        };
        assert_eq!(
            matched(&email, &config).map(|f| f.target),
            Some("77".into())
        );
    }

    #[test]
    fn subject_token() {
        let email = Email {
            subject: Some("Re: [Lumen beta] Sync stalls [FB-1044]".into()),
            ..Email::default()
        };
        assert_eq!(
            method_and_target(&email, &Config::default()),
            Some((MatchMethod::Subject, "[FB-1044]".into(), "1044".into()))
        );
    }

    #[test]
    fn order_is_configurable_and_can_disable_methods() {
        let email = Email {
            to: vec![Address::new("replies+FB-1@beta.example.com")],
            in_reply_to: vec!["feedback-2@notify.beta.example.com".into()],
            subject: Some("Re: [FB-3]".into()),
            ..Email::default()
        };
        let target = |pairs: &[(&str, &str)]| matched(&email, &config(pairs)).map(|f| f.target);
        assert_eq!(target(&[]), Some("FB-1".into()));
        assert_eq!(
            target(&[("match-order", "in-reply-to,plus-address,subject")]),
            Some("2".into())
        );
        assert_eq!(
            target(&[("match-order", "subject,in-reply-to")]),
            Some("3".into())
        );
        assert_eq!(target(&[("match-order", "in-reply-to")]), Some("2".into()));
        let only_subject_missing = Email {
            subject: None,
            ..email.clone()
        };
        assert_eq!(
            matched(
                &only_subject_missing,
                &config(&[("match-order", "subject")])
            ),
            None
        );
    }

    #[test]
    fn body_marker_in_text_or_html() {
        let email = Email {
            text_body: Some("Fixed!\n\n> Ref: [ref:FB-1050]\n".into()),
            ..Email::default()
        };
        assert_eq!(
            method_and_target(&email, &Config::default()),
            Some((
                MatchMethod::BodyMarker,
                "[ref:FB-1050]".into(),
                "FB-1050".into()
            ))
        );
        let email = Email {
            html_body: Some(
                "<p>Fixed</p><blockquote><span style=\"display:none\">[ref:77]</span></blockquote>"
                    .into(),
            ),
            ..Email::default()
        };
        assert_eq!(
            matched(&email, &Config::default()).map(|f| f.target),
            Some("77".into())
        );
    }

    #[test]
    fn misses_are_explained_in_order() {
        let email = Email {
            to: vec![Address::new("replies@beta.example.com")],
            in_reply_to: vec!["CAF=x@mail.gmail.com".into()],
            subject: Some("Re: hello".into()),
            text_body: Some("hi".into()),
            ..Email::default()
        };
        assert_eq!(
            find_match(&email, &ctx(), &Config::default()).unwrap_err(),
            [
                "plus-address: no replies+TOKEN recipient",
                "in-reply-to/references: no notification Message-ID among them",
                "subject: no token in the subject",
                "body-marker: no marker in the body",
            ]
        );
        let bare = Email::default();
        let misses = find_match(
            &bare,
            &ctx(),
            &config(&[("match-order", "in-reply-to,subject")]),
        )
        .unwrap_err();
        assert_eq!(
            misses,
            [
                "in-reply-to/references: no In-Reply-To or References",
                "subject: no subject"
            ]
        );
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";
    const LATER: i64 = 1_780_000_000;

    fn signed_reply(token: &str, from: &str) -> Email {
        Email {
            from: vec![Address::new(from)],
            to: vec![Address::new(format!("replies+{token}@beta.example.com"))],
            delivered_to: vec![Address::new(format!("replies+{token}@beta.example.com"))],
            ..Email::default()
        }
    }

    #[test]
    fn signed_tokens_verify_against_the_sender() {
        let signed = config(&[("token-keys", KEY)]);
        let token = mint("FB-1042", "dana@example.org", LATER, KEY.as_bytes()).unwrap();
        assert_eq!(
            method_and_target(&signed_reply(&token, "Dana@example.org"), &signed),
            Some((MatchMethod::PlusAddress, token.clone(), "FB-1042".into()))
        );
        // Someone else replying with Dana's token.
        let misses =
            find_match(&signed_reply(&token, "eve@example.org"), &ctx(), &signed).unwrap_err();
        assert_eq!(
            misses[0],
            format!(
                "plus-address: token {token} rejected: signature does not verify (forged, \
                 altered, or minted for another address) for sender eve@example.org"
            )
        );
        // Without keys the token is an opaque target, as before.
        assert_eq!(
            matched(&signed_reply(&token, "eve@example.org"), &Config::default()).map(|f| f.target),
            Some(token.clone())
        );
    }

    #[test]
    fn sender_check_off_accepts_other_sender_side_addresses() {
        let token = mint("FB-1042", "dana@example.org", LATER, KEY.as_bytes()).unwrap();
        let mut email = signed_reply(&token, "dana.whitfield@corp.example.org");
        email
            .headers
            .push(Header::new("Return-Path", "<dana@example.org>"));
        let strict = config(&[("token-keys", KEY)]);
        assert_eq!(matched(&email, &strict), None);
        let relaxed = config(&[("token-keys", KEY), ("sender-check", "off")]);
        assert_eq!(
            matched(&email, &relaxed).map(|f| f.target),
            Some("FB-1042".into())
        );
        let misses =
            find_match(&signed_reply(&token, "eve@example.org"), &ctx(), &relaxed).unwrap_err();
        assert!(
            misses[0].ends_with("for any of eve@example.org"),
            "{misses:?}"
        );
    }

    #[test]
    fn unsigned_expired_and_unverifiable_tokens_do_not_match() {
        let signed = config(&[("token-keys", KEY)]);
        let misses = find_match(
            &signed_reply("FB-1042", "dana@example.org"),
            &ctx(),
            &signed,
        )
        .unwrap_err();
        assert_eq!(
            misses[0],
            "plus-address: token FB-1042 rejected: not a signed token (expected ID.EXPIRY.MAC)"
        );
        let expired = mint("FB-1042", "dana@example.org", 1_772_000_000, KEY.as_bytes()).unwrap();
        let misses =
            find_match(&signed_reply(&expired, "dana@example.org"), &ctx(), &signed).unwrap_err();
        assert!(
            misses[0].ends_with("expired at 2026-02-25T06:13:20Z"),
            "{misses:?}"
        );
        let token = mint("FB-1042", "dana@example.org", LATER, KEY.as_bytes()).unwrap();
        let no_time = Context::default();
        let misses =
            find_match(&signed_reply(&token, "dana@example.org"), &no_time, &signed).unwrap_err();
        assert!(
            misses[0].ends_with("without the message's receive time"),
            "{misses:?}"
        );
    }

    #[test]
    fn a_bad_token_does_not_hide_a_good_one() {
        let signed = config(&[("token-keys", KEY)]);
        let good = mint("FB-9", "dana@example.org", LATER, KEY.as_bytes()).unwrap();
        let email = Email {
            from: vec![Address::new("dana@example.org")],
            to: vec![Address::new(
                "replies+FB-1.1780000000.000000000000000000000000@b.example",
            )],
            cc: vec![Address::new(format!("replies+{good}@b.example"))],
            ..Email::default()
        };
        assert_eq!(
            matched(&email, &signed).map(|f| f.target),
            Some("FB-9".into())
        );
    }
}
