use super::*;

fn split(text: &str) -> (String, Option<String>) {
    let reply = split_reply(text);
    (reply.body, reply.elided)
}

#[test]
fn nothing_to_remove() {
    assert_eq!(
        split("\n\nJust a note.\n\nSecond paragraph.\n\n"),
        ("Just a note.\n\nSecond paragraph.".into(), None)
    );
}

#[test]
fn top_post_with_gmail_header() {
    let text = "Works now, thanks!\r\n\r\nOn Tue, 3 Mar 2026 at 10:02, Beta Team <beta@example.com> wrote:\r\n\r\n> Could you try build 412?\r\n>\r\n> Thanks\r\n";
    let (body, elided) = split(text);
    assert_eq!(body, "Works now, thanks!");
    assert_eq!(
        elided.unwrap(),
        "On Tue, 3 Mar 2026 at 10:02, Beta Team <beta@example.com> wrote:\n\n> Could you try build 412?\n>\n> Thanks"
    );
}

#[test]
fn wrapped_header() {
    let text = "Yes.\n\nOn Tue, 3 Mar 2026 at 10:02, Lumen Beta Team <\nbeta@notify.beta.example.com> wrote:\n> Question?\n";
    let (body, elided) = split(text);
    assert_eq!(body, "Yes.");
    assert!(elided.unwrap().starts_with("On Tue"));
}

#[test]
fn wrapped_header_without_an_opener() {
    let text = "Działa.\n\nwt., 3 mar 2026 o 10:02 Lumen Beta Team <\nbeta@notify.beta.example.com> napisał(a):\n\n> Cześć\n";
    let (body, elided) = split(text);
    assert_eq!(body, "Działa.");
    assert!(elided.unwrap().starts_with("wt., 3 mar"));
}

#[test]
fn last_line_before_a_header_is_not_joined_to_it() {
    for last in ["Tested on build 412.", "Thanks 2 all", "Dana"] {
        let text = format!("{last}\nOn Tue, 3 Mar 2026 at 10:02, Beta <b@x.org> wrote:\n> q\n");
        assert_eq!(split(&text).0, last);
    }
    let text = "Tested on build 412\nBeta <b@x.org> 于2026年3月3日周二 10:02写道：\n> q\n";
    assert_eq!(split(text).0, "Tested on build 412");
}

#[test]
fn answers_around_a_removed_quote_are_separate_paragraphs() {
    let text = "> Which build?\n412\n> Still crashing?\nNo.\n";
    assert_eq!(split(text).0, "412\n\nNo.");
}

#[test]
fn any_line_naming_an_address_right_above_a_quote_introduces_it() {
    let text = "Still broken.\n\n* Beta <b@x.org> [2026-03-03 10:02]:\n> q\n";
    let (body, elided) = split(text);
    assert_eq!(body, "Still broken.");
    assert!(elided.unwrap().starts_with("* Beta"));
    // Without a quote below it is the tester's text.
    let text = "Write to me at dana@example.org:\nI am back Monday.\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn header_without_quote_marks_cuts_the_rest() {
    let text = "Fine here.\n\nOn 3 Mar 2026, at 10:02, Beta <b@example.com> wrote:\n\nOriginal text without quote marks\n";
    let (body, elided) = split(text);
    assert_eq!(body, "Fine here.");
    assert_eq!(
        elided.unwrap(),
        "On 3 Mar 2026, at 10:02, Beta <b@example.com> wrote:\n\nOriginal text without quote marks"
    );
}

#[test]
fn inline_answers_are_kept() {
    let text = "Hi,\n\nOn Mon, Beta wrote:\n> Does export work?\n\nYes, but slow.\n\n> Any crashes?\n\nOne, on startup.\n\n-- \nDana\n";
    let (body, elided) = split(text);
    assert_eq!(body, "Hi,\n\nYes, but slow.\n\nOne, on startup.");
    assert_eq!(
        elided.unwrap(),
        "On Mon, Beta wrote:\n> Does export work?\n\n> Any crashes?\n\n-- \nDana"
    );
}

#[test]
fn original_message_separator() {
    for sep in ["-----Original Message-----", "----- Original Message -----"] {
        let text = format!("See attached.\n\n{sep}\nFrom: Beta\nSent: today\n\nold");
        let (body, elided) = split(&text);
        assert_eq!(body, "See attached.");
        assert!(elided.unwrap().starts_with(sep));
    }
    // Proton Mail draws the dashes as Unicode hyphens, with its reply header
    // and the quote below.
    let sep = "\u{2010}\u{2010}\u{2010}\u{2010}\u{2010}\u{2010}\u{2010} Original Message \u{2010}\u{2010}\u{2010}\u{2010}\u{2010}\u{2010}\u{2010}";
    let text = format!(
        "See attached.\n\n{sep}\nOn Tuesday, March 3rd, 2026 at 10:02, Beta <b@x.org> wrote:\n\n> old\n"
    );
    let (body, elided) = split(&text);
    assert_eq!(body, "See attached.");
    assert!(elided.unwrap().starts_with(sep));
    // One dash is not a separator's frame.
    let text = "See attached.\n\n- original -\nmore of mine\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn outlook_header_block_with_separator() {
    let text = "It still freezes.\n\nDana\n\n________________________________\nFrom: Lumen Beta <beta@example.com>\nSent: Tuesday, March 3, 2026 10:02 AM\nTo: Dana <dana@example.org>\nCc: qa@example.com\nSubject: Feedback\n\nPlease retry.\n";
    let (body, elided) = split(text);
    assert_eq!(body, "It still freezes.\n\nDana");
    let elided = elided.unwrap();
    assert!(elided.starts_with("________"), "{elided}");
    assert!(elided.ends_with("Please retry."), "{elided}");
}

#[test]
fn bold_outlook_fields_and_far_subject() {
    let text = "Ok.\n*From:* Beta\n*Sent:* Tue\n*To:* Dana\n*Cc:* QA\n*Subject:* Hi\n";
    assert_eq!(split(text).0, "Ok.");
    // Subject too far down, past lines that are not fields: not a header
    // block. (A longer unbroken run of fields is one:
    // `more_header_blocks_and_verbs`.)
    let text = "Ok.\nFrom: Beta\nSent: Tue\nwe met at noon\nand talked\nabout it\nSubject: Hi\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn from_line_in_prose_is_kept() {
    let text = "From: the settings page, nothing happens.\nSubject: line missing Sent\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn signature_without_trailing_space() {
    let (body, elided) = split("Thanks\n--\nDana Whitfield\nQA, Example Org");
    assert_eq!(body, "Thanks");
    assert_eq!(elided.unwrap(), "--\nDana Whitfield\nQA, Example Org");
}

#[test]
fn line_starting_with_on_is_not_a_header() {
    let text = "On the export page the button is grey.\nIt should be blue.\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn blank_lines_inside_a_quote_stay_in_the_elided_text() {
    let (body, elided) = split("Agreed.\n\n> first\n\n\n> second\n\nBye");
    assert_eq!(body, "Agreed.\n\nBye");
    assert_eq!(elided.unwrap(), "> first\n\n\n> second");
}

#[test]
fn only_quotes() {
    let (body, elided) = split("> all quoted\n> text\n");
    assert_eq!(body, "");
    assert_eq!(elided.unwrap(), "> all quoted\n> text");
}

#[test]
fn reply_headers_in_many_languages() {
    for header in [
        "On Tue, 3 Mar 2026 at 10:02, Lumen Beta Team <beta@notify.example.com> wrote:",
        "On 3 Mar 2026, at 10:02, Lumen Beta Team <beta@notify.example.com> wrote:",
        "On 3/3/26 10:02 AM, Lumen Beta Team wrote:",
        "Am Di., 3. März 2026 um 10:02 Uhr schrieb Lumen Beta Team <beta@notify.example.com>:",
        "Lumen Beta Team <beta@notify.example.com> schrieb am Di., 3. März 2026, 10:02:",
        "Le mar. 3 mars 2026 à 10:02, Lumen Beta Team <beta@notify.example.com> a écrit :",
        "El mar, 3 mar 2026 a las 10:02, Lumen Beta Team (<beta@notify.example.com>) escribió:",
        "Il giorno mar 3 mar 2026 alle ore 10:02 Lumen Beta Team <beta@notify.example.com> ha scritto:",
        "Op di 3 mrt 2026 om 10:02 schreef Lumen Beta Team <beta@notify.example.com>:",
        "Op 3 mrt. 2026, om 10:02 heeft Lumen Beta Team het volgende geschreven:",
        "Em ter., 3 de mar. de 2026 às 10:02, Lumen Beta Team <beta@notify.example.com> escreveu:",
        "Den tis 3 mars 2026 kl 10:02 skrev Lumen Beta Team <beta@notify.example.com>:",
        "W dniu wt., 3.03.2026 o 10:02 Lumen Beta Team <beta@notify.example.com> napisał(a):",
        "wt., 3 mar 2026 o 10:02 Lumen Beta Team <beta@notify.example.com> napisał(a):",
        "2026年3月3日(火) 10:02 Lumen Beta Team <beta@notify.example.com>:",
        "2026/03/03 10:02、Lumen Beta Team <beta@notify.example.com>のメール:",
        "Lumen Beta Team <beta@notify.example.com> 于2026年3月3日周二 10:02写道：",
        "在 2026年3月3日，10:02，Lumen Beta Team <beta@notify.example.com> 写道：",
        "Lumen Beta Team <beta@notify.example.com> 於 2026年3月3日 週二 上午10:02寫道：",
    ] {
        let text = format!("Done.\n\n{header}\n> quoted\n");
        assert_eq!(split(&text).0, "Done.", "{header}");
    }
    for prose in [
        "My colleague wrote:",
        "Som jag beskrev i mitt mejl den 3 mars:",
        "The export wrote 3 files to:",
    ] {
        let text = format!("{prose}\nsomething unquoted\n");
        assert_eq!(split(&text).1, None, "{prose}");
    }
}

#[test]
fn localized_outlook_blocks_and_separators() {
    for block in [
        "Von: Lumen Beta\nGesendet: Dienstag, 3. März 2026 10:02\nAn: Dana\nBetreff: Export",
        "De : Lumen Beta\nEnvoyé : mardi 3 mars 2026 10:02\nÀ : Dana\nObjet : Export",
        "Da: Lumen Beta\nInviato: martedì 3 marzo 2026 10:02\nA: Dana\nOggetto: Export",
        "Van: Lumen Beta\nVerzonden: dinsdag 3 maart 2026 10:02\nAan: Dana\nOnderwerp: Export",
        "De: Lumen Beta\nEnviada em: terça-feira, 3 de março de 2026 10:02\nPara: Dana\nAssunto: Export",
        "Från: Lumen Beta\nSkickat: den 3 mars 2026 10:02\nTill: Dana\nÄmne: Export",
        "Od: Lumen Beta\nWysłano: wtorek, 3 marca 2026 10:02\nDo: Dana\nTemat: Export",
        "差出人: Lumen Beta\n送信日時: 2026年3月3日 10:02\n宛先: Dana\n件名: Export",
        "发件人: Lumen Beta\n发送时间: 2026年3月3日 10:02\n收件人: Dana\n主题: Export",
        "*From:* Lumen Beta\n*Date:* Tue, 3 Mar 2026\n*To:* Dana\n*Subject:* Export",
        "-----Ursprüngliche Nachricht-----\nVon: Lumen Beta",
        "-----Original-Nachricht-----\nBetreff: Export",
        "-------- Message d'origine --------",
        "---------- Forwarded message ---------",
        "-----原始邮件-----",
        "Begin forwarded message:",
    ] {
        let text = format!("Still broken.\n\n{block}\n\nOriginal text\n");
        let (body, elided) = split(&text);
        assert_eq!(body, "Still broken.", "{block}");
        assert!(elided.unwrap().ends_with("Original text"), "{block}");
    }
}

#[test]
fn mobile_footers_at_the_end_of_a_block() {
    for footer in [
        "Sent from my iPhone",
        "Get Outlook for iOS<https://aka.ms/o0ukef>",
        "Get Outlook for Android",
        "Von meinem iPhone gesendet",
        "Envoyé de mon iPad",
        "Enviado desde mi Samsung Galaxy",
        "Inviato da iPhone",
        "Verstuurd vanaf mijn iPhone",
        "Enviado do meu iPhone",
        "Skickat från min iPhone",
        "Wysłane z iPhone'a",
        "iPhoneから送信",
        "发自我的iPhone",
        "從我的 iPhone 傳送",
        "Outlook für iOS<https://aka.ms/o0ukef> beziehen",
    ] {
        let text = format!("Works.\n\n{footer}\n\nOn Mon, Beta <b@x.org> wrote:\n> q\n");
        assert_eq!(split(&text).0, "Works.", "{footer}");
        assert_eq!(
            split(&format!("Works.\n{footer}\n")).0,
            "Works.",
            "{footer}"
        );
    }
    // In the middle of the tester's text it is just text.
    let text = "Sent from my iPhone, the app crashes.\nTwice.";
    assert_eq!(split(text).1, None);
}

#[test]
fn reply_headers_of_more_clients_and_languages() {
    for header in [
        // Zoho: framed in dashes, no colon.
        "---- On Tue, 03 Mar 2026 10:02:11 +0100 Lumen Beta Team <beta@notify.example.com> wrote ----",
        "---- Am Di, 03 Mär 2026 10:02:11 +0100 schrieb Lumen Beta Team <beta@notify.example.com> ----",
        // Gmail with a numeric date and no verb.
        "2026-03-03 10:02 GMT+01:00 Lumen Beta Team <beta@notify.example.com>:",
        "03.03.2026 10:02 Lumen Beta Team <beta@notify.example.com>:",
        // Gmail without a verb, in Russian.
        "вт, 3 мар. 2026 г. в 10:02, Lumen Beta Team <beta@notify.example.com>:",
        // Yandex / Mail.ru in Russian and Ukrainian.
        "вторник, 3 марта 2026 г. пользователь Lumen Beta Team <beta@notify.example.com> написал:",
        "03.03.2026, 10:02, \"Lumen Beta Team\" <beta@notify.example.com>:",
        "вт, 3 бер. 2026 о 10:02 Lumen Beta Team <beta@notify.example.com> пише:",
        // Czech, Slovak (Seznam, Gmail).
        "Dne út 3. 3. 2026 10:02 uživatel Lumen Beta Team <beta@notify.example.com> napsal:",
        "ut 3. 3. 2026 o 10:02 Lumen Beta Team <beta@notify.example.com> napísal(a):",
        // Danish, Norwegian, Finnish.
        "Den tir. 3. mar. 2026 kl. 10.02 skrev Lumen Beta Team <beta@notify.example.com>:",
        "tir. 3. mar. 2026 kl. 10:02 skrev Lumen Beta Team <beta@notify.example.com>:",
        "ti 3. maalisk. 2026 klo 10.02 Lumen Beta Team <beta@notify.example.com> kirjoitti:",
        // Turkish, Greek, Hungarian, Romanian.
        "Lumen Beta Team <beta@notify.example.com>, 3 Mar 2026 Sal, 10:02 tarihinde şunu yazdı:",
        "Στις Τρί 3 Μαρ 2026 στις 10:02, ο/η Lumen Beta Team <beta@notify.example.com> έγραψε:",
        "Lumen Beta Team <beta@notify.example.com> ezt írta (időpont: 2026. márc. 3., K, 10:02):",
        "mar., 3 mar. 2026 la 10:02, Lumen Beta Team <beta@notify.example.com> a scris:",
        // Korean (Naver, Gmail), Hebrew, Arabic, Vietnamese, Indonesian.
        "2026년 3월 3일 (화) 오전 10:02, Lumen Beta Team <beta@notify.example.com>님이 작성:",
        "בתאריך יום ג׳, 3 במרץ 2026 ב-10:02 מאת Lumen Beta Team <beta@notify.example.com>:",
        "\u{202b}في الثلاثاء، 3 مارس 2026 في 10:02 ص كتب Lumen Beta Team <beta@notify.example.com>:",
        "Vào Th 3, 3 thg 3, 2026 vào lúc 10:02 Lumen Beta Team <beta@notify.example.com> đã viết:",
        "Pada tanggal Sel, 3 Mar 2026 pukul 10.02 Lumen Beta Team <beta@notify.example.com> menulis:",
        // Croatian (GMX / Web.de style is German, covered above).
        "uto, 3. ožu 2026. u 10:02 Lumen Beta Team <beta@notify.example.com> napisao je:",
        // Sup and alot (notmuch): no address, no verb.
        "Excerpts from Lumen Beta Team's message of 2026-03-03 10:02:11 +0100:",
    ] {
        let text = format!("Done.\n\n{header}\n\n> quoted\n");
        assert_eq!(split(&text).0, "Done.", "{header}");
        // Without quote marks below, the header still ends the reply.
        let text = format!("Done.\n\n{header}\n\nThe original, unquoted.\n");
        assert_eq!(split(&text).0, "Done.", "{header}");
    }
    for prose in [
        "Meeting moved to 10:30:",
        "We wrote 3 reports in 2025:",
        "Version 2.10 adds:",
        "See the log at 20.10.2026:",
        "Excerpts from the log of 10:02:",
    ] {
        let text = format!("{prose}\nsomething unquoted\n");
        assert_eq!(split(&text).1, None, "{prose}");
    }
}

#[test]
fn headers_wrapped_inside_the_address() {
    for text in [
        "Yes.\n\ntir. 3. mar. 2026 kl. 10:02 skrev Lumen Beta <beta@notify.example.com\n>:\n\n> q\n",
        "Yes.\n\nti 3. maalisk. 2026 klo 10.02 Lumen Beta\n<beta@notify.example.com> kirjoitti:\n\nunquoted\n",
    ] {
        let (body, elided) = split(text);
        assert_eq!(body, "Yes.", "{text}");
        assert!(!elided.unwrap().is_empty());
    }
    // A complete header after the tester's last line leaves that line.
    let text = "Call me at 10:30\nOn Tue, 3 Mar 2026, Beta <b@x.org> wrote:\n> q\n";
    assert_eq!(split(text).0, "Call me at 10:30");
}

#[test]
fn separator_lines_left_at_the_end_are_removed() {
    for sep in [
        "------------------------------",
        "________________________________",
        "==========",
        "* * *",
    ] {
        let text = format!("Works now.\n\n{sep}\n");
        let expected = if sep == "* * *" {
            // Not a separator: spaces between the marks.
            format!("Works now.\n\n{sep}")
        } else {
            "Works now.".to_owned()
        };
        assert_eq!(split(&text).0, expected, "{sep}");
    }
    // Between the tester's paragraphs a rule stays.
    let text = "Part one.\n\n-----\n\nPart two.\n";
    assert_eq!(split(text).0, "Part one.\n\n-----\n\nPart two.");
    // Above a reply header it goes with it.
    let text =
        "Ok.\n\n------------------------------\nOn Tue, 3 Mar 2026, Beta <b@x.org> wrote:\n> q\n";
    assert_eq!(split(text).0, "Ok.");
}

#[test]
fn invisible_and_tracking_characters() {
    for junk in ["ᐧ", "\u{200b}", "\u{feff}", " \u{200c} ", "\u{2060}"] {
        let text = format!("Thanks, fixed.\n{junk}\n");
        assert_eq!(split(&text).0, "Thanks, fixed.", "{junk:?}");
        let text = format!("First.\n{junk}\nSecond.\n");
        assert_eq!(split(&text).0, "First.\n\nSecond.", "{junk:?}");
    }
    // Inside a word it is the tester's text.
    assert_eq!(split("Canadian ᐧ syllabics").0, "Canadian ᐧ syllabics");
    assert_eq!(split("Done.\u{200b}\n").0, "Done.");
}

#[test]
fn runs_of_mobile_footers_in_many_languages() {
    let run = [
        "Sent from my iPhone",
        "Envoyé depuis mon iPad",
        "Von meinem iPhone gesendet",
        "Отправлено с iPhone",
        "Надіслано з iPhone",
        "Odesláno z iPhonu",
        "Sendt fra min iPhone",
        "Lähetetty iPhonesta",
        "iPhone'umdan gönderildi",
        "Στάλθηκε από το iPhone μου",
        "iPhone-ról küldve",
        "Trimis de pe iPhone-ul meu",
        "나의 iPhone에서 보냄",
        "נשלח מה-iPhone שלי",
        "أرسلت من الـ iPhone",
        "Được gửi từ iPhone của tôi",
        "Dikirim dari iPhone saya",
        "Sent from Mail for Windows",
    ];
    for footer in run {
        let text = format!("Works.\n\n{footer}\n");
        assert_eq!(split(&text).0, "Works.", "{footer}");
    }
    let text = format!("Works.\n\n{}\n", run.join("\n\n"));
    assert_eq!(split(&text).0, "Works.");
}

#[test]
fn forwarded_message_without_own_text() {
    for sep in [
        "---------- Forwarded message ---------",
        "-------- Weitergeleitete Nachricht --------",
        "---------- Пересылаемое сообщение ----------",
        "Begin forwarded message:",
    ] {
        let text = format!(
            "{sep}\nFrom: Lumen Beta <beta@example.com>\nDate: Tue, 3 Mar 2026 at 10:02\n\
                 Subject: Export\nTo: Dana <dana@example.org>\n\nThe export hangs at 99%.\n\nSteps: open, export.\n"
        );
        let reply = split_reply(&text);
        assert_eq!(
            reply.body, "The export hangs at 99%.\n\nSteps: open, export.",
            "{sep}"
        );
        assert!(reply.forwarded, "{sep}");
        let elided = reply.elided.unwrap();
        assert!(
            elided.starts_with(sep) && elided.ends_with("To: Dana <dana@example.org>"),
            "{elided}"
        );
    }
    // Apple Mail quotes the forwarded text.
    let text = "Begin forwarded message:\n\n> From: Beta <b@x.org>\n> Subject: Hi\n\n> Line one\n> Line two\n";
    let reply = split_reply(text);
    assert!(reply.forwarded);
    // The quoted header lines are quoted too, so one level goes from all.
    assert_eq!(reply.body, "Line one\nLine two");
    assert!(reply.elided.unwrap().ends_with("> Subject: Hi"));
    // With text of the tester's own, the forward is elided as before.
    let text =
        "Look at this one.\n\n---------- Forwarded message ---------\nFrom: B <b@x.org>\n\nOld\n";
    let reply = split_reply(text);
    assert_eq!(reply.body, "Look at this one.");
    assert!(!reply.forwarded);
}

#[test]
fn html_quote_containers_of_more_clients() {
    for (client, html) in [
        (
            "Yahoo (prefixed names)",
            "<div class=\"ydp5f2ayahoo-style-wrap\"><div>Works on 412.</div></div>\
                 <div id=\"ydp3c4dyahoo_quoted_8812\" class=\"ydp3c4dyahoo_quoted\">\
                 <div>On Tuesday, March 3, 2026, 10:02, Beta &lt;b@x.org&gt; wrote:</div>\
                 <blockquote><div>Try 412</div></blockquote></div>",
        ),
        (
            "Proton",
            "<div>Works on 412.</div><div class=\"protonmail_signature_block\">\
                 <div>Sent with Proton Mail secure email.</div></div>\
                 <div class=\"protonmail_quote\">On Tuesday, March 3rd, 2026 at 10:02, Beta wrote:<br>\
                 <blockquote class=\"protonmail_quote\">Try 412</blockquote></div>",
        ),
        (
            "Zimbra",
            "<div>Works on 412.</div><hr id=\"zwchr\"><div><b>From: </b>Beta<br>\
                 <b>Sent: </b>Tuesday<br><b>Subject: </b>Export</div><div>Try 412</div>",
        ),
        (
            "Outlook, quoted again",
            "<div>Works on 412.</div><div id=\"x_appendonsend\"></div><hr>\
                 <div id=\"x_divRplyFwdMsg\"><b>From:</b> Beta</div><div>Try 412</div>",
        ),
        (
            "Mail.ru (header above a collapsed blockquote)",
            "<div>Works on 412.</div><div>&nbsp;</div><div>&nbsp;</div>\
                 <div>Вторник, 3 марта 2026, 10:02 +03:00 от Beta &lt;b@x.org&gt;:<br></div>\
                 <div class=\"mail-quote-collapse\"><blockquote style=\"border-left:1px solid #0857A6; \
                 margin:10px; padding:0 0 0 10px;\"><div id=\"\"><div class=\"js-helper js-readmsg-msg\">\
                 <div>Try 412</div></div></div></blockquote></div>",
        ),
        (
            "Mail.ru (collapsed original, no blockquote)",
            "<div>Works on 412.</div><div class=\"mail-quote-collapse\">\
                 <div>Вторник, 3 марта 2026, 10:02 +03:00 от Beta &lt;b@x.org&gt;:</div>\
                 <div>Try 412</div></div>",
        ),
        (
            "Mail.ru mobile footer",
            "<div>Works on 412.</div><div><br></div><div>--<br>Отправлено из мобильной Почты Mail.ru</div>\
                 <div><br></div><div>Вторник, 3 марта 2026, 10:02 +03:00 от Beta &lt;b@x.org&gt;:</div>\
                 <blockquote style=\"border-left:1px solid #0857A6\"><div>Try 412</div></blockquote>",
        ),
        (
            "Mail.ru (collapsed original with an unrecognised header)",
            "<div>Works on 412.</div><div class=\"mail-quote-collapse\">\
                 <div>Вторник, 3 марта 2026 от Beta</div><div>Try 412</div></div>",
        ),
        (
            "Outlook for Mac",
            "<div>Works on 412.</div><div><br></div><div id=\"mail-editor-reference-message-container\">\
                 <div style=\"border-top:1pt solid #B5C4DF\"><b>From: </b>Beta &lt;b@x.org&gt;<br>\
                 <b>Date: </b>Tuesday, 3 March 2026 at 10:02<br><b>Subject: </b>Export</div><div>Try 412</div></div>",
        ),
        (
            "Yandex",
            "<div>Works on 412.</div><div>&nbsp;</div><div>&nbsp;</div>\
                 <div>03.03.2026, 10:02, \"Beta\" &lt;b@x.org&gt;:</div>\
                 <blockquote><div>Try 412</div></blockquote>",
        ),
        (
            "Yandex with a signature",
            "<div>Works on 412.</div><div>&nbsp;</div><div>-- <br>Анна Петрова</div><div>&nbsp;</div>\
                 <div>&nbsp;</div><div>03.03.2026, 10:02, \"Beta\" &lt;b@x.org&gt;:</div>\
                 <blockquote><div>Try 412</div></blockquote>",
        ),
        (
            "Windows Mail",
            "<div><p>Works on 412.</p><p></p><p>Sent from <a href=\"https://go.microsoft.com/fwlink/?LinkId=550986\">Mail</a> for Windows</p></div>\
                 <div style=\"mso-element:para-border-div;border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm\">\
                 <p><b>From: </b>Beta<br><b>Sent: </b>Tuesday<br><b>Subject: </b>Export</p></div><p>Try 412</p>",
        ),
        (
            "GMX / Web.de",
            "<html><body><div style=\"font-family: Verdana\"><div>Works on 412.</div>\
                 <div>&nbsp;\n<div>&nbsp;\n<div name=\"quote\" style=\"margin:10px 5px 5px 10px; padding: 10px 0 10px 10px; border-left:2px solid #C3D9E5\">\
                 <div style=\"margin:0 0 10px 0;\"><b>Gesendet:</b>&nbsp;Dienstag, 03. März 2026 um 10:02 Uhr<br/><b>Von:</b>&nbsp;Beta</div>\
                 <div name=\"quoted-content\">Try 412</div></div></div></div></div></body></html>",
        ),
        (
            "Samsung Email",
            "<html><body><div dir=\"auto\">Works on 412.</div><div dir=\"auto\"><br></div>\
                 <div id=\"composer_signature\" dir=\"auto\"><div style=\"font-size:85%\">Sent from my Galaxy</div></div>\
                 <div dir=\"auto\"><br></div><div><div>-------- Original message --------</div>\
                 <div>From: Beta &lt;b@x.org&gt; </div><div>Date: 3/3/26 10:02 (GMT+01:00) </div>\
                 <div>Subject: Export </div><div><br></div></div>Try 412</body></html>",
        ),
        (
            "Zoho",
            "<div>Works on 412.</div><div><br></div><div class=\"zmail_extra_hr\"></div>\
                 <div class=\"zmail_extra\"><div>---- On Tue, 03 Mar 2026 10:02:14 +0100 <b>Beta</b> wrote ----</div>\
                 <blockquote>Try 412</blockquote></div>",
        ),
    ] {
        let reply = split_html_reply(html);
        assert_eq!(reply.body, "Works on 412.", "{client}");
        assert!(reply.elided.unwrap().contains("Try 412"), "{client}");
    }
}

#[test]
fn header_that_lost_its_colon() {
    let text = "Fine now.\n\nOn Tue, 3 Mar 2026 10:02:11 +0100 Lumen Beta <beta@example.com> wrote\n\nThe original.\n";
    assert_eq!(split(text).0, "Fine now.");
    // Prose ending in the verb is not a header.
    for prose in ["On Monday my colleague wrote", "On 3 March the tool wrote"] {
        let text = format!("Intro.\n{prose}\nmore\n");
        assert_eq!(split(&text).1, None, "{prose}");
    }
}

#[test]
fn footer_above_an_unquoted_original_ends_the_reply() {
    for footer in [
        "Sent from my Galaxy",
        "Gesendet von Outlook für Android<https://aka.ms/ghei36>",
        "Envoyé de mon iPhone",
    ] {
        let text = format!("Works now.\n\n{footer}\n\nPlease try build 412 and tell us.\n");
        let (body, elided) = split(&text);
        assert_eq!(body, "Works now.", "{footer}");
        assert!(elided.unwrap().ends_with("tell us."), "{footer}");
    }
    // At the top, with nothing of the tester's above, only the footer
    // goes: the tester's text under it stays.
    let text = "Sent from my iPhone\n\nHi,\n\nThe export works.\n";
    assert_eq!(
        split(text),
        (
            "Hi,\n\nThe export works.".into(),
            Some("Sent from my iPhone".into())
        )
    );
    // A sentence that starts like a footer is the tester's.
    let text = "Export fails.\n\nSent from my laptop, it works.\n\nOdd.\n";
    assert_eq!(split(text).1, None);
    // Also as the last line: a clause after a comma, a full stop.
    let text = "Export fails.\n\nSent from the office, the tablet app never syncs.\n";
    assert_eq!(split(text).1, None);
    let text = "Export fails.\n\nSent from my tablet, excuse the brevity\n";
    assert_eq!(split(text).0, "Export fails.");
    // A footer that apologises in a second clause is still a footer.
    let text = "Export fails.\n\nSent from my iPhone, please excuse typos.\n";
    assert_eq!(split(text).0, "Export fails.");
    let text = "Export fails.\n\nVon meinem iPhone gesendet, bitte entschuldigen Sie Tippfehler.\n";
    assert_eq!(split(text).0, "Export fails.");
    // ...and on a line of its own right under the footer.
    for apology in [
        "Please excuse typos",
        "Sorry for the brevity.",
        "Bitte Tippfehler entschuldigen",
    ] {
        let text = format!("Export fails.\n\nSent from my iPhone\n{apology}\n");
        assert_eq!(split(&text).0, "Export fails.", "{apology}");
    }
    // The tester's own request under a footer is not an apology.
    let text = "Export fails.\n\nSent from my iPhone\nPlease call me back\n";
    assert_eq!(
        split(text).0,
        "Export fails.\n\nSent from my iPhone\nPlease call me back"
    );
    // Nor is an apology without a footer above it.
    let text = "Export fails.\n\nSorry for the typos in my last mail.\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn quoted_line_wrapped_without_its_marker() {
    let text = "Thanks!\n\nOn Tue, 3 Mar 2026 at 10:02, Beta <b@x.org> wrote:\n\n\
                    > Could you try the new build and tell us whether the export still hangs,\n\
                    at 99% or earlier?\n> Thanks\n";
    assert_eq!(split(text).0, "Thanks!");
    // Short inline answers between quoted lines stay.
    let text = "> Which build are you on at the moment, and on which machine did it hang\n412, the laptop\n> Crash?\nno\n";
    assert_eq!(split(text).0, "412, the laptop\n\nno");
}

#[test]
fn mailing_list_footer() {
    let text = "Works for me.\n\nDana\n\n_______________________________________________\n\
                    beta-users mailing list\nbeta-users@lists.example.org\nhttps://lists.example.org/listinfo/beta-users\n";
    let (body, elided) = split(text);
    assert_eq!(body, "Works for me.\n\nDana");
    assert!(elided.unwrap().contains("mailing list"));
    // A rule above the tester's own last lines stays.
    let text = "Works.\n\n__________\nDana, QA lead\n";
    assert_eq!(split(text).1, None);
    // What an archive left of the list's rule, two underscores.
    let text = "Crashes on 412 too.\n\n\n__\nqa-circle mailing list\nqa-circle@lists.example.org\n";
    assert_eq!(split(text).0, "Crashes on 412 too.");
    // Without a line naming the list, short underscores are the tester's.
    let text = "Crashes on 412 too.\n\n__\nsee the log\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn footers_with_direction_marks_vowel_marks_or_using() {
    // An Arabic footer wrapped in a right-to-left embedding, its first
    // word written with a damma.
    let text = "التصدير يعمل الآن\n\n\u{202b}أُرسلت من الـ Galaxy\u{202c}  \n";
    assert_eq!(split(text).0, "التصدير يعمل الآن");
    // "Sent using …" right under the text, then an unquoted original.
    let text =
        "Fine by me\nSent using the Example Mail app\n\nbeta@x.org wrote:\n\nCan we ship 412?\n";
    assert_eq!(split(text).0, "Fine by me");
}

#[test]
fn header_blocks_of_webmails() {
    for block in [
        // GMX and Web.de: the date first.
        "Gesendet: Dienstag, 03. März 2026 um 10:02 Uhr\nVon: \"Lumen Beta\" <b@x.org>\nAn: dana@example.org\nBetreff: Export",
        // Seznam.
        "---------- Původní e-mail ----------\nOd: Lumen Beta <b@x.org>\nKomu: dana@example.org\nDatum: 3. 3. 2026 10:02:14\nPředmět: Export",
        // QQ.
        "------------------ 原始邮件 ------------------\n发件人: \"Lumen Beta\"<b@x.org>;\n发送时间: 2026年3月3日(星期二) 上午10:02\n主题: Export",
        // QQ Mail and Foxmail in English.
        "------------------ Original ------------------\nFrom: \"Lumen Beta\"<b@x.org>;\nDate: Tue, Mar 3, 2026 10:02 AM\nTo: \"Dana\"<d@x.org>;\nSubject: Export",
        // Turkish Outlook, dotted capital I in the separator.
        "---------- İletilen ileti ----------\nKimden: Lumen Beta <b@x.org>\nKonu: Export",
    ] {
        let text = format!("Still broken.\n\n{block}\n\nOriginal text\n");
        let (body, elided) = split(&text);
        assert_eq!(body, "Still broken.", "{block}");
        assert!(elided.unwrap().ends_with("Original text"), "{block}");
    }
    // `Gesendet:` in prose without the rest of a block is the tester's.
    let text = "Gesendet: gestern, wie besprochen.\nVon mir aus passt es.\n";
    assert_eq!(split(text).1, None);
}

/// Outlook's localized header blocks and "Original Message" separators
/// in the languages added after the first eleven.
#[test]
fn outlook_blocks_and_separators_in_more_languages() {
    for block in [
        "От: Lumen Beta\nОтправлено: вторник, 3 марта 2026 г. 10:02\nКому: Dana\nТема: Export",
        "Від: Lumen Beta\nНадіслано: вівторок, 3 березня 2026 р. 10:02\nКому: Dana\nТема: Export",
        "Od: Lumen Beta\nOdesláno: úterý 3. března 2026 10:02\nKomu: Dana\nPředmět: Export",
        "Od: Lumen Beta\nOdoslané: utorok 3. marca 2026 10:02\nKomu: Dana\nPredmet: Export",
        "Fra: Lumen Beta\nSendt: 3. marts 2026 10:02\nTil: Dana\nEmne: Export",
        "Fra: Lumen Beta\nDato: tirsdag 3. mars 2026 kl. 10:02\nTil: Dana\nEmne: Export",
        "Lähettäjä: Lumen Beta\nLähetetty: tiistai 3. maaliskuuta 2026 10.02\nVastaanottaja: Dana\nAihe: Export",
        "Kimden: Lumen Beta\nGönderildi: 3 Mart 2026 Salı 10:02\nKime: Dana\nKonu: Export",
        "Από: Lumen Beta\nΣτάλθηκε: Τρίτη, 3 Μαρτίου 2026 10:02 πμ\nΠρος: Dana\nΘέμα: Export",
        "Feladó: Lumen Beta\nElküldve: 2026. március 3., kedd 10:02\nCímzett: Dana\nTárgy: Export",
        "De la: Lumen Beta\nTrimis: marți, 3 martie 2026 10:02\nCătre: Dana\nSubiect: Export",
        "보낸 사람: Lumen Beta\n보낸 날짜: 2026년 3월 3일 화요일 오전 10:02\n받는 사람: Dana\n제목: Export",
        "מאת: Lumen Beta\nנשלח: יום שלישי 3 מרץ 2026 10:02\nאל: Dana\nנושא: Export",
        "من: Lumen Beta\nتاريخ الإرسال: الثلاثاء، 3 مارس 2026 10:02 ص\nإلى: Dana\nالموضوع: Export",
        "Từ: Lumen Beta\nĐã gửi: Thứ Ba, ngày 3 tháng 3 năm 2026 10:02\nĐến: Dana\nChủ đề: Export",
        "Dari: Lumen Beta\nDikirim: Selasa, 03 Maret 2026 10.02\nKepada: Dana\nPerihal: Export",
        "Šalje: Lumen Beta\nPoslano: utorak, 3. ožujka 2026. 10:02\nPrima: Dana\nPredmet: Export",
        "-----Исходное сообщение-----",
        "-----Вихідне повідомлення-----",
        "-----Původní zpráva-----",
        "-----Pôvodná správa-----",
        "-----Oprindelig meddelelse-----",
        "-----Opprinnelig melding-----",
        "-----Alkuperäinen viesti-----",
        "-----Özgün İleti-----",
        "-----Αρχικό μήνυμα-----",
        "-----Eredeti üzenet-----",
        "-----Mesaj original-----",
        "-----원본 메시지-----",
        "-----הודעה מקורית-----",
        "-----الرسالة الأصلية-----",
        "-----Thư gốc-----",
        "-----Pesan Asli-----",
        "-----Izvorna poruka-----",
    ] {
        let text = format!("Still broken.\n\n{block}\n\nOriginal text\n");
        let (body, elided) = split(&text);
        assert_eq!(body, "Still broken.", "{block}");
        assert!(elided.unwrap().ends_with("Original text"), "{block}");
    }
}

/// The reply headers of the webmails the issue names, each over a quote
/// and over the unquoted original.
#[test]
fn reply_headers_of_webmails() {
    for header in [
        // Mail.ru: weekday and date, `от` (from), no verb.
        "Вторник, 3 марта 2026, 10:02 +03:00 от Lumen Beta Team <beta@notify.example.com>:",
        // Yahoo and AOL's new editor.
        "On Tuesday, March 3, 2026, 10:02 AM, Lumen Beta Team <beta@notify.example.com> wrote:",
        "On Tuesday, March 3, 2026, 10:02:14 AM GMT+1, Lumen Beta Team <beta@notify.example.com> wrote:",
        // 163 / 126 and QQ's short form.
        "在 2026-03-03 10:02:14，\"Lumen Beta Team\" <beta@notify.example.com> 写道：",
        // Outlook.com in Dutch and Spanish webmail, Fastmail.
        "Op di 3 mrt 2026 om 10:02 schreef Lumen Beta Team <beta@notify.example.com>:",
        "On Tue, 3 Mar 2026, at 10:02, Lumen Beta Team wrote:",
    ] {
        let text = format!("Done.\n\n{header}\n\n> quoted\n");
        assert_eq!(split(&text).0, "Done.", "{header}");
        let text = format!("Done.\n\n{header}\n\nThe original, unquoted.\n");
        assert_eq!(split(&text).0, "Done.", "{header}");
    }
    // AOL and Naver: the "Original Message" block with their own fields.
    for block in [
        "-----Original Message-----\nFrom: Lumen Beta <b@x.org>\nTo: dana@example.org\nSent: Tue, Mar 3, 2026 10:02 am\nSubject: Export",
        "-----Original Message-----\nFrom: \"Lumen Beta\"<b@x.org>\nTo: <dana@example.org>;\nCc:\nSent: 2026-03-03 (화) 10:02:14 (GMT+09:00)\nSubject: Export",
    ] {
        let text = format!("Still broken.\n\n{block}\n\nOriginal text\n");
        assert_eq!(split(&text).0, "Still broken.", "{block}");
    }
}

#[test]
fn header_hard_wrapped_over_three_lines() {
    let text = "Works.\n\nOn Tuesday, March 3, 2026 10:02 AM, Lumen Beta Team\n\
                    <beta@notify.example.com>\nwrote:\n\n> Could you try 412?\n";
    assert_eq!(split(text).0, "Works.");
    let text = "Klappt.\n\nAm Dienstag, 3. März 2026 um 10:02 Uhr schrieb\nLumen Beta Team\n\
                    <beta@notify.example.com>:\n\nDas Original, ohne Zitatzeichen.\n";
    assert_eq!(split(text).0, "Klappt.");
    // Three lines of the tester's own that happen to end in a colon are
    // not joined into a header.
    let text =
        "On Monday 3 March I ran the export\nagain and this is what\nthe log said:\n\nerror 7\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn short_header_right_above_a_quote() {
    for header in [
        "Dana wrote:",
        "Jörg Hoffmann schrieb:",
        "Amélie a écrit :",
        "Jan Novák napsal(a):",
    ] {
        let text = format!("Works now.\n\n{header}\n> Could you try 412?\n");
        let (body, elided) = split(&text);
        assert_eq!(body, "Works now.", "{header}");
        assert!(elided.unwrap().starts_with(header), "{header}");
    }
    // Not above a quote, it is the tester's text.
    let text = "Dana wrote:\nthe export is fine now.\n";
    assert_eq!(split(text).1, None);
    // Nor a bare verb.
    assert!(!is_short_header("wrote:"));
}

#[test]
fn short_rule_above_removed_text() {
    let text =
        "Works.\n\n---\nOn Tue, 3 Mar 2026 at 10:02, Lumen Beta Team wrote:\n\nThe original.\n";
    assert_eq!(split(text).0, "Works.");
    let text = "Works.\n\n___\n\n> q\n";
    assert_eq!(split(text).0, "Works.");
    // In the text, or at its very end, it stays.
    assert_eq!(split("Steps:\n---\nOpen the file.\n").1, None);
    assert_eq!(split("Works.\n---\n").0, "Works.\n---");
}

#[test]
fn groupwise_header_and_more_webmail_labels() {
    let text = "Works.\n\n>>> Lumen Beta Team <beta@notify.example.com> 03/03/2026 10:02 >>>\nThe original.\n";
    let (body, elided) = split(text);
    assert_eq!(body, "Works.");
    assert!(elided.unwrap().ends_with("The original."));
    // A nested quote that happens to start with `>>>` is just a quote.
    let text = "Works.\n\n>>> deeply quoted line\n\nMy answer.\n";
    assert_eq!(split(text).0, "Works.\n\nMy answer.");
    // Zimbra in Portuguese: `Enviadas:`.
    let text = "Works.\n\nDe: \"Lumen Beta\" <b@x.org>\nPara: dana@example.org\n\
                    Enviadas: Terça-feira, 3 de Março de 2026 10:02:14\nAssunto: Export\n\nThe original.\n";
    assert_eq!(split(text).0, "Works.");
}

#[test]
fn more_header_blocks_and_verbs() {
    for block in [
        // A long block: Reply-To and Cc between From and Subject.
        "From: Lumen Beta <b@x.org>\nReply-To: Lumen <b@x.org>\nDate: Tuesday, March 3, 2026 at 10:02 AM\n\
             To: Dana <d@x.org>\nCc: Team <t@x.org>\nSubject: Re: Export",
        // Lotus Notes: `Gesendet von:` / `Sent by:`.
        "Gesendet von: Lumen Beta\nAn: Dana\nDatum: 03.03.2026 10:02\nBetreff: Export",
        "Sent by: Lumen Beta\nTo: Dana\nDate: 03/03/2026 10:02 AM\nSubject: Export",
        // "Original Message" without its dashes, above the fields.
        "Ursprüngliche Nachricht\nVon: Lumen\nGesendet: Dienstag\nBetreff: Export",
        "Original Message\n\nFrom: Lumen\nSent: Tuesday\nSubject: Export",
        // GMX / Web.de: `… hat am … geschrieben:`.
        "Lumen Beta <b@x.org> hat am 3. März 2026 um 10:02 geschrieben:",
    ] {
        for below in ["> quoted", "The original, unquoted."] {
            let text = format!("Works.\n\n{block}\n\n{below}\n");
            assert_eq!(split(&text).0, "Works.", "{block}");
        }
    }
    // The phrase in the tester's text is theirs.
    let text = "Original message:\nthe export failed.\nFrom now on it works.\n";
    assert_eq!(split(text).1, None);
    // Fields far apart with prose between are not a block.
    let text = "From: the start it failed.\nWe tried again.\nThen more.\nAnd more.\nDate: today\nSubject: export\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn forward_subjects() {
    for subject in [
        "Fwd: Export",
        "FW: Export",
        "WG: Export",
        "TR : Export",
        "[Fwd: Export]",
        "转发：Export",
    ] {
        assert!(is_forward_subject(subject), "{subject}");
    }
    for subject in [
        "Re: Export",
        "Fwd export later",
        "Trial: Export",
        "Important: update",
    ] {
        assert!(!is_forward_subject(subject), "{subject}");
    }
}

#[test]
fn external_sender_banner_at_the_top() {
    let text = "    CAUTION: This email is from outside the company. Do not open attachments you did not expect.\n\nHi,\n\nThe export works.\n";
    let (body, elided) = split(text);
    assert_eq!(body, "Hi,\n\nThe export works.");
    assert!(elided.unwrap().contains("CAUTION"));
    // Further down it is the tester's text.
    let text = "Hi,\n\nCaution: the export overwrites files.\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn reply_above_this_line_marker() {
    for marker in [
        "##- Please type your reply above this line -##",
        "-- Reply above this line --",
        "REPLY ABOVE THIS LINE",
        "=== Bitte antworten Sie oberhalb dieser Zeile ===",
    ] {
        let text = format!("Works now.\n\n{marker}\n\nYour report FB-1042 was updated.\n");
        let (body, elided) = split(&text);
        assert_eq!(body, "Works now.", "{marker}");
        assert!(elided.unwrap().starts_with(marker), "{marker}");
    }
    let text = "Works now.\n\nPlease reply above this line.\n\nYour report was updated.\n";
    assert_eq!(split(text).0, "Works now.");
    // The words in the tester's own sentence are theirs.
    let text = "The error shows above this line of the log:\nexport failed\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn signature_delimiter_typed_on_ios() {
    let (body, elided) = split("Works now.\n\n\u{2014} \nDana Whitfield\nQA, Example Org\n");
    assert_eq!(body, "Works now.");
    assert!(elided.unwrap().ends_with("QA, Example Org"));
    // An em dash inside a line is punctuation.
    assert_eq!(split("Works \u{2014} mostly.\nDana\n").1, None);
}

#[test]
fn a_byte_order_mark_at_the_start_is_dropped() {
    assert_eq!(
        split("\u{feff}Works now.\n\nOn Tue, 3 Mar 2026, Beta <b@x.org> wrote:\n> q\n").0,
        "Works now."
    );
}

#[test]
fn kept_lines_lose_trailing_spaces() {
    assert_eq!(split("Line one \nline two  \n").0, "Line one\nline two");
}

#[test]
fn header_fields_in_paragraphs_of_their_own() {
    // Each field a paragraph (converted rich text, helpdesk exports),
    // bold or not, in any supported language.
    for block in [
        "From: Beta <beta@example.com>\n\nSent: Tuesday, 3 March 2026 10:02\n\nTo: Dana\n\nSubject: Export",
        "**Gesendet:** Dienstag, 3. März 2026 um 10:02\n\n**Von:** Beta <beta@example.com>\n\n**An:** Dana\n\n**Betreff:** Export",
        "De : Beta <beta@example.com>\n\nEnvoyé : mardi 3 mars 2026 10:02\n\nObjet : Export",
    ] {
        let text = format!("The export works now.\n\n{block}\n\nCould you try build 412?\n");
        let (body, elided) = split(&text);
        assert_eq!(body, "The export works now.", "{block}");
        assert!(elided.unwrap().ends_with("build 412?"), "{block}");
    }
}

#[test]
fn header_fields_at_the_top_leave_the_text_below() {
    // Nothing of the tester's above another message's fields: what
    // follows them is the substance, never an empty body.
    for (text, body) in [
        (
            "From: Beta <beta@example.com>\nSent: Tuesday, 3 March 2026 10:02\nTo: Dana\nSubject: Export\n\nThe export works now.\n\nDana\n",
            "The export works now.\n\nDana",
        ),
        (
            "**Gesendet:** Dienstag, 3. März 2026 um 10:02\n\n**Von:** Beta <beta@example.com>\n\n**An:** Dana\n\n**Betreff:** Export\n\n\nDer Export geht jetzt.\n\n**. . . . . . . . .**\n",
            "Der Export geht jetzt.",
        ),
        (
            "-----Original Message-----\nFrom: Beta <beta@example.com>\nSent: Tuesday\nSubject: Export\n\nThe export works now.\n\nOn Tue, 3 Mar 2026 at 10:02, Beta <beta@example.com> wrote:\n> Could you try build 412?\n",
            "The export works now.",
        ),
    ] {
        let reply = split_reply(text);
        assert_eq!(reply.body, body, "{text}");
        assert!(!reply.forwarded, "{text}");
        assert!(reply.elided.is_some(), "{text}");
    }
    // Only quoted text below the fields: that text, unquoted, as for a
    // forward.
    let reply = split_reply(
        "From: Beta <beta@example.com>\nSent: Tuesday\nTo: Dana\nSubject: Export\n\n> Could you try build 412?\n",
    );
    assert_eq!(reply.body, "Could you try build 412?");
    // A signature alone is no other message.
    assert_eq!(split("-- \nDana Whitfield\nQA\n").0, "");
}

#[test]
fn separators_framed_in_dashes_in_any_language() {
    for sep in [
        "-------- Orijinal mesaj --------",
        "-------- Tin nhắn gốc --------",
        "-------- Оригинално писмо --------",
        "--------- Alkup. viesti ---------",
        "---- Missatge original ----",
    ] {
        let text = format!(
            "Works now.\n\n{sep}\nOd: Beta <beta@example.com>\nDatum: 3. 3. 2026 10:02\nKomu: Dana\n\nCould you try build 412?\n"
        );
        let (body, elided) = split(&text);
        assert_eq!(body, "Works now.", "{sep}");
        assert!(elided.unwrap().starts_with(sep), "{sep}");
    }
    // A heading of the tester's over a few `key: value` lines is text.
    let text = "My notes.\n\n--- step two ---\nName: the export\nPath: c:/x@y\n\nMore of mine.\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn dotted_and_spaced_separator_lines_left_at_the_end() {
    for rule in [
        ". . . . . . . .",
        "**. . . . . . . . . .**",
        "- - - - - -",
        "··········",
    ] {
        let text = format!(
            "Works now.\n\n{rule}\n\nOn Tue, 3 Mar 2026 at 10:02, Beta <beta@example.com> wrote:\n> q\n"
        );
        assert_eq!(split(&text).0, "Works now.", "{rule}");
    }
    // Three stars between paragraphs are a section break of the tester's.
    let text = "Works now.\n\n* * *\n\nOne more thing.\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn more_languages_for_blocks_separators_footers_and_headers() {
    for block in [
        "От: Beta <beta@example.com>\nИзпратено: вторник, 3 март 2026 10:02\nДо: Dana\nОтносно: Export",
        "Nuo: Beta <beta@example.com>\nIšsiųsta: 2026 m. kovo 3 d. 10:02\nKam: Dana\nTema: Export",
        "No: Beta <beta@example.com>\nNosūtīts: otrdiena, 2026. gada 3. martā 10:02\nKam: Dana\nTēma: Export",
        "Saatja: Beta <beta@example.com>\nSaadetud: teisipäev, 3. märts 2026 10:02\nAdressaat: Dana\nTeema: Export",
        "De: Beta <beta@example.com>\nEnviat el: dimarts, 3 de març de 2026 10:02\nPer a: Dana\nAssumpte: Export",
        "Od: Beta <beta@example.com>\nPoslano: torek, 3. marec 2026 10:02\nZa: Dana\nZadeva: Export",
        "Od: Beta <beta@example.com>\nPoslato: utorak, 3. mart 2026. 10:02\nZa: Dana\nNaslov: Export",
    ] {
        let text = format!("Works now.\n\n{block}\n\nCould you try build 412?\n");
        assert_eq!(split(&text).0, "Works now.", "{block}");
    }
    for sep in [
        "-----Оригинално писмо-----",
        "----- Izvirno sporočilo -----",
        "-----Pradinis laiškas-----",
        "----- Missatge original -----",
    ] {
        let text = format!("Works now.\n\n{sep}\nThe original.\n");
        assert_eq!(split(&text).0, "Works now.", "{sep}");
    }
    for footer in [
        "Изпратено от моя iPhone",
        "Poslano z mojega iPhona",
        "Poslato sa mog iPhone-a",
        "Saadetud minu iPhone'ist",
        "Išsiųsta iš mano iPhone",
        "Nosūtīts no mana iPhone",
        "Enviat des del meu iPhone",
        "Dihantar dari iPhone saya",
        "मेरे iPhone से भेजा गया",
        "ส่งจาก iPhone ของฉัน",
        "Sent wirelessly from my BlackBerry device",
    ] {
        let text = format!("Works now.\n\n{footer}\n");
        assert_eq!(split(&text).0, "Works now.", "{footer}");
    }
    for header in [
        "уто, 3. мар 2026. у 10:02 Beta <beta@example.com> је написао/ла:",
        "Em ter., 3 de mar. de 2026 às 10:02, Beta escribiu:",
        "Op Di 3 Mrt 2026 om 10:02 het Beta <beta@example.com> geskryf:",
    ] {
        let text = format!("Works now.\n\n{header}\n> Could you try build 412?\n");
        assert_eq!(split(&text).0, "Works now.", "{header}");
    }
}

#[test]
fn header_blocks_without_a_date_or_with_wrapped_recipients() {
    for block in [
        // No date: the sender's address, the recipients, the subject.
        "From: Beta <beta@example.com>\nTo: Dana <dana@example.org>\nSubject: Export",
        // Recipients wrapped over lines push the subject out of reach.
        "From: Beta <beta@example.com>\nSent: Tuesday, March 3, 2026 10:02 AM\nTo: a@example.org; b@example.org; c@example.org;\nd@example.org; e@example.org\nCc: f@example.org; g@example.org;\nh@example.org\n\nSubject: Export",
        "Von: Beta <beta@example.com>\nAn: Dana\nGesendet: Dienstag, 3. März 2026 10:02",
    ] {
        let text = format!("Works now.\n\n{block}\n\nCould you try build 412?\n");
        assert_eq!(split(&text).0, "Works now.", "{block}");
    }
    // Two fields in prose are not a block.
    let text = "Works now.\n\nFrom: the settings page\nTo: the export dialog\n\nBoth crash.\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn header_split_by_a_blank_line() {
    for (first, second) in [
        ("Am 03.03.2026 um 10:02", "schrieb Beta <beta@example.com>:"),
        (
            "On Tue, 3 Mar 2026 at 10:02",
            "Beta <beta@example.com> wrote:",
        ),
        ("Den 3. mar. 2026 kl. 10.02", "skrev Beta:"),
    ] {
        let text = format!("Works now.\n\n{first}\n\n{second}\n\n> Could you try build 412?\n");
        let (body, elided) = split(&text);
        assert_eq!(body, "Works now.", "{first}");
        assert!(elided.unwrap().starts_with(first), "{first}");
    }
    // The tester's sentence above a colleague's words stays.
    let text = "On Monday 3 March I tried build 412\n\nMy colleague said:\n\nIt works.\n";
    assert_eq!(split(text).1, None);
}

#[test]
fn headers_with_weekday_openers_unaccented_labels_and_no_colon() {
    for header in [
        "ti 3.3.2026 klo 10.02 Beta kirjoitti:",
        "tis 3 mars 2026 kl. 10:02 skrev Beta:",
        "En mar., 3 mar. 2026, Beta escribió:",
        "No dia 3 de mar. de 2026, Beta escreveu:",
        "Le mar. 3 mars 2026, Beta a ecrit :",
        "Am 03.03.2026 um 10:02 schrieb Beta <beta@example.com>",
    ] {
        let text = format!("Works now.\n\n{header}\n\nCould you try build 412?\n");
        assert_eq!(split(&text).0, "Works now.", "{header}");
    }
    // Prose that ends in an address is the tester's.
    let text = "Works now.\n\nOn Monday I wrote to support <help@example.com>\n\nNo answer yet.\n";
    assert_eq!(split(text).1, None);
    for block in [
        "Fran: Beta <beta@example.com>\nSkickat: den 3 mars 2026 10:02\nTill: Dana\nAmne: Export",
        "Lahettaja: Beta <beta@example.com>\nPaivays: 3. maaliskuuta 2026 10.02\nVastaanottaja: Dana\nAihe: Export",
        "Από: Beta <beta@example.com>\nΑποστολή: Τρίτη, 3 Μαρτίου 2026 10:02\nΠρος: Dana\nΘέμα: Export",
        "De : Beta <beta@example.com>\nEnvoye : mardi 3 mars 2026 10:02\nA : Dana\nObjet : Export",
    ] {
        let text = format!("Works now.\n\n{block}\n\nCould you try build 412?\n");
        assert_eq!(split(&text).0, "Works now.", "{block}");
    }
    for footer in [
        "Envoye de mon iPhone",
        "Envoyé à partir de Outlook",
        "Enviado a partir do meu telemóvel",
        "Verzonden vanuit Outlook",
        "Lahetetty iPhonesta",
        "Wyslane z iPhone'a",
        "Skickat fran min iPhone",
        "iPhone-rol kuldve",
    ] {
        let text = format!("Works now.\n\n{footer}\n");
        assert_eq!(split(&text).0, "Works now.", "{footer}");
    }
}

#[test]
fn padding_characters_are_blank() {
    for pad in [
        "\u{034f}",
        "\u{180e}",
        "\u{2061}\u{2063}",
        "\u{200c}\u{034f}\u{200c}",
    ] {
        let text = format!(
            "Works now.\n{pad}\n\nOn Tue, 3 Mar 2026 at 10:02, Beta <b@x.org> wrote:\n> q\n"
        );
        assert_eq!(split(&text).0, "Works now.");
    }
}

#[test]
fn footers_of_antivirus_and_tracking_add_ons() {
    for footer in [
        "Virus-free. www.avast.com",
        "[image: Mailtrack]\nSender notified by Mailtrack 03/03/26, 10:02:14",
    ] {
        let text = format!(
            "Works now.\n\n{footer}\n\nOn Tue, 3 Mar 2026 at 10:02, Beta <beta@example.com> wrote:\n> q\n"
        );
        assert_eq!(split(&text).0, "Works now.", "{footer}");
    }
}

#[test]
fn html_containers() {
    let html = "<div dir=\"ltr\">Fixed, thanks.<div><br></div><div>Dana</div></div><br>\
                    <div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">Am Di., 3. März \
                    2026 um 10:02 Uhr schrieb Beta &lt;<a href=\"mailto:b@x.org\">b@x.org</a>&gt;:<br></div>\
                    <blockquote class=\"gmail_quote\"><div>Hallo</div></blockquote></div>";
    let reply = split_html_reply(html);
    assert_eq!(reply.body, "Fixed, thanks.\n\nDana");
    assert_eq!(
        reply.elided.as_deref(),
        Some("Am Di., 3. März 2026 um 10:02 Uhr schrieb Beta <b@x.org>:\n> Hallo")
    );

    let outlook = "<div>Still slow.</div><div id=\"appendonsend\"></div><hr>\
                       <div id=\"divRplyFwdMsg\"><b>De :</b> Beta<br><b>Objet :</b> x</div>\
                       <div>Bonjour</div>";
    let reply = split_html_reply(outlook);
    assert_eq!(reply.body, "Still slow.");
    assert_eq!(
        reply.elided.as_deref(),
        Some("De : Beta\nObjet : x\nBonjour")
    );

    let thunderbird = "<p>Answers inline.</p><div class=\"moz-cite-prefix\">On 3/3/26 10:02, Beta \
                           wrote:<br></div><blockquote type=\"cite\"><p>Which build?</p></blockquote>\
                           <p>412</p><blockquote type=\"cite\"><p>Crash?</p></blockquote><p>No.</p>\
                           <div class=\"moz-signature\">-- <br>Dana</div>";
    let reply = split_html_reply(thunderbird);
    assert_eq!(reply.body, "Answers inline.\n\n412\n\nNo.");
}

#[test]
fn pipe_quotes_under_a_reply_header() {
    let cases = [
        // Quoted with `|` under a reply header: removed with it.
        (
            "Works now.\n\nBeta Team wrote:\n| Please try 412.\n|\n| Thanks\n",
            "Works now.",
        ),
        (
            "Works now.\n\nOn Tue, 3 Mar 2026 at 10:02, Beta <beta@example.com> wrote:\n\n| Please try 412.\n\nAnd the export too.\n",
            "Works now.\n\nAnd the export too.",
        ),
        // Without a header above, `|` lines are the tester's (a pasted table
        // or a log).
        (
            "Results:\n| build | result |\n| 412 | ok |\n",
            "Results:\n| build | result |\n| 412 | ok |",
        ),
        (
            "Log:\n| step one\n| step two\n",
            "Log:\n| step one\n| step two",
        ),
    ];
    for (text, body) in cases {
        assert_eq!(split_reply(text).body, body, "{text:?}");
    }
}

#[test]
fn a_long_underscore_rule_above_an_original_without_its_header() {
    let rule = "_".repeat(32);
    let cases = [
        (
            format!("Works now.\n\nDana\n\n{rule}\n\nPlease try build 412.\n"),
            "Works now.\n\nDana",
        ),
        // At the end, the rule is a leftover.
        (format!("Works now.\n\n{rule}\n"), "Works now."),
        // Nothing of the tester's above: not a cut.
        (
            format!("{rule}\n\nWorks now.\n"),
            &*format!("{rule}\n\nWorks now."),
        ),
        // A short rule between the tester's paragraphs stays.
        (
            "Works now.\n\n____\n\nAlso the export.\n".to_owned(),
            "Works now.\n\n____\n\nAlso the export.",
        ),
    ];
    for (text, body) in cases {
        assert_eq!(split_reply(&text).body, body, "{text:?}");
    }
}

#[test]
fn lines_split_as_str_lines_splits_them() {
    let cases = [
        "",
        "\n",
        "\n\n",
        "one",
        "one\n",
        "one\r\n",
        "one\r\ntwo",
        "one\rtwo\r",
        "one\r\r\ntwo\n\r",
        "\r\n\r\n",
        "\u{feff}é\nü\r\n\u{1427}",
    ];
    for text in cases {
        assert_eq!(
            lines::split_lines(text),
            text.lines().collect::<Vec<_>>(),
            "{text:?}"
        );
    }
}
