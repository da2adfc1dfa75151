//! Finding the feedback item an email replies to.

use crate::config::{Config, Matcher};
use crate::types::{Email, MatchInfo, MatchMethod};

/// A successful match: how, and the target item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// How the match was found.
    pub info: MatchInfo,
    /// The feedback item id or token.
    pub target: String,
}

/// The first match in the configured order.
pub fn find_match(email: &Email, config: &Config) -> Option<Found> {
    config.match_order.iter().find_map(|matcher| match matcher {
        Matcher::PlusAddress => by_plus_address(email, &config.plus_prefix),
        Matcher::InReplyTo => by_message_id(email, config),
        Matcher::Subject => by_subject(email, config),
    })
}

fn found(method: MatchMethod, value: &str, target: &str) -> Found {
    Found {
        info: MatchInfo {
            method,
            value: value.to_owned(),
        },
        target: target.to_owned(),
    }
}

fn by_plus_address(email: &Email, prefix: &str) -> Option<Found> {
    let parsed = email
        .to
        .iter()
        .chain(&email.cc)
        .chain(&email.delivered_to)
        .map(|a| a.address.as_str());
    // The host does not parse X-Original-To (Postfix's record of the
    // envelope recipient), so read the raw header.
    let original_to = email
        .header_values("X-Original-To")
        .flat_map(|v| v.split(','))
        .map(addr_spec);
    parsed
        .chain(original_to)
        .find_map(|address| plus_token(address, prefix))
        .map(|token| found(MatchMethod::PlusAddress, token, token))
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

fn by_message_id(email: &Email, config: &Config) -> Option<Found> {
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
    in_reply_to.chain(references).find_map(|(method, id)| {
        let value = id.trim().trim_start_matches('<').trim_end_matches('>');
        pattern
            .extract(value)
            .map(|target| found(method, value, target))
    })
}

fn by_subject(email: &Email, config: &Config) -> Option<Found> {
    let subject = email.subject.as_deref()?;
    let (token, id) = config.subject_pattern.find(subject)?;
    Some(found(MatchMethod::Subject, token, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Address, Header};

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_pairs(pairs.iter().copied()).unwrap()
    }

    fn method_and_target(email: &Email, config: &Config) -> Option<(MatchMethod, String, String)> {
        find_match(email, config).map(|f| (f.info.method, f.info.value, f.target))
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
        assert_eq!(
            find_match(&email("replies@beta.example.com"), &default),
            None
        );
        assert_eq!(
            find_match(&email("replies+@beta.example.com"), &default),
            None
        );
        assert_eq!(
            find_match(&email("support+FB-1@beta.example.com"), &default),
            None
        );
        let custom = config(&[("plus-prefix", "support")]);
        assert_eq!(
            find_match(&email("support+FB-1@beta.example.com"), &custom).map(|f| f.target),
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
            find_match(&email, &config).map(|f| f.target),
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
        let target = |pairs: &[(&str, &str)]| find_match(&email, &config(pairs)).map(|f| f.target);
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
            find_match(
                &only_subject_missing,
                &config(&[("match-order", "subject")])
            ),
            None
        );
    }
}
