//! Realistic beta-tester replies for the fictional product "Lumen": a small
//! hand-written set for the demo and a deterministic generated corpus for the
//! ingestion benchmark. All messages use CRLF line endings, as on the wire.
//!
//! They carry the signals the reference mapper (`feedback-default`) looks for:
//! a plus address `replies+FB-N@beta.example.com`, an In-Reply-To
//! `<feedback-N@notify.beta.example.com>`, or a subject token `[FB-N]`.

use std::fmt::Write as _;

/// Who sent [`unmatched_reply`].
pub const UNMATCHED_SENDER: &str = "priya.raman@example.org";

/// A tester's message that answers no notification and names no feedback
/// item: the reference mapper skips it as `no-match` (the demo's notice).
pub fn unmatched_reply() -> Vec<u8> {
    format!(
        "From: Priya Raman <{UNMATCHED_SENDER}>\r\n\
         To: Lumen Beta <replies@beta.example.com>\r\n\
         Subject: An idea for the list view\r\n\
         Date: Thu, 5 Mar 2026 19:02:11 +0100\r\n\
         Message-ID: <5d1f0a3e-priya@example.org>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Hi,\r\n\r\n\
         a compact list view would help on small screens.\r\n\r\n\
         Priya\r\n"
    )
    .into_bytes()
}

/// Six replies to Lumen beta notifications, one per interesting case:
///
/// 1. plain text, matched by plus address `replies+FB-2001@beta.example.com`;
/// 2. Outlook text + HTML, matched by In-Reply-To `<feedback-2002@notify.beta.example.com>`;
/// 3. plain text, matched by the subject token `[FB-2003]`;
/// 4. HTML only, matched by plus address (FB-2004);
/// 5. text with a log file attached, matched by In-Reply-To (FB-2005);
/// 6. an out-of-office auto-reply (`Auto-Submitted: auto-replied`) to FB-2001,
///    which the mapper must skip.
pub fn beta_replies() -> Vec<Vec<u8>> {
    [
        PLUS_ADDRESS,
        IN_REPLY_TO,
        SUBJECT_TOKEN,
        HTML_ONLY,
        &with_attachment(),
        AUTO_REPLY,
    ]
    .iter()
    .map(|m| crlf(m))
    .collect()
}

const PLUS_ADDRESS: &str = r#"Return-Path: <dana.whitfield@example.org>
Delivered-To: replies@beta.example.com
Received: from mail.example.org (mail.example.org [198.51.100.41])
        by mx1.beta.example.com (Postfix) with ESMTPS id 4S1kLm2QvXz9sWq
        for <replies+FB-2001@beta.example.com>; Thu,  5 Mar 2026 09:31:07 +0000 (UTC)
From: Dana Whitfield <dana.whitfield@example.org>
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit
Mime-Version: 1.0 (Mac OS X Mail 16.0 \(3774.600.62\))
Subject: Re: [Lumen beta] Sync stalls after waking from sleep
Date: Thu, 5 Mar 2026 09:30:52 +0000
In-Reply-To: <20260305091200.1a2b3c@notify.beta.example.com>
To: Lumen Beta <replies+FB-2001@beta.example.com>
References: <20260305091200.1a2b3c@notify.beta.example.com>
Message-Id: <8F2D41C7-3E0A-4B6D-9C51-0D7A2E6B1F93@example.org>
X-Mailer: Apple Mail (2.3774.600.62)

Hi,

Still happening with build 418. When my MacBook wakes up, the sync icon
spins forever until I quit Lumen. It only happens on Wi‑Fi, never on the
office ethernet.

I turned on verbose logging as you suggested; happy to send the file if
it helps.

Dana

> On 5 Mar 2026, at 09:12, Lumen Beta Team <beta@notify.beta.example.com> wrote:
> 
> Hi Dana,
> 
> Thanks for reporting that sync stalls after your Mac wakes from sleep.
> Build 418 changes how Lumen reconnects. Does it still happen?
> 
> Reply to this email to add to your feedback.
> 
> -- 
> The Lumen Beta Team
"#;

const IN_REPLY_TO: &str = r#"Return-Path: <marcus.lindqvist@example.net>
Delivered-To: replies@beta.example.com
Received: from smtp.example.net (smtp.example.net [203.0.113.25])
        by mx1.beta.example.com (Postfix) with ESMTPS id 4S1mN03xF1z9sWt
        for <replies@beta.example.com>; Thu,  5 Mar 2026 11:02:44 +0000 (UTC)
From: Marcus Lindqvist <marcus.lindqvist@example.net>
To: Lumen Beta <replies@beta.example.com>
Subject: RE: [Lumen beta] Dark mode contrast in the sidebar
Thread-Topic: [Lumen beta] Dark mode contrast in the sidebar
Thread-Index: AQHaLm7x3kJ0b1c2RkOq0xv5Y8h2Zg==
Date: Thu, 5 Mar 2026 11:02:31 +0000
Message-ID: <DB9PR05MB8123A1B2C3D4E5F6A7B8C9D0E1@DB9PR05MB8123.eurprd05.prod.outlook.example.net>
References: <feedback-2002@notify.beta.example.com>
In-Reply-To: <feedback-2002@notify.beta.example.com>
Accept-Language: en-GB, en-US
Content-Language: en-GB
X-MS-Has-Attach:
MIME-Version: 1.0
Content-Type: multipart/alternative;
	boundary="_000_DB9PR05MB8123A1B2C3D4E5F6A7B8C9D0E1DB9PR05MB8123eurp_"

--_000_DB9PR05MB8123A1B2C3D4E5F6A7B8C9D0E1DB9PR05MB8123eurp_
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

Hello,

The new palette is much better. The only thing left: the project names in t=
he sidebar are still grey on dark grey when a project is archived. I can ha=
rdly read them on my external monitor.

Best regards,
Marcus

From: Lumen Beta Team <beta@notify.beta.example.com>
Sent: Thursday, March 5, 2026 10:15 AM
To: Marcus Lindqvist <marcus.lindqvist@example.net>
Subject: [Lumen beta] Dark mode contrast in the sidebar

Hi Marcus,

You told us the sidebar is hard to read in dark mode. Build 418 has a new
palette. Could you have a look?

The Lumen Beta Team

--_000_DB9PR05MB8123A1B2C3D4E5F6A7B8C9D0E1DB9PR05MB8123eurp_
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

<html><head><meta http-equiv=3D"Content-Type" content=3D"text/html; charset=
=3Dus-ascii"></head><body lang=3D"EN-GB"><div class=3D"WordSection1">
<p class=3D"MsoNormal">Hello,</p><p class=3D"MsoNormal">The new palette is =
much better. The only thing left: the project names in the sidebar are stil=
l grey on dark grey when a project is archived. I can hardly read them on m=
y external monitor.</p><p class=3D"MsoNormal">Best regards,<br>Marcus</p>
<div style=3D"border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm =
0cm 0cm"><p class=3D"MsoNormal"><b>From:</b> Lumen Beta Team &lt;beta@notif=
y.beta.example.com&gt;<br><b>Sent:</b> Thursday, March 5, 2026 10:15 AM<br>=
<b>To:</b> Marcus Lindqvist &lt;marcus.lindqvist@example.net&gt;<br><b>Subj=
ect:</b> [Lumen beta] Dark mode contrast in the sidebar</p></div>
<p class=3D"MsoNormal">Hi Marcus,</p><p class=3D"MsoNormal">You told us the=
 sidebar is hard to read in dark mode. Build 418 has a new palette. Could y=
ou have a look?</p><p class=3D"MsoNormal">The Lumen Beta Team</p>
</div></body></html>

--_000_DB9PR05MB8123A1B2C3D4E5F6A7B8C9D0E1DB9PR05MB8123eurp_--
"#;

const SUBJECT_TOKEN: &str = r#"Return-Path: <sofia.brandt@example.com>
Delivered-To: replies@beta.example.com
Received: from mx.example.com (mx.example.com [192.0.2.60])
        by mx1.beta.example.com (Postfix) with ESMTPS id 4S1pQ7kR2z9sXa
        for <replies@beta.example.com>; Thu,  5 Mar 2026 14:48:19 +0000 (UTC)
Message-ID: <5d1e9a4c-7b2f-4e8a-a0c3-2f6b9d1e4a77@example.com>
Date: Thu, 5 Mar 2026 15:48:11 +0100
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Subject: Re: [Lumen beta] Keyboard shortcuts on AZERTY layouts [FB-2003]
Content-Language: fr
To: Lumen Beta <replies@beta.example.com>
References: <CAJ7a1bQ9x@mail.example.com>
From: Sofia Brandt <sofia.brandt@example.com>
In-Reply-To: <CAJ7a1bQ9x@mail.example.com>
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

Bonjour,

Ctrl+Shift+Z works now, thanks! But Ctrl+/ (toggle comment) still does 
nothing on a French AZERTY keyboard, because "/" needs Shift there. 
Could it also listen for Ctrl+: ?

Sofia

Le 05/03/2026 à 13:05, Lumen Beta Team a écrit :
> Hi Sofia,
>
> We reworked keyboard shortcuts for non-US layouts in build 418. Please
> keep [FB-2003] in the subject when you reply.
>
> The Lumen Beta Team
"#;

const HTML_ONLY: &str = r#"Return-Path: <kenji.watanabe@example.com>
Delivered-To: replies@beta.example.com
Received: from webmail.example.com (webmail.example.com [192.0.2.17])
        by mx1.beta.example.com (Postfix) with ESMTPS id 4S1rT2mW8z9sXc
        for <replies+FB-2004@beta.example.com>; Thu,  5 Mar 2026 16:20:03 +0000 (UTC)
MIME-Version: 1.0
From: Kenji Watanabe <kenji.watanabe@example.com>
To: replies+FB-2004@beta.example.com
Subject: Re: [Lumen beta] Search misses words with accents
Date: Thu, 5 Mar 2026 16:19:58 +0000
Message-ID: <web-7f3a9c21e4b8@webmail.example.com>
In-Reply-To: <20260305150000.9e8d7c@notify.beta.example.com>
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: 7bit

<html><body><div>Hi team,</div>
<div><br></div>
<div>Search finds <b>cafe</b> now when I type <i>caf&eacute;</i>, great. It still
misses <b>na&iuml;ve</b> in page titles though (body text works).</div>
<div><br></div>
<div>Kenji</div>
<div><br></div>
<blockquote style="margin:0 0 0 .8ex;border-left:1px #ccc solid;padding-left:1ex">
<div>On Thu, 5 Mar 2026 15:00, Lumen Beta Team wrote:</div>
<div>Hi Kenji, build 418 makes search ignore accents. Does it find what you expect?</div>
</blockquote></body></html>
"#;

fn with_attachment() -> String {
    let mut log = String::new();
    for i in 0..40 {
        let _ = writeln!(
            log,
            "2026-03-05T17:{:02}:{:02}.{:03}Z INFO sync: batch {} uploaded ({} items, {} ms)",
            i / 2,
            (i * 29) % 60,
            (i * 137) % 1000,
            3100 + i,
            12 + i % 7,
            40 + (i * 53) % 400
        );
    }
    log.push_str(
        "2026-03-05T17:20:41.007Z ERROR sync: websocket closed (1006), retrying in 30 s\n",
    );
    format!(
        r#"Return-Path: <amara.okafor@example.net>
Delivered-To: replies@beta.example.com
Received: from smtp.example.net (smtp.example.net [203.0.113.80])
        by mx1.beta.example.com (Postfix) with ESMTPS id 4S1tX9pQ4z9sXd
        for <replies@beta.example.com>; Thu,  5 Mar 2026 17:25:12 +0000 (UTC)
From: Amara Okafor <amara.okafor@example.net>
To: Lumen Beta <replies@beta.example.com>
Subject: Re: [Lumen beta] Offline mode banner never disappears
Date: Thu, 5 Mar 2026 18:25:02 +0100
Message-ID: <a81c2e55-0f3d-4c19-b7e2-6d4a9f0c3b18@example.net>
In-Reply-To: <feedback-2005@notify.beta.example.com>
References: <feedback-2005@notify.beta.example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="------------a1b2c3d4e5f6a7b8c9d0e1f2"

This is a multi-part message in MIME format.
--------------a1b2c3d4e5f6a7b8c9d0e1f2
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 7bit

Hi,

The banner went away after the update, but today it came back and stayed
for about 20 minutes although I was online the whole time. The log from
that session is attached; the last line looks relevant.

Amara

On 05/03/2026 12:40, Lumen Beta Team wrote:
> Hi Amara,
>
> Thanks for telling us the offline banner sticks around. Build 418 checks
> the connection differently. If it happens again, could you send us the
> sync log (Help > Export diagnostics)?
>
> The Lumen Beta Team

--------------a1b2c3d4e5f6a7b8c9d0e1f2
Content-Type: text/plain; charset=UTF-8; name="lumen-sync.log"
Content-Disposition: attachment; filename="lumen-sync.log"
Content-Transfer-Encoding: base64

{}
--------------a1b2c3d4e5f6a7b8c9d0e1f2--
"#,
        base64_lines(log.as_bytes())
    )
}

const AUTO_REPLY: &str = r#"Return-Path: <>
Delivered-To: replies@beta.example.com
Received: from smtp.example.org (smtp.example.org [198.51.100.7])
        by mx1.beta.example.com (Postfix) with ESMTPS id 4S1vB5nH6z9sXe
        for <replies+FB-2001@beta.example.com>; Thu,  5 Mar 2026 09:12:40 +0000 (UTC)
From: Jonas Keller <jonas.keller@example.org>
To: Lumen Beta <replies+FB-2001@beta.example.com>
Subject: Automatic reply: [Lumen beta] Sync stalls after waking from sleep
Date: Thu, 5 Mar 2026 09:12:38 +0000
Message-ID: <autoreply-5e0c7a@example.org>
In-Reply-To: <20260305091200.4d5e6f@notify.beta.example.com>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
Precedence: auto_reply
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 7bit

I am out of the office until 16 March with limited access to email.
For urgent matters, please contact support@example.org.
"#;

/// `n` generated replies for benchmarks, the same for the same `seed`.
///
/// A mix of plain-text and text + HTML replies from a few dozen testers, with
/// Gmail-style (nested `>`) or Outlook-style quoted history of varying length,
/// matched by plus address, In-Reply-To or subject token (some by nothing),
/// about 2% auto-replies, and one message in every hundred carrying a 1 MiB
/// attachment (base64, so about 1.4 MB). At `n = 2000` the total is about
/// 68 MB and the median message about 20 KB, the reference benchmark scale.
pub fn mixed_corpus(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    // One message per block of 100 gets the attachment, at a random position.
    let mut big_at = 0;
    let mut clock = BASE_TIME;
    (0..n)
        .map(|i| {
            if i % 100 == 0 {
                big_at = i + rng.below(100) as usize;
            }
            clock += 60 + rng.below(600);
            if i != big_at && rng.below(100) < 2 {
                crlf(&auto_reply(&mut rng, clock))
            } else {
                reply(&mut rng, clock, i == big_at)
            }
        })
        .collect()
}

/// 2026-03-02 08:00:00 UTC, a Monday.
const BASE_TIME: u64 = 1_772_438_400;

const TESTERS: &[(&str, &str)] = &[
    ("Dana Whitfield", "dana.whitfield@example.org"),
    ("Marcus Lindqvist", "marcus.lindqvist@example.net"),
    ("Priya Raman", "priya.raman@example.com"),
    ("Sofia Brandt", "sofia.brandt@example.com"),
    ("Kenji Watanabe", "kenji.watanabe@example.com"),
    ("Amara Okafor", "amara.okafor@example.net"),
    (
        "=?UTF-8?Q?Tom=C3=A1s_Oliveira?=",
        "tomas.oliveira@example.org",
    ),
    ("Hannah Becker", "h.becker@example.com"),
    ("Liam O'Connor", "liam.oconnor@example.net"),
    ("=?UTF-8?Q?Zo=C3=AB_Martin?=", "zoe.martin@example.org"),
    ("Ravi Shankar", "ravi@example.com"),
    ("Elena Petrova", "elena.petrova@example.net"),
    ("Noah Fischer", "noah.fischer@example.org"),
    ("Mei Chen", "mei.chen@example.com"),
    ("Oskar Nilsson", "oskar.nilsson@example.net"),
    ("Fatima Haddad", "fatima.haddad@example.org"),
];

const TOPICS: &[&str] = &[
    "PDF export crashes on large projects",
    "Sync stalls after waking from sleep",
    "Dark mode contrast in the sidebar",
    "Keyboard shortcuts on AZERTY layouts",
    "Search misses words with accents",
    "New onboarding tour",
    "Slow startup with many projects",
    "Comments panel loses its scroll position",
    "Image import rotates portrait photos",
    "Offline mode banner never disappears",
    "Undo after paste removes too much",
    "Export to Markdown drops tables",
    "Sharing links expire too early",
    "Template gallery feedback",
];

const SENTENCES: &[&str] = &[
    "I tried build 418 this morning and the problem is gone for me.",
    "Unfortunately it still happens, although less often than before.",
    "It only seems to happen with projects that have more than a hundred pages.",
    "On my second laptop (Windows 11, 8 GB) I cannot reproduce it at all.",
    "The fix works, but the progress bar now jumps straight to 100% and sits there.",
    "Could the setting be per project rather than global? We share one install.",
    "I noticed this right after switching the UI language to German.",
    "Restarting Lumen makes it go away for a day or so, then it comes back.",
    "It’s much faster now – opening my biggest project takes about 4 s instead of 20.",
    "The new icons are lovely, although the sync icon looks like a refresh button.",
    "Steps: open a project, paste a table from a spreadsheet, press Ctrl+Z twice.",
    "I’d happily test a nightly build if that helps you narrow it down.",
    "Our team of six all see the same thing, so it’s not just my machine.",
    "The error dialog says “Unexpected response (502)” and offers to retry.",
    "Exporting the same project to DOCX works fine; only PDF is affected.",
    "I can send a sample project privately if you give me an upload link.",
    "Not a big deal for me, but a colleague who uses a screen reader finds it confusing.",
    "With the old version the same workflow worked without problems.",
    "Honestly this release feels like the most stable one so far.",
    "Photos taken in portrait mode on my phone come in rotated by 90°.",
    "Search now finds “café” when I type “cafe”, which is great.",
    "The tour skips step 4 if the window is narrower than about 1,100 px.",
];

const NOTIFICATION: &[&str] = &[
    "Thanks again for taking part in the Lumen beta. Your report helps us decide what to fix first, and we read every reply.",
    "Build 418 contains a change that should address what you described. Could you try it and tell us whether the problem still happens?",
    "If it does, the diagnostics export (Help > Export diagnostics) gives us the logs we need. Nothing personal is included; you can review the file before sending it.",
    "We have also changed how Lumen reconnects after the network drops, so you may notice the sync icon behaving differently for a few seconds after waking your computer.",
    "Reply to this email to add to your feedback. Please keep the reference in the subject line so your reply reaches the right person.",
];

/// One tester reply with quoted history (and maybe a big attachment), CRLF.
fn reply(rng: &mut Rng, time: u64, big_attachment: bool) -> Vec<u8> {
    let (name, email) = *rng.pick(TESTERS);
    let first = name.split([' ', '_']).next().unwrap_or(name);
    let topic = *rng.pick(TOPICS);
    let id = 2000 + rng.below(400);
    let html = rng.below(100) < 55;
    let outlook = rng.below(100) < 35;
    // Median ~20 KB with headers, some long threads; text+HTML messages carry the quote twice.
    let target = (17_000.0 * (0.35 * rng.normalish()).exp()).clamp(3_000.0, 150_000.0) as usize;
    let text_target = if html { target * 10 / 24 } else { target };

    // Which signal the reply carries (about 1 in 10 carries none).
    let signal = rng.below(10);
    let to = if signal < 4 {
        format!("replies+FB-{id}@beta.example.com")
    } else {
        "replies@beta.example.com".to_owned()
    };
    let in_reply_to = if (4..7).contains(&signal) {
        format!("feedback-{id}@notify.beta.example.com")
    } else {
        format!("{time}.{:06x}@notify.beta.example.com", rng.below(1 << 24))
    };
    let subject = if (7..9).contains(&signal) {
        format!("Re: [Lumen beta] {topic} [FB-{id}]")
    } else if outlook {
        format!("RE: [Lumen beta] {topic}")
    } else {
        format!("Re: [Lumen beta] {topic}")
    };

    // The thread, newest first: the tester's new text, then alternating
    // notifications from the team and earlier replies from the tester.
    let mut rounds: Vec<Round> = vec![Round {
        from: name,
        time,
        paragraphs: vec![
            "Hi Lumen team,".to_owned(),
            sentences(rng, 2, 4),
            sentences(rng, 1, 3),
            first.to_owned(),
        ],
    }];
    let mut text = String::new();
    render_text(&mut text, 0, &rounds[0], outlook);
    let mut t = time;
    while text.len() < text_target {
        t -= 3600 + rng.below(86_400);
        let team = rounds.len() % 2 == 1;
        let paragraphs = if team {
            let mut p = vec![format!("Hi {first},")];
            for _ in 0..2 + rng.below(3) {
                p.push(rng.pick(NOTIFICATION).to_string());
            }
            p.push("The Lumen Beta Team".to_owned());
            p
        } else {
            vec!["Hi,".to_owned(), sentences(rng, 2, 5), first.to_owned()]
        };
        rounds.push(Round {
            from: if team { "Lumen Beta Team" } else { name },
            time: t,
            paragraphs,
        });
        render_text(
            &mut text,
            rounds.len() - 1,
            &rounds[rounds.len() - 1],
            outlook,
        );
    }

    let mut m = String::new();
    let host = email.split('@').nth(1).unwrap_or("example.com");
    let _ = write!(
        m,
        "Return-Path: <{email}>
Delivered-To: replies@beta.example.com
Received: from mail.{host} (mail.{host} [198.51.100.{ip}])
        by mx1.beta.example.com (Postfix) with ESMTPS id 4S{queue:08X}z9s
        for <{to}>; {date_utc}
From: {name} <{email}>
To: Lumen Beta <{to}>
Subject: {subject}
Date: {date}
Message-ID: <{mid:016x}.{time}@mail.{host}>
In-Reply-To: <{in_reply_to}>
References: <{in_reply_to}>
MIME-Version: 1.0
",
        ip = 2 + rng.below(250),
        queue = rng.below(1 << 32),
        date_utc = rfc2822(time + 5),
        date = rfc2822(time),
        mid = rng.next(),
    );
    let boundary = format!("=_{:016x}", rng.next());
    let alt = format!("=_alt_{:016x}", rng.next());
    if big_attachment {
        let _ = write!(
            m,
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\n\n--{boundary}\n"
        );
    }
    if html {
        let _ = write!(
            m,
            "Content-Type: multipart/alternative; boundary=\"{alt}\"\n\n--{alt}\n{TEXT_PART}\n{text}\n--{alt}\n\
             Content-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n{}\n--{alt}--\n",
            render_html(&rounds, outlook)
        );
    } else {
        let _ = write!(m, "{TEXT_PART}\n{text}");
    }
    if !big_attachment {
        return crlf(&m);
    }
    let _ = write!(
        m,
        "\n--{boundary}\nContent-Type: application/zip; name=\"lumen-diagnostics.zip\"\n\
         Content-Disposition: attachment; filename=\"lumen-diagnostics.zip\"\n\
         Content-Transfer-Encoding: base64\n\n"
    );
    let mut bytes = crlf(&m);
    bytes.extend_from_slice(&random_base64(rng, 1 << 20));
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

const TEXT_PART: &str =
    "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n";

fn auto_reply(rng: &mut Rng, time: u64) -> String {
    let (name, email) = *rng.pick(TESTERS);
    let id = 2000 + rng.below(400);
    format!(
        "Return-Path: <>
Delivered-To: replies@beta.example.com
From: {name} <{email}>
To: Lumen Beta <replies+FB-{id}@beta.example.com>
Subject: Automatic reply: [Lumen beta] {topic}
Date: {date}
Message-ID: <auto.{mid:016x}@example.org>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit

Thank you for your message. I am away until {back} March with limited access
to email and will reply when I return.
",
        topic = rng.pick(TOPICS),
        date = rfc2822(time),
        mid = rng.next(),
        back = 9 + rng.below(20),
    )
}

struct Round {
    from: &'static str,
    time: u64,
    paragraphs: Vec<String>,
}

/// Appends one round of the thread as plain text: Gmail nests quotes with
/// `>`, Outlook appends flat header blocks.
fn render_text(out: &mut String, depth: usize, round: &Round, outlook: bool) {
    let prefix = if outlook {
        String::new()
    } else {
        "> ".repeat(depth)
    };
    if depth > 0 {
        if outlook {
            let _ = write!(
                out,
                "\n________________________________\nFrom: {}\nSent: {}\nSubject: [Lumen beta] feedback\n\n",
                round.from,
                rfc2822(round.time)
            );
        } else {
            let _ = writeln!(
                out,
                "\n{}On {}, {} wrote:",
                "> ".repeat(depth - 1),
                rfc2822(round.time),
                round.from
            );
        }
    }
    for (i, paragraph) in round.paragraphs.iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out, "{}", prefix.trim_end());
        }
        wrap(out, paragraph, &prefix);
    }
}

/// HTML: Gmail nests `<blockquote>`s, Outlook separates with a rule.
fn render_html(rounds: &[Round], outlook: bool) -> String {
    let mut out = String::from("<html><head><meta charset=\"UTF-8\"></head><body>\n");
    for (depth, round) in rounds.iter().enumerate() {
        if depth > 0 {
            if outlook {
                let _ = writeln!(
                    out,
                    "<div style=\"border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm\">\
                     <p class=\"MsoNormal\"><b>From:</b> {}<br><b>Sent:</b> {}</p></div>",
                    round.from,
                    rfc2822(round.time)
                );
            } else {
                let _ = writeln!(
                    out,
                    "<div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">On {}, {} wrote:<br></div>\n\
                     <blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex\">",
                    rfc2822(round.time),
                    round.from
                );
            }
        }
        for paragraph in &round.paragraphs {
            let escaped = paragraph
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            let _ = writeln!(
                out,
                "<div dir=\"ltr\" style=\"font-family:Arial,sans-serif\">{escaped}</div><div><br></div>"
            );
        }
    }
    if !outlook {
        for _ in 1..rounds.len() {
            out.push_str("</blockquote></div>\n");
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// `min` to `min + spread - 1` random sentences as one paragraph.
fn sentences(rng: &mut Rng, min: u64, spread: u64) -> String {
    let n = min + rng.below(spread);
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        let sentence = rng.pick::<&str>(SENTENCES);
        s.push_str(sentence);
    }
    s
}

/// Wraps at 72 columns (including `prefix`), as mail clients do.
fn wrap(out: &mut String, paragraph: &str, prefix: &str) {
    let mut line = String::new();
    for word in paragraph.split(' ') {
        if !line.is_empty() && prefix.len() + line.chars().count() + 1 + word.chars().count() > 72 {
            let _ = writeln!(out, "{prefix}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    let _ = writeln!(out, "{prefix}{line}");
}

/// `Thu, 5 Mar 2026 09:30:52 +0000` for a Unix time.
fn rfc2822(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // `2026-03-05T09:30:52Z`: the calendar is humantime's.
    let iso = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix),
    )
    .to_string();
    let month: usize = iso[5..7].parse().expect("RFC 3339 month");
    let day: u32 = iso[8..10].parse().expect("RFC 3339 day");
    format!(
        "{}, {day} {} {} {} +0000",
        DAYS[(unix / 86_400 % 7) as usize],
        MONTHS[month - 1],
        &iso[..4],
        &iso[11..19]
    )
}

/// Base64 in 76-character lines (MIME), LF-separated, no trailing newline.
fn base64_lines(data: &[u8]) -> String {
    use base64::Engine as _;
    let flat = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(flat.len() + flat.len() / 76);
    for (i, line) in flat.as_bytes().chunks(76).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
    }
    out
}

/// The base64 alphabet, for [`random_base64`].
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// LF → CRLF (the sources here are written with LF).
fn crlf(message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 30);
    // `str::split(char)` finds newlines with std's optimised search, which
    // matters in debug builds of a 70 MB corpus.
    for (i, line) in message.split('\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(line.as_bytes());
    }
    out
}

/// What base64 of `raw_len` random bytes looks like, in 76-character CRLF
/// lines without a final line break. Drawing the characters directly is much
/// faster than encoding random bytes and decodes the same way (padding and
/// the unused low bits of the last group are canonical).
fn random_base64(rng: &mut Rng, raw_len: usize) -> Vec<u8> {
    let full = raw_len / 3 * 4;
    let mut b64 = Vec::with_capacity(full + 4);
    while b64.len() < full {
        let mut v = rng.next();
        for _ in 0..10.min(full - b64.len()) {
            b64.push(BASE64[(v & 63) as usize]);
            v >>= 6;
        }
    }
    let mut char_with_zero_low_bits = |bits: u64| BASE64[(rng.below(64) >> bits << bits) as usize];
    match raw_len % 3 {
        1 => b64.extend([
            char_with_zero_low_bits(0),
            char_with_zero_low_bits(4),
            b'=',
            b'=',
        ]),
        2 => b64.extend([
            char_with_zero_low_bits(0),
            char_with_zero_low_bits(0),
            char_with_zero_low_bits(2),
            b'=',
        ]),
        _ => {}
    }
    let mut out = Vec::with_capacity(b64.len() + b64.len() / 38 + 2);
    for (i, line) in b64.chunks(76).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(line);
    }
    out
}

/// xorshift64*: tiny, deterministic, good enough for test data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 step so that small seeds give unrelated streams (and never 0).
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Roughly standard normal (sum of four uniforms, rescaled).
    fn normalish(&mut self) -> f64 {
        let sum: f64 = (0..4)
            .map(|_| (self.next() >> 11) as f64 / (1u64 << 53) as f64)
            .sum();
        (sum - 2.0) * 3f64.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc2822(BASE_TIME), "Mon, 2 Mar 2026 08:00:00 +0000");
        assert_eq!(rfc2822(0), "Thu, 1 Jan 1970 00:00:00 +0000");
    }

    #[test]
    fn base64() {
        assert_eq!(base64_lines(b""), "");
        assert_eq!(base64_lines(b"f"), "Zg==");
        assert_eq!(base64_lines(b"fo"), "Zm8=");
        assert_eq!(base64_lines(b"foobar"), "Zm9vYmFy");
        let long = base64_lines(&[0u8; 120]);
        assert!(long.lines().all(|l| l.len() <= 76), "{long}");
        assert_eq!(long.lines().next().unwrap().len(), 76);
    }

    #[test]
    fn random_base64_is_shaped_like_base64() {
        let mut rng = Rng::new(3);
        for len in [0, 1, 2, 3, 56, 57, 58, 1000] {
            let random = String::from_utf8(random_base64(&mut rng, len)).unwrap();
            let encoded = base64_lines(&vec![0; len]);
            let shape = |s: &str| {
                s.lines()
                    .map(|l| (l.len(), l.matches('=').count()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(shape(&random), shape(&encoded), "{len}");
        }
        // A 1-byte tail uses only the top 2 bits of its second character.
        let tail = random_base64(&mut rng, 1);
        assert!([b'A', b'Q', b'g', b'w'].contains(&tail[1]), "{tail:?}");
    }

    #[test]
    fn beta_replies_carry_the_signals() {
        let all: Vec<String> = beta_replies()
            .into_iter()
            .map(|m| String::from_utf8(m).unwrap())
            .collect();
        assert_eq!(all.len(), 6);
        assert!(all[0].contains("To: Lumen Beta <replies+FB-2001@beta.example.com>"));
        assert!(all[1].contains("In-Reply-To: <feedback-2002@notify.beta.example.com>"));
        assert!(all[2].contains("[FB-2003]"));
        assert!(all[3].contains("Content-Type: text/html"));
        assert!(all[4].contains("Content-Disposition: attachment"));
        assert!(all[5].contains("Auto-Submitted: auto-replied"));
        for m in &all {
            assert!(!m.replace("\r\n", "").contains('\n'), "bare LF");
            assert!(m.lines().all(|l| l.len() < 998), "line too long");
        }
    }

    #[test]
    fn corpus_is_deterministic_and_to_scale() {
        let a = mixed_corpus(2000, 7);
        // A shorter corpus is a prefix of a longer one with the same seed.
        assert_eq!(a[..150], mixed_corpus(150, 7)[..]);
        assert_ne!(a[..10], mixed_corpus(10, 8)[..]);
        let total: usize = a.iter().map(Vec::len).sum();
        let mut sizes: Vec<usize> = a.iter().map(Vec::len).collect();
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        let big = sizes.iter().filter(|&&s| s > 1 << 20).count();
        assert_eq!(big, 20);
        assert!((64_000_000..74_000_000).contains(&total), "total {total}");
        assert!((18_000..23_000).contains(&median), "median {median}");
        for m in &a {
            // SMTP's limit: 998 characters plus CRLF.
            assert!(
                m.split(|&b| b == b'\n').all(|l| l.len() <= 999),
                "line too long"
            );
            assert!(
                m.windows(2).all(|w| w[1] != b'\n' || w[0] == b'\r'),
                "bare LF"
            );
            assert!(std::str::from_utf8(m).is_ok());
        }
    }
}
