//! Recognising mail that is not a human reply: loops, bounces, automatic
//! replies and bulk mail. Such mail is skipped, never feedback.

use crate::types::SkipCategory;
use crate::{Context, Email};

/// The skip reason (`category: detail`) if `email` is not a human reply.
///
/// Checked in this order, so the most specific category wins: a loop (from
/// the mailbox itself), a bounce (delivery report or bounce sender; bounces
/// often carry `Auto-Submitted` too), an automatic reply (headers, then
/// out-of-office subjects), bulk or list mail.
pub fn machine_sent(email: &Email, ctx: &Context) -> Option<String> {
    loop_reason(email, ctx)
        .or_else(|| bounce_reason(email))
        .or_else(|| auto_reply_reason(email))
        .or_else(|| bulk_reason(email))
        .or_else(|| null_sender_reason(email))
        .or_else(|| no_reply_reason(email))
}

/// `Return-Path: <>`: the message came with the null envelope sender, which
/// only delivery reports and automatic messages use (RFC 5321 §4.5.5, RFC
/// 3834); a person's mail program always gives its own address. Checked
/// after the specific signals, so it only names what they missed (a
/// carrier's or an appliance's delivery notice in its own format).
fn null_sender_reason(email: &Email) -> Option<String> {
    email
        .headers
        .iter()
        .any(|h| h.name.trim().eq_ignore_ascii_case("Return-Path") && h.value.trim() == "<>")
        .then(|| SkipCategory::Bounce.reason("Return-Path: <> (the null sender)"))
}

/// Local parts nobody reads mail at: the sender is a machine (a service's
/// notifications, a carrier's delivery notices).
const NO_REPLY: [&str; 3] = ["noreply", "donotreply", "nepasrepondre"];

fn no_reply_reason(email: &Email) -> Option<String> {
    let from = email.from.iter().find(|a| {
        let local = a.address.trim().rsplit_once('@').map_or("", |(l, _)| l);
        NO_REPLY.contains(&squeezed(local).as_str())
    })?;
    Some(SkipCategory::Bulk.reason(format!(
        "sent from a no-reply address {}",
        from.address.trim()
    )))
}

/// Lowercase without `-`, `_` and `.`: `Mailer-Daemon`, `post_master` and
/// `no.reply` compare as `mailerdaemon`, `postmaster`, `noreply`.
fn squeezed(local: &str) -> String {
    local
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn loop_reason(email: &Email, ctx: &Context) -> Option<String> {
    let mailbox = base_address(&ctx.mailbox)?;
    let from = email
        .from
        .iter()
        .find(|a| base_address(&a.address).as_deref() == Some(mailbox.as_str()))?;
    Some(SkipCategory::Loop.reason(format!(
        "sent from the mailbox's own address {}",
        from.address.trim()
    )))
}

/// Lowercase address without a `+tag`, so `replies+x@d` is `replies@d`.
fn base_address(address: &str) -> Option<String> {
    let (local, domain) = address.trim().rsplit_once('@')?;
    let base = local.split_once('+').map_or(local, |(base, _)| base);
    (!base.is_empty() && !domain.is_empty())
        .then(|| format!("{base}@{domain}").to_ascii_lowercase())
}

/// Local parts bounce messages are sent from, compared [`squeezed`].
const BOUNCE_SENDERS: [&str; 3] = ["mailerdaemon", "postmaster", "maildeliverysubsystem"];

fn bounce_reason(email: &Email) -> Option<String> {
    for header in &email.headers {
        let name = header.name.trim();
        if name.eq_ignore_ascii_case("Content-Type")
            && bare_value(&header.value) == "multipart/report"
            && report_type(&header.value).as_deref() == Some("delivery-status")
        {
            return Some(SkipCategory::Bounce.reason(header_detail(name, &header.value)));
        }
        // Exim names the recipients that failed.
        if name.eq_ignore_ascii_case("X-Failed-Recipients") {
            return Some(SkipCategory::Bounce.reason(header_detail(name, &header.value)));
        }
    }
    // `MAILER-DAEMON@host`, `post_master@host`, or a bare `<MAILER-DAEMON>`
    // with no domain (sendmail).
    if let Some(sender) = email.from.iter().find(|a| {
        let address = a.address.trim();
        let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
        BOUNCE_SENDERS.contains(&squeezed(local).as_str())
    }) {
        return Some(SkipCategory::Bounce.reason(format!("sent by {}", sender.address.trim())));
    }
    // `From: MAILER-DAEMON <>`: the null sender, named as a delivery system
    // (DragonFly's dma, some appliances). The host may parse no address from
    // it at all, so the raw field is read.
    let named_bounce = |name: &str| {
        let name = name.trim().trim_matches('"').trim();
        BOUNCE_SENDERS.contains(&squeezed(name).as_str())
    };
    let parsed = email.from.iter().find_map(|a| {
        (a.address.trim().trim_matches(['<', '>']).is_empty()
            && a.name.as_deref().is_some_and(named_bounce))
        .then(|| a.name.clone().unwrap_or_default())
    });
    let raw = || {
        email.headers.iter().find_map(|h| {
            let name = h.value.trim().strip_suffix("<>")?;
            (h.name.trim().eq_ignore_ascii_case("From") && named_bounce(name))
                .then(|| name.trim().to_owned())
        })
    };
    if let Some(sender) = parsed.or_else(raw) {
        return Some(
            SkipCategory::Bounce.reason(format!("sent by {} with the null address", sender.trim())),
        );
    }
    // `From: <>` with no name at all: the null reverse-path written as the
    // author, which only delivery systems do (mail-filter appliances and
    // gateways that send their own notices).
    let null_from = email.headers.iter().any(|h| {
        h.name.trim().eq_ignore_ascii_case("From")
            && h.value.trim().trim_start_matches("\"\"").trim() == "<>"
    });
    null_from.then(|| SkipCategory::Bounce.reason("From: <> (the null sender)"))
}

fn auto_reply_reason(email: &Email) -> Option<String> {
    for header in &email.headers {
        let name = header.name.trim();
        // Only these three values are read: the others (Received,
        // DKIM-Signature...) are long, and a lowercase copy of each would cost.
        let bare = || bare_value(&header.value);
        let automatic = if name.eq_ignore_ascii_case("Auto-Submitted") {
            bare() != "no"
        } else if name.eq_ignore_ascii_case("Precedence") {
            bare() == "auto_reply"
        } else if name.eq_ignore_ascii_case("Content-Type") {
            // Read receipts and other non-delivery reports.
            bare() == "multipart/report"
        } else {
            ["X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"]
                .iter()
                .any(|h| name.eq_ignore_ascii_case(h))
        };
        if automatic {
            return Some(SkipCategory::AutoReply.reason(header_detail(name, &header.value)));
        }
    }
    let subject = email.subject.as_deref()?;
    is_out_of_office_subject(subject).then(|| {
        SkipCategory::AutoReply.reason(format!(
            "out-of-office subject \"{}\"",
            shorten(subject.trim())
        ))
    })
}

fn bulk_reason(email: &Email) -> Option<String> {
    email.headers.iter().find_map(|header| {
        let name = header.name.trim();
        let bulk = if name.eq_ignore_ascii_case("Precedence") {
            matches!(bare_value(&header.value).as_str(), "bulk" | "junk" | "list")
        } else {
            name.eq_ignore_ascii_case("List-Id") || name.eq_ignore_ascii_case("List-Unsubscribe")
        };
        bulk.then(|| SkipCategory::Bulk.reason(header_detail(name, &header.value)))
    })
}

/// The value before any `;` parameters, trimmed and lowercased.
fn bare_value(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The `report-type` parameter of a Content-Type value, lowercased.
fn report_type(value: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|param| {
        let (key, val) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("report-type")
            .then(|| val.trim().trim_matches('"').to_ascii_lowercase())
    })
}

fn header_detail(name: &str, value: &str) -> String {
    format!("{name}: {}", shorten(value.trim()))
}

/// Header values can be long (Content-Type boundaries); a reason stays readable.
pub(crate) fn shorten(value: &str) -> String {
    const MAX: usize = 120;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &value[..cut]),
        None => value.to_owned(),
    }
}

/// Subject prefixes of automatic replies that are always followed by a
/// colon (`Automatic reply: <original subject>`), as Exchange, Gmail and
/// other servers write them in the supported languages.
const AUTO_REPLY_PREFIXES: [&str; 30] = [
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "auto-response",
    "automatic response",
    "automatische antwort",
    "autoresponder",
    "réponse automatique",
    "reponse automatique",
    "respuesta automática",
    "respuesta automatica",
    "risposta automatica",
    "automatisch antwoord",
    "resposta automática",
    "resposta automatica",
    "automatiskt svar",
    "autosvar",
    "odpowiedź automatyczna",
    "odpowiedz automatyczna",
    "autoodpowiedź",
    "自動応答",
    "自動返信",
    "自動回覆",
    "自动回复",
    "自動回复",
    "out of office autoreply",
    "abwesenheitsnotiz",
    "abwesenheit",
];

/// Out-of-office phrases that start such a subject, followed by anything but
/// a letter (`Out of office until 12 March`, `Absence du bureau`).
const OUT_OF_OFFICE_PHRASES: [&str; 24] = [
    "out of office",
    "out of the office",
    "out-of-office",
    "ooo",
    "abwesend",
    "nicht im büro",
    "absence du bureau",
    "absent du bureau",
    "absente du bureau",
    "absent(e) du bureau",
    "fuera de la oficina",
    "ausente",
    "fuori ufficio",
    "fuori sede",
    "assente",
    "afwezig",
    "niet aanwezig",
    "fora do escritório",
    "fora do escritorio",
    "frånvarande",
    "frånvaro",
    "inte på kontoret",
    "poza biurem",
    "nieobecność",
];

/// Out-of-office notices in Japanese and Chinese, which need no separator.
const CJK_OUT_OF_OFFICE: [&str; 8] = [
    "不在のお知らせ",
    "不在通知",
    "外出のお知らせ",
    "休暇のお知らせ",
    "不在办公室",
    "不在辦公室",
    "休假通知",
    "外出通知",
];

/// Whether `subject` starts like an out-of-office or automatic reply. Only
/// the start counts: a human reply is `Re: …`, and may well be about an
/// out-of-office feature.
pub fn is_out_of_office_subject(subject: &str) -> bool {
    let lower = subject.trim_start().to_lowercase();
    let after = |prefix: &str| lower.strip_prefix(prefix).map(str::trim_start);
    AUTO_REPLY_PREFIXES
        .iter()
        .filter_map(|p| after(p))
        .any(|rest| rest.starts_with([':', '：']))
        || OUT_OF_OFFICE_PHRASES
            .iter()
            .filter_map(|p| lower.strip_prefix(p))
            .any(|rest| !rest.starts_with(char::is_alphanumeric))
        || CJK_OUT_OF_OFFICE.iter().any(|p| lower.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, Header};

    fn ctx() -> Context {
        Context {
            mailbox: "replies@beta.example.com".into(),
            ..Context::default()
        }
    }

    fn with_header(name: &str, value: &str) -> Email {
        Email {
            from: vec![Address::new("dana@example.org")],
            subject: Some("Re: hello".into()),
            headers: vec![
                Header::new("Subject", "Re: hello"),
                Header::new(name, value),
            ],
            ..Email::default()
        }
    }

    fn reason(email: &Email) -> Option<String> {
        machine_sent(email, &ctx())
    }

    fn category(email: &Email) -> Option<SkipCategory> {
        reason(email).and_then(|r| SkipCategory::of_reason(&r))
    }

    #[test]
    fn auto_submitted() {
        assert_eq!(
            reason(&with_header("Auto-Submitted", "auto-replied")).unwrap(),
            "auto-reply: Auto-Submitted: auto-replied"
        );
        assert!(reason(&with_header("auto-submitted", "Auto-Generated")).is_some());
        assert!(reason(&with_header("Auto-Submitted", " no ")).is_none());
        assert!(reason(&with_header("Auto-Submitted", "No; owner=x")).is_none());
    }

    #[test]
    fn auto_reply_headers() {
        for (name, value) in [
            ("X-Autoreply", "yes"),
            ("X-Autorespond", "1"),
            ("X-Auto-Response-Suppress", "All"),
            ("Precedence", "auto_reply"),
            (
                "Content-Type",
                "multipart/report; report-type=disposition-notification; boundary=x",
            ),
        ] {
            let reason = reason(&with_header(name, value)).unwrap();
            assert!(
                reason.starts_with(&format!("auto-reply: {name}: ")),
                "{reason}"
            );
        }
    }

    #[test]
    fn bulk_and_list_mail() {
        for (name, value) in [
            ("Precedence", "bulk"),
            ("Precedence", "Junk"),
            ("Precedence", "list"),
            ("List-Id", "Lumen testers <testers.lumen.example.com>"),
            ("List-Unsubscribe", "<mailto:leave@lists.example.com>"),
        ] {
            let reason = reason(&with_header(name, value)).unwrap();
            assert!(reason.starts_with(&format!("bulk: {name}: ")), "{reason}");
        }
        assert!(reason(&with_header("Precedence", "first-class")).is_none());
    }

    #[test]
    fn delivery_reports_and_bounce_senders() {
        let email = with_header(
            "Content-Type",
            "multipart/report; report-type=\"delivery-status\"; boundary=\"b1\"",
        );
        let first = reason(&email).unwrap();
        assert!(
            first.starts_with("bounce: Content-Type: multipart/report;"),
            "{first}"
        );
        assert_eq!(
            category(&with_header("X-Failed-Recipients", "dana@example.org")),
            Some(SkipCategory::Bounce)
        );
        for sender in [
            "MAILER-DAEMON@mx1.example.org",
            "postmaster@example.net",
            "mail-delivery-subsystem@example.com",
        ] {
            let mut email = with_header("Auto-Submitted", "auto-replied");
            email.from = vec![Address::named("Mail Delivery System", sender)];
            assert_eq!(reason(&email).unwrap(), format!("bounce: sent by {sender}"));
        }
        let mut email = Email {
            from: vec![Address::named("MAILER-DAEMON", "")],
            ..Email::default()
        };
        assert_eq!(
            reason(&email).unwrap(),
            "bounce: sent by MAILER-DAEMON with the null address"
        );
        // A person's name with the null address is not a bounce.
        email.from = vec![Address::named("Dana", "")];
        assert_eq!(reason(&email), None);
        // No address parsed at all: the raw field says it.
        let email = Email {
            headers: vec![Header {
                name: "From".into(),
                value: "MAILER-DAEMON <>".into(),
            }],
            ..Email::default()
        };
        assert_eq!(
            reason(&email).unwrap(),
            "bounce: sent by MAILER-DAEMON with the null address"
        );
        assert!(reason_is_none(
            "Content-Type",
            "multipart/mixed; boundary=x"
        ));
    }

    #[test]
    fn bounce_senders_spelled_otherwise() {
        for sender in [
            "MAILER-DAEMON",
            "post_master@carrier.example.net",
            "Mailer_Daemon@mx.example.org",
        ] {
            let email = Email {
                from: vec![Address::named("Mail Delivery System", sender)],
                ..Email::default()
            };
            assert_eq!(reason(&email).unwrap(), format!("bounce: sent by {sender}"));
        }
        // A person whose name only contains the word is not one.
        let email = Email {
            from: vec![Address::new("postmasters.fan@example.org")],
            ..Email::default()
        };
        assert_eq!(reason(&email), None);
    }

    #[test]
    fn the_null_envelope_sender_is_machine_mail() {
        let mut email = with_header("Return-Path", "<>");
        email.from = vec![Address::named(
            "Carrier notices",
            "notices@carrier.example.net",
        )];
        assert_eq!(
            reason(&email).as_deref(),
            Some("bounce: Return-Path: <> (the null sender)")
        );
        // An out-of-office sent with the null sender stays an auto-reply.
        email.headers.push(Header {
            name: "Auto-Submitted".into(),
            value: "auto-replied".into(),
        });
        assert_eq!(category(&email), Some(SkipCategory::AutoReply));
        // A real return path is a person's.
        assert!(reason_is_none("Return-Path", "<dana@example.org>"));
    }

    #[test]
    fn no_reply_senders_are_machines() {
        for sender in [
            "no-reply@sns.example.com",
            "NoReply@example.org",
            "do_not_reply@shop.example",
            "ne-pas-repondre@example.fr",
        ] {
            let email = Email {
                from: vec![Address::new(sender)],
                ..Email::default()
            };
            assert_eq!(
                reason(&email).unwrap(),
                format!("bulk: sent from a no-reply address {sender}")
            );
        }
        let email = Email {
            from: vec![Address::new("noreen@example.org")],
            ..Email::default()
        };
        assert_eq!(reason(&email), None);
    }

    #[test]
    fn the_null_sender_as_author_is_a_bounce() {
        // A gateway's own delivery notice, multipart/mixed, `From: <>`.
        for value in ["<>", " <> ", "\"\" <>"] {
            let email = with_header("From", value);
            assert_eq!(
                reason(&email).as_deref(),
                Some("bounce: From: <> (the null sender)"),
                "{value:?}"
            );
        }
        // A name with no address at all is not a bounce (the mapper skips it
        // as `no-sender`), and neither is a real address in angle brackets.
        assert!(reason_is_none("From", "Whomever"));
        assert!(reason_is_none("From", "<dana@example.org>"));
    }

    fn reason_is_none(name: &str, value: &str) -> bool {
        reason(&with_header(name, value)).is_none()
    }

    #[test]
    fn loops_from_the_mailbox_itself() {
        let mut email = with_header("X-Mailer", "popline");
        email.from = vec![Address::new("Replies+FB-1@Beta.Example.com")];
        assert_eq!(
            reason(&email).unwrap(),
            "loop: sent from the mailbox's own address Replies+FB-1@Beta.Example.com"
        );
        let no_mailbox = Context::default();
        assert_eq!(machine_sent(&email, &no_mailbox), None);
    }

    #[test]
    fn out_of_office_subjects_in_many_languages() {
        for subject in [
            "Automatic reply: [Lumen beta] Sync stalls",
            "Out of Office: Re: export",
            "Out of office until 12 March",
            "OOO - back Monday",
            "Automatische Antwort: [Lumen beta] Export",
            "Abwesenheitsnotiz: Export",
            "Réponse automatique : Export",
            "Absence du bureau",
            "Respuesta automática: Export",
            "Fuera de la oficina",
            "Risposta automatica: Export",
            "Fuori sede fino al 12/03",
            "Automatisch antwoord: Export",
            "Afwezig: Export",
            "Resposta automática: Export",
            "Ausente: de férias",
            "Automatiskt svar: Export",
            "Frånvarande",
            "Odpowiedź automatyczna: Export",
            "Poza biurem",
            "自動応答: [Lumen beta] Export",
            "不在のお知らせ",
            "自动回复: [Lumen beta] Export",
            "自動回覆：Export",
        ] {
            assert!(is_out_of_office_subject(subject), "{subject}");
        }
        for subject in [
            "Re: Out of office replies break sync",
            "Re: [FB-12] Automatic reply setting",
            "Auto-reply feature is great",
            "Oops, the export failed",
            "Ausentes los iconos en la barra",
            "外出時にアプリが落ちます",
        ] {
            assert!(!is_out_of_office_subject(subject), "{subject}");
        }
        let mut email = with_header("X-Mailer", "Exchange");
        email.subject = Some("Automatic reply: [Lumen beta] Sync".into());
        assert_eq!(
            reason(&email).unwrap(),
            "auto-reply: out-of-office subject \"Automatic reply: [Lumen beta] Sync\""
        );
    }

    #[test]
    fn bounce_wins_over_auto_submitted_and_loop_over_all() {
        let mut email = with_header("Auto-Submitted", "auto-replied");
        email.headers.push(Header::new(
            "Content-Type",
            "multipart/report; report-type=delivery-status; boundary=x",
        ));
        assert_eq!(category(&email), Some(SkipCategory::Bounce));
        email.from = vec![Address::new("replies@beta.example.com")];
        assert_eq!(category(&email), Some(SkipCategory::Loop));
    }

    #[test]
    fn long_values_are_shortened() {
        let long = format!("multipart/report; boundary=\"{}\"", "x".repeat(500));
        let reason = reason(&with_header("Content-Type", &long)).unwrap();
        assert!(reason.len() < 200, "{reason}");
        assert!(reason.ends_with("..."), "{reason}");
    }
}
