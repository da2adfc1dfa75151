//! Who gets a notice, and who never does. Pure functions of the message
//! and its outcome, table-tested.
//!
//! Never answered (RFC 3834 §2 and the usual practice of auto-responders):
//! - the mapper's machine-sent skip categories (`auto-reply`, `bounce`,
//!   `bulk`, `loop`): such a skip never gets a notice, and the same header
//!   signals are checked here for outcomes the mapper did not judge (a dead
//!   letter, an oversized message);
//! - the mailbox's own address and the notices' sender, `MAILER-DAEMON`,
//!   `postmaster` and no-reply addresses;
//! - a message answering one of popline's own notices (its `In-Reply-To` or
//!   `References` names one): with `Auto-Submitted` on every notice and the
//!   per-recipient limit in the outbox, this ends a loop with another
//!   auto-responder.

use crate::config::MailboxNotices;
use crate::reason::Reason;

/// The Message-ID prefix of every notice, by which a reply to one is known.
pub const NOTICE_ID_PREFIX: &str = "popline-notice.";

/// What is known of the tester's message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// `From` addresses.
    pub from: Vec<String>,
    /// Subject, decoded.
    pub subject: Option<String>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// `In-Reply-To` ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// `References` ids, without angle brackets.
    pub references: Vec<String>,
    /// Every header as `(name, raw value)`.
    pub headers: Vec<(String, String)>,
    /// The first lines of the reply's text, for the templates.
    pub excerpt: String,
    /// The feedback item the reply was added to (acknowledgements).
    pub feedback_id: Option<String>,
}

impl Source {
    fn header(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// The outcome a notice may be about, as ingestion saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// Mapped to feedback records.
    Feedback,
    /// Skipped by the mapper with this reason (`category: detail`).
    Skipped(&'a str),
    /// Dead-lettered.
    DeadLetter,
    /// Left on the server for its size.
    Oversize,
    /// A copy of a message already committed.
    Duplicate,
}

/// Whether to send a notice, and if not, why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send a notice for `reason` to `to`.
    Send { to: String, reason: Reason },
    /// The mailbox's `notices` does not ask for this outcome.
    NotWanted,
    /// A rule forbids any notice (said in the text).
    Never(&'static str),
}

/// The mapper's skip categories that mean a machine sent the message
/// (`feedback_core::SkipCategory`: `auto-reply`, `bounce`, `bulk`, `loop`).
const MACHINE_SENT: &[&str] = &["auto-reply", "bounce", "bulk", "loop"];

/// The notice reason of an outcome, or why it never gets one.
pub fn reason_of(outcome: Outcome<'_>) -> Result<Reason, &'static str> {
    match outcome {
        Outcome::Feedback => Ok(Reason::Acknowledged),
        Outcome::DeadLetter => Ok(Reason::DeadLetter),
        Outcome::Oversize => Ok(Reason::Oversize),
        Outcome::Duplicate => Err("a copy of a message already handled"),
        Outcome::Skipped(reason) => {
            let (category, detail) = reason.split_once(':').unwrap_or((reason, ""));
            match category.trim() {
                c if MACHINE_SENT.contains(&c) => Err("machine-sent (the mapper's skip category)"),
                // The reply token's own words (`popline-reply-token`).
                "no-match" if detail.contains("expired at") => Ok(Reason::ExpiredToken),
                "no-match" => Ok(Reason::NoMatch),
                _ => Err("skipped for a reason notices do not cover"),
            }
        }
    }
}

/// Local parts that never read mail.
const NO_REPLY: &[&str] = &[
    "mailer-daemon",
    "postmaster",
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
];

/// Why `source` must never be answered, if it must not: `own` are the
/// mailbox's own address and the notices' sender.
pub fn never_reply(source: &Source, own: &[&str]) -> Option<&'static str> {
    let Some(to) = recipient(source) else {
        return Some("no sender address");
    };
    if own.iter().any(|o| o.eq_ignore_ascii_case(&to)) {
        return Some("the mailbox's own address");
    }
    let local = to
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if NO_REPLY.contains(&local.as_str()) {
        return Some("a MAILER-DAEMON, postmaster or no-reply address");
    }
    if source.header("Auto-Submitted").any(|v| {
        !v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("no")
    }) {
        return Some("auto-submitted (RFC 3834)");
    }
    if source.header("Precedence").any(|v| {
        ["bulk", "list", "junk", "auto_reply"]
            .iter()
            .any(|p| v.eq_ignore_ascii_case(p))
    }) {
        return Some("bulk or list mail (Precedence)");
    }
    if ["List-Id", "List-Unsubscribe", "List-Post"]
        .iter()
        .any(|h| source.header(h).next().is_some())
    {
        return Some("list mail (List-* headers)");
    }
    if source.header("X-Auto-Response-Suppress").any(|v| {
        v.split(',')
            .any(|t| ["all", "autoreply", "oof"].contains(&t.trim().to_ascii_lowercase().as_str()))
    }) {
        return Some("the sender asked for no automatic replies (X-Auto-Response-Suppress)");
    }
    if ["X-Autoreply", "X-Autorespond"]
        .iter()
        .any(|h| source.header(h).next().is_some())
    {
        return Some("an automatic reply (X-Autoreply)");
    }
    if source.header("Return-Path").any(|v| v == "<>") {
        return Some("a bounce (empty Return-Path)");
    }
    if source
        .header("Content-Type")
        .any(|v| v.to_ascii_lowercase().starts_with("multipart/report"))
    {
        return Some("a delivery or read report (multipart/report)");
    }
    if source
        .in_reply_to
        .iter()
        .chain(&source.references)
        .any(|id| id.starts_with(NOTICE_ID_PREFIX))
    {
        return Some("an answer to one of popline's notices (a loop)");
    }
    None
}

/// Where a notice about `source` goes: the first `From` address.
pub fn recipient(source: &Source) -> Option<String> {
    source
        .from
        .iter()
        .map(|a| a.trim())
        .find(|a| a.contains('@') && !a.contains(['\r', '\n', '<', '>', ' ']))
        .map(str::to_string)
}

/// The whole decision for one message of a mailbox with `notices`.
pub fn decide(
    source: &Source,
    outcome: Outcome<'_>,
    notices: &MailboxNotices,
    own: &[&str],
) -> Decision {
    let reason = match reason_of(outcome) {
        Ok(r) => r,
        Err(why) => return Decision::Never(why),
    };
    if !notices.wants(reason) {
        return Decision::NotWanted;
    }
    if let Some(why) = never_reply(source, own) {
        return Decision::Never(why);
    }
    match recipient(source) {
        Some(to) => Decision::Send { to, reason },
        None => Decision::Never("no sender address"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tester(headers: &[(&str, &str)]) -> Source {
        Source {
            from: vec!["dana@example.org".into()],
            subject: Some("Re: Your feedback".into()),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Source::default()
        }
    }

    const OWN: &[&str] = &["beta@contoso.example", "notices@contoso.example"];

    fn all() -> MailboxNotices {
        MailboxNotices {
            via: "m365".into(),
            on: vec![
                Reason::NoMatch,
                Reason::Oversize,
                Reason::DeadLetter,
                Reason::ExpiredToken,
            ],
            acknowledge: false,
            subject: None,
            body: None,
            html: None,
        }
    }

    #[test]
    fn outcomes_and_reasons() {
        let cases: &[(Outcome, Result<Reason, &str>)] = &[
            (Outcome::Skipped("no-match: no FB- id"), Ok(Reason::NoMatch)),
            (
                Outcome::Skipped("no-match: reply token expired at 2026-02-25T06:13:20Z"),
                Ok(Reason::ExpiredToken),
            ),
            (
                Outcome::Skipped("auto-reply: Auto-Submitted"),
                Err("machine"),
            ),
            (Outcome::Skipped("bounce: DSN"), Err("machine")),
            (Outcome::Skipped("bulk: Precedence: bulk"), Err("machine")),
            (Outcome::Skipped("loop: X-Loop"), Err("machine")),
            (
                Outcome::Skipped("no-sender: no From field, and no Reply-To address"),
                Err("do not cover"),
            ),
            (Outcome::Skipped("custom: whatever"), Err("do not cover")),
            (Outcome::DeadLetter, Ok(Reason::DeadLetter)),
            (Outcome::Oversize, Ok(Reason::Oversize)),
            (Outcome::Feedback, Ok(Reason::Acknowledged)),
            (Outcome::Duplicate, Err("copy")),
        ];
        for (outcome, want) in cases {
            match (reason_of(*outcome), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{outcome:?}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{outcome:?}: {got}"),
                (got, want) => panic!("{outcome:?}: {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn who_never_gets_a_notice() {
        let with_from = |from: &str| Source {
            from: vec![from.into()],
            ..tester(&[])
        };
        let cases: Vec<(Source, Option<&str>)> = vec![
            (tester(&[]), None),
            (tester(&[("Auto-Submitted", "no")]), None),
            (
                tester(&[("Auto-Submitted", "auto-replied")]),
                Some("auto-submitted"),
            ),
            (
                tester(&[("auto-submitted", "auto-generated; x")]),
                Some("auto-submitted"),
            ),
            (tester(&[("Precedence", "bulk")]), Some("Precedence")),
            (tester(&[("Precedence", "list")]), Some("Precedence")),
            (
                tester(&[("List-Id", "<beta.lists.example>")]),
                Some("List-*"),
            ),
            (
                tester(&[("List-Unsubscribe", "<mailto:x@y>")]),
                Some("List-*"),
            ),
            (
                tester(&[("X-Auto-Response-Suppress", "DR, OOF")]),
                Some("X-Auto-Response-Suppress"),
            ),
            (tester(&[("X-Auto-Response-Suppress", "RN")]), None),
            (tester(&[("X-Autoreply", "yes")]), Some("X-Autoreply")),
            (tester(&[("Return-Path", "<>")]), Some("bounce")),
            (tester(&[("Return-Path", "<dana@example.org>")]), None),
            (
                tester(&[(
                    "Content-Type",
                    "multipart/report; report-type=delivery-status",
                )]),
                Some("multipart/report"),
            ),
            (
                with_from("MAILER-DAEMON@mx.example.org"),
                Some("MAILER-DAEMON"),
            ),
            (with_from("postmaster@example.org"), Some("MAILER-DAEMON")),
            (with_from("no-reply@example.org"), Some("no-reply")),
            (with_from("Beta@Contoso.example"), Some("own address")),
            (with_from("notices@contoso.example"), Some("own address")),
            (with_from("not an address"), Some("no sender")),
            (
                Source {
                    from: vec![],
                    ..tester(&[])
                },
                Some("no sender"),
            ),
            (
                Source {
                    in_reply_to: vec!["popline-notice.no-match.abc@contoso.example".into()],
                    ..tester(&[])
                },
                Some("loop"),
            ),
            (
                Source {
                    references: vec![
                        "feedback-FB-1@notify.example".into(),
                        "popline-notice.dead-letter.abc@contoso.example".into(),
                    ],
                    ..tester(&[])
                },
                Some("loop"),
            ),
        ];
        for (source, want) in cases {
            let got = never_reply(&source, OWN);
            match (got, want) {
                (None, None) => {}
                (Some(g), Some(w)) => assert!(g.contains(w), "{source:?}: {g}"),
                _ => panic!("{source:?}: {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn the_whole_decision() {
        let mut cfg = all();
        let dana = tester(&[]);
        let send = |reason| Decision::Send {
            to: "dana@example.org".into(),
            reason,
        };
        assert_eq!(
            decide(&dana, Outcome::Skipped("no-match: x"), &cfg, OWN),
            send(Reason::NoMatch)
        );
        assert_eq!(
            decide(&dana, Outcome::Feedback, &cfg, OWN),
            Decision::NotWanted
        );
        cfg.acknowledge = true;
        assert_eq!(
            decide(&dana, Outcome::Feedback, &cfg, OWN),
            send(Reason::Acknowledged)
        );
        cfg.on = vec![Reason::DeadLetter];
        assert_eq!(
            decide(&dana, Outcome::Skipped("no-match: x"), &cfg, OWN),
            Decision::NotWanted
        );
        assert_eq!(
            decide(&dana, Outcome::DeadLetter, &cfg, OWN),
            send(Reason::DeadLetter)
        );
        let bulk = tester(&[("Precedence", "bulk")]);
        assert!(matches!(
            decide(&bulk, Outcome::DeadLetter, &cfg, OWN),
            Decision::Never(_)
        ));
        assert!(matches!(
            decide(&dana, Outcome::Skipped("auto-reply: OOF"), &cfg, OWN),
            Decision::Never(_)
        ));
    }
}
