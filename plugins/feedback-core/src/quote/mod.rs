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
//!
//! This module walks the lines and decides; what each kind of line looks
//! like is in the submodules: [`attribution`] (reply headers), [`fields`]
//! (header-field blocks), [`separator`] (where the tester's text ends),
//! [`footer`] (mobile, list and gateway additions) and [`lines`] (shared
//! line predicates).

use crate::html::{self, Mark};

mod attribution;
mod fields;
mod footer;
mod lines;
mod separator;
#[cfg(test)]
mod tests;

use attribution::*;
use fields::*;
use footer::*;
use lines::*;
pub(crate) use separator::is_forward_subject;
use separator::*;

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
    split_text(text, false)
}

/// Splits a message whose subject says it is a forward (`Fwd:`, `WG:`...):
/// as [`split_reply`], but any separator or header block with nothing of the
/// tester's own above it (Outlook's `-----Original Message-----` and
/// `From:`/`Sent:` block are used for forwards too) starts the forwarded text.
pub fn split_forward(text: &str) -> Reply {
    split_text(text, true)
}

/// [`split_reply`], or [`split_forward`] when `forward`.
pub(crate) fn split_text(text: &str, forward: bool) -> Reply {
    let lines = split_lines(without_bom(text));
    split(&lines, &vec![Mark::Text; lines.len()], forward)
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

/// [`split_html_reply`], or [`split_html_forward`] when `forward`.
pub(crate) fn split_html(html: &str, forward: bool) -> Reply {
    let converted = html::convert(html);
    let lines: Vec<&str> = converted.iter().map(|(text, _)| text.as_str()).collect();
    let marks: Vec<Mark> = converted.iter().map(|&(_, mark)| mark).collect();
    split(&lines, &marks, forward)
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

/// Old clients and list archives mark a quote with `|` instead of `>`: the
/// run of such lines (blank lines between them allowed) right under a reply
/// header at `from` is removed. Returns where the walk goes on.
fn remove_pipe_quote(lines: &[&str], from: usize, removed: &mut [bool]) -> usize {
    let mut end = from;
    for j in from..lines.len() {
        if is_pipe_quoted(lines[j]) {
            removed[j] = true;
            end = j + 1;
        } else if !is_blank(lines[j]) {
            break;
        }
    }
    end
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
        // Outlook's long underscore rule standing alone under the tester's
        // text, with more text below: the original, its header fields lost.
        if own_text_above
            && is_underscore_rule(lines[i], 20)
            && stands_alone(lines, i)
            && (i + 1..lines.len()).any(|j| !is_blank(lines[j]))
        {
            removed[i..].fill(true);
            break;
        }
        let introduces_quote = |len: usize| {
            (i + len..lines.len())
                .find(|&j| !is_blank(lines[j]))
                .is_some_and(|j| {
                    is_quoted(lines[j]) || is_pipe_quoted(lines[j]) || marks[j] != Mark::Text
                })
        };
        if let Some(len) = attribution_len(lines, i) {
            if introduces_quote(len) {
                removed[i..i + len].fill(true);
                i = remove_pipe_quote(lines, i + len, &mut removed);
                continue;
            }
            removed[i..].fill(true);
            break;
        }
        // Any other line naming an address and ending in a colon right above
        // a quote introduces it (mutt's `* Name <addr> [date]:`...).
        if (names_and_introduces(lines[i]) || is_short_header(lines[i])) && introduces_quote(1) {
            removed[i] = true;
            i = remove_pipe_quote(lines, i + 1, &mut removed);
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
