//! Separating the tester's own words from quoted text and signatures.
//!
//! Line-based: `>`-quoted lines are removed one by one, so inline answers
//! between quoted blocks stay. A reply header ("On ... wrote:" and its
//! translations) that introduces `>`-quoted lines is removed with them; one
//! that introduces unquoted text ends the reply, as do an "Original Message"
//! or "Forwarded message" separator, an Outlook `From:`/`Sent:`/`Subject:`
//! block (labels in any supported language) and a `-- ` signature delimiter.
//! Mobile footers ("Sent from my iPhone", "Get Outlook for Android"...),
//! separator lines and invisible characters at the end of a block of the
//! tester's text are removed too, as is a mailing list's footer; a footer
//! standing alone above more text ends the reply (clients that do not quote
//! put the original there).
//!
//! A forward with nothing of the tester's own keeps the forwarded text as the
//! body ([`Reply::forwarded`]), so a reply never loses its substance; so does
//! a message that starts with another's header fields (the text under them
//! is the body, trimmed the same way).
//!
//! HTML replies are converted first; the lines of the containers mail clients
//! put quotes and signatures in are removed whatever their text says.

use crate::html::{self, Mark};

/// The reply split into what the tester wrote and what was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The tester's text, blank lines around it and line ends trimmed.
    pub body: String,
    /// The removed text, or `None` if nothing was removed.
    pub elided: Option<String>,
    /// The message forwards another with no text of the tester's own: `body`
    /// is then the forwarded message's text (its header fields and the
    /// separator are in `elided`), so a forward never has an empty body.
    pub forwarded: bool,
}

/// Splits a plain-text reply.
pub fn split_reply(text: &str) -> Reply {
    let lines: Vec<&str> = without_bom(text).lines().collect();
    split(&lines, &vec![Mark::Text; lines.len()], false)
}

/// Splits a message whose subject says it is a forward (`Fwd:`, `WG:`...):
/// as [`split_reply`], but any separator or header block with nothing of the
/// tester's own above it (Outlook's `-----Original Message-----` and
/// `From:`/`Sent:` block are used for forwards too) starts the forwarded text.
pub fn split_forward(text: &str) -> Reply {
    let lines: Vec<&str> = without_bom(text).lines().collect();
    split(&lines, &vec![Mark::Text; lines.len()], true)
}

/// A byte order mark a client left at the start of the text is no content.
fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Converts an HTML reply to text and splits it.
pub fn split_html_reply(html: &str) -> Reply {
    split_html(html, false)
}

/// [`split_forward`] for an HTML-only message: a client's reply container
/// (Outlook's header block) with nothing of the tester's own above it starts
/// the forwarded text too.
pub fn split_html_forward(html: &str) -> Reply {
    split_html(html, true)
}

fn split_html(html: &str, forward: bool) -> Reply {
    let converted = html::convert(html);
    let lines: Vec<&str> = converted.iter().map(|(text, _)| text.as_str()).collect();
    let marks: Vec<Mark> = converted.iter().map(|&(_, mark)| mark).collect();
    split(&lines, &marks, forward)
}

/// GroupWise's reply header, `>>> Name <addr> 3/3/2026 10:02 >>>`: framed
/// in `>>>`, with an address or a time inside.
fn is_groupwise_header(line: &str) -> bool {
    let line = line.trim();
    line.len() > 6
        && line.len() <= 300
        && line.starts_with(">>>")
        && line.ends_with(">>>")
        && (line.contains('@') || has_time_of_day(line))
}

/// A quoted line without its first level of `>`.
fn unquoted(line: &str) -> &str {
    let t = line.trim_start();
    t.strip_prefix('>').unwrap_or(t).trim()
}

fn split(lines: &[&str], marks: &[Mark], forward: bool) -> Reply {
    let cut = trim(lines, marks, forward);
    let body = kept_text(lines, &cut.removed);
    if body.is_empty() {
        if let Some(at) = cut.forward_cut {
            return forwarded(lines, &cut.removed, at);
        }
        // The message starts with another's header fields, nothing of the
        // tester's above: what follows them is the substance (a bottom post
        // under the fields, or a forward whose subject lost its prefix).
        if let Some(at) = cut.top_cut {
            let end = at + 1 + fields_end(&lines[at + 1..]);
            let below = trim(&lines[end..], &marks[end..], false);
            let mut removed = vec![true; end];
            removed.extend(below.removed);
            let body = kept_text(lines, &removed);
            if !body.is_empty() {
                return Reply {
                    body,
                    elided: elided_text(lines, &removed),
                    forwarded: false,
                };
            }
            return forwarded(lines, &cut.removed, at);
        }
    }
    Reply {
        body,
        elided: elided_text(lines, &cut.removed),
        forwarded: false,
    }
}

/// What [`trim`] removed, and where it cut.
struct Cut {
    removed: Vec<bool>,
    /// Where a forwarded message's separator cut the rest.
    forward_cut: Option<usize>,
    /// Where another message's separator or header fields cut the rest with
    /// nothing of the tester's above.
    top_cut: Option<usize>,
}

fn trim(lines: &[&str], marks: &[Mark], forward: bool) -> Cut {
    let mut removed = vec![false; lines.len()];
    remove_external_banner(lines, marks, &mut removed);
    remove_leading_footer(lines, marks, &mut removed);
    let mut forward_cut = None;
    let mut top_cut = None;
    // Whether a line of the tester's own was kept above `i`.
    let mut own_text_above = false;
    let mut i = removed.iter().rposition(|&r| r).map_or(0, |j| j + 1);
    while i < lines.len() {
        match marks[i] {
            Mark::Cut => {
                // A client's reply container: in a forward, what it holds
                // is the forwarded message (Outlook's header block).
                if forward {
                    forward_cut = Some(i);
                }
                removed[i..].fill(true);
                break;
            }
            // Gmail puts a forward's separator and header fields in the
            // container of its reply header; the forwarded text follows,
            // outside it.
            Mark::Elide if is_forward_separator(lines[i].trim()) => {
                forward_cut = Some(i);
                removed[i..].fill(true);
                break;
            }
            Mark::Elide => {
                removed[i] = true;
                i += 1;
                continue;
            }
            Mark::Text => {}
        }
        // GroupWise's header: the original follows unquoted.
        if is_groupwise_header(lines[i]) {
            removed[i..].fill(true);
            break;
        }
        if is_quoted(lines[i]) || continues_quote(lines, i) {
            // Apple Mail quotes a forward whole, its separator too: if the
            // tester adds nothing, the forwarded text is the body.
            if forward_cut.is_none() && !own_text_above && is_forward_separator(unquoted(lines[i]))
            {
                forward_cut = Some(i);
            }
            removed[i] = true;
            i += 1;
            continue;
        }
        // A mobile footer standing alone below the tester's text, with more
        // text after it: clients that do not quote put the original there.
        if stands_alone(lines, i)
            && is_mobile_footer(lines[i])
            && (0..i).any(|j| !removed[j] && !is_blank(lines[j]))
            && (i + 1..lines.len()).any(|j| !is_blank(lines[j]))
        {
            removed[i..].fill(true);
            break;
        }
        let introduces_quote = |len: usize| {
            (i + len..lines.len())
                .find(|&j| !is_blank(lines[j]))
                .is_some_and(|j| is_quoted(lines[j]) || marks[j] != Mark::Text)
        };
        if let Some(len) = attribution_len(lines, i) {
            if introduces_quote(len) {
                removed[i..i + len].fill(true);
                i += len;
                continue;
            }
            removed[i..].fill(true);
            break;
        }
        // Any other line naming an address and ending in a colon right above
        // a quote introduces it (mutt's `* Name <addr> [date]:`...).
        if (names_and_introduces(lines[i]) || is_short_header(lines[i])) && introduces_quote(1) {
            removed[i] = true;
            i += 1;
            continue;
        }
        if let Some(start) = cut_start(lines, i) {
            if forward || is_forward_separator(lines[i].trim()) {
                forward_cut = Some(i);
            } else if !own_text_above && !is_signature_or_marker(lines[i]) {
                top_cut = Some(i);
            }
            removed[start..].fill(true);
            break;
        }
        own_text_above |= !is_blank(lines[i]);
        i += 1;
    }
    remove_list_footer(lines, &mut removed);
    remove_mobile_footers(lines, &mut removed);
    absorb_enclosed_blanks(lines, &mut removed);
    Cut {
        removed,
        forward_cut,
        top_cut,
    }
}

/// The cuts that end a reply without starting another message: a `-- `
/// signature and a helpdesk's "reply above this line" marker.
fn is_signature_or_marker(line: &str) -> bool {
    let line = line.trim();
    line == "--" || line == "\u{2014}" || is_reply_above_marker(line)
}

/// A mobile footer as the message's first line, standing alone above the
/// tester's text (some apps put it at the top): not the tester's.
fn remove_leading_footer(lines: &[&str], marks: &[Mark], removed: &mut [bool]) {
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

/// A forward with nothing of the tester's own above the separator at `at`:
/// the body is the forwarded text, without the forwarded header fields
/// (`From:`, `Date:`, `Subject:`, `To:`...) and with one level of `>`
/// removed when the whole forwarded text is quoted.
fn forwarded(lines: &[&str], removed: &[bool], at: usize) -> Reply {
    // Apple Mail quotes the whole forwarded message, header fields too;
    // other clients quote the text under unquoted fields.
    let rest = &lines[at + 1..];
    let all_quoted = |from: usize| {
        rest[from..]
            .iter()
            .filter(|l| !is_blank(l))
            .all(|l| is_quoted(l))
    };
    let unquote_from = if all_quoted(0) {
        Some(0)
    } else {
        Some(fields_end(rest)).filter(|&end| all_quoted(end))
    };
    let rest: Vec<&str> = rest
        .iter()
        .enumerate()
        .map(|(k, l)| {
            if unquote_from.is_some_and(|from| k >= from) {
                let t = l.trim_start().strip_prefix('>').unwrap_or(l);
                t.strip_prefix(' ').unwrap_or(t)
            } else {
                l
            }
        })
        .collect();
    let end = fields_end(&rest);
    let body = kept_text(&rest[end..], &vec![false; rest.len() - end]);
    if body.is_empty() {
        return Reply {
            body,
            elided: elided_text(lines, removed),
            forwarded: true,
        };
    }
    // Elided: what went before the separator (blank lines, footers), the
    // separator and the forwarded header fields.
    let header_end = at + 1 + end;
    let mut gone = removed.to_vec();
    gone[header_end..].fill(false);
    Reply {
        body,
        elided: elided_text(&lines[..header_end], &gone[..header_end]),
        forwarded: true,
    }
}

/// Where the header fields at the top of `rest` end (after blank lines
/// above them): field lines and their folded continuations, up to the first
/// blank line, or past a blank line to another common field (clients that
/// put each field in a paragraph of its own).
fn fields_end(rest: &[&str]) -> usize {
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
fn is_common_field(line: &str) -> bool {
    field_label(line).is_some_and(|l| {
        let l = l.as_str();
        FROM_LABELS.contains(&l)
            || SENT_LABELS.contains(&l)
            || SUBJECT_LABELS.contains(&l)
            || TO_LABELS.contains(&l)
    })
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
const FORWARD_STEMS: &[&str] = &[
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
fn is_forward_separator(line: &str) -> bool {
    (is_original_message(line) || is_forward_header(line)) && {
        let lower = lowercase(line);
        FORWARD_STEMS.iter().any(|s| lower.contains(s))
    }
}

/// How mail gateways start the warning they put above a message from outside
/// the organisation, lowercase.
const BANNER_STARTS: &[&str] = &[
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
fn remove_external_banner(lines: &[&str], marks: &[Mark], removed: &mut [bool]) {
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

/// A line without `>` inside a quote that a client hard-wrapped: the quoted
/// line above is long, ends mid-sentence, and this one goes on in lowercase
/// and is followed by quoted text (or nothing). A short answer between two
/// quoted lines (`412`, `No.`) is the tester's.
fn continues_quote(lines: &[&str], i: usize) -> bool {
    let Some(above) = i.checked_sub(1).map(|j| lines[j].trim()) else {
        return false;
    };
    let line = lines[i].trim();
    let below = lines.get(i + 1).map(|l| l.trim());
    is_quoted(above)
        && above.chars().count() >= 60
        && !above.ends_with(['.', '!', '?', ':'])
        && line.starts_with(char::is_lowercase)
        && below.is_none_or(|b| is_quoted(b) || b.is_empty() && i + 2 >= lines.len())
}

/// A mobile footer on a line of its own between blank lines, worded as a
/// footer and not a sentence (no comma, no final full stop).
fn stands_alone(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    let blank_or_edge = |j: Option<usize>| j.and_then(|j| lines.get(j)).is_none_or(|l| is_blank(l));
    blank_or_edge(i.checked_sub(1))
        && blank_or_edge(Some(i + 1))
        && !line.contains(", ")
        && !line.ends_with('.')
}

/// Words of mailing-list footers (Mailman, Google Groups, Sympa...).
const LIST_FOOTER_WORDS: &[&str] = &[
    "mailing list",
    "listinfo",
    "unsubscribe",
    "google groups",
    "abmelden",
    "désinscri",
];

/// A mailing list's footer at the end: a separator line followed by at most
/// six short lines, one naming the list or how to leave it.
fn remove_list_footer(lines: &[&str], removed: &mut [bool]) {
    let kept: Vec<usize> = (0..lines.len())
        .filter(|&j| !removed[j] && !is_blank(lines[j]))
        .collect();
    // A list's own rule, or what is left of it (`__`): only a line naming
    // the list below makes it a footer.
    let rule = |line: &str| {
        let line = line.trim();
        (is_separator_line(line) && line.chars().count() >= 10)
            || (line.len() >= 2 && line.chars().all(|c| c == '_'))
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

fn is_blank(line: &str) -> bool {
    line.chars().all(|c| c.is_whitespace() || is_invisible(c))
}

/// Characters that show nothing: zero-width spaces and joiners, direction
/// marks and embeddings (Arabic and Hebrew clients start lines with them),
/// the byte order mark, soft hyphens, invisible operators, the combining
/// grapheme joiner and Mongolian vowel separator (padding some clients and
/// trackers insert), and Gmail's tracking mark `ᐧ` (U+1427), which
/// Gmail's mail-tracking extensions leave alone on a line.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{feff}'
            | '\u{00ad}'
            | '\u{1427}'
            | '\u{034f}'
            | '\u{180e}'
    )
}

/// A short rule left at the end of the tester's text, above what was cut:
/// `---` or `___` (three or four strokes; longer ones are
/// [`is_separator_line`]).
fn is_short_rule(line: &str) -> bool {
    let line = line.trim();
    (3..=4).contains(&line.len())
        && (line.chars().all(|c| c == '-') || line.chars().all(|c| c == '_'))
}

/// A line drawn as a separator: five or more dashes, underscores, equals
/// signs, asterisks, tildes, dots or box-drawing strokes, spaced out or not
/// (`. . . . .`), and nothing else.
fn is_separator_line(line: &str) -> bool {
    let line = line.trim();
    line.chars().filter(|c| !c.is_whitespace()).count() >= 5
        && line.chars().all(|c| {
            c.is_whitespace()
                || matches!(
                    c,
                    '-' | '_' | '=' | '*' | '~' | '—' | '–' | '─' | '━' | '•' | '.' | '·'
                )
        })
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// Number of lines (1 to 3) of a reply header at `i`, possibly wrapped onto
/// a second line (Gmail wraps long ones), or split by a blank line.
fn attribution_len(lines: &[&str], i: usize) -> Option<usize> {
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
fn starts_inside_address(line: &str) -> bool {
    line.split_once('@')
        .is_some_and(|(before, _)| !before.contains(['<', ' ']))
}

fn starts_like_header(line: &str) -> bool {
    starts_with_opener(line) || line.starts_with(|c: char| c.is_ascii_digit())
}

/// Whether `line` starts with one of the [`OPENERS`]. This runs on every
/// line: the first word is looked up, and only a few first words can start
/// a longer opener, so most lines cost one short scan.
fn starts_with_opener(line: &str) -> bool {
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
const OPENERS: &[&str] = &[
    "On", "Am", "Le", "El", "Il", "Op", "Em", "Den", "W dniu", "Dnia", "Às", "在", "於", "Dne",
    "Dňa", "På", "Στις", "Vào", "Pada", "В", "У", "In data", "En", "No dia", "Dna",
    // Weekdays some clients start with (Scandinavian, Finnish, Slovak).
    "mån", "tis", "ons", "tors", "fre", "tir", "ma", "ti", "ke", "pe", "po",
];

/// The verbs of reply headers ("wrote") in the supported languages. Latin
/// ones must stand as words (so "beskrev" is not "skrev").
const VERBS: &[&str] = &[
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
const CJK_VERBS: &[&str] = &["写道", "寫道", "のメール", "書きました", "さんは書きました"];

/// Whether `line` is a reply header such as
/// `On Tue, 3 Mar 2026 at 10:02, Beta <beta@example.com> wrote:`.
///
/// It ends with a colon and has a header verb, and either starts like a
/// header (an opener such as "On", or the date) or names an address: "My
/// colleague wrote:" in the tester's own text is not a header. Gmail's Japanese header (`2026年3月3日(火) 10:02
/// Beta <beta@example.com>:`) has no verb and is recognised by its date.
fn is_attribution(line: &str) -> bool {
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
    let has_verb = VERBS.iter().any(|v| contains_word(&lower, v))
        || CJK_VERBS.iter().any(|v| lower.contains(v));
    let anchored = starts_like_header(line) || line.contains('@') || has_time_of_day(line);
    // Gmail's headers without a verb (Japanese, Russian, numeric dates:
    // `2026-03-03 10:02 GMT+01:00 Beta <b@x.org>:`, `вт, 3 мар. 2026 г. в
    // 10:02, Beta <b@x.org>:`) end with the address and carry a date.
    let verbless = line.contains('@')
        && (is_cjk_date_start(line)
            || is_numeric_date_start(line)
            || (has_time_of_day(line) && ends_with_address(line)));
    (has_verb && anchored) || verbless
}

/// `…<beta@example.com>:` or `…beta@example.com:`.
fn ends_with_address(line: &str) -> bool {
    let bare = line.trim_end().trim_end_matches([':', '：']).trim_end();
    bare.ends_with('>') || bare.rsplit(' ').next().is_some_and(|w| w.contains('@'))
}

/// A time of day such as `10:02` or `10.02` (Finnish `klo 10.02`), not
/// part of a longer number or a dotted date (`20.10.2017`).
fn has_time_of_day(line: &str) -> bool {
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
fn is_numeric_date_start(line: &str) -> bool {
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
fn is_short_header(line: &str) -> bool {
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
fn names_and_introduces(line: &str) -> bool {
    let line = line.trim();
    ends_with_colon(line) && line.contains('@') && line.chars().count() <= 300
}

fn ends_with_colon(line: &str) -> bool {
    line.trim_end().ends_with([':', '：'])
}

/// `2026年3月3日...`
fn is_cjk_date_start(line: &str) -> bool {
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    digits == 4 && line[digits..].starts_with('年')
}

fn starts_with_word(line: &str, word: &str) -> bool {
    line.strip_prefix(word).is_some_and(|rest| {
        // Chinese openers are followed directly by the date.
        let cjk = word.chars().all(|c| c >= '\u{2e80}');
        cjk || rest.starts_with([' ', ','])
    })
}

/// Whether `word` occurs in `text` with no letter directly before or after.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphabetic) && !after.is_some_and(char::is_alphabetic)
    })
}

/// Where the reply ends if line `i` starts a forwarded or quoted original or
/// a signature: `i`, or earlier to include an Outlook separator line.
fn cut_start(lines: &[&str], i: usize) -> Option<usize> {
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
fn is_rule_above_fields(line: &str) -> bool {
    let line = line.trim();
    (line.len() >= 10 && line.chars().all(|c| c == '_'))
        || is_separator_line(line)
        || is_framed(line)
}

/// A short phrase framed in three or more dashes on each side: `--------
/// Original message --------` in whatever language the client speaks.
fn is_framed(line: &str) -> bool {
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

/// Three or more header field lines right below line `i` (blank lines
/// between them allowed), one of them naming an address.
fn fields_below(lines: &[&str], i: usize) -> bool {
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

/// What "-----Original Message-----" and "---------- Forwarded message
/// ---------" say in the supported languages, lowercase.
const SEPARATOR_PHRASES: &[&str] = &[
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
const REPLY_ABOVE_MARKERS: &[&str] = &[
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
fn is_reply_above_marker(line: &str) -> bool {
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
fn is_bare_separator(line: &str) -> bool {
    let phrase = lowercase(line.trim().trim_end_matches(':'));
    // A lone "Original" is a word, not a separator, without its dashes.
    line.chars().count() <= 40
        && phrase != "original"
        && SEPARATOR_PHRASES.contains(&phrase.as_str())
}

/// `-----Original Message-----` or a translation, with any number of dashes
/// and spaces around it.
fn is_original_message(line: &str) -> bool {
    line.starts_with("--")
        && SEPARATOR_PHRASES.contains(
            &lowercase(line.trim_matches(|c: char| c == '-' || c.is_whitespace())).as_str(),
        )
}

/// Lowercase without the combining dot Turkish `İ` leaves (`i̇`).
fn lowercase(text: &str) -> String {
    text.to_lowercase().replace('\u{307}', "")
}

/// Apple Mail's "Begin forwarded message:" and its translations.
const FORWARD_HEADERS: &[&str] = &[
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

fn is_forward_header(line: &str) -> bool {
    ends_with_colon(line) && {
        let lower = lowercase(line);
        let bare = lower.trim_end_matches([':', '：', ' ']);
        FORWARD_HEADERS.contains(&bare)
    }
}

/// Outlook's header labels in the supported languages, lowercase.
const FROM_LABELS: &[&str] = &[
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
const SENT_LABELS: &[&str] = &[
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
const TO_LABELS: &[&str] = &[
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
const SUBJECT_LABELS: &[&str] = &[
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
fn field_label(line: &str) -> Option<String> {
    let line = line.trim_start().trim_start_matches('*');
    let colon = line.find([':', '：'])?;
    let label = line[..colon].trim().trim_end_matches('*').trim();
    (!label.is_empty() && label.chars().count() <= 20).then(|| label.to_lowercase())
}

/// Outlook's header block: a From label, then a Sent (or Date) and a Subject
/// label within the next four lines.
fn is_outlook_header(lines: &[&str], i: usize) -> bool {
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

/// Footer lines mobile mail apps add, lowercase prefixes.
const FOOTER_PREFIXES: &[&str] = &[
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
fn is_mobile_footer(line: &str) -> bool {
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
fn reads_as_sentence(line: &str) -> bool {
    let line = line.trim();
    let Some((_, rest)) = line.split_once(", ") else {
        return false;
    };
    let rest = rest.trim_start().to_lowercase();
    line.ends_with(['.', '!', '?']) && !FOOTER_APOLOGIES.iter().any(|a| rest.starts_with(a))
}

/// How a mobile footer's second clause begins when it apologises for
/// brevity or typos.
const FOOTER_APOLOGIES: &[&str] = &[
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

/// Arabic short vowels and other marks written over or under a letter
/// (fatha, damma, kasra, sukun, shadda, tanwin).
fn is_arabic_vowel_mark(c: char) -> bool {
    matches!(c, '\u{064b}'..='\u{0652}')
}

/// Drops mobile footers and separator lines (`-----`, `_____`, and a short
/// `---` above removed text) at the end of each block of kept lines: a run
/// of several footers goes too.
fn remove_mobile_footers(lines: &[&str], removed: &mut [bool]) {
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
                || (above_removed && is_short_rule(lines[j]));
            if !leftover {
                break;
            }
            removed[j] = true;
            last = j;
        }
        end = (0..start).rev().find(|&j| !removed[j]).map_or(0, |j| j + 1);
    }
}

/// Blank lines between two removed lines belong to the removed text.
fn absorb_enclosed_blanks(lines: &[&str], removed: &mut [bool]) {
    let mut last_removed = None;
    for i in 0..lines.len() {
        if removed[i] {
            if let Some(prev) = last_removed
                && (prev + 1..i).all(|j| is_blank(lines[j]))
            {
                removed[prev + 1..i].fill(true);
            }
            last_removed = Some(i);
        }
    }
}

/// The kept lines, ends trimmed, with text on both sides of a removal one
/// blank line apart: answers to different quoted questions are separate
/// paragraphs.
fn kept_text(lines: &[&str], removed: &[bool]) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut gap = false;
    for (line, &removed) in lines.iter().zip(removed) {
        if removed {
            gap = true;
            continue;
        }
        let after_blank = kept.last().is_some_and(|l| is_blank(l));
        if gap && is_blank(line) && after_blank {
            continue;
        }
        if gap && !is_blank(line) && !after_blank && !kept.is_empty() {
            kept.push("");
        }
        gap = false;
        kept.push(if is_blank(line) {
            ""
        } else {
            line.trim_end_matches(|c: char| c.is_whitespace() || is_invisible(c))
        });
    }
    trim_blank_lines(&kept)
}

/// The removed lines; separate removed runs are joined by a blank line.
fn elided_text(lines: &[&str], removed: &[bool]) -> Option<String> {
    let mut runs: Vec<String> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for (line, &removed) in lines.iter().zip(removed) {
        if removed {
            run.push(line);
        } else if !run.is_empty() {
            runs.push(trim_blank_lines(&run));
            run.clear();
        }
    }
    if !run.is_empty() {
        runs.push(trim_blank_lines(&run));
    }
    (!runs.is_empty()).then(|| runs.join("\n\n"))
}

fn trim_blank_lines(lines: &[&str]) -> String {
    let start = lines
        .iter()
        .position(|l| !is_blank(l))
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !is_blank(l))
        .map_or(start, |e| e + 1);
    lines[start..end].join("\n")
}

#[cfg(test)]
mod tests {
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
        let text =
            "Ok.\nFrom: Beta\nSent: Tue\nwe met at noon\nand talked\nabout it\nSubject: Hi\n";
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
        let text = "Ok.\n\n------------------------------\nOn Tue, 3 Mar 2026, Beta <b@x.org> wrote:\n> q\n";
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
        let text = "Look at this one.\n\n---------- Forwarded message ---------\nFrom: B <b@x.org>\n\nOld\n";
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
        let text =
            "Export fails.\n\nVon meinem iPhone gesendet, bitte entschuldigen Sie Tippfehler.\n";
        assert_eq!(split(text).0, "Export fails.");
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
        let text =
            "Crashes on 412 too.\n\n\n__\nqa-circle mailing list\nqa-circle@lists.example.org\n";
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
        let text = "Fine by me\nSent using the Example Mail app\n\nbeta@x.org wrote:\n\nCan we ship 412?\n";
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
        let text = "On Monday 3 March I ran the export\nagain and this is what\nthe log said:\n\nerror 7\n";
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
        let text =
            "My notes.\n\n--- step two ---\nName: the export\nPath: c:/x@y\n\nMore of mine.\n";
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
        let text =
            "Works now.\n\nOn Monday I wrote to support <help@example.com>\n\nNo answer yet.\n";
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
}
