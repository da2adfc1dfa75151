"""More languages, webmail clients and leftovers, written by hand.

Called by generate.py. Each case is a reply in the shape a client writes:
the tester's words (our own sentences, in the tester's language), the
client's reply header or header block in that language, and the English
notification the beta team sent, quoted or not as that client does. The label
is the tester's words: what a reader would keep.

Categories:
- `languages`: 20 languages beyond the original eleven, five shapes each
  (Gmail-style header over a quote, an Android/webmail header over the
  unquoted original, a localized Outlook block, a mobile footer with
  leftovers, inline answers between `>` quotes);
- `forwarded`: forwards with no text of the tester's own (the label is the
  forwarded text);
- `webmail`: Zoho, Yahoo, AOL, Mail.ru, Yandex, GMX/Web.de, Seznam, Naver,
  QQ, 163, Proton, Zimbra, Windows Mail, Fastmail;
- `html-languages`: HTML-only replies in those languages (Gmail's
  containers, Outlook on the web's localized header block);
- `leftovers`: separator lines, invisible tracking marks, runs of footers,
  headers without a colon, list footers.
"""

from datetime import timedelta

import generate as g

TEAM = f"{g.TEAM_NAME} <{g.TEAM_ADDR}>"

# lang: (tester name, address, reply paragraphs, inline answers (2),
#        Gmail-style header, unquoted-original header, Outlook labels
#        (from, sent, to, subject), sent value, mobile footer,
#        forwarded separator)
LANGS = {
    "ru": ("Ольга Смирнова", "olga.smirnova@example.ru",
           ["Экспорт теперь работает на сборке 412, спасибо.",
            "Остался один вопрос: индикатор останавливается на 90%."],
           ["Да, на ноутбуке с Windows 11.", "Нет, после обновления сбоев не было."],
           f"вт, 3 мар. 2026 г. в 10:02, {TEAM}:",
           f"вторник, 3 марта 2026 г. пользователь {g.TEAM_NAME} <{g.TEAM_ADDR}> написал:",
           ("От", "Отправлено", "Кому", "Тема"), "3 марта 2026 г. 10:02",
           "Отправлено с iPhone", "---------- Пересылаемое сообщение ----------"),
    "uk": ("Тарас Коваленко", "taras.kovalenko@example.com.ua",
           ["Експорт працює на збірці 412, дякую.",
            "Лише індикатор прогресу зупиняється на 90%."],
           ["Так, на ноутбуці.", "Ні, збоїв більше немає."],
           f"вт, 3 бер. 2026 о 10:02 {TEAM} пише:",
           f"3 березня 2026 р., 10:02, {TEAM} написав:",
           ("Від", "Надіслано", "Кому", "Тема"), "3 березня 2026 р. 10:02",
           "Надіслано з iPhone", "---------- Переслане повідомлення ----------"),
    "cs": ("Jana Nováková", "jana.novakova@example.cz",
           ["Export už funguje na sestavení 412, díky.",
            "Jen ukazatel průběhu se zastaví na 90 %."],
           ["Ano, na notebooku.", "Ne, pády už nejsou."],
           f"út 3. 3. 2026 v 10:02 odesílatel {TEAM} napsal:",
           f"Dne 3. 3. 2026 10:02 uživatel {TEAM} napsal:",
           ("Od", "Odesláno", "Komu", "Předmět"), "úterý 3. března 2026 10:02",
           "Odesláno z iPhonu", "---------- Přeposlaná zpráva ----------"),
    "sk": ("Peter Horváth", "peter.horvath@example.sk",
           ["Export funguje na zostave 412, ďakujem.",
            "Iba indikátor priebehu zastane na 90 %."],
           ["Áno, na notebooku.", "Nie, odvtedy nespadol."],
           f"ut 3. 3. 2026 o 10:02 {TEAM} napísal(a):",
           f"Dňa 3. 3. 2026 o 10:02 {TEAM} napísal(a):",
           ("Od", "Odoslané", "Komu", "Predmet"), "utorok 3. marca 2026 10:02",
           "Odoslané z iPhonu", "-------- Pôvodná správa --------"),
    "da": ("Mette Jensen", "mette.jensen@example.dk",
           ["Eksporten virker nu på build 412, tak.",
            "Kun statuslinjen stopper ved 90 %."],
           ["Ja, på min bærbare.", "Nej, ingen nedbrud siden."],
           f"tir. 3. mar. 2026 kl. 10.02 skrev {TEAM}:",
           f"Den 3. mar. 2026 kl. 10.02 skrev {TEAM}:",
           ("Fra", "Sendt", "Til", "Emne"), "3. marts 2026 10:02",
           "Sendt fra min iPhone", "-------- Videresendt meddelelse --------"),
    "nb": ("Ola Nordmann", "ola.nordmann@example.no",
           ["Eksporten fungerer nå på bygg 412, takk.",
            "Bare fremdriftslinjen stopper på 90 %."],
           ["Ja, på den bærbare.", "Nei, ingen krasj siden."],
           f"tir. 3. mar. 2026 kl. 10:02 skrev {g.TEAM_NAME} <{g.TEAM_ADDR}\n>:",
           f"På tirsdag 3. mars 2026 kl. 10:02 skrev {TEAM}:",
           ("Fra", "Sendt", "Til", "Emne"), "tirsdag 3. mars 2026 10:02",
           "Sendt fra min iPhone", "-------- Videresendt melding --------"),
    "fi": ("Aino Virtanen", "aino.virtanen@example.fi",
           ["Vienti toimii nyt versiossa 412, kiitos.",
            "Vain edistymispalkki pysähtyy 90 prosenttiin."],
           ["Kyllä, kannettavalla.", "Ei, kaatumisia ei ole enää ollut."],
           f"ti 3. maalisk. 2026 klo 10.02 {g.TEAM_NAME}\n<{g.TEAM_ADDR}> kirjoitti:",
           f"ti 3.3.2026 klo 10.02 {TEAM} kirjoitti:",
           ("Lähettäjä", "Lähetetty", "Vastaanottaja", "Aihe"), "tiistai 3. maaliskuuta 2026 10.02",
           "Lähetetty iPhonesta", "---------- Välitetty viesti ----------"),
    "tr": ("Elif Yılmaz", "elif.yilmaz@example.com.tr",
           ["Dışa aktarma artık 412 sürümünde çalışıyor, teşekkürler.",
            "Sadece ilerleme çubuğu yüzde 90'da duruyor."],
           ["Evet, dizüstü bilgisayarda.", "Hayır, o zamandan beri çökmedi."],
           f"{TEAM}, 3 Mar 2026 Sal, 10:02 tarihinde şunu yazdı:",
           f"3 Mar 2026 10:02 tarihinde {TEAM} şunu yazdı:",
           ("Kimden", "Gönderildi", "Kime", "Konu"), "3 Mart 2026 Salı 10:02",
           "iPhone'umdan gönderildi", "---------- İletilen ileti ----------"),
    "el": ("Νίκος Παπαδόπουλος", "nikos.papadopoulos@example.gr",
           ["Η εξαγωγή λειτουργεί τώρα στην έκδοση 412, ευχαριστώ.",
            "Μόνο η γραμμή προόδου σταματά στο 90%."],
           ["Ναι, στο φορητό.", "Όχι, δεν κόλλησε ξανά."],
           f"Στις Τρί 3 Μαρ 2026 στις 10:02, ο/η {TEAM} έγραψε:",
           f"Στις 3/3/2026 10:02 π.μ., {TEAM} έγραψε:",
           ("Από", "Στάλθηκε", "Προς", "Θέμα"), "Τρίτη, 3 Μαρτίου 2026 10:02 π.μ.",
           "Στάλθηκε από το iPhone μου", "---------- Προωθημένο μήνυμα ----------"),
    "hu": ("Kovács Eszter", "eszter.kovacs@example.hu",
           ["Az exportálás most működik a 412-es verzióban, köszönöm.",
            "Csak a folyamatjelző áll meg 90%-nál."],
           ["Igen, a laptopon.", "Nem, azóta nem omlott össze."],
           f"{TEAM} ezt írta (időpont: 2026. márc. 3., K, 10:02):",
           f"2026. 03. 03. 10:02 keltezéssel, {TEAM} írta:",
           ("Feladó", "Elküldve", "Címzett", "Tárgy"), "2026. március 3., kedd 10:02",
           "iPhone-ról küldve", "---------- Továbbított üzenet ----------"),
    "ro": ("Andrei Popescu", "andrei.popescu@example.ro",
           ["Exportul merge acum pe versiunea 412, mulțumesc.",
            "Doar bara de progres se oprește la 90%."],
           ["Da, pe laptop.", "Nu, nu s-a mai blocat."],
           f"mar., 3 mar. 2026 la 10:02, {TEAM} a scris:",
           f"Pe 3 mar. 2026, la 10:02, {TEAM} a scris:",
           ("De la", "Trimis", "Către", "Subiect"), "marți, 3 martie 2026 10:02",
           "Trimis de pe iPhone-ul meu", "---------- Mesaj redirecționat ----------"),
    "ko": ("김민지", "minji.kim@example.co.kr",
           ["412 빌드에서 내보내기가 이제 잘 됩니다. 감사합니다.",
            "진행 표시줄만 90%에서 멈춥니다."],
           ["네, 노트북에서요.", "아니요, 그 후로 충돌은 없었습니다."],
           f"2026년 3월 3일 (화) 오전 10:02, {TEAM}님이 작성:",
           f"2026. 3. 3. 오전 10:02, {TEAM} 작성:",
           ("보낸 사람", "보낸 날짜", "받는 사람", "제목"), "2026년 3월 3일 화요일 오전 10:02",
           "나의 iPhone에서 보냄", "---------- 전달된 메시지 ----------"),
    "he": ("נועה כהן", "noa.cohen@example.co.il",
           ["הייצוא עובד עכשיו בגרסה 412, תודה.",
            "רק סרגל ההתקדמות נעצר ב-90%."],
           ["כן, במחשב הנייד.", "לא, לא היו קריסות מאז."],
           f"\u200fבתאריך יום ג׳, 3 במרץ 2026 ב-10:02 מאת \u200e{TEAM}\u200f:",
           f"ב-3 במרץ 2026, בשעה 10:02, {TEAM} כתב/ה:",
           ("מאת", "נשלח", "אל", "נושא"), "יום שלישי 3 מרץ 2026 10:02",
           "נשלח מה-iPhone שלי", "---------- הודעה שהועברה ----------"),
    "ar": ("ليلى حسن", "layla.hassan@example.ae",
           ["التصدير يعمل الآن في الإصدار 412، شكرا.",
            "فقط شريط التقدم يتوقف عند 90%."],
           ["نعم، على الحاسوب المحمول.", "لا، لم يتعطل منذ ذلك الحين."],
           f"\u202bفي الثلاثاء، 3 مارس 2026 في 10:02 ص كتب {TEAM}:\u202c",
           f"في 3 مارس 2026، الساعة 10:02، كتب {TEAM}:",
           ("من", "تاريخ الإرسال", "إلى", "الموضوع"), "الثلاثاء، 3 مارس 2026 10:02 ص",
           "أرسلت من الـ iPhone", "---------- الرسالة المعاد توجيهها ----------"),
    "vi": ("Nguyễn Minh Anh", "minhanh.nguyen@example.vn",
           ["Xuất tệp đã chạy được trên bản 412, cảm ơn.",
            "Chỉ có thanh tiến trình dừng ở 90%."],
           ["Có, trên máy tính xách tay.", "Không, từ đó không bị lỗi nữa."],
           f"Vào Th 3, 3 thg 3, 2026 vào lúc 10:02 {TEAM} đã viết:",
           f"Vào 10:02, Th 3, 3 thg 3, 2026, {TEAM} đã viết:",
           ("Từ", "Đã gửi", "Đến", "Chủ đề"), "Thứ Ba, ngày 3 tháng 3 năm 2026 10:02",
           "Được gửi từ iPhone của tôi", "---------- Thư chuyển tiếp ----------"),
    "id": ("Putri Wulandari", "putri.wulandari@example.co.id",
           ["Ekspor sudah berjalan di versi 412, terima kasih.",
            "Hanya bilah kemajuan yang berhenti di 90%."],
           ["Ya, di laptop.", "Tidak, sejak itu tidak macet lagi."],
           f"Pada tanggal Sel, 3 Mar 2026 pukul 10.02 {TEAM} menulis:",
           f"Pada Sel, 3 Mar 2026 10:02, {TEAM} menulis:",
           ("Dari", "Dikirim", "Kepada", "Perihal"), "Selasa, 03 Maret 2026 10.02",
           "Dikirim dari iPhone saya", "---------- Pesan yang diteruskan ----------"),
    "hr": ("Ivana Horvat", "ivana.horvat@example.hr",
           ["Izvoz sada radi na verziji 412, hvala.",
            "Samo traka napretka stane na 90 %."],
           ["Da, na prijenosnom računalu.", "Ne, od tada se nije srušio."],
           f"uto, 3. ožu 2026. u 10:02 {TEAM} napisao je:",
           f"Dana 3. 3. 2026. u 10:02, {TEAM} je napisao:",
           ("Šalje", "Poslano", "Prima", "Predmet"), "utorak, 3. ožujka 2026. 10:02",
           "Poslano s mog iPhonea", "---------- Proslijeđena poruka ----------"),
    "bg": ("Мария Петрова", "maria.petrova@example.bg",
           ["Експортът вече работи на версия 412, благодаря.",
            "Остава само лентата за напредък, която спира на 90%."],
           ["Да, на лаптоп с Windows 11.", "Не, след обновяването няма сривове."],
           f"вт, 3.03.2026 г. в 10:02 ч. {TEAM} написа:",
           f"На 3 март 2026 г. в 10:02 {TEAM} написа:",
           ("От", "Изпратено", "До", "Относно"), "вторник, 3 март 2026 г. 10:02",
           "Изпратено от моя iPhone", "---------- Препратено писмо ----------"),
    "lt": ("Rūta Kazlauskienė", "ruta.kazlauskiene@example.lt",
           ["Eksportas dabar veikia su 412 versija, ačiū.",
            "Tik eigos juosta sustoja ties 90 %."],
           ["Taip, nešiojamajame kompiuteryje.", "Ne, po atnaujinimo strigčių nebuvo."],
           f"2026-03-03, an, 10:02 {TEAM} rašė:",
           f"2026 m. kovo 3 d. 10:02 {TEAM} rašė:",
           ("Nuo", "Išsiųsta", "Kam", "Tema"), "2026 m. kovo 3 d., antradienis 10:02",
           "Išsiųsta iš mano iPhone", "---------- Persiųstas laiškas ----------"),
    "ca": ("Jordi Puig", "jordi.puig@example.cat",
           ["L'exportació ja funciona amb la versió 412, gràcies.",
            "Només la barra de progrés s'atura al 90 %."],
           ["Sí, en un portàtil amb Windows 11.", "No, des de l'actualització no ha fallat."],
           f"El dt., 3 de març 2026 a les 10:02, {TEAM} va escriure:",
           f"El 3/3/2026 a les 10:02, {TEAM} va escriure:",
           ("De", "Enviat el", "Per a", "Assumpte"), "dimarts, 3 de març de 2026 10:02",
           "Enviat des del meu iPhone", "---------- Missatge reenviat ----------"),
}


def note():
    return g.notification_text("en", g.t("en"), g.ITEMS[0])


def plain_message(name, tester_name, tester_addr, text, subject=None):
    token = g.mint(g.ITEMS[0][0], tester_addr, g.VALID_UNTIL, g.KEY_NEW)
    headers = [("Return-Path", f"<{tester_addr}>"), ("MIME-Version", "1.0"),
               ("From", g.mailbox(tester_name, tester_addr)), ("To", f"replies+{token}@beta.example.com"),
               ("Subject", subject or f"Re: [Lumen beta] {g.ITEMS[0][1]} [FB-{g.ITEMS[0][0]}]"),
               ("Date", g.rfc2822(g.NOTIFIED + timedelta(days=1))),
               ("Message-ID", f"<world-{name}@example.org>"),
               ("In-Reply-To", f"<feedback-{g.ITEMS[0][0]}@notify.beta.example.com>")]
    return token, g.machine_message(
        headers, 'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit',
        g.encode_body(text, "utf-8", "8bit"))


def html_message(name, tester_name, tester_addr, text, html, subject=None):
    token = g.mint(g.ITEMS[0][0], tester_addr, g.VALID_UNTIL, g.KEY_NEW)
    headers = [("Return-Path", f"<{tester_addr}>"), ("MIME-Version", "1.0"),
               ("From", g.mailbox(tester_name, tester_addr)), ("To", f"replies+{token}@beta.example.com"),
               ("Subject", subject or f"Re: [Lumen beta] {g.ITEMS[0][1]} [FB-{g.ITEMS[0][0]}]"),
               ("Date", g.rfc2822(g.NOTIFIED + timedelta(days=1))),
               ("Message-ID", f"<world-{name}@example.org>"),
               ("In-Reply-To", f"<feedback-{g.ITEMS[0][0]}@notify.beta.example.com>")]
    boundary = f"world-{name}-b"
    parts = []
    if text is not None:
        parts.append(g.part("text/plain", text, "utf-8", "quoted-printable"))
    parts.append(g.part("text/html", html, "utf-8", "quoted-printable"))
    if len(parts) == 1:
        body = g.encode_body(html, "utf-8", "quoted-printable").encode("ascii")
        return token, g.machine_message(
            headers, 'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable', body)
    return token, g.machine_message(
        headers, f'Content-Type: multipart/alternative; boundary="{boundary}"', g.multipart(boundary, parts))


def language_cases():
    n = note()
    quoted = g.quote_lines(n)
    out = []
    for lang, (name, addr, paras, answers, gmail, unquoted, labels, sent, footer, fwd) in LANGS.items():
        words = "\n\n".join(paras)
        first = name.split()[0]
        # Gmail-style header over the quote, signed with the first name.
        body = f"{words}\n\n{first}"
        out.append(("languages", f"gmail-{lang}", lang, name, addr, body,
                    f"{body}\n\n{gmail}\n\n{quoted}\n"))
        # Android / webmail: the header over the unquoted original.
        out.append(("languages", f"unquoted-{lang}", lang, name, addr, words,
                    f"{words}\n\n{unquoted}\n\n{n}\n"))
        # Localized Outlook block under a line of underscores.
        f_, s_, t_, subj = labels
        block = (f"{f_}: {TEAM}\n{s_}: {sent}\n{t_}: {name} <{addr}>\n"
                 f"{subj}: [Lumen beta] {g.ITEMS[0][1]} [FB-{g.ITEMS[0][0]}]")
        out.append(("languages", f"outlook-{lang}", lang, name, addr, words,
                    f"{words}\n\n________________________________\n{block}\n\n{n}\n"))
        # Mobile footer, a separator and Gmail's tracking mark after it.
        out.append(("languages", f"footer-{lang}", lang, name, addr, words,
                    f"{words}\n\n{footer}\n\nᐧ\n------------------------------\n\n{gmail}\n{quoted}\n"))
        # Inline answers between the quoted questions.
        q1, q2 = "> Which device did you test on?", "> Any crashes since the update?"
        body = f"{answers[0]}\n\n{answers[1]}"
        out.append(("languages", f"inline-{lang}", lang, name, addr, body,
                    f"{gmail}\n\n{q1}\n\n{answers[0]}\n\n{q2}\n\n{answers[1]}\n"))
    return out


def forwarded_cases():
    """Forwards with nothing of the tester's own: the body is the forwarded
    text (the record says it was forwarded)."""
    out = []
    forwarded_text = ("The export still hangs at 99% on the large project.\n\n"
                      "Log attached by the support desk.")
    for i, lang in enumerate(["ru", "cs", "da", "fi", "tr", "hu", "ko", "vi"]):
        name, addr, _, _, _, _, labels, sent, _, fwd = LANGS[lang]
        f_, s_, t_, subj = labels
        text = (f"{fwd}\n{f_}: Support Desk <support@example.com>\n{s_}: {sent}\n"
                f"{subj}: Export\n{t_}: {name} <{addr}>\n\n{forwarded_text}\n")
        out.append(("forwarded", f"forward-{lang}", lang, name, addr, forwarded_text, text))
    en = ("Dana Whitfield", "dana.whitfield@example.org")
    out.append(("forwarded", "gmail-forward-en", "en", *en, forwarded_text,
                f"---------- Forwarded message ---------\nFrom: Support Desk <support@example.com>\n"
                f"Date: Tue, Mar 3, 2026 at 10:02 AM\nSubject: Export\nTo: <{en[1]}>\n\n\n{forwarded_text}\n"))
    out.append(("forwarded", "apple-forward-en", "en", *en, forwarded_text,
                f"Begin forwarded message:\n\n> From: Support Desk <support@example.com>\n"
                f"> Subject: Export\n> Date: 3 March 2026 at 10:02:14 GMT\n> To: {en[0]} <{en[1]}>\n>\n"
                + "\n".join("> " + l if l else ">" for l in forwarded_text.split("\n")) + "\n"))
    out.append(("forwarded", "thunderbird-forward-de", "de", "Jörg Hoffmann", "j.hoffmann@example.de",
                forwarded_text,
                f"-------- Weitergeleitete Nachricht --------\nBetreff: Export\nDatum: Tue, 3 Mar 2026 10:02:14 +0100\n"
                f"Von: Support Desk <support@example.com>\nAn: j.hoffmann@example.de\n\n{forwarded_text}\n"))
    out.append(("forwarded", "outlook-forward-fr", "fr", "Amélie Laurent", "amelie.laurent@example.fr",
                forwarded_text,
                f"-----Message d'origine-----\nDe : Support Desk <support@example.com>\n"
                f"Envoyé : mardi 3 mars 2026 10:02\nÀ : Amélie Laurent\nObjet : Export\n\n{forwarded_text}\n"))
    # HTML-only forwards: Gmail keeps the separator and header fields in its
    # reply-header container, Outlook on the web its header block in
    # divRplyFwdMsg, Apple Mail quotes the whole forward.
    fwd_html = "".join(f"<div>{g.esc(p)}</div><div><br></div>" for p in forwarded_text.split("\n\n"))
    out.append(("forwarded-html", "gmail-forward-html-en", "en", *en, forwarded_text,
                f"<div dir=\"ltr\"><br><br><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">"
                f"---------- Forwarded message ---------<br>From: <strong class=\"gmail_sendername\" dir=\"auto\">"
                f"Support Desk</strong> <span dir=\"auto\">&lt;support@example.com&gt;</span><br>"
                f"Date: Tue, Mar 3, 2026 at 10:02 AM<br>Subject: Export<br>To: &lt;{en[1]}&gt;<br></div><br><br>"
                f"<div dir=\"ltr\">{fwd_html}</div></div></div>"))
    de = ("Jörg Hoffmann", "j.hoffmann@example.de")
    out.append(("forwarded-html", "outlook-web-forward-html-de", "de", *de, forwarded_text,
                f"<html><body><div dir=\"ltr\"><br></div><div id=\"appendonsend\"></div>"
                f"<hr style=\"display:inline-block;width:98%\" tabindex=\"-1\"><div id=\"divRplyFwdMsg\" dir=\"ltr\">"
                f"<font face=\"Calibri, sans-serif\"><b>Von:</b> Support Desk &lt;support@example.com&gt;<br>"
                f"<b>Gesendet:</b> Dienstag, 3. März 2026 10:02<br><b>An:</b> {g.esc(de[0])}<br>"
                f"<b>Betreff:</b> Export</font><div>&nbsp;</div></div><div>{fwd_html}</div></body></html>"))
    out.append(("forwarded-html", "apple-forward-html-en", "en", *en, forwarded_text,
                f"<html><body dir=\"auto\"><div><br></div><div><br><blockquote type=\"cite\"><div>Begin forwarded message:</div>"
                f"<br class=\"Apple-interchange-newline\"><div><b>From: </b>Support Desk &lt;support@example.com&gt;</div>"
                f"<div><b>Subject: </b>Export</div><div><b>Date: </b>3 March 2026 at 10:02:14 GMT</div>"
                f"<div><b>To: </b>{g.esc(en[0])} &lt;{en[1]}&gt;</div><br><div>{fwd_html}</div></blockquote></div></body></html>"))
    return out


def webmail_cases():
    n = note()
    quoted = g.quote_lines(n)
    en = ("Priya Raman", "priya.raman@example.com")
    words = "Confirmed: the export finishes now.\n\nThe file is 2 MB smaller than before."
    out = []

    def add(name, lang, who, body, text):
        out.append(("webmail", name, lang, who[0], who[1], body, text))

    add("zoho-en", "en", en, words,
        f"{words}\n\n---- On Tue, 03 Mar 2026 10:02:14 +0100 {TEAM} wrote ----\n\n{n}\n")
    add("zoho-de", "de", ("Anna Weiß", "anna.weiss@example.at"), "Klappt jetzt, danke.",
        f"Klappt jetzt, danke.\n\n---- Am Di, 03 Mär 2026 10:02:14 +0100 schrieb {TEAM} ----\n\n{quoted}\n")
    add("yahoo-plain-en", "en", en, words,
        f"{words}\n\nSent from Yahoo Mail for iPhone\n\n\nOn Tuesday, March 3, 2026, 10:02 AM, {TEAM} wrote:\n\n{quoted}\n")
    add("aol-en", "en", en, words,
        f"{words}\n\n\n-----Original Message-----\nFrom: {TEAM}\nTo: {en[1]}\n"
        f"Sent: Tue, Mar 3, 2026 10:02 am\nSubject: [Lumen beta] {g.ITEMS[0][1]}\n\n{n}\n")
    ru = LANGS["ru"]
    ru_words = "\n\n".join(ru[2])
    add("mailru-ru", "ru", ru, ru_words,
        f"{ru_words}\n\n\nВторник, 3 марта 2026, 10:02 +03:00 от {TEAM}:\n\n{quoted}\n")
    add("mailru-footer-ru", "ru", ru, ru_words,
        f"{ru_words}\n\n--\nОтправлено из мобильной Почты Mail.ru\n\n\nВторник, 3 марта 2026, 10:02 +03:00 от {TEAM}:\n{quoted}\n")
    add("yandex-ru", "ru", ru, ru_words,
        f"{ru_words}\n\n03.03.2026, 10:02, \"{g.TEAM_NAME}\" <{g.TEAM_ADDR}>:\n{quoted}\n")
    add("yandex-unquoted-ru", "ru", ru, ru_words,
        f"{ru_words}\n\n03.03.2026, 10:02, \"{g.TEAM_NAME}\" <{g.TEAM_ADDR}>:\n\n{n}\n")
    de = ("Jörg Hoffmann", "j.hoffmann@example.de")
    de_words = "Der Export läuft jetzt durch.\n\nNur der Fortschrittsbalken hängt bei 90 %."
    add("gmx-de", "de", de, de_words,
        f"{de_words}\n\n\nGesendet: Dienstag, 03. März 2026 um 10:02 Uhr\nVon: \"{g.TEAM_NAME}\" <{g.TEAM_ADDR}>\n"
        f"An: {de[1]}\nBetreff: [Lumen beta] {g.ITEMS[0][1]}\n\n{n}\n")
    add("webde-de", "de", de, de_words,
        f"{de_words}\n\n\n\nGesendet: Dienstag, 03. März 2026 um 10:02 Uhr\nVon: {TEAM}\n"
        f"An: {de[0]} <{de[1]}>\nBetreff: [Lumen beta] {g.ITEMS[0][1]}\n{quoted}\n")
    cs = LANGS["cs"]
    cs_words = "\n\n".join(cs[2])
    add("seznam-cs", "cs", cs, cs_words,
        f"{cs_words}\n\n---------- Původní e-mail ----------\nOd: {TEAM}\nKomu: {cs[1]}\n"
        f"Datum: 3. 3. 2026 10:02:14\nPředmět: [Lumen beta] {g.ITEMS[0][1]}\n{n}\n")
    ko = LANGS["ko"]
    ko_words = "\n\n".join(ko[2])
    add("naver-ko", "ko", ko, ko_words,
        f"{ko_words}\n\n\n-----Original Message-----\nFrom: \"{g.TEAM_NAME}\"<{g.TEAM_ADDR}>\n"
        f"To: <{ko[1]}>;\nCc:\nSent: 2026-03-03 (화) 10:02:14 (GMT+09:00)\nSubject: [Lumen beta] {g.ITEMS[0][1]}\n\n{n}\n")
    zh = ("王 芳", "wang.fang@example.cn")
    zh_words = "导出现在可以用了，谢谢。\n\n只是进度条停在90%。"
    add("qq-zh", "zh", zh, zh_words,
        f"{zh_words}\n\n\n------------------ 原始邮件 ------------------\n发件人: \"{g.TEAM_NAME}\"<{g.TEAM_ADDR}>;\n"
        f"发送时间: 2026年3月3日(星期二) 上午10:02\n收件人: \"王 芳\"<{zh[1]}>;\n主题: [Lumen beta] {g.ITEMS[0][1]}\n\n{n}\n")
    add("163-zh", "zh", zh, zh_words,
        f"{zh_words}\n\n在 2026-03-03 10:02:14，\"{g.TEAM_NAME}\" <{g.TEAM_ADDR}> 写道：\n{quoted}\n")
    add("gmail-numeric-en", "en", en, words,
        f"{words}\n\n2026-03-03 10:02 GMT+01:00 {TEAM}:\n\n{quoted}\n")
    add("fastmail-en", "en", en, words,
        f"{words}\n\nOn Tue, 3 Mar 2026, at 10:02, {TEAM} wrote:\n{quoted}\n")

    # HTML-only and alternative messages of webmail clients.
    note_html = "".join(f"<div>{g.esc(l) if l else '<br>'}</div>" for l in n.split("\n"))
    html_words = "<div>Confirmed: the export finishes now.</div><div><br></div><div>The file is 2 MB smaller than before.</div>"
    html_cases = {
        "yahoo-html": f"<html><body><div class=\"ydp9e1fyahoo-style-wrap\">{html_words}</div>"
                      f"<div id=\"ydp44c1yahoo_quoted_3310\" class=\"ydp44c1yahoo_quoted\"><div>On Tuesday, March 3, 2026, "
                      f"10:02 AM, {g.esc(TEAM)} wrote:</div><div><br></div><div><div>{note_html}</div></div></div></body></html>",
        "aol-html": f"<html><body><div style=\"font-family:Arial\">{html_words}</div><div><br></div>"
                    f"<div id=\"yahoo_quoted_5521\" class=\"yahoo_quoted\"><div>-----Original Message-----<br>From: "
                    f"{g.esc(TEAM)}<br>Sent: Tue, Mar 3, 2026 10:02 am<br>Subject: Export</div>{note_html}</div></body></html>",
        "proton-html": f"<div style=\"font-family: Arial\">{html_words}</div><div class=\"protonmail_signature_block\">"
                       f"<div>Sent with <a href=\"https://proton.me/\">Proton Mail</a> secure email.</div></div><br>"
                       f"<div class=\"protonmail_quote\">On Tuesday, March 3rd, 2026 at 10:02, {g.esc(TEAM)} wrote:<br>"
                       f"<blockquote class=\"protonmail_quote\" type=\"cite\">{note_html}</blockquote><br></div>",
        "zimbra-html": f"<html><body><div style=\"font-family: arial\">{html_words}<div><br></div>"
                       f"<hr id=\"zwchr\"><div><b>From: </b>{g.esc(TEAM)}<br><b>To: </b>Priya Raman<br>"
                       f"<b>Sent: </b>Tuesday, March 3, 2026 10:02:14 AM<br><b>Subject: </b>Export<br></div>"
                       f"<div><br></div>{note_html}</div></body></html>",
        "windows-mail-html": f"<html><body><div class=\"WordSection1\"><p class=\"MsoNormal\">Confirmed: the export finishes now.</p>"
                             f"<p class=\"MsoNormal\"><o:p>&nbsp;</o:p></p><p class=\"MsoNormal\">The file is 2 MB smaller than before.</p>"
                             f"<p class=\"MsoNormal\"><o:p>&nbsp;</o:p></p><p class=\"MsoNormal\">Sent from <a href=\"https://go.microsoft.com/fwlink/?LinkId=550986\">Mail</a> for Windows</p>"
                             f"<p class=\"MsoNormal\"><o:p>&nbsp;</o:p></p>"
                             f"<div style=\"mso-element:para-border-div;border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm\">"
                             f"<p class=\"MsoNormal\" style=\"border:none;padding:0cm\"><b>From: </b>{g.esc(TEAM)}<br><b>Sent: </b>Tuesday, March 3, 2026 10:02 AM<br>"
                             f"<b>To: </b>Priya Raman<br><b>Subject: </b>Export</p></div>{note_html}</div></body></html>",
        "mailru-html": f"<HTML><BODY>{html_words}<div>&nbsp;</div><div>&nbsp;</div><div>--<br>Отправлено из мобильной Почты Mail.ru</div>"
                       f"<div>&nbsp;</div><div>Вторник, 3 марта 2026, 10:02 +03:00 от {g.esc(TEAM)}:<br></div>"
                       f"<div class=\"mail-quote-collapse\"><blockquote style=\"border-left:1px solid #0857A6; margin:10px; "
                       f"padding:0 0 0 10px;\"><div id=\"\"><div class=\"js-helper js-readmsg-msg\"><div>{note_html}</div></div></div>"
                       f"</blockquote></div></BODY></HTML>",
        "yandex-html": f"<div>{html_words}</div><div>&nbsp;</div><div>&nbsp;</div>"
                       f"<div>03.03.2026, 10:02, \"{g.esc(g.TEAM_NAME)}\" &lt;{g.TEAM_ADDR}&gt;:</div>"
                       f"<blockquote>{note_html}</blockquote>",
        "outlook-requoted-html": f"<html><body><div>{html_words}</div><div id=\"x_appendonsend\"></div><hr style=\"display:inline-block;width:98%\">"
                                 f"<div id=\"x_divRplyFwdMsg\" dir=\"ltr\"><b>From:</b> {g.esc(TEAM)}<br><b>Sent:</b> Tuesday, March 3, 2026 10:02 AM<br>"
                                 f"<b>Subject:</b> Export</div><div>{note_html}</div></body></html>",
    }
    for name, html in html_cases.items():
        out.append(("webmail-html", name, "en", en[0], en[1], words, html))
    return out


def leftover_cases():
    n = note()
    quoted = g.quote_lines(n)
    who = ("Marcus Reid", "marcus.reid@example.net")
    words = "Fixed on my side.\n\nThe sidebar is readable now."
    header = f"On Tue, 3 Mar 2026 at 10:02, {TEAM} wrote:"
    shapes = {
        "dashes-before-header": f"{words}\n\n------------------------------\n{header}\n{quoted}\n",
        "underscores-at-end": f"{words}\n\n________________________________\n",
        "tracking-mark": f"{words}\nᐧ\n\n{header}\n\n{quoted}\n",
        "zero-width-lines": f"{words}\n\u200b\n\u200b\n\n{header}\n{quoted}\n",
        "footer-run": f"{words}\n\nSent from my iPhone\n\nEnvoyé depuis mon iPhone\n\nVon meinem iPhone gesendet\n\n{header}\n{quoted}\n",
        "footer-then-original": f"{words}\n\nSent from my Galaxy\n\n{n}\n",
        "header-without-colon": f"{words}\n\nOn Tue, 3 Mar 2026 10:02:14 +0100 {TEAM} wrote\n\n{n}\n",
        "list-footer": f"{words}\n\nMarcus\n\n_______________________________________________\nbeta-testers mailing list\n"
                       f"beta-testers@lists.example.org\nhttps://lists.example.org/listinfo/beta-testers\n",
        "wrapped-quote-line": f"{words}\n\n{header}\n\n> Thanks for trying the build from Tuesday, could you tell us whether the sidebar\n"
                              f"is readable now in dark mode?\n> Lumen Beta Team\n",
        "header-split-address": f"{words}\n\nOn Tue, 3 Mar 2026 at 10:02, {g.TEAM_NAME} <{g.TEAM_ADDR}\n>:\n\n{quoted}\n",
        # Shapes added after the first measurement on public sets, written here.
        "header-three-lines": f"{words}\n\nOn Tuesday, March 3, 2026 10:02 AM, {g.TEAM_NAME}\n<{g.TEAM_ADDR}>\nwrote:\n\n{quoted}\n",
        "short-header": f"{words}\n\n{g.TEAM_NAME} wrote:\n{quoted}\n",
        "groupwise": f"{words}\n\n>>> {TEAM} 03/03/2026 10:02 >>>\n{n}\n",
        "ios-em-dash-signature": f"{words}\n\n\u2014 \nMarcus Reid\nQA, Example Net\n\n{header}\n{quoted}\n",
        "reply-above-marker": f"{words}\n\n##- Please type your reply above this line -##\n\n{n}\n",
        "qq-english-original": f"{words}\n\n------------------ Original ------------------\nFrom: \"{g.TEAM_NAME}\"<{g.TEAM_ADDR}>;\n"
                               f"Date: Tue, Mar 3, 2026 10:02 AM\nTo: \"{who[0]}\"<{who[1]}>;\nSubject: Export\n\n{n}\n",
        "long-header-block": f"{words}\n\nFrom: {TEAM}\nReply-To: {TEAM}\nDate: Tuesday, March 3, 2026 at 10:02 AM\n"
                             f"To: {who[0]} <{who[1]}>\nCc: QA <qa@example.net>\nSubject: Export\n\n{n}\n",
        "notes-sent-by": f"{words}\n\nSent by: {g.TEAM_NAME}\nTo: {who[0]}\nDate: 03/03/2026 10:02 AM\nSubject: Export\n\n{n}\n",
        # Read through the unlabelled development fixtures, written here.
        "footer-like-sentence-last": f"{words}\n\nSent from home, the office build is still the old one.\n\n{header}\n{quoted}\n",
        "sent-using-footer": f"{words}\nSent using the Example Mail app\n\n{header}\n{quoted}\n",
        "footer-rtl-embedding": f"{words}\n\n\u202bأُرسلت من الـ iPhone\u202c\n\n{header}\n{quoted}\n",
        "list-footer-short-rule": f"{words}\n\n\n__\nbeta-testers mailing list\nbeta-testers@lists.example.org\n"
                                  f"https://lists.example.org/listinfo/beta-testers\n",
        # Shapes of issue 15's second pass, written here.
        "fields-in-paragraphs": f"{words}\n\nFrom: {TEAM}\n\nSent: Tuesday, March 3, 2026 10:02 AM\n\n"
                                f"To: {who[0]}\n\nSubject: Export\n\n{n}\n",
        "fields-at-top": f"From: {TEAM}\nSent: Tuesday, March 3, 2026 10:02 AM\nTo: {who[0]} <{who[1]}>\n"
                         f"Subject: Export\n\n{words}\n\nMarcus\n",
        "bold-fields-at-top": f"**Sent:** Tuesday, March 3, 2026 10:02 AM\n\n**From:** {TEAM}\n\n"
                              f"**To:** {who[1]}\n\n**Subject:** Export\n\n\n{words}\n\n**. . . . . . . . . .**\n",
        "framed-separator": f"{words}\n\n-------- Alkup. viesti --------\nLähettäjä: {TEAM}\n"
                            f"Päivämäärä: 3.3.2026 10.02\nVastaanottaja: {who[0]} <{who[1]}>\n\n{n}\n",
        "dotted-rule": f"{words}\n\n. . . . . . . . . .\n\n{header}\n{quoted}\n",
        "leading-footer": f"Sent from my iPhone\n\n{words}\n\n{header}\n{quoted}\n",
        "header-split-by-blank": f"{words}\n\nOn Tue, 3 Mar 2026 at 10:02\n\n{TEAM} wrote:\n\n{quoted}\n",
        "block-without-date": f"{words}\n\nFrom: {TEAM}\nTo: {who[0]} <{who[1]}>\nSubject: Export\n\n{n}\n",
        # A German client's header that lost its colon after the address.
        "header-colon-lost-after-address": f"{words}\n\nAm 03.03.2026 um 10:02 schrieb {TEAM}\n\n{n}\n",
        "antivirus-footer": f"{words}\n\nVirus-free. www.avast.com\n\n{header}\n{quoted}\n",
        # Probed from what the clients write, this session's pass.
        "sup-excerpts-header": f"{words}\n\nExcerpts from {g.TEAM_NAME}'s message of 2026-03-03 10:02:14 +0100:\n{quoted}\n",
        "footer-with-apology-line": f"{words}\n\nSent from my iPhone\nPlease excuse typos\n\n{header}\n{quoted}\n",
        "proton-unicode-hyphens": f"{words}\n\n\u2010\u2010\u2010\u2010\u2010\u2010\u2010 Original Message \u2010\u2010\u2010\u2010\u2010\u2010\u2010\n"
                                  f"On Tuesday, March 3rd, 2026 at 10:02, {TEAM} wrote:\n\n{quoted}\n",
    }
    body_for = {"list-footer": f"{words}\n\nMarcus",
                "fields-at-top": f"{words}\n\nMarcus",
                "footer-like-sentence-last": f"{words}\n\nSent from home, the office build is still the old one."}
    return [("leftovers", name, "en", who[0], who[1], body_for.get(name, words), text)
            for name, text in shapes.items()]


def html_language_cases():
    """HTML-only replies in the languages above: Gmail's containers, and
    Outlook on the web's header block with localized labels."""
    n = note()
    note_html = "".join(f"<div>{g.esc(l) if l else '<br>'}</div>" for l in n.split("\n"))
    out = []
    for lang, (name, addr, paras, _, gmail, _, labels, sent, _, _) in LANGS.items():
        words = "\n\n".join(paras)
        own = "<div><br></div>".join(f"<div>{g.esc(p)}</div>" for p in paras)
        header = g.esc(gmail.replace("\n", " "))
        html = (f"<div dir=\"ltr\">{own}</div><br><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">"
                f"{header}<br></div><blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex\">"
                f"{note_html}</blockquote></div>")
        out.append(("languages-html", f"gmail-html-{lang}", lang, name, addr, words, html))
    for lang in ["ru", "cs", "da", "fi", "tr", "el", "ko", "id"]:
        name, addr, paras, _, _, _, labels, sent, _, _ = LANGS[lang]
        words = "\n\n".join(paras)
        own = "".join(f"<div>{g.esc(p)}</div><div><br></div>" for p in paras)
        f_, s_, t_, subj = labels
        html = (f"<html><body><div dir=\"ltr\">{own}</div><div id=\"appendonsend\"></div>"
                f"<hr style=\"display:inline-block;width:98%\" tabindex=\"-1\">"
                f"<div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri, sans-serif\"><b>{g.esc(f_)}:</b> {g.esc(TEAM)}<br>"
                f"<b>{g.esc(s_)}:</b> {g.esc(sent)}<br><b>{g.esc(t_)}:</b> {g.esc(name)}<br>"
                f"<b>{g.esc(subj)}:</b> Export</font><div>&nbsp;</div></div><div>{note_html}</div></body></html>")
        out.append(("languages-html", f"outlook-web-html-{lang}", lang, name, addr, words, html))
    return out


def all_cases():
    """(category, name, lang, tester name, address, expected body, raw)."""
    out = []
    for category, name, lang, tname, taddr, body, text in (
            language_cases() + forwarded_cases() + webmail_cases() + leftover_cases()
            + html_language_cases()):
        if category in ("webmail-html", "languages-html", "forwarded-html"):
            token, raw = html_message(name, tname, taddr, None, text,
                                      subject="Fwd: Export" if category == "forwarded-html" else None)
            category = {"webmail-html": "webmail", "languages-html": "html-languages",
                        "forwarded-html": "forwarded"}[category]
        else:
            token, raw = plain_message(name, tname, taddr, text,
                                       subject="Fwd: Export" if category == "forwarded" else None)
        label = {"category": category, "client": name.split("-")[0], "lang": lang,
                 "target": g.ITEMS[0][0], "method": "plus-address", "value": token, "body": body}
        out.append((category, name, raw, label))
    return out
