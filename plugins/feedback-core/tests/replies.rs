//! Realistic replies through `map_email`, as the host would hand them over.

use feedback_core::{
    Address, Attachment, Config, ConfigError, Context, Email, Feedback, FeedbackKind, Header,
    MatchMethod, Outcome, SkipCategory, map_email,
};

fn context() -> Context {
    Context {
        pipeline: "lumen-beta".into(),
        mailbox: "replies@beta.example.com".into(),
        uid: "000001a4".into(),
        received_at: "2026-03-03T10:17:42Z".into(),
    }
}

fn dana() -> Address {
    Address::named("Dana Whitfield", "dana.whitfield@example.org")
}

fn config(pairs: &[(&str, &str)]) -> Config {
    Config::from_pairs(pairs.iter().copied()).unwrap()
}

fn single(outcome: Outcome) -> Feedback {
    match outcome {
        Outcome::Feedback(mut items) if items.len() == 1 => items.remove(0),
        other => panic!("expected one feedback record, got {other:?}"),
    }
}

fn skip_reason(outcome: Outcome) -> String {
    match outcome {
        Outcome::Skip(reason) => reason,
        other => panic!("expected a skip, got {other:?}"),
    }
}

const GMAIL_TEXT: &str = "Hi Lumen team,\r\n\
\r\n\
Build 412 fixes the export crash for me. Exporting a 40-page project to PDF\r\n\
now takes about 6 seconds on my ThinkPad (Windows 11).\r\n\
\r\n\
One thing: the progress bar jumps straight to 100% and then sits there.\r\n\
\r\n\
Dana\r\n\
\r\n\
On Tue, 3 Mar 2026 at 10:02, Lumen Beta Team <beta@notify.beta.example.com> wrote:\r\n\
\r\n\
> Hi Dana,\r\n\
>\r\n\
> Thanks for reporting the crash when exporting to PDF. Could you try\r\n\
> build 412 and tell us whether it still happens?\r\n\
>\r\n\
> -- \r\n\
> The Lumen Beta Team\r\n";

fn gmail_reply() -> Email {
    Email {
        from: vec![dana()],
        to: vec![Address::named(
            "Lumen Beta",
            "replies+FB-1042@beta.example.com",
        )],
        delivered_to: vec![Address::new("replies@beta.example.com")],
        subject: Some("Re: [Lumen beta] PDF export crashes on large projects".into()),
        message_id: Some("CAH7d2Kx=Q9pLr4mW1@mail.gmail.com".into()),
        in_reply_to: vec!["lumen-notify-8f2c1e@notify.beta.example.com".into()],
        references: vec!["lumen-notify-8f2c1e@notify.beta.example.com".into()],
        headers: vec![
            Header::new("Delivered-To", "replies@beta.example.com"),
            Header::new("MIME-Version", "1.0"),
            Header::new(
                "Content-Type",
                "multipart/alternative; boundary=\"000000000000a1b2c3\"",
            ),
        ],
        text_body: Some(GMAIL_TEXT.into()),
        html_body: Some("<div dir=\"ltr\">Hi Lumen team,<br>...</div>".into()),
        ..Email::default()
    }
}

#[test]
fn gmail_top_post_matched_by_plus_address() {
    let feedback = single(map_email(&gmail_reply(), &context(), &Config::default()).unwrap());
    assert_eq!(feedback.kind, FeedbackKind::Reply);
    assert_eq!(feedback.target.as_deref(), Some("FB-1042"));
    let matched = feedback.match_.unwrap();
    assert_eq!(matched.method, MatchMethod::PlusAddress.as_str());
    assert_eq!(matched.value, "FB-1042");
    assert_eq!(feedback.author, dana());
    assert_eq!(
        feedback.body_text,
        "Hi Lumen team,\n\n\
         Build 412 fixes the export crash for me. Exporting a 40-page project to PDF\n\
         now takes about 6 seconds on my ThinkPad (Windows 11).\n\n\
         One thing: the progress bar jumps straight to 100% and then sits there.\n\n\
         Dana"
    );
    let elided = feedback.elided_text.unwrap();
    assert!(
        elided.starts_with("On Tue, 3 Mar 2026 at 10:02, Lumen Beta Team"),
        "{elided}"
    );
    assert!(elided.ends_with("> The Lumen Beta Team"), "{elided}");
    assert_eq!(
        feedback.received_at.as_deref(),
        Some("2026-03-03T10:17:42Z")
    );
    assert_eq!(
        feedback.source_message_id.as_deref(),
        Some("CAH7d2Kx=Q9pLr4mW1@mail.gmail.com")
    );
    assert_eq!(
        feedback.subject.as_deref(),
        Some("Re: [Lumen beta] PDF export crashes on large projects")
    );
    assert!(feedback.body_html.is_some());
    assert!(feedback.attachments.is_empty());
}

const OUTLOOK_TEXT: &str = "Hello,\r\n\
\r\n\
Sync still stalls at 97% when the laptop wakes from sleep. I have attached the\r\n\
log from this morning.\r\n\
\r\n\
Kind regards,\r\n\
Marcus Lindqvist\r\n\
IT Operations | Example Logistics\r\n\
\r\n\
________________________________\r\n\
From: Lumen Beta Team <beta@notify.beta.example.com>\r\n\
Sent: Tuesday, March 3, 2026 9:41 AM\r\n\
To: Marcus Lindqvist <marcus.lindqvist@example.net>\r\n\
Subject: [Lumen beta] Sync stalls after resume\r\n\
\r\n\
Hi Marcus,\r\n\
\r\n\
We changed the reconnect logic in build 412. Does sync still stall?\r\n";

fn outlook_reply() -> Email {
    Email {
        from: vec![Address::named(
            "Marcus Lindqvist",
            "marcus.lindqvist@example.net",
        )],
        to: vec![Address::named("Lumen Beta", "replies@beta.example.com")],
        subject: Some("RE: [Lumen beta] Sync stalls after resume".into()),
        message_id: Some("DB9PR04MB8412A1C2E3F4@DB9PR04MB8412.eurprd04.prod.outlook.com".into()),
        in_reply_to: vec!["feedback-1043@notify.beta.example.com".into()],
        references: vec!["feedback-1043@notify.beta.example.com".into()],
        text_body: Some(OUTLOOK_TEXT.into()),
        attachments: vec![Attachment {
            index: 0,
            file_name: Some("lumen-sync.log".into()),
            content_type: "text/plain".into(),
            size: 18_204,
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            content_id: None,
            inline: false,
        }],
        ..Email::default()
    }
}

#[test]
fn outlook_reply_matched_by_in_reply_to() {
    let feedback = single(map_email(&outlook_reply(), &context(), &Config::default()).unwrap());
    assert_eq!(feedback.target.as_deref(), Some("1043"));
    let matched = feedback.match_.unwrap();
    assert_eq!(matched.method, MatchMethod::InReplyTo.as_str());
    assert_eq!(matched.value, "feedback-1043@notify.beta.example.com");
    assert_eq!(
        feedback.body_text,
        "Hello,\n\n\
         Sync still stalls at 97% when the laptop wakes from sleep. I have attached the\n\
         log from this morning.\n\n\
         Kind regards,\n\
         Marcus Lindqvist\n\
         IT Operations | Example Logistics"
    );
    let elided = feedback.elided_text.unwrap();
    assert!(
        elided.starts_with("________________________________\nFrom: Lumen Beta Team"),
        "{elided}"
    );
    assert!(elided.ends_with("Does sync still stall?"), "{elided}");
    assert_eq!(feedback.attachments, [0]);
}

const HTML_ONLY: &str = r#"<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><style>p { margin: 0 }</style></head>
<body><div dir="ltr">
<div>Hi,</div><div><br></div>
<div>The new onboarding tour is lovely, but step&nbsp;3 points at the <b>Share</b> button, which isn&#39;t there on a 1280&times;800 window &amp; the tooltip covers it.</div>
<div><br></div><div>Screenshot attached.</div><div><br></div><div>Priya</div>
</div><br>
<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Wed, 4 Mar 2026 at 16:20, Lumen Beta Team &lt;<a href="mailto:beta@notify.beta.example.com">beta@notify.beta.example.com</a>&gt; wrote:<br></div>
<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">
<p>Hi Priya,</p><p>Build 415 has a new onboarding tour. What do you think?</p>
</blockquote></div></body></html>"#;

fn html_only_reply() -> Email {
    Email {
        from: vec![Address::named("Priya Raman", "priya.raman@example.com")],
        to: vec![Address::new("replies@beta.example.com")],
        subject: Some("Re: [Lumen beta] New onboarding tour [FB-1044]".into()),
        message_id: Some("CAJ4p9Yt=onboarding-3@mail.gmail.com".into()),
        in_reply_to: vec!["lumen-notify-77aa01@notify.beta.example.com".into()],
        html_body: Some(HTML_ONLY.into()),
        attachments: vec![
            Attachment {
                index: 0,
                file_name: Some("onboarding-step3.png".into()),
                content_type: "image/png".into(),
                size: 48_311,
                sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".into(),
                content_id: None,
                inline: false,
            },
            Attachment {
                index: 1,
                file_name: None,
                content_type: "image/png".into(),
                size: 1_024,
                sha256: "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9".into(),
                content_id: Some("ii_m1x2y3z4".into()),
                inline: true,
            },
        ],
        ..Email::default()
    }
}

#[test]
fn html_only_reply_with_blockquote_matched_by_subject() {
    let feedback = single(map_email(&html_only_reply(), &context(), &Config::default()).unwrap());
    assert_eq!(feedback.target.as_deref(), Some("1044"));
    let matched = feedback.match_.unwrap();
    assert_eq!(matched.method, MatchMethod::Subject.as_str());
    assert_eq!(matched.value, "[FB-1044]");
    assert_eq!(
        feedback.body_text,
        "Hi,\n\n\
         The new onboarding tour is lovely, but step 3 points at the Share button, which isn't there on a 1280\u{d7}800 window & the tooltip covers it.\n\n\
         Screenshot attached.\n\n\
         Priya"
    );
    assert_eq!(
        feedback.elided_text.as_deref(),
        Some(
            "On Wed, 4 Mar 2026 at 16:20, Lumen Beta Team <beta@notify.beta.example.com> wrote:\n\
             > Hi Priya,\n\
             >\n\
             > Build 415 has a new onboarding tour. What do you think?"
        )
    );
    assert_eq!(feedback.body_html.as_deref(), Some(HTML_ONLY));
    assert_eq!(feedback.attachments, [0, 1]);
}

#[test]
fn blank_text_part_falls_back_to_html() {
    let email = Email {
        text_body: Some("\r\n".into()),
        ..html_only_reply()
    };
    let feedback = single(map_email(&email, &context(), &Config::default()).unwrap());
    assert!(
        feedback
            .body_text
            .starts_with("Hi,\n\nThe new onboarding tour")
    );
}

#[test]
fn inline_reply_keeps_the_testers_answers() {
    let email = Email {
        text_body: Some(
            "On Tue, 3 Mar 2026 at 10:02, Lumen Beta Team <beta@notify.beta.example.com> wrote:\n\
             > 1. Which build are you on?\n\
             \n\
             412\n\
             \n\
             > 2. Does the crash still happen?\n\
             \n\
             Only with projects over 200 pages.\n\
             \n\
             -- \n\
             Dana Whitfield\n"
                .into(),
        ),
        ..gmail_reply()
    };
    let feedback = single(map_email(&email, &context(), &Config::default()).unwrap());
    assert_eq!(
        feedback.body_text,
        "412\n\nOnly with projects over 200 pages."
    );
    assert_eq!(
        feedback.elided_text.as_deref(),
        Some(
            "On Tue, 3 Mar 2026 at 10:02, Lumen Beta Team <beta@notify.beta.example.com> wrote:\n\
             > 1. Which build are you on?\n\n\
             > 2. Does the crash still happen?\n\n\
             -- \nDana Whitfield"
        )
    );
}

#[test]
fn match_order_decides_between_signals() {
    // Plus-address FB-1042, In-Reply-To 1043 and subject 1044 all at once.
    let email = Email {
        to: vec![Address::new("replies+FB-1042@beta.example.com")],
        subject: Some("RE: [FB-1044] Sync stalls".into()),
        ..outlook_reply()
    };
    let target = |order: &str| {
        single(map_email(&email, &context(), &config(&[("match-order", order)])).unwrap()).target
    };
    assert_eq!(
        target("plus-address,in-reply-to,subject").as_deref(),
        Some("FB-1042")
    );
    assert_eq!(
        target("in-reply-to,plus-address,subject").as_deref(),
        Some("1043")
    );
    assert_eq!(target("subject,plus-address").as_deref(), Some("1044"));
}

#[test]
fn unmatched_is_skipped_by_default() {
    let email = Email {
        in_reply_to: vec![],
        references: vec![],
        ..outlook_reply()
    };
    let reason = skip_reason(map_email(&email, &context(), &Config::default()).unwrap());
    assert_eq!(
        reason,
        "no-match: plus-address: no replies+TOKEN recipient; in-reply-to/references: no \
         In-Reply-To or References; subject: no token in the subject; body-marker: no marker \
         in the body"
    );
    assert_eq!(
        SkipCategory::of_reason(&reason),
        Some(SkipCategory::NoMatch)
    );
    let reason =
        skip_reason(map_email(&email, &context(), &config(&[("match-order", "subject")])).unwrap());
    assert_eq!(reason, "no-match: subject: no token in the subject");
}

#[test]
fn unmatched_as_new_feedback() {
    let email = Email {
        in_reply_to: vec![],
        references: vec![],
        ..outlook_reply()
    };
    let feedback = single(map_email(&email, &context(), &config(&[("unmatched", "new")])).unwrap());
    assert_eq!(feedback.kind, FeedbackKind::New);
    assert_eq!(feedback.target, None);
    assert_eq!(feedback.match_, None);
    assert!(feedback.body_text.starts_with("Hello,"));
}

#[test]
fn auto_replies_are_skipped_even_when_matched() {
    let cases = [
        (
            "Auto-Submitted",
            "auto-replied",
            "auto-reply: Auto-Submitted: auto-replied",
        ),
        ("X-Autoreply", "yes", "auto-reply: X-Autoreply: yes"),
        (
            "X-Autorespond",
            "Out of office",
            "auto-reply: X-Autorespond: Out of office",
        ),
        ("Precedence", "bulk", "bulk: Precedence: bulk"),
        (
            "Content-Type",
            "multipart/report; report-type=delivery-status; boundary=\"x\"",
            "bounce: Content-Type: multipart/report; report-type=delivery-status",
        ),
    ];
    for (name, value, expected) in cases {
        let mut email = gmail_reply();
        email.headers.retain(|h| h.name != "Content-Type");
        email.headers.push(Header::new(name, value));
        let reason = skip_reason(map_email(&email, &context(), &Config::default()).unwrap());
        assert!(reason.contains(expected), "{reason}");
    }
    let mut human = gmail_reply();
    human.headers.push(Header::new("Auto-Submitted", "no"));
    single(map_email(&human, &context(), &Config::default()).unwrap());
}

#[test]
fn mail_from_the_mailbox_itself_is_a_loop() {
    let email = Email {
        from: vec![Address::named("Lumen Beta", "replies@beta.example.com")],
        ..gmail_reply()
    };
    let reason = skip_reason(map_email(&email, &context(), &Config::default()).unwrap());
    assert_eq!(
        SkipCategory::of_reason(&reason),
        Some(SkipCategory::Loop),
        "{reason}"
    );
}

#[test]
fn signed_plus_address_token_end_to_end() {
    let key = "k7f1c0d9e8b2a3f4c5d6e7f8a9b0c1d2";
    let token = feedback_core::token::mint(
        "FB-1042",
        "dana.whitfield@example.org",
        1_780_000_000,
        key.as_bytes(),
    )
    .unwrap();
    let email = Email {
        to: vec![Address::new(format!("replies+{token}@beta.example.com"))],
        ..gmail_reply()
    };
    let signed = config(&[("token-keys", key)]);
    let feedback = single(map_email(&email, &context(), &signed).unwrap());
    assert_eq!(feedback.target.as_deref(), Some("FB-1042"));
    assert_eq!(feedback.match_.unwrap().value, token);

    // The same token from someone else falls through to the other signals,
    // and the skip says why the token was refused.
    let forwarded = Email {
        from: vec![Address::new("eve@example.net")],
        in_reply_to: vec![],
        references: vec![],
        ..email
    };
    let reason = skip_reason(map_email(&forwarded, &context(), &signed).unwrap());
    assert!(
        reason.starts_with(&format!(
            "no-match: plus-address: token {token} rejected: signature"
        )),
        "{reason}"
    );
    assert!(reason.contains("for sender eve@example.net"), "{reason}");
}

#[test]
fn decoding_warnings_are_carried_in_the_record() {
    let email = Email {
        warnings: vec!["text body has bytes that could not be decoded".into()],
        ..gmail_reply()
    };
    let feedback = single(map_email(&email, &context(), &Config::default()).unwrap());
    assert_eq!(
        feedback.fields,
        [(
            "decode-warnings".to_owned(),
            "text body has bytes that could not be decoded".to_owned()
        )]
    );
}

#[test]
fn localized_replies_are_trimmed() {
    let cases = [
        (
            "Funktioniert jetzt.\n\nAm Di., 3. März 2026 um 10:02 Uhr schrieb Lumen Beta Team <\nbeta@notify.beta.example.com>:\n> Hallo Dana,\n",
            "Funktioniert jetzt.",
        ),
        (
            "Ça marche.\n\nEnvoyé de mon iPhone\n\nLe mar. 3 mars 2026 à 10:02, Lumen Beta Team <beta@notify.beta.example.com> a écrit :\n\n> Bonjour,\n",
            "Ça marche.",
        ),
        (
            "Sigue fallando.\n\n________________________________\nDe: Lumen Beta Team <beta@notify.beta.example.com>\nEnviado: martes, 3 de marzo de 2026 10:02\nPara: Dana\nAsunto: [Lumen beta] Exportar\n\nHola,\n",
            "Sigue fallando.",
        ),
        (
            "直りました。\n\n2026年3月3日(火) 10:02 Lumen Beta Team <beta@notify.beta.example.com>:\n\n> こんにちは\n",
            "直りました。",
        ),
        (
            "已经修复了。\n\nLumen Beta Team <beta@notify.beta.example.com> 于2026年3月3日周二 10:02写道：\n\n> 你好\n",
            "已经修复了。",
        ),
        (
            "Działa.\n\n-----Wiadomość oryginalna-----\nOd: Lumen Beta Team\n",
            "Działa.",
        ),
    ];
    for (text, expected) in cases {
        let email = Email {
            text_body: Some(text.into()),
            ..gmail_reply()
        };
        let feedback = single(map_email(&email, &context(), &Config::default()).unwrap());
        assert_eq!(feedback.body_text, expected, "{text}");
        assert!(feedback.elided_text.is_some(), "{text}");
    }
}

#[test]
fn author_falls_back_to_reply_to_and_skips_without_either() {
    let email = Email {
        from: vec![],
        reply_to: vec![Address::new("dana@example.org")],
        ..gmail_reply()
    };
    let feedback = single(map_email(&email, &context(), &Config::default()).unwrap());
    assert_eq!(feedback.author, Address::new("dana@example.org"));

    let email = Email {
        from: vec![],
        reply_to: vec![],
        ..gmail_reply()
    };
    assert_eq!(
        skip_reason(map_email(&email, &context(), &Config::default()).unwrap()),
        "no-sender: no From field, and no Reply-To address"
    );

    // A From field with a name and no address (truncated or hand-made mail),
    // or an empty one: skipped with the field in the reason, never an error
    // (an error would dead-letter the message).
    for (value, reason) in [
        (
            "Whomever",
            "no-sender: no address in From \"Whomever\", nor in Reply-To",
        ),
        (
            "",
            "no-sender: the From field is empty, and there is no Reply-To address",
        ),
    ] {
        let email = Email {
            from: vec![],
            reply_to: vec![],
            headers: vec![Header::new("From", value)],
            ..gmail_reply()
        };
        assert_eq!(
            skip_reason(map_email(&email, &context(), &Config::default()).unwrap()),
            reason,
            "{value:?}"
        );
    }
}

#[test]
fn empty_received_at_is_left_to_the_host() {
    let ctx = Context {
        received_at: String::new(),
        ..context()
    };
    let feedback = single(map_email(&gmail_reply(), &ctx, &Config::default()).unwrap());
    assert_eq!(feedback.received_at, None);
}

#[test]
fn config_errors_name_the_key() {
    let err = Config::from_pairs([("subject_pattern", "[FB-{id}]")]).unwrap_err();
    assert!(matches!(err, ConfigError::UnknownKey(ref k) if k == "subject_pattern"));
    assert_eq!(
        err.to_string(),
        "unknown config key `subject_pattern`; valid keys: plus-prefix, message-id-pattern, \
         subject-pattern, body-marker-pattern, match-order, unmatched, token-keys, sender-check"
    );
    let err = Config::from_pairs([("unmatched", "ignore")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value `ignore` for config key `unmatched`: expected `skip` or `new`"
    );
}

#[test]
fn outlook_html_only_reply_cuts_at_the_header_block() {
    let html = r#"<html><head><style><!-- p.MsoNormal {margin:0cm} --></style></head><body>
<div class="WordSection1">
<p class="MsoNormal">Still stalls, log attached.<o:p></o:p></p>
<p class="MsoNormal"><o:p>&nbsp;</o:p></p>
<p class="MsoNormal">Marcus<o:p></o:p></p>
<p class="MsoNormal"><o:p>&nbsp;</o:p></p>
<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">
<p class="MsoNormal"><b>From:</b> Lumen Beta Team &lt;beta@notify.beta.example.com&gt;<br>
<b>Sent:</b> Tuesday, March 3, 2026 9:41 AM<br>
<b>To:</b> Marcus Lindqvist &lt;marcus.lindqvist@example.net&gt;<br>
<b>Subject:</b> [Lumen beta] Sync stalls after resume<o:p></o:p></p>
</div>
<p class="MsoNormal">Does sync still stall?<o:p></o:p></p>
</div></body></html>"#;
    let email = Email {
        text_body: None,
        html_body: Some(html.into()),
        ..outlook_reply()
    };
    let feedback = single(map_email(&email, &context(), &Config::default()).unwrap());
    assert_eq!(feedback.body_text, "Still stalls, log attached.\n\nMarcus");
    let elided = feedback.elided_text.unwrap();
    assert!(
        elided.starts_with("From: Lumen Beta Team <beta@notify.beta.example.com>\nSent: Tuesday"),
        "{elided}"
    );
    assert!(elided.ends_with("Does sync still stall?"), "{elided}");
}

fn forward_email(subject: &str, text: &str) -> Email {
    Email {
        from: vec![dana()],
        to: vec![Address::new("replies+FB-1042@beta.example.com")],
        subject: Some(subject.into()),
        text_body: Some(text.into()),
        ..Email::default()
    }
}

#[test]
fn a_forward_without_own_text_keeps_the_forwarded_text_and_says_so() {
    let cases = [
        // The separator says it is a forward.
        (
            "Fwd: Export",
            "---------- Forwarded message ---------\nFrom: Support <s@example.com>\nDate: Tue, Mar 3, 2026\nSubject: Export\n\nIt hangs at 99%.\n",
        ),
        // Outlook's separators are the same for replies and forwards: the
        // subject says it.
        (
            "WG: Export",
            "-----Ursprüngliche Nachricht-----\nVon: Support <s@example.com>\nGesendet: Dienstag, 3. März 2026 10:02\nBetreff: Export\n\nIt hangs at 99%.\n",
        ),
        (
            "TR : Export",
            "________________________________\nDe : Support <s@example.com>\nEnvoyé : mardi 3 mars 2026 10:02\nObjet : Export\n\nIt hangs at 99%.\n",
        ),
    ];
    for (subject, text) in cases {
        let record = single(
            map_email(
                &forward_email(subject, text),
                &context(),
                &Config::default(),
            )
            .unwrap(),
        );
        assert_eq!(record.body_text, "It hangs at 99%.", "{subject}");
        assert!(
            record
                .fields
                .contains(&("forwarded".to_owned(), "true".to_owned())),
            "{subject}: {:?}",
            record.fields
        );
        assert!(
            record
                .elided_text
                .unwrap()
                .contains("Support <s@example.com>")
        );
    }
    // A reply (not a forward) that starts with another message's header
    // block keeps the text under it as the body (a reply never loses its
    // substance), but it is not flagged as forwarded.
    let record = single(
        map_email(
            &forward_email(
                "Re: Export",
                "-----Original Message-----\nFrom: Beta <b@example.com>\nSent: Tuesday\nSubject: Export\n\nPlease try 412.\n",
            ),
            &context(),
            &Config::default(),
        )
        .unwrap(),
    );
    assert_eq!(record.body_text, "Please try 412.");
    assert!(record.fields.iter().all(|(k, _)| k != "forwarded"));
    assert!(
        record
            .elided_text
            .unwrap()
            .contains("-----Original Message-----")
    );
}

/// HTML-only forwards with nothing of the tester's own: the body is the
/// forwarded message's text, never empty, and the record says it was
/// forwarded.
#[test]
fn html_only_forwards_keep_the_forwarded_text() {
    let forwarded = "The export stops at 80 % on every project over 1 GB.";
    let cases = [
        (
            "Gmail (separator inside gmail_attr)",
            "Fwd: Export stops at 80 %",
            format!(
                "<div dir=\"ltr\"><br><br><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">\
                 ---------- Forwarded message ---------<br>From: <strong class=\"gmail_sendername\">Support Desk</strong> \
                 <span>&lt;<a href=\"mailto:support@example.com\">support@example.com</a>&gt;</span><br>\
                 Date: Tue, Mar 3, 2026 at 10:02 AM<br>Subject: Export stops at 80 %<br>\
                 To: &lt;<a href=\"mailto:priya.raman@example.com\">priya.raman@example.com</a>&gt;<br></div><br><br>\
                 <div dir=\"ltr\">{forwarded}</div></div></div>"
            ),
        ),
        (
            "Outlook on the web (header block in divRplyFwdMsg)",
            "WG: Export stops at 80 %",
            format!(
                "<html><body><div dir=\"ltr\"><br></div><div id=\"appendonsend\"></div>\
                 <hr style=\"display:inline-block;width:98%\" tabindex=\"-1\">\
                 <div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri, sans-serif\"><b>Von:</b> Support Desk \
                 &lt;support@example.com&gt;<br><b>Gesendet:</b> Dienstag, 3. März 2026 10:02<br>\
                 <b>An:</b> Priya Raman<br><b>Betreff:</b> Export stops at 80 %</font><div>&nbsp;</div></div>\
                 <div>{forwarded}</div></body></html>"
            ),
        ),
        (
            "Apple Mail (Begin forwarded message, quoted)",
            "Fwd: Export stops at 80 %",
            format!(
                "<html><body><div><br><div><br><blockquote type=\"cite\"><div>Begin forwarded message:</div><br>\
                 <div><b>From: </b>Support Desk &lt;support@example.com&gt;</div>\
                 <div><b>Subject: </b>Export stops at 80 %</div>\
                 <div><b>Date: </b>3 March 2026 at 10:02:14 GMT</div><br><div><div>{forwarded}</div></div>\
                 </blockquote></div><br></div></body></html>"
            ),
        ),
    ];
    for (client, subject, html) in cases {
        let email = Email {
            subject: Some(subject.into()),
            text_body: None,
            html_body: Some(html),
            attachments: vec![],
            ..html_only_reply()
        };
        let config = config(&[("unmatched", "new")]);
        let feedback = single(map_email(&email, &context(), &config).unwrap());
        assert_eq!(feedback.body_text, forwarded, "{client}");
        assert!(
            feedback
                .fields
                .iter()
                .any(|(k, v)| k == "forwarded" && v == "true"),
            "{client}: {:?}",
            feedback.fields
        );
        let elided = feedback.elided_text.unwrap_or_default();
        assert!(elided.contains("Support Desk"), "{client}: {elided:?}");
    }

    // A comment of the tester's own above the forward: that is the body.
    let email = Email {
        subject: Some("Fwd: Export stops at 80 %".into()),
        html_body: Some(format!(
            "<div dir=\"ltr\">Same here, see below.<br><br><div class=\"gmail_quote\"><div dir=\"ltr\" \
             class=\"gmail_attr\">---------- Forwarded message ---------<br>From: Support Desk \
             &lt;support@example.com&gt;<br>Subject: Export<br></div><br><div>{forwarded}</div></div></div>"
        )),
        attachments: vec![],
        ..html_only_reply()
    };
    let feedback = single(map_email(&email, &context(), &config(&[("unmatched", "new")])).unwrap());
    assert_eq!(feedback.body_text, "Same here, see below.");
    assert!(feedback.fields.iter().all(|(k, _)| k != "forwarded"));
}
