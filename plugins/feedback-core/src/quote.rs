//! Separating the tester's own words from quoted text and signatures.
//!
//! Line-based: `>`-quoted lines are removed one by one, so inline answers
//! between quoted blocks stay. A reply header ("On ... wrote:") that
//! introduces `>`-quoted lines is removed with them; one that introduces
//! unquoted text ends the reply, as do `-----Original Message-----`, an
//! Outlook `From:`/`Sent:`/`Subject:` block and a `-- ` signature delimiter.

/// The reply split into what the tester wrote and what was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The tester's text, blank lines around it trimmed.
    pub body: String,
    /// The removed text, or `None` if nothing was removed.
    pub elided: Option<String>,
}

/// Splits a plain-text reply.
pub fn split_reply(text: &str) -> Reply {
    let lines: Vec<&str> = text.lines().collect();
    let mut removed = vec![false; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        if is_quoted(lines[i]) {
            removed[i] = true;
            i += 1;
            continue;
        }
        if let Some(len) = attribution_len(&lines, i) {
            let next = (i + len..lines.len()).find(|&j| !is_blank(lines[j]));
            if next.is_some_and(|j| is_quoted(lines[j])) {
                removed[i..i + len].fill(true);
                i += len;
                continue;
            }
            removed[i..].fill(true);
            break;
        }
        if let Some(start) = cut_start(&lines, i) {
            removed[start..].fill(true);
            break;
        }
        i += 1;
    }
    absorb_enclosed_blanks(&lines, &mut removed);
    Reply {
        body: kept_text(&lines, &removed),
        elided: elided_text(&lines, &removed),
    }
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// Number of lines (1 or 2) of an English reply header at `i`: "On <date>,
/// <name> wrote:", possibly wrapped onto a second line.
fn attribution_len(lines: &[&str], i: usize) -> Option<usize> {
    let first = lines[i].trim();
    if !first.starts_with("On ") {
        return None;
    }
    if first.ends_with("wrote:") {
        return Some(1);
    }
    let second = lines.get(i + 1)?;
    (!is_quoted(second) && second.trim().ends_with("wrote:")).then_some(2)
}

/// Where the reply ends if line `i` starts a forwarded/quoted original or a
/// signature: `i`, or earlier to include an Outlook separator line.
fn cut_start(lines: &[&str], i: usize) -> Option<usize> {
    let line = lines[i].trim();
    if line == "--" || is_original_message(line) {
        return Some(i);
    }
    if is_outlook_header(lines, i) {
        // Outlook puts a line of underscores above the block.
        let above = (0..i).rev().find(|&j| !is_blank(lines[j]));
        return Some(match above {
            Some(j) if lines[j].trim().len() >= 10 && lines[j].trim().chars().all(|c| c == '_') => {
                j
            }
            _ => i,
        });
    }
    None
}

/// `-----Original Message-----`, also with spaces or a different dash count.
fn is_original_message(line: &str) -> bool {
    line.starts_with("--")
        && line
            .trim_matches(|c: char| c == '-' || c.is_whitespace())
            .eq_ignore_ascii_case("original message")
}

/// Outlook's header block: `From:`, then `Sent:` (or `Date:`) and `Subject:`
/// within the next four lines. Field names may be bolded as `*From:*`.
fn is_outlook_header(lines: &[&str], i: usize) -> bool {
    let field =
        |line: &str, name: &str| line.trim_start().trim_start_matches('*').starts_with(name);
    if !field(lines[i], "From:") {
        return false;
    }
    let block = &lines[i + 1..lines.len().min(i + 5)];
    block.iter().any(|l| field(l, "Sent:") || field(l, "Date:"))
        && block.iter().any(|l| field(l, "Subject:"))
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

/// The kept lines. Where a removal leaves blank lines on both sides, one is
/// dropped so paragraphs stay one blank line apart.
fn kept_text(lines: &[&str], removed: &[bool]) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut gap = false;
    for (line, &removed) in lines.iter().zip(removed) {
        if removed {
            gap = true;
            continue;
        }
        if gap && is_blank(line) && kept.last().is_some_and(|l| is_blank(l)) {
            continue;
        }
        gap = false;
        kept.push(line);
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
        // Subject too far down: not a header block.
        let text = "Ok.\nFrom: Beta\nSent: Tue\nTo: Dana\nCc: QA\nBcc: x\nSubject: Hi\n";
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
}
