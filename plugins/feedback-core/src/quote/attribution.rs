//! Reply headers ("On … wrote:" and its translations, Gmail's verbless
//! forms, GroupWise's `>>>` frame): the line, or the two or three lines,
//! that introduce a quoted original.

use super::lines::*;

/// GroupWise's reply header, `>>> Name <addr> 3/3/2026 10:02 >>>`: framed
/// in `>>>`, with an address or a time inside.
pub(super) fn is_groupwise_header(line: &str) -> bool {
    let line = line.trim();
    line.len() > 6
        && line.len() <= 300
        && line.starts_with(">>>")
        && line.ends_with(">>>")
        && (line.contains('@') || has_time_of_day(line))
}

/// Number of lines (1 to 3) of a reply header at `i`, possibly wrapped onto
/// a second line (Gmail wraps long ones), or split by a blank line.
pub(super) fn attribution_len(lines: &[&str], i: usize) -> Option<usize> {
    let first = lines[i].trim();
    if is_attribution(first) {
        return Some(1);
    }
    let second = lines.get(i + 1)?.trim();
    // Gmail wraps inside the address: `… <beta@example.com` / `>:`.
    let closes_address = second.starts_with('>') && second.len() <= 3 && ends_with_colon(second);
    // Split by a blank line, `Am 3.3.2026 um 10:02` / `` / `schrieb Name
    // <addr>:`: a first half that starts like a header, with its date.
    if !first.is_empty() && second.is_empty() {
        let third = lines.get(i + 2)?.trim();
        let half = starts_with_opener(first)
            && first.contains(|c: char| c.is_ascii_digit())
            && first.chars().count() <= 80
            && !first.ends_with(['.', '!', '?', ':', '。', '！', '？', '：']);
        // The second half names the address or starts with the verb.
        return (half
            && !is_quoted(third)
            && ends_with_colon(third)
            && (third.contains('@') || {
                let lower = lowercase(third);
                VERBS.iter().any(|v| lower.starts_with(v))
            })
            && is_attribution(&format!("{first} {third}")))
        .then_some(3);
    }
    if first.is_empty() || second.is_empty() || (is_quoted(second) && !closes_address) {
        return None;
    }
    if closes_address || second.starts_with('<') {
        let joined = if closes_address {
            format!("{first}{second}")
        } else {
            format!("{first} {second}")
        };
        if first.contains(|c: char| c.is_ascii_digit()) && is_attribution(&joined) {
            return Some(2);
        }
    }
    // A wrapped header's first half has the date and ends mid-sentence. The
    // tester's last line before a complete header must not be taken for
    // one: join only if the first line starts like a header or the second is
    // not a header on its own (a second half that starts inside the address,
    // `beta@example.com> napisał(a):`, is not).
    let wrapped_half = first.contains(|c: char| c.is_ascii_digit())
        && !first.ends_with(['.', '!', '?', ':', '。', '！', '？', '：'])
        && (starts_like_header(first) || !is_attribution(second) || starts_inside_address(second));
    if wrapped_half && is_attribution(&format!("{first} {second}")) {
        return Some(2);
    }
    // Hard-wrapped over three lines: `On …, Name` / `<addr>` / `wrote:`. Only
    // a header that starts like one, with its date on the first line and
    // its colon on the last.
    let third = lines.get(i + 2)?.trim();
    let short = |l: &str| !l.is_empty() && !is_quoted(l) && l.chars().count() <= 80;
    (wrapped_half
        && starts_like_header(first)
        && short(second)
        && short(third)
        && ends_with_colon(third)
        && is_attribution(&format!("{first} {second} {third}")))
    .then_some(3)
}

/// Whether `line` starts in the middle of an address: no `<` or space
/// before its first `@`.
pub(super) fn starts_inside_address(line: &str) -> bool {
    line.split_once('@')
        .is_some_and(|(before, _)| !before.contains(['<', ' ']))
}

pub(super) fn starts_like_header(line: &str) -> bool {
    starts_with_opener(line) || line.starts_with(|c: char| c.is_ascii_digit())
}

/// Whether `line` starts with one of the [`OPENERS`]. This runs on every
/// line: the first word is looked up, and only a few first words can start
/// a longer opener, so most lines cost one short scan.
pub(super) fn starts_with_opener(line: &str) -> bool {
    // Chinese openers are followed directly by the date.
    if line.starts_with(['在', '於']) {
        return true;
    }
    let Some(end) = line.find([' ', ',']) else {
        return false;
    };
    let word = &line[..end];
    word.len() <= 8
        && (OPENERS.contains(&word)
            || (matches!(word, "W" | "In" | "No")
                && OPENERS.iter().any(|o| starts_with_word(line, o))))
}

/// Words reply headers start with: "On ...", "Am ...", "Le ...", "El ...",
/// "Il giorno ...", "Op ...", "Em ...", "Den ...", "W dniu ...", "在 ...".
pub(super) const OPENERS: &[&str] = &[
    "On", "Am", "Le", "El", "Il", "Op", "Em", "Den", "W dniu", "Dnia", "Às", "在", "於", "Dne",
    "Dňa", "På", "Στις", "Vào", "Pada", "В", "У", "In data", "En", "No dia", "Dna",
    // Weekdays some clients start with (Scandinavian, Finnish, Slovak).
    "mån", "tis", "ons", "tors", "fre", "tir", "ma", "ti", "ke", "pe", "po",
];

/// The verbs of reply headers ("wrote") in the supported languages. Latin
/// ones must stand as words (so "beskrev" is not "skrev").
pub(super) const VERBS: &[&str] = &[
    "wrote",
    "schrieb",
    "geschrieben",
    "a écrit",
    "a ecrit",
    "escribió",
    "escribio",
    "ha scritto",
    "schreef",
    "geschreven",
    "escreveu",
    "skrev",
    "napisał",
    "napisała",
    "napisał(a)",
    "napisal",
    "napisana",
    "pisze",
    "пишет",
    "написал",
    "написала",
    "написал(а)",
    "написав",
    "написав(ла)",
    "пише",
    "написа",
    "napsal",
    "napsala",
    "napsal(a)",
    "napísal",
    "napísala",
    "napísal(a)",
    "napisao",
    "napisala",
    "napisao/la",
    "написао",
    "написала",
    "написао/ла",
    "напиша",
    "ने लिखा",
    "লিখেছেন",
    "escribiu",
    "het geskryf",
    "shkroi",
    "ysgrifennodd",
    "je napisal",
    "kirjoitti",
    "kirjutas",
    "yazdı",
    "έγραψε",
    "írta",
    "a scris",
    "va escriure",
    "rašė",
    "rakstīja",
    "skrifaði",
    "작성",
    "כתב",
    "כתבה",
    "כתב/ה",
    "كتب",
    "كتبت",
    "نوشت",
    "đã viết",
    "menulis",
    "เขียน",
];

/// Header verbs in Japanese and Chinese, matched anywhere.
pub(super) const CJK_VERBS: &[&str] =
    &["写道", "寫道", "のメール", "書きました", "さんは書きました"];

/// Whether `line` is a reply header such as
/// `On Tue, 3 Mar 2026 at 10:02, Beta <beta@example.com> wrote:`.
///
/// It ends with a colon and has a header verb, and either starts like a
/// header (an opener such as "On", or the date) or names an address: "My
/// colleague wrote:" in the tester's own text is not a header. Gmail's Japanese header (`2026年3月3日(火) 10:02
/// Beta <beta@example.com>:`) has no verb and is recognised by its date.
pub(super) fn is_attribution(line: &str) -> bool {
    let line = line
        .trim_matches(|c: char| c.is_whitespace() || is_invisible(c))
        .trim_start_matches(['*', '_']);
    // Zoho frames its header in dashes and drops the colon:
    // `---- On Tue, 3 Mar 2026 10:02:00 +0100 Beta <b@x.org> wrote ----`.
    let framed = line.starts_with("---") && line.ends_with("---");
    let line = if framed {
        line.trim_matches(|c: char| c == '-' || c.is_whitespace())
    } else {
        line
    };
    let colon = ends_with_colon(line);
    // Most lines end here, before anything is allocated.
    if !(framed || colon || starts_like_header(line)) {
        return false;
    }
    let lower = line.to_lowercase();
    // `On Wed, 3 Mar 2026 08:14:43 -0200 Beta <b@x.org> wrote`, the colon
    // lost: the header starts like one, ends with its verb, and has an
    // address or a time.
    let verb_last = !colon
        && starts_like_header(line)
        && (line.contains('@') || has_time_of_day(line))
        && VERBS.iter().any(|v| {
            lower
                .trim_end()
                .strip_suffix(v)
                .is_some_and(|before| before.ends_with(' '))
        });
    // `Am 03.03.2026 um 10:02 schrieb Beta <b@x.org>`, the colon lost after
    // the address: an opener, a time, the verb, and the address last.
    let address_last = !colon
        && !verb_last
        && line.ends_with('>')
        && line.contains('@')
        && starts_with_opener(line)
        && has_time_of_day(line)
        && VERBS.iter().any(|v| contains_word(&lower, v));
    if !(framed || verb_last || address_last || colon) || line.chars().count() > 300 {
        return false;
    }
    let anchored = starts_like_header(line) || line.contains('@') || has_time_of_day(line);
    // Looked for last: the verbs are many.
    let has_verb = || {
        VERBS.iter().any(|v| contains_word(&lower, v))
            || CJK_VERBS.iter().any(|v| lower.contains(v))
    };
    // Gmail's headers without a verb (Japanese, Russian, numeric dates:
    // `2026-03-03 10:02 GMT+01:00 Beta <b@x.org>:`, `вт, 3 мар. 2026 г. в
    // 10:02, Beta <b@x.org>:`) end with the address and carry a date.
    let verbless = line.contains('@')
        && (is_cjk_date_start(line)
            || is_numeric_date_start(line)
            || (has_time_of_day(line) && ends_with_address(line)));
    // Sup's and alot's header names no address and has no verb:
    // `Excerpts from Beta's message of 2026-03-03 10:02:00 +0100:`.
    let excerpts = lower.starts_with("excerpts from ") && lower.contains("'s message of ");
    (anchored && has_verb()) || verbless || excerpts
}

/// `…<beta@example.com>:` or `…beta@example.com:`.
pub(super) fn ends_with_address(line: &str) -> bool {
    let bare = line.trim_end().trim_end_matches([':', '：']).trim_end();
    bare.ends_with('>') || bare.rsplit(' ').next().is_some_and(|w| w.contains('@'))
}

/// A time of day such as `10:02` or `10.02` (Finnish `klo 10.02`), not
/// part of a longer number or a dotted date (`20.10.2017`).
pub(super) fn has_time_of_day(line: &str) -> bool {
    let b = line.as_bytes();
    let digit = |k: usize| b.get(k).is_some_and(u8::is_ascii_digit);
    (0..b.len()).any(|i| {
        // An ASCII digit is always at a character boundary.
        if !b[i].is_ascii_digit()
            || line[..i]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric)
        {
            return false;
        }
        let digits = b[i..].iter().take_while(|x| x.is_ascii_digit()).count();
        if !(1..=2).contains(&digits) {
            return false;
        }
        let j = i + digits;
        let sep = b.get(j).copied();
        matches!(sep, Some(b':' | b'.'))
            && digit(j + 1)
            && digit(j + 2)
            && !digit(j + 3)
            && !(sep == Some(b'.') && b.get(j + 3) == Some(&b'.'))
    })
}

/// `2026-03-03 …`, `03.03.2026 …`, `3/3/2026 …`: a line starting with a
/// numeric date.
pub(super) fn is_numeric_date_start(line: &str) -> bool {
    let date: String = line
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '.' | '/'))
        .collect();
    let parts: Vec<&str> = date
        .split(['-', '.', '/'])
        .filter(|p| !p.is_empty())
        .collect();
    parts.len() == 3
        && parts.iter().all(|p| p.len() <= 4)
        && parts.iter().any(|p| p.len() == 4 || p.len() == 2)
        && (parts[0].len() == 4 || parts[2].len() >= 2)
}

/// `Dana wrote:`, `Jörg Hoffmann schrieb:`: a short line ending in a header
/// verb and a colon, with no date or address (old clients, list archives).
/// Only right above a quote is it taken for a header.
pub(super) fn is_short_header(line: &str) -> bool {
    let line = line.trim();
    if !ends_with_colon(line) || line.chars().count() > 80 {
        return false;
    }
    let lower = lowercase(line.trim_end_matches([':', '：']).trim_end());
    VERBS.iter().any(|v| {
        lower
            .strip_suffix(v)
            .is_some_and(|before| before.ends_with(' ') && !before.trim().is_empty())
    })
}

/// A line that could introduce a quote in any client's format: it names an
/// address and ends with a colon.
pub(super) fn names_and_introduces(line: &str) -> bool {
    let line = line.trim();
    ends_with_colon(line) && line.contains('@') && line.chars().count() <= 300
}

/// `2026年3月3日...`
pub(super) fn is_cjk_date_start(line: &str) -> bool {
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    digits == 4 && line[digits..].starts_with('年')
}
