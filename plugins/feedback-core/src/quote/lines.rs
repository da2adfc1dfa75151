//! Line predicates shared by the rules: blank and invisible characters,
//! quotes, rules drawn with dashes or underscores, words; and the split into
//! lines.

/// The text's lines, split exactly as `str::lines` splits them (at `\n`, a
/// `\r` before it dropped), but found with memchr: in the guest, `core`'s
/// search goes four bytes at a time, and this split was a fifth of a mapper
/// call.
pub(super) fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text.as_bytes()) {
        let line = &text[start..end];
        lines.push(line.strip_suffix('\r').unwrap_or(line));
        start = end + 1;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

pub(super) fn is_blank(line: &str) -> bool {
    line.chars().all(|c| c.is_whitespace() || is_invisible(c))
}

/// Characters that show nothing: zero-width spaces and joiners, direction
/// marks and embeddings (Arabic and Hebrew clients start lines with them),
/// the byte order mark, soft hyphens, invisible operators, the combining
/// grapheme joiner and Mongolian vowel separator (padding some clients and
/// trackers insert), and Gmail's tracking mark `ᐧ` (U+1427), which
/// Gmail's mail-tracking extensions leave alone on a line.
pub(super) fn is_invisible(c: char) -> bool {
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
pub(super) fn is_short_rule(line: &str) -> bool {
    let line = line.trim();
    (3..=4).contains(&line.len())
        && (line.chars().all(|c| c == '-') || line.chars().all(|c| c == '_'))
}

/// A rule of at least `min` underscores and nothing else (Outlook draws
/// thirty-two above the message it quotes).
pub(super) fn is_underscore_rule(line: &str, min: usize) -> bool {
    let line = line.trim();
    line.len() >= min && line.bytes().all(|b| b == b'_')
}

/// A line drawn as a separator: five or more dashes, underscores, equals
/// signs, asterisks, tildes, dots or box-drawing strokes, spaced out or not
/// (`. . . . .`), and nothing else.
pub(super) fn is_separator_line(line: &str) -> bool {
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

/// A line quoted with `|` (`| Please try 412.`), as some old clients and
/// list archives quote; not a table row, which ends with `|` too.
pub(super) fn is_pipe_quoted(line: &str) -> bool {
    let line = line.trim();
    line.strip_prefix('|').is_some_and(|rest| {
        (rest.is_empty() || rest.starts_with([' ', '|'])) && !rest.trim_end().ends_with('|')
    })
}

pub(super) fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

pub(super) fn ends_with_colon(line: &str) -> bool {
    line.trim_end().ends_with([':', '：'])
}

pub(super) fn starts_with_word(line: &str, word: &str) -> bool {
    line.strip_prefix(word).is_some_and(|rest| {
        // Chinese openers are followed directly by the date.
        let cjk = word.chars().all(|c| c >= '\u{2e80}');
        cjk || rest.starts_with([' ', ','])
    })
}

/// Whether `word` occurs in `text` with no letter directly before or after.
///
/// It runs for every verb on every line that could be a reply header, so it
/// scans for the word's first byte rather than building a substring
/// searcher per call (`match_indices`), which cost more than the search.
pub(super) fn contains_word(text: &str, word: &str) -> bool {
    let (bytes, needle) = (text.as_bytes(), word.as_bytes());
    let Some(&first) = needle.first() else {
        return false;
    };
    let mut from = 0;
    while let Some(k) = bytes[from..].iter().position(|&b| b == first) {
        // `first` starts a character, so `at` is a character boundary.
        let at = from + k;
        if bytes[at..].starts_with(needle) {
            let before = text[..at].chars().next_back();
            let after = text[at + word.len()..].chars().next();
            if !before.is_some_and(char::is_alphabetic) && !after.is_some_and(char::is_alphabetic) {
                return true;
            }
        }
        from = at + 1;
    }
    false
}

/// Lowercase without the combining dot Turkish `İ` leaves (`i̇`).
pub(super) fn lowercase(text: &str) -> String {
    text.to_lowercase().replace('\u{307}', "")
}
