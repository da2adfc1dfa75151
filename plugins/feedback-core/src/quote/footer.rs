//! What clients and gateways add around the tester's text: mobile app
//! footers ("Sent from my iPhone" in the supported languages), mailing-list
//! footers, external-sender banners.

use super::lines::*;
use crate::html::Mark;

/// A mobile footer as the message's first line, standing alone above the
/// tester's text (some apps put it at the top): not the tester's.
pub(super) fn remove_leading_footer(lines: &[&str], marks: &[Mark], removed: &mut [bool]) {
    let Some(first) = (0..lines.len()).find(|&j| !removed[j] && !is_blank(lines[j])) else {
        return;
    };
    if marks[first] == Mark::Text
        && stands_alone(lines, first)
        && is_mobile_footer(lines[first])
        && (first + 1..lines.len()).any(|j| !is_blank(lines[j]))
    {
        removed[first] = true;
    }
}

/// How mail gateways start the warning they put above a message from outside
/// the organisation, lowercase.
pub(super) const BANNER_STARTS: &[&str] = &[
    "caution:",
    "caution -",
    "[external]",
    "[extern]",
    "external email",
    "external sender",
    "external:",
    "this email originated from outside",
    "this message is from an external sender",
    "this message originated outside",
    "warning: external",
    "achtung: diese e-mail",
    "externe e-mail",
];

/// A gateway's external-sender warning as the message's first paragraph is
/// not the tester's.
pub(super) fn remove_external_banner(lines: &[&str], marks: &[Mark], removed: &mut [bool]) {
    let Some(first) = lines.iter().position(|l| !is_blank(l)) else {
        return;
    };
    let lower = lines[first].trim().to_lowercase();
    if marks[first] != Mark::Text || !BANNER_STARTS.iter().any(|b| lower.starts_with(b)) {
        return;
    }
    let end = (first..lines.len())
        .find(|&j| is_blank(lines[j]))
        .unwrap_or(lines.len());
    // Only when the tester's text follows.
    if (end..lines.len()).any(|j| !is_blank(lines[j])) {
        removed[first..end].fill(true);
    }
}

/// A mobile footer on a line of its own between blank lines, worded as a
/// footer and not a sentence (no comma, no final full stop).
pub(super) fn stands_alone(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    let blank_or_edge = |j: Option<usize>| j.and_then(|j| lines.get(j)).is_none_or(|l| is_blank(l));
    blank_or_edge(i.checked_sub(1))
        && blank_or_edge(Some(i + 1))
        && !line.contains(", ")
        && !line.ends_with('.')
}

/// Words of mailing-list footers (Mailman, Google Groups, Sympa...).
pub(super) const LIST_FOOTER_WORDS: &[&str] = &[
    "mailing list",
    "listinfo",
    "unsubscribe",
    "google groups",
    "abmelden",
    "désinscri",
];

/// A mailing list's footer at the end: a separator line followed by at most
/// six short lines, one naming the list or how to leave it.
pub(super) fn remove_list_footer(lines: &[&str], removed: &mut [bool]) {
    let kept: Vec<usize> = (0..lines.len())
        .filter(|&j| !removed[j] && !is_blank(lines[j]))
        .collect();
    // A list's own rule, or what is left of it (`__`): only a line naming
    // the list below makes it a footer.
    let rule = |line: &str| {
        let line = line.trim();
        (is_separator_line(line) && line.chars().count() >= 10) || is_underscore_rule(line, 2)
    };
    let Some(sep) = kept.iter().rev().take(7).copied().find(|&j| rule(lines[j])) else {
        return;
    };
    let tail: Vec<usize> = kept.iter().copied().filter(|&j| j > sep).collect();
    let names_list = tail.iter().any(|&j| {
        let lower = lines[j].to_lowercase();
        LIST_FOOTER_WORDS.iter().any(|w| lower.contains(w))
    });
    if !tail.is_empty() && names_list {
        for j in std::iter::once(sep).chain(tail) {
            removed[j] = true;
        }
    }
}

/// Footer lines mobile mail apps add, lowercase prefixes.
pub(super) const FOOTER_PREFIXES: &[&str] = &[
    "sent from my ",
    "sent from ",
    "sent via ",
    "sent with ",
    "sent using ",
    "get outlook for ",
    "von meinem ",
    "gesendet von ",
    "gesendet mit ",
    "envoyé de mon ",
    "envoyé depuis ",
    "enviado desde mi ",
    "enviado desde ",
    "enviado do meu ",
    "enviado do ",
    "enviado de meu ",
    "inviato da ",
    "inviato dal mio ",
    "verstuurd vanaf ",
    "verzonden vanaf ",
    "verzonden met ",
    "skickat från ",
    "wysłane z ",
    "wysłano z ",
    "发自我的",
    "從我的",
    "отправлено с ",
    "отправлено из ",
    "надіслано з ",
    "odesláno z ",
    "odoslané z ",
    "sendt fra ",
    "lähetetty ",
    "στάλθηκε από ",
    "elküldve ",
    "trimis de pe ",
    "נשלח מ",
    "أرسلت من ",
    "مرسل من ",
    "được gửi từ ",
    "gửi từ ",
    "dikirim dari ",
    "enviat des de ",
    "poslano s ",
    "poslano sa ",
    "poslano z ",
    "poslato sa ",
    "послато са ",
    "изпратено от ",
    "saadetud minu ",
    "išsiųsta iš ",
    "nosūtīts no ",
    "enviat des del ",
    "enviado via ",
    // What antivirus and mail-tracking add-ons append, as footers.
    "virus-free. www.avast.com",
    "virenfrei. www.avast.com",
    "this email has been checked for viruses by ",
    "sender notified by mailtrack",
    "[image: mailtrack]",
    "enviado a partir do ",
    "enviado a partir de ",
    "envoyé à partir de ",
    "envoye a partir de ",
    "envoye de mon ",
    "envoye depuis ",
    "verzonden vanuit ",
    "lahetetty ",
    "wyslane z ",
    "skickat fran ",
    "sent wirelessly ",
    "dihantar dari ",
    "ส่งจาก",
    "ارسال شده از ",
];

/// Whether `line` is a mobile app's footer in one of the supported languages.
pub(super) fn is_mobile_footer(line: &str) -> bool {
    // Arabic and Hebrew clients wrap the footer in direction embeddings.
    let line = line.trim_matches(|c: char| c.is_whitespace() || is_invisible(c));
    if line.is_empty() || line.chars().count() > 90 {
        return false;
    }
    let mut lower = line.to_lowercase();
    // Arabic vowel marks (`أُرسلت`) are not written in the prefixes.
    if lower.contains(is_arabic_vowel_mark) {
        lower.retain(|c| !is_arabic_vowel_mark(c));
    }
    FOOTER_PREFIXES.iter().any(|p| lower.starts_with(p))
        // "Get Outlook for iOS" in every language: "Outlook für iOS beziehen",
        // "Obtenir Outlook pour Android", "iOS 版 Outlook を入手"...
        || (lower.contains("outlook") && (lower.contains("ios") || lower.contains("android")))
        || lower.contains("から送信")
        // Turkish, Hungarian and Korean put the verb last: "iPhone'umdan
        // gönderildi", "iPhone-ról küldve", "나의 iPhone에서 보냄".
        || lower.ends_with("gönderildi")
        || lower.ends_with("küldve")
        || lower.ends_with("kuldve")
        || lower.ends_with("에서 보냄")
        || lower.ends_with("से भेजा गया")
        || lower.starts_with("来自我的")
        || lower.starts_with("來自我的")
        || lower.starts_with("从我的")
}

/// A line that starts like a footer but goes on as a sentence, a clause
/// after a comma and a final full stop ("Sent from my laptop, it works."):
/// the tester's, even as the last line. A footer's own apology ("Sent from
/// my iPhone, please excuse typos.") is still a footer.
pub(super) fn reads_as_sentence(line: &str) -> bool {
    let line = line.trim();
    let Some((_, rest)) = line.split_once(", ") else {
        return false;
    };
    let rest = rest.trim_start().to_lowercase();
    line.ends_with(['.', '!', '?']) && !FOOTER_APOLOGIES.iter().any(|a| rest.starts_with(a))
}

/// How a mobile footer's second clause begins when it apologises for
/// brevity or typos.
pub(super) const FOOTER_APOLOGIES: &[&str] = &[
    "please",
    "pls",
    "excuse",
    "sorry",
    "pardon",
    "apologies",
    "bitte",
    "entschuldig",
    "désolé",
    "excusez",
    "merci d",
    "disculp",
    "perdon",
    "scusa",
    "sorry per",
    "desculp",
    "excuses",
];

/// What apologies for typos or brevity mention, lowercase.
const APOLOGY_SUBJECTS: &[&str] = &[
    "typo",
    "brevity",
    "brief",
    "spelling",
    "error",
    "mistake",
    "autocorrect",
    "tippfehler",
    "kürze",
    "faute",
    "concision",
    "errores",
    "brevedad",
    "errori",
    "erros",
];

/// An apology on the line under a mobile footer, which some set up as a
/// second footer line (`Sent from my iPhone` / `Please excuse typos`).
fn is_footer_apology(line: &str) -> bool {
    let lower = line.trim().to_lowercase();
    lower.chars().count() <= 60
        && FOOTER_APOLOGIES.iter().any(|a| lower.starts_with(a))
        && APOLOGY_SUBJECTS.iter().any(|s| lower.contains(s))
}

/// Arabic short vowels and other marks written over or under a letter
/// (fatha, damma, kasra, sukun, shadda, tanwin).
pub(super) fn is_arabic_vowel_mark(c: char) -> bool {
    matches!(c, '\u{064b}'..='\u{0652}')
}

/// Drops mobile footers and separator lines (`-----`, `_____`, and a short
/// `---` above removed text) at the end of each block of kept lines: a run
/// of several footers goes too.
pub(super) fn remove_mobile_footers(lines: &[&str], removed: &mut [bool]) {
    let mut end = lines.len();
    while end > 0 {
        // The block of kept lines ending at `end`.
        let start = (0..end).rev().find(|&j| removed[j]).map_or(0, |j| j + 1);
        let mut last = end;
        // A short `---` only above what was removed.
        let above_removed = end < lines.len();
        while let Some(j) = (start..last).rev().find(|&j| !is_blank(lines[j])) {
            let leftover = (is_mobile_footer(lines[j]) && !reads_as_sentence(lines[j]))
                || is_separator_line(lines[j])
                || (above_removed && is_short_rule(lines[j]))
                || (j > start && is_mobile_footer(lines[j - 1]) && is_footer_apology(lines[j]));
            if !leftover {
                break;
            }
            removed[j] = true;
            last = j;
        }
        end = (0..start).rev().find(|&j| !removed[j]).map_or(0, |j| j + 1);
    }
}
