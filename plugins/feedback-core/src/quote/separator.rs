//! Where the tester's text ends: separators ("Original Message",
//! "Forwarded message" and their translations, framed or bare), header
//! blocks, `-- `, helpdesk "reply above this line" markers; and what marks a
//! message or a separator as a forward.

use super::fields::*;
use super::lines::*;

/// The cuts that end a reply without starting another message: a `-- `
/// signature and a helpdesk's "reply above this line" marker.
pub(super) fn is_signature_or_marker(line: &str) -> bool {
    let line = line.trim();
    line == "--" || line == "\u{2014}" || is_reply_above_marker(line)
}

/// Subject prefixes of forwards: `Fwd:`, `Fw:`, `WG:` (German), `TR:`
/// (French), `RV:` (Spanish), `I:` (Italian), `Doorst:` (Dutch), `VB:`
/// (Swedish), `PD:` (Polish), `Enc:` (Portuguese), `VS:` (Finnish), `Fwd`
/// in brackets, `转发:`, `轉寄:`, `Пересл:`.
pub fn is_forward_subject(subject: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "fwd",
        "fw",
        "wg",
        "tr",
        "rv",
        "i",
        "doorst",
        "vb",
        "pd",
        "enc",
        "vs",
        "vl",
        "videresend",
        "转发",
        "轉寄",
        "пересл",
        "ilt",
        "továbbítás",
        "προώθ",
    ];
    let lower = lowercase(subject.trim().trim_start_matches('['));
    lower
        .split_once([':', '：', ']'])
        .is_some_and(|(head, _)| PREFIXES.contains(&head.trim()))
}

/// Word stems that mark a separator or header as a forwarded message's.
pub(super) const FORWARD_STEMS: &[&str] = &[
    "forward",
    "weitergeleitet",
    "transféré",
    "réexpédié",
    "reenviado",
    "inoltrat",
    "doorgestuurd",
    "encaminhad",
    "reencaminhad",
    "vidarebefordrat",
    "przekazan",
    "przekazywanej",
    "転送",
    "转发",
    "轉寄",
    "videresendt",
    "välitetty",
    "переадресованн",
    "пересыла",
    "переслан",
    "přeposlan",
    "iletilen",
    "προωθημένο",
    "továbbított",
    "redirecționat",
    "전달된",
    "הועברה",
    "توجيه",
    "chuyển tiếp",
    "diteruskan",
    "proslijeđen",
    "prosleđen",
    "препратен",
    "posredovan",
    "edastatud",
    "persiųst",
    "pārsūtīt",
    "reenviat",
    "iletilen",
    "ส่งต่อ",
    "dimajukan",
];

/// A forwarded message's separator (`---------- Forwarded message
/// ---------`, `Begin forwarded message:` and their translations).
pub(super) fn is_forward_separator(line: &str) -> bool {
    (is_original_message(line) || is_forward_header(line)) && {
        let lower = lowercase(line);
        FORWARD_STEMS.iter().any(|s| lower.contains(s))
    }
}

/// Where the reply ends if line `i` starts a forwarded or quoted original or
/// a signature: `i`, or earlier to include an Outlook separator line.
pub(super) fn cut_start(lines: &[&str], i: usize) -> Option<usize> {
    let line = lines[i].trim();
    if is_reply_above_marker(line) {
        return Some(i);
    }
    // `-- `, or the em dash iOS turns it into as it is typed.
    if line == "--" || line == "\u{2014}" || is_original_message(line) || is_forward_header(line) {
        return Some(i);
    }
    // "Original Message" without its dashes (a client that drew them as a
    // rule), right above the header fields.
    // The fields are looked at first: no lowercase copy of every short line.
    // (A blank line never looks ahead, so runs of blank lines stay linear.)
    if line.len() <= 60 && !is_blank(line) {
        let next = (i + 1..lines.len()).find(|&j| !is_blank(lines[j]));
        let fields_below = next.is_some_and(|j| {
            field_label(lines[j]).is_some_and(|l| {
                FROM_LABELS.contains(&l.as_str()) || SENT_LABELS.contains(&l.as_str())
            })
        });
        if fields_below && is_bare_separator(line) {
            return Some(i);
        }
    }
    if is_outlook_header(lines, i) {
        // Outlook puts a line of underscores above the block, other clients
        // a rule or a separator phrase framed in dashes in their language.
        let above = (0..i).rev().find(|&j| !is_blank(lines[j]));
        return Some(match above {
            Some(j) if is_rule_above_fields(lines[j]) => j,
            _ => i,
        });
    }
    // A separator framed in dashes in any language (`-------- Původní
    // zpráva --------`), right above header fields naming an address.
    if is_framed(line) && fields_below(lines, i) {
        return Some(i);
    }
    None
}

/// A line a client draws above the header fields of the message it quotes:
/// a long rule (`________________________________`, `-----`), or a phrase
/// framed in dashes.
pub(super) fn is_rule_above_fields(line: &str) -> bool {
    let line = line.trim();
    is_underscore_rule(line, 10) || is_separator_line(line) || is_framed(line)
}

/// A short phrase framed in three or more dashes on each side: `--------
/// Original message --------` in whatever language the client speaks.
pub(super) fn is_framed(line: &str) -> bool {
    let line = line.trim();
    if !line.starts_with("---") {
        return false;
    }
    let inner = line.trim_matches('-');
    line.len() <= 120
        && line.starts_with("---")
        && line.ends_with("---")
        && !inner.trim().is_empty()
        && inner.trim().chars().count() <= 50
        && !inner.contains("--")
}

/// What "-----Original Message-----" and "---------- Forwarded message
/// ---------" say in the supported languages, lowercase.
pub(super) const SEPARATOR_PHRASES: &[&str] = &[
    "original message",
    "original",
    "forwarded message",
    "ursprüngliche nachricht",
    "originalnachricht",
    "original-nachricht",
    "weitergeleitete nachricht",
    "message d'origine",
    "message original",
    "message transféré",
    "mensaje original",
    "mensaje reenviado",
    "messaggio originale",
    "messaggio inoltrato",
    "oorspronkelijk bericht",
    "origineel bericht",
    "doorgestuurd bericht",
    "mensagem original",
    "mensagem encaminhada",
    "ursprungligt meddelande",
    "originalmeddelande",
    "vidarebefordrat meddelande",
    "wiadomość oryginalna",
    "oryginalna wiadomość",
    "wiadomość przekazana",
    "przekazana wiadomość",
    "元のメッセージ",
    "転送されたメッセージ",
    "原始邮件",
    "原始郵件",
    "转发的邮件",
    "轉寄的郵件",
    "oprindelig besked",
    "oprindelig meddelelse",
    "videresendt besked",
    "videresendt meddelelse",
    "opprinnelig melding",
    "videresendt melding",
    "alkuperäinen viesti",
    "välitetty viesti",
    "исходное сообщение",
    "пересылаемое сообщение",
    "пересланное сообщение",
    "вихідне повідомлення",
    "початкове повідомлення",
    "переслане повідомлення",
    "původní zpráva",
    "přeposlaná zpráva",
    "pôvodná správa",
    "původní e-mail",
    "původní email",
    "pôvodný e-mail",
    "orijinal ileti",
    "özgün ileti",
    "iletilen ileti",
    "αρχικό μήνυμα",
    "προωθημένο μήνυμα",
    "eredeti üzenet",
    "továbbított üzenet",
    "mesaj original",
    "mesaj redirecționat",
    "원본 메시지",
    "전달된 메시지",
    "הודעה מקורית",
    "הודעה שהועברה",
    "الرسالة الأصلية",
    "الرسالة المعاد توجيهها",
    "thư gốc",
    "thư chuyển tiếp",
    "pesan asli",
    "pesan yang diteruskan",
    "izvorna poruka",
    "proslijeđena poruka",
    "originalna poruka",
    "prosleđena poruka",
    "оригинално писмо",
    "оригинално съобщение",
    "препратено писмо",
    "препратено съобщение",
    "izvirno sporočilo",
    "prvotno sporočilo",
    "posredovano sporočilo",
    "algne kiri",
    "algsõnum",
    "edastatud kiri",
    "pradinis laiškas",
    "originalus laiškas",
    "persiųstas laiškas",
    "sākotnējā ziņa",
    "oriģinālā ziņa",
    "pārsūtīta ziņa",
    "missatge original",
    "missatge reenviat",
    "orijinal mesaj",
    "iletilen mesaj",
    "tin nhắn gốc",
    "tin nhắn được chuyển tiếp",
    "ข้อความต้นฉบับ",
    "ข้อความที่ส่งต่อ",
    "mesej asal",
    "mesej yang dimajukan",
    "originalmeddelelse",
    "originalt meddelande",
];

/// What helpdesk and notification mail puts above its text so replies can
/// be cut there ("## Please reply above this line ##"), as those systems
/// write it (compared as written: this runs on every line of the tester's,
/// and `str::contains` needs no lowercase copy).
pub(super) const REPLY_ABOVE_MARKERS: &[&str] = &[
    "above this line",
    "Above This Line",
    "ABOVE THIS LINE",
    "oberhalb dieser Zeile",
    "au-dessus de cette ligne",
    "por encima de esta línea",
    "sopra questa riga",
    "boven deze regel",
];

/// A line holding such a marker, decorated (`##`, `--`, `==`...) or asking
/// for a reply: "the error shows above this line of the log" is prose.
pub(super) fn is_reply_above_marker(line: &str) -> bool {
    const REPLY_WORDS: &[&str] = &[
        "reply",
        "Reply",
        "REPLY",
        "write",
        "Write",
        "antworten",
        "Antworten",
        "répondre",
        "Répondre",
        "responda",
        "Responda",
        "rispondi",
        "Rispondi",
        "antwoord",
        "Antwoord",
    ];
    let line = line.trim();
    if line.len() > 200 {
        return false;
    }
    // Decorated lines are few: every marker is tried. Other lines are the
    // tester's text, so only the English phrase, asking for a reply.
    if line.starts_with(['#', '-', '=', '*', '_', '[', '<']) {
        return REPLY_ABOVE_MARKERS.iter().any(|m| line.contains(m));
    }
    (line.contains("above this line") || line.contains("ABOVE THIS LINE"))
        && REPLY_WORDS.iter().any(|w| line.contains(w))
}

/// "Original Message" or a translation alone on its line, without dashes.
pub(super) fn is_bare_separator(line: &str) -> bool {
    let phrase = lowercase(line.trim().trim_end_matches(':'));
    // A lone "Original" is a word, not a separator, without its dashes.
    line.chars().count() <= 40
        && phrase != "original"
        && SEPARATOR_PHRASES.contains(&phrase.as_str())
}

/// `-----Original Message-----` or a translation, with any number of dashes
/// and spaces around it. Proton Mail draws the dashes as Unicode hyphens
/// (`‐‐‐‐‐‐‐ Original Message ‐‐‐‐‐‐‐`).
pub(super) fn is_original_message(line: &str) -> bool {
    line.chars().take(2).filter(|&c| is_dash(c)).count() == 2
        && SEPARATOR_PHRASES.contains(
            &lowercase(line.trim_matches(|c: char| is_dash(c) || c.is_whitespace())).as_str(),
        )
}

/// `-`, or a Unicode hyphen or dash (U+2010 to U+2015, the minus sign).
fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// Apple Mail's "Begin forwarded message:" and its translations.
pub(super) const FORWARD_HEADERS: &[&str] = &[
    "begin forwarded message",
    "anfang der weitergeleiteten nachricht",
    "début du message réexpédié",
    "début du message transféré",
    "inicio del mensaje reenviado",
    "inizio messaggio inoltrato",
    "begin doorgestuurd bericht",
    "início da mensagem reencaminhada",
    "vidarebefordrat mejl",
    "początek przekazywanej wiadomości",
    "начало переадресованного сообщения",
    "začátek přeposlané zprávy",
    "videresendt e-mail",
    "videresendt e-post",
    "alku välitetty viesti",
    "iletilen e-postanın başlangıcı",
    "αρχή προωθημένου μηνύματος",
    "továbbított levél kezdete",
];

pub(super) fn is_forward_header(line: &str) -> bool {
    ends_with_colon(line) && {
        let lower = lowercase(line);
        let bare = lower.trim_end_matches([':', '：', ' ']);
        FORWARD_HEADERS.contains(&bare)
    }
}
