//! A small HTML-to-text converter for HTML-only replies. It is not a full
//! HTML parser: it keeps the text, turns block structure into line breaks and
//! `<blockquote>` into `> ` quoting, so the quote trimming works the same on
//! HTML and plain-text mail.

/// Converts an HTML body to plain text.
pub fn html_to_text(html: &str) -> String {
    let mut out = Writer::default();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.text(&rest[..lt]);
        rest = &rest[lt..];
        rest = match parse_tag(rest) {
            Some((tag, after)) => out.tag(&tag, after),
            None => {
                // A stray `<` is text.
                out.text("<");
                &rest[1..]
            }
        };
    }
    out.text(rest);
    tidy(&out.buf)
}

struct Tag {
    /// Lowercase name, empty for comments and declarations.
    name: String,
    closing: bool,
}

/// Parses the tag at the start of `s` (which starts with `<`); returns it and
/// the text after it.
fn parse_tag(s: &str) -> Option<(Tag, &str)> {
    let body = &s[1..];
    if let Some(comment) = body.strip_prefix("!--") {
        let end = comment.find("-->").map_or(comment.len(), |i| i + 3);
        return Some((declaration(), &comment[end..]));
    }
    if body.starts_with('!') || body.starts_with('?') {
        let end = body.find('>').map_or(body.len(), |i| i + 1);
        return Some((declaration(), &body[end..]));
    }
    let (closing, body) = match body.strip_prefix('/') {
        Some(b) => (true, b),
        None => (false, body),
    };
    if !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '-'))
        .unwrap_or(body.len());
    let name = body[..name_len].to_ascii_lowercase();
    // Skip attributes; a `>` inside a quoted value does not end the tag.
    let mut quote = None;
    let mut end = body.len();
    for (i, c) in body.char_indices().skip(name_len) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => {
                end = i + 1;
                break;
            }
            (None, _) => {}
        }
    }
    Some((Tag { name, closing }, &body[end..]))
}

fn declaration() -> Tag {
    Tag {
        name: String::new(),
        closing: false,
    }
}

/// Elements whose content is never shown.
const HIDDEN: [&str; 4] = ["head", "style", "script", "title"];

/// Elements that start and end on their own line.
const BLOCKS: [&str; 22] = [
    "p", "div", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr",
    "dl", "dt", "dd", "section", "article", "header", "footer",
];

const MAX_QUOTE_MARKS: usize = 8;

#[derive(Default)]
struct Writer {
    buf: String,
    /// Nesting depth of `<blockquote>`.
    quote_depth: usize,
    /// Nesting depth of `<pre>`, where whitespace is kept.
    pre_depth: usize,
    /// Whitespace seen since the last character written on this line.
    pending_space: bool,
}

impl Writer {
    fn at_line_start(&self) -> bool {
        self.buf.is_empty() || self.buf.ends_with('\n')
    }

    /// Quote marks for the current depth. Capped, so hostile nesting cannot
    /// blow up the output; any depth reads as quoted.
    fn quote_marks(&self) -> usize {
        self.quote_depth.min(MAX_QUOTE_MARKS)
    }

    fn quote_prefix(&mut self) {
        if self.quote_depth > 0 && self.at_line_start() {
            self.buf.push_str(&"> ".repeat(self.quote_marks()));
        }
    }

    fn push_char(&mut self, c: char) {
        if c == '\n' {
            self.newline();
            return;
        }
        if self.at_line_start() {
            self.quote_prefix();
        } else if self.pending_space {
            self.buf.push(' ');
        }
        self.pending_space = false;
        // A non-breaking space is content (Outlook's `<p>&nbsp;</p>` blank
        // lines), but downstream wants a plain space.
        self.buf.push(if c == '\u{a0}' { ' ' } else { c });
    }

    fn newline(&mut self) {
        // Keep quoted blank lines quoted, so a quote stays one block.
        if self.quote_depth > 0 && self.at_line_start() {
            self.buf.push_str(&">".repeat(self.quote_marks()));
        }
        self.buf.push('\n');
        self.pending_space = false;
    }

    fn ensure_line_break(&mut self) {
        if !self.at_line_start() {
            self.newline();
        }
        self.pending_space = false;
    }

    fn text(&mut self, raw: &str) {
        let mut rest = raw;
        while let Some(c) = rest.chars().next() {
            let (decoded, len) = if c == '&' {
                decode_entity(rest).unwrap_or(('&', 1))
            } else {
                (c, c.len_utf8())
            };
            rest = &rest[len..];
            if self.pre_depth > 0 {
                if decoded != '\r' {
                    self.push_char(decoded);
                }
            } else if decoded.is_whitespace() && decoded != '\u{a0}' {
                self.pending_space = !self.at_line_start();
            } else {
                self.push_char(decoded);
            }
        }
    }

    /// Applies `tag` and returns where parsing resumes.
    fn tag<'a>(&mut self, tag: &Tag, after: &'a str) -> &'a str {
        let name = tag.name.as_str();
        if !tag.closing && HIDDEN.contains(&name) {
            return skip_element(name, after);
        }
        match name {
            "br" => self.newline(),
            "blockquote" => {
                self.ensure_line_break();
                self.quote_depth = if tag.closing {
                    self.quote_depth.saturating_sub(1)
                } else {
                    self.quote_depth + 1
                };
            }
            "li" if !tag.closing => {
                self.ensure_line_break();
                self.push_char('-');
                self.pending_space = true;
            }
            "pre" => {
                self.ensure_line_break();
                self.pre_depth = if tag.closing {
                    self.pre_depth.saturating_sub(1)
                } else {
                    self.pre_depth + 1
                };
            }
            "td" | "th" if tag.closing => self.pending_space = true,
            _ if BLOCKS.contains(&name) => self.ensure_line_break(),
            _ => {}
        }
        after
    }
}

/// Skips to after `</name ...>`, or to the end if it never closes.
fn skip_element<'a>(name: &str, s: &'a str) -> &'a str {
    let mut rest = s;
    while let Some(i) = rest.find("</") {
        let after = &rest[i + 2..];
        if after.len() >= name.len()
            && after.as_bytes()[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        {
            return after.find('>').map_or("", |j| &after[j + 1..]);
        }
        rest = after;
    }
    ""
}

/// Decodes the entity at the start of `s` (which starts with `&`): the
/// character and the number of bytes it used.
fn decode_entity(s: &str) -> Option<(char, usize)> {
    // Entity names are short; looking further would misread prose like `A & B; C`.
    let semi = s.bytes().take(12).position(|b| b == b';')?;
    let name = &s[1..semi];
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        // Typographic entities common in mail from word processors.
        "hellip" => '\u{2026}',
        "ndash" => '\u{2013}',
        "mdash" => '\u{2014}',
        "lsquo" => '\u{2018}',
        "rsquo" => '\u{2019}',
        "ldquo" => '\u{201c}',
        "rdquo" => '\u{201d}',
        "bull" => '\u{2022}',
        "times" => '\u{d7}',
        "copy" => '\u{a9}',
        "euro" => '\u{20ac}',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code).unwrap_or('\u{fffd}')
        }
    };
    Some((c, semi + 1))
}

/// Trims line ends, collapses runs of blank lines and trims blank lines
/// around the text.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = false;
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() {
            blank_run = !out.is_empty();
            continue;
        }
        if blank_run {
            out.push('\n');
            blank_run = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_breaks_and_entities() {
        let html = "<p>Hi team,</p><p>The export&nbsp;button is <b>greyed&nbsp;out</b> \
                    &amp; the tooltip says &quot;Soon&quot; &#39;n&#x27; &lt;3&gt;.<br>Line two</p>";
        assert_eq!(
            html_to_text(html),
            "Hi team,\nThe export button is greyed out & the tooltip says \"Soon\" 'n' <3>.\nLine two"
        );
    }

    #[test]
    fn gmail_divs_and_blank_lines() {
        let html = "<div dir=\"ltr\"><div>Hello,</div><div><br></div><div><br></div>\
                    <div>It crashed.</div></div>";
        assert_eq!(html_to_text(html), "Hello,\n\nIt crashed.");
    }

    #[test]
    fn hidden_elements_and_comments() {
        let html = "<html><head><title>x</title><style>p { color: red }</style></head>\
                    <body><!-- a > comment --><script type=\"text/javascript\">if (a < b) {}</script>\
                    <p class='a>b'>Visible</p><!DOCTYPE nope></body></html>";
        assert_eq!(html_to_text(html), "Visible");
    }

    #[test]
    fn typographic_entities() {
        assert_eq!(
            html_to_text("It&rsquo;s 1280&times;800 &ndash; &ldquo;ok&rdquo;&hellip;"),
            "It\u{2019}s 1280\u{d7}800 \u{2013} \u{201c}ok\u{201d}\u{2026}"
        );
    }

    #[test]
    fn lists() {
        let html =
            "<p>Steps:</p><ul><li>Open Lumen</li><li>Click <i>Export</i></li></ul><p>Done</p>";
        assert_eq!(
            html_to_text(html),
            "Steps:\n- Open Lumen\n- Click Export\nDone"
        );
    }

    #[test]
    fn blockquote_becomes_quoted_lines() {
        let html = "<div>Yes, fixed.</div><blockquote>Does it work?<br><br>Thanks<blockquote>\
                    nested</blockquote></blockquote><div>After</div>";
        assert_eq!(
            html_to_text(html),
            "Yes, fixed.\n> Does it work?\n>\n> Thanks\n> > nested\nAfter"
        );
    }

    #[test]
    fn deep_nesting_is_capped() {
        let html = format!("{}x<br>y", "<blockquote>".repeat(10_000));
        assert_eq!(
            html_to_text(&html),
            format!("{0}x\n{0}y", "> ".repeat(MAX_QUOTE_MARKS))
        );
    }

    #[test]
    fn hidden_element_closing_tag_any_case() {
        assert_eq!(html_to_text("<STYLE>a</b></Style >b"), "b");
    }

    #[test]
    fn whitespace_collapses_outside_pre() {
        let html = "<p>a\n   b\t c</p><pre>x  y\n  z</pre>";
        assert_eq!(html_to_text(html), "a b c\nx  y\n  z");
    }

    #[test]
    fn stray_angle_bracket_and_unknown_entity() {
        assert_eq!(
            html_to_text("1 < 2 &bogus; &#xZZ; &"),
            "1 < 2 &bogus; &#xZZ; &"
        );
    }

    #[test]
    fn unterminated_hidden_element() {
        assert_eq!(html_to_text("<p>ok</p><script>never closed"), "ok");
    }
}
