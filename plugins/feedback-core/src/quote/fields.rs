//! Header-field blocks mail clients write above a quoted or forwarded
//! message (Outlook's `From:`/`Sent:`/`Subject:` in the supported
//! languages), and where such a block ends.

use super::lines::*;

/// Where the header fields at the top of `rest` end (after blank lines
/// above them): field lines and their folded continuations, up to the first
/// blank line, or past a blank line to another common field (clients that
/// put each field in a paragraph of its own).
pub(super) fn fields_end(rest: &[&str]) -> usize {
    let mut start = 0;
    while start < rest.len() && is_blank(rest[start]) {
        start += 1;
    }
    let mut end = start;
    loop {
        while end < rest.len()
            && !is_blank(rest[end])
            && (field_label(rest[end]).is_some()
                || (end > start && rest[end].starts_with([' ', '\t'])))
        {
            end += 1;
        }
        if end == start {
            return end;
        }
        match (end..rest.len().min(end + 3)).find(|&j| !is_blank(rest[j])) {
            Some(j) if j > end && is_common_field(rest[j]) => end = j,
            _ => return end,
        }
    }
}

/// A header field line with one of the labels mail clients write above a
/// quoted or forwarded message.
pub(super) fn is_common_field(line: &str) -> bool {
    field_label(line).is_some_and(|l| {
        let l = l.as_str();
        FROM_LABELS.contains(&l)
            || SENT_LABELS.contains(&l)
            || SUBJECT_LABELS.contains(&l)
            || TO_LABELS.contains(&l)
    })
}

/// Three or more header field lines right below line `i` (blank lines
/// between them allowed), one of them naming an address.
pub(super) fn fields_below(lines: &[&str], i: usize) -> bool {
    let fields: Vec<&str> = lines[i + 1..]
        .iter()
        .take(12)
        .filter(|l| !is_blank(l))
        .take_while(|l| field_label(l).is_some())
        .take(8)
        .copied()
        .collect();
    fields.len() >= 3 && fields.iter().any(|l| l.contains('@'))
}

/// Outlook's header labels in the supported languages, lowercase.
pub(super) const FROM_LABELS: &[&str] = &[
    "from",
    "sent by",
    "von",
    "gesendet von",
    "de",
    "da",
    "van",
    "från",
    "od",
    "差出人",
    "发件人",
    "寄件者",
    "發件人",
    "от",
    "fra",
    "lähettäjä",
    "від",
    "kimden",
    "από",
    "feladó",
    "de la",
    "보낸 사람",
    "מאת",
    "من",
    "từ",
    "dari",
    "šalje",
    "nuo",
    "no",
    "saatja",
    "daripada",
    "จาก",
    "fran",
    "lahettaja",
];
pub(super) const SENT_LABELS: &[&str] = &[
    "sent",
    "enviado em",
    "enviada em",
    "date",
    "gesendet",
    "datum",
    "envoyé",
    "envoyé le",
    "enviado el",
    "enviado",
    "enviada",
    "enviadas",
    "fecha",
    "inviato",
    "data",
    "verzonden",
    "verstuurd",
    "skickat",
    "wysłano",
    "wysłane",
    "送信日時",
    "日付",
    "发送时间",
    "日期",
    "寄件日期",
    "傳送時間",
    "時間",
    "отправлено",
    "дата",
    "sendt",
    "dato",
    "lähetetty",
    "päivämäärä",
    "odesláno",
    "odoslané",
    "надіслано",
    "gönderildi",
    "gönderilme",
    "tarih",
    "στάλθηκε",
    "ημερομηνία",
    "elküldve",
    "dátum",
    "küldve",
    "trimis",
    "보낸 날짜",
    "날짜",
    "נשלח",
    "תאריך",
    "تاريخ الإرسال",
    "التاريخ",
    "đã gửi",
    "ngày",
    "dikirim",
    "tanggal",
    "poslano",
    "изпратено",
    "poslato",
    "послато",
    "išsiųsta",
    "nosūtīts",
    "saadetud",
    "enviat",
    "enviat el",
    "dihantar",
    "ส่ง",
    "datums",
    "kuupäev",
    "päiväys",
    "paivays",
    "αποστολή",
    "تم الإرسال",
    "envoye",
    "датум",
    "วันที่",
];
/// Recipient labels (To, Cc) of those header blocks, lowercase.
pub(super) const TO_LABELS: &[&str] = &[
    "to",
    "cc",
    "bcc",
    "reply-to",
    "an",
    "kopie",
    "à",
    "a",
    "para",
    "per a",
    "aan",
    "till",
    "kopia",
    "do",
    "komu",
    "kam",
    "кому",
    "до",
    "宛先",
    "收件人",
    "收件者",
    "抄送",
    "til",
    "vastaanottaja",
    "kime",
    "alıcı",
    "za",
    "prejemnik",
    "adresāts",
    "ถึง",
    "la",
    "προς",
    "címzett",
    "către",
    "받는 사람",
    "אל",
    "إلى",
    "đến",
    "kepada",
    "prima",
    "adresát",
    "príjemca",
    "gavėjas",
    "saņēmējs",
    "saaja",
];
pub(super) const SUBJECT_LABELS: &[&str] = &[
    "subject",
    "betreff",
    "objet",
    "asunto",
    "oggetto",
    "onderwerp",
    "assunto",
    "ämne",
    "temat",
    "件名",
    "主题",
    "主旨",
    "主題",
    "тема",
    "emne",
    "aihe",
    "předmět",
    "konu",
    "θέμα",
    "tárgy",
    "subiect",
    "제목",
    "נושא",
    "الموضوع",
    "chủ đề",
    "subjek",
    "perihal",
    "predmet",
    "относно",
    "tema",
    "tēma",
    "teema",
    "assumpte",
    "zadeva",
    "naslov",
    "perkara",
    "เรื่อง",
    "amne",
];

/// The lowercase label of a header-like line (`From:`, `*Von:*`, `De :`,
/// `件名：`), if it has one.
pub(super) fn field_label(line: &str) -> Option<String> {
    let line = line.trim_start().trim_start_matches('*');
    let colon = line.find([':', '：'])?;
    let label = line[..colon].trim().trim_end_matches('*').trim();
    (!label.is_empty() && label.chars().count() <= 20).then(|| label.to_lowercase())
}

/// Outlook's header block: a From label, then a Sent (or Date) and a Subject
/// label within the next four lines.
pub(super) fn is_outlook_header(lines: &[&str], i: usize) -> bool {
    let has = |line: &str, labels: &[&str]| {
        field_label(line).is_some_and(|l| labels.contains(&l.as_str()))
    };
    // Most lines have no label: decide on the line itself first.
    let Some(label) = field_label(lines[i]) else {
        return false;
    };
    let (from, sent) = (
        FROM_LABELS.contains(&label.as_str()),
        SENT_LABELS.contains(&label.as_str()),
    );
    if !(from || sent) {
        return false;
    }
    // The next four lines, or a longer run of header fields (`Reply-To:`,
    // `Cc:`, `Bcc:`… between From and Subject), up to eight; blank lines
    // between the fields do not count (clients that put each field in a
    // paragraph of its own).
    let mut block: Vec<&str> = Vec::with_capacity(8);
    let mut all_fields = true;
    for line in lines[i + 1..].iter().take(16).filter(|l| !is_blank(l)) {
        let field = field_label(line).is_some();
        if block.len() >= 4 && !(all_fields && field) {
            break;
        }
        all_fields &= field;
        block.push(line);
        if block.len() == 8 {
            break;
        }
    }
    let subject_below = block.iter().any(|l| has(l, SUBJECT_LABELS));
    // A long recipient list wraps and can push the subject out of reach:
    // the recipients close the block as well.
    let to_below = block.iter().any(|l| has(l, TO_LABELS));
    if from {
        let sent_below = block.iter().any(|l| has(l, SENT_LABELS));
        // Without a date (some clients leave it out), the sender's address,
        // the recipients and the subject.
        return (sent_below && (subject_below || to_below))
            || (lines[i].contains('@') && to_below && subject_below);
    }
    // GMX and Web.de start with the date: `Gesendet:`, `Von:`, `An:`,
    // `Betreff:`.
    (subject_below || to_below) && block.iter().any(|l| has(l, FROM_LABELS))
}
