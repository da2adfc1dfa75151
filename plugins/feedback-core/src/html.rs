//! A small HTML-to-text converter for HTML-only replies. It is not a full
//! HTML parser: it keeps the text, turns block structure into line breaks,
//! paragraphs into blank-line separated blocks, lists into `- ` / `1. ` items
//! and `<blockquote>` into `> ` quoting, so the quote trimming works the same
//! on HTML and plain-text mail.
//!
//! It also recognises the containers mail clients wrap quoted history and
//! signatures in (Gmail's `gmail_attr`, Thunderbird's `moz-cite-prefix`,
//! Outlook's `divRplyFwdMsg`, `appendonsend` and border-top separator, also
//! used by Windows Mail, Yahoo's and AOL's `…yahoo_quoted`, Proton's
//! `protonmail_quote`, Zimbra's `zwchr` rule, GMX's and Web.de's `<div
//! name="quote">`, Zoho's `zmail_extra`, Samsung Email's signature...) and
//! marks the lines they produce, so [`crate::split_html_reply`] can remove
//! them even when their text would not give them away.

/// How the reply splitter must treat a line converted from HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Ordinary text: the plain-text rules decide.
    Text,
    /// Inside a reply header, signature or mobile footer container: removed.
    Elide,
    /// At or after the start of a quoted-original container: the reply ends.
    Cut,
}

/// One converted line and its [`Mark`].
pub(crate) type Line = (String, Mark);

/// Converts an HTML body to plain text.
pub fn html_to_text(html: &str) -> String {
    let lines: Vec<String> = convert(html).into_iter().map(|(text, _)| text).collect();
    lines.join("\n")
}

/// Converts an HTML body to tidy lines with their marks.
pub(crate) fn convert(html: &str) -> Vec<Line> {
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
    tidy(out.lines)
}

struct Tag<'a> {
    /// Lowercase name, empty for comments and declarations.
    name: String,
    closing: bool,
    /// The raw attribute text.
    attrs: &'a str,
}

impl Tag<'_> {
    /// The value of attribute `name` (ASCII case-insensitive), entities not
    /// decoded; `""` for a bare attribute.
    fn attr(&self, name: &str) -> Option<&str> {
        let mut rest = self.attrs;
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
            if rest.is_empty() || rest.starts_with('>') {
                return None;
            }
            let key_len = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '=' | '>' | '/'))
                .unwrap_or(rest.len());
            let key = &rest[..key_len];
            rest = rest[key_len..].trim_start();
            let value = match rest.strip_prefix('=') {
                Some(v) => {
                    let v = v.trim_start();
                    let (value, after) = match v.chars().next() {
                        Some(q @ ('"' | '\'')) => {
                            let end = v[1..].find(q).map_or(v.len(), |i| i + 1);
                            (&v[1..end], v.get(end + 1..).unwrap_or(""))
                        }
                        _ => {
                            let end = v
                                .find(|c: char| c.is_whitespace() || c == '>')
                                .unwrap_or(v.len());
                            (&v[..end], &v[end..])
                        }
                    };
                    rest = after;
                    value
                }
                None => "",
            };
            if key.eq_ignore_ascii_case(name) {
                return Some(value);
            }
            if key.is_empty() {
                // Not an attribute at all (e.g. `<div =x>`): skip a character.
                rest = rest.get(1..).unwrap_or("");
            }
        }
    }

    fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_whitespace().any(|c| c.eq_ignore_ascii_case(class)))
    }
}

/// Parses the tag at the start of `s` (which starts with `<`); returns it and
/// the text after it.
fn parse_tag(s: &str) -> Option<(Tag<'_>, &str)> {
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
    let attrs = &body[name_len..end.max(name_len)];
    Some((
        Tag {
            name,
            closing,
            attrs,
        },
        &body[end..],
    ))
}

fn declaration() -> Tag<'static> {
    Tag {
        name: String::new(),
        closing: false,
        attrs: "",
    }
}

/// What a mail client's container holds, judged from its class, id or style.
fn container_mark(tag: &Tag) -> Option<Mark> {
    const ELIDED_CLASSES: [&str; 6] = [
        "gmail_attr",                 // Gmail: "On ... wrote:"
        "moz-cite-prefix",            // Thunderbird: "On ... wrote:"
        "gmail_signature",            // Gmail: the `-- ` signature
        "gmail_signature_prefix",     // Gmail: the `-- ` itself
        "moz-signature",              // Thunderbird: the `-- ` signature
        "protonmail_signature_block", // Proton: signature and "Sent with Proton Mail"
    ];
    const ELIDED_IDS: [&str; 3] = [
        "ms-outlook-mobile-signature", // "Get Outlook for iOS"
        "AppleMailSignature",          // "Sent from my iPhone"
        "composer_signature",          // Samsung Email: "Sent from my Galaxy"
    ];
    const CUT_IDS: [&str; 4] = [
        "appendonsend",                            // Outlook: everything after is the original
        "divRplyFwdMsg",                           // Outlook web and mobile: the reply header block
        "stopSpelling",                            // Older Outlook web / Hotmail separator
        "mail-editor-reference-message-container", // Outlook for Mac: the original
    ];
    // Proton's quoted original, Outlook's old header class, Mail.ru's
    // collapsed original; Zimbra's rule above the original (`<hr
    // id="zwchr">`) is an id.
    const CUT_CLASSES: [&str; 4] = [
        "protonmail_quote",
        "OutlookMessageHeader",
        "mail-quote-collapse",
        "zmail_extra", // Zoho: the original under its header
    ];
    // This runs on every opening tag: each attribute is read once.
    let classes = tag.attr("class").unwrap_or_default();
    let id = tag.attr("id").unwrap_or_default();
    let has_class = |names: &[&str]| {
        classes
            .split_whitespace()
            .any(|c| names.iter().any(|n| c.eq_ignore_ascii_case(n)))
    };
    // Outlook prefixes `x_` to the ids of a message it quotes again.
    let unprefixed_id = match id.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("x_") => &id[2..],
        _ => id,
    };
    let id_in = |names: &[&str], id: &str| names.iter().any(|n| id.eq_ignore_ascii_case(n));
    // Yahoo prefixes its names per message (`ydp1a2b3cyahoo_quoted`).
    let ends = |v: &str, suffix: &str| {
        v.len() >= suffix.len()
            && v.is_char_boundary(v.len() - suffix.len())
            && v[v.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    if has_class(&ELIDED_CLASSES) || id_in(&ELIDED_IDS, id) {
        return Some(Mark::Elide);
    }
    if id_in(&CUT_IDS, unprefixed_id)
        || has_class(&CUT_CLASSES)
        || id.eq_ignore_ascii_case("zwchr")
        // GMX, Web.de and mail.com: the header block and the original.
        || tag.attr("name").is_some_and(|n| n.eq_ignore_ascii_case("quote"))
        || classes.split_whitespace().any(|c| ends(c, "yahoo_quoted"))
        || ends(id, "yahoo_quoted")
        || tag.attr("style").is_some_and(is_outlook_separator)
    {
        return Some(Mark::Cut);
    }
    None
}

/// Outlook desktop's reply header: `border:none;border-top:solid #E1E1E1 1.0pt`.
fn is_outlook_separator(style: &str) -> bool {
    let style: String = style
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    style.contains("border:none") && style.contains("border-top:solid")
}

/// Elements whose content is never shown.
const HIDDEN: [&str; 4] = ["head", "style", "script", "title"];

/// Elements that start and end on their own line.
const BLOCKS: [&str; 14] = [
    "div", "tr", "table", "pre", "hr", "dl", "dt", "dd", "section", "article", "header", "footer",
    "center", "address",
];

/// Elements separated from their surroundings by a blank line.
const PARAGRAPHS: [&str; 7] = ["p", "h1", "h2", "h3", "h4", "h5", "h6"];

const MAX_QUOTE_MARKS: usize = 8;
/// Deeper lists are not indented further.
const MAX_LIST_INDENT: usize = 8;

struct Writer {
    /// Lines so far; the last one is being written.
    lines: Vec<Line>,
    /// Nesting depth of `<blockquote>`.
    quote_depth: usize,
    /// Nesting depth of `<pre>`, where whitespace is kept.
    pre_depth: usize,
    /// Whitespace seen since the last character written on this line.
    pending_space: bool,
    /// Open lists: `None` for `<ul>`, the next number for `<ol>`.
    lists: Vec<Option<u32>>,
    /// The element being elided and how many same-named elements are open.
    elide: Option<(String, usize)>,
    /// A quoted-original container has started: everything after is cut.
    cut: bool,
}

impl Default for Writer {
    fn default() -> Self {
        Self {
            lines: vec![(String::new(), Mark::Text)],
            quote_depth: 0,
            pre_depth: 0,
            pending_space: false,
            lists: Vec::new(),
            elide: None,
            cut: false,
        }
    }
}

impl Writer {
    fn current(&mut self) -> &mut Line {
        self.lines
            .last_mut()
            .expect("there is always a current line")
    }

    fn at_line_start(&self) -> bool {
        self.lines.last().is_none_or(|(text, _)| text.is_empty())
    }

    fn mark(&self) -> Mark {
        if self.cut {
            Mark::Cut
        } else if self.elide.is_some() {
            Mark::Elide
        } else {
            Mark::Text
        }
    }

    /// Quote marks for the current depth. Capped, so hostile nesting cannot
    /// blow up the output; any depth reads as quoted.
    fn quote_marks(&self) -> usize {
        self.quote_depth.min(MAX_QUOTE_MARKS)
    }

    /// Writes `s` verbatim, starting the line (mark, quote prefix) if needed.
    fn push_raw(&mut self, s: &str) {
        if self.at_line_start() {
            let mark = self.mark();
            let prefix = "> ".repeat(self.quote_marks());
            let line = self.current();
            line.1 = mark;
            line.0.push_str(&prefix);
        }
        self.current().0.push_str(s);
    }

    fn push_char(&mut self, c: char) {
        if c == '\n' {
            self.newline();
            return;
        }
        if self.pending_space && !self.at_line_start() {
            self.current().0.push(' ');
        }
        self.pending_space = false;
        // A non-breaking space is content (Outlook's `<p>&nbsp;</p>` blank
        // lines), but downstream wants a plain space.
        let c = if c == '\u{a0}' { ' ' } else { c };
        self.push_raw(c.encode_utf8(&mut [0; 4]));
    }

    fn newline(&mut self) {
        // Keep quoted blank lines quoted, so a quote stays one block.
        if self.quote_depth > 0 && self.at_line_start() {
            let marks = ">".repeat(self.quote_marks());
            let mark = self.mark();
            let line = self.current();
            line.1 = mark;
            line.0.push_str(&marks);
        }
        let mark = self.mark();
        self.lines.push((String::new(), mark));
        self.pending_space = false;
    }

    fn ensure_line_break(&mut self) {
        if !self.at_line_start() {
            self.newline();
        }
        self.pending_space = false;
    }

    /// Ends the line and leaves one blank line, unless there is one already
    /// or a deeper quote starts here (a quote does not open with a blank).
    fn paragraph_break(&mut self) {
        self.ensure_line_break();
        let n = self.lines.len();
        if n >= 2 {
            let previous = self.lines[n - 2].0.trim();
            if !previous.is_empty() && self.quote_marks() <= quote_level(previous) {
                self.newline();
            }
        }
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
        let mut elide_ends = false;
        match &mut self.elide {
            Some((elided, depth)) if elided == name => {
                if tag.closing {
                    *depth -= 1;
                    elide_ends = *depth == 0;
                } else {
                    *depth += 1;
                }
            }
            Some(_) => {}
            None if !tag.closing => match container_mark(tag) {
                Some(Mark::Elide) => {
                    self.ensure_line_break();
                    self.elide = Some((name.to_owned(), 1));
                }
                Some(Mark::Cut) => {
                    self.ensure_line_break();
                    self.cut = true;
                }
                _ => {}
            },
            None => {}
        }
        self.structure(tag);
        if elide_ends {
            // A container is a block of its own, whatever its element.
            self.ensure_line_break();
            self.elide = None;
        }
        after
    }

    /// Line structure: breaks, paragraphs, lists, quotes.
    fn structure(&mut self, tag: &Tag) {
        let name = tag.name.as_str();
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
            // Word's paragraphs have no margins: each is one line. The
            // closing tag cannot tell which kind it closes, so only an
            // opening paragraph leaves a blank line.
            "p" if tag.closing || tag.has_class("MsoNormal") => self.ensure_line_break(),
            "ul" | "ol" => {
                // A list is a paragraph of its own; nested lists are not.
                let nested = self.lists.len() > usize::from(tag.closing);
                if nested {
                    self.ensure_line_break();
                } else {
                    self.paragraph_break();
                }
                if tag.closing {
                    self.lists.pop();
                } else {
                    let start = tag.attr("start").and_then(|s| s.trim().parse().ok());
                    self.lists
                        .push((name == "ol").then_some(start.unwrap_or(1)));
                }
            }
            "li" if !tag.closing => {
                self.ensure_line_break();
                let indent = "  ".repeat(self.lists.len().saturating_sub(1).min(MAX_LIST_INDENT));
                let bullet = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}.", *n - 1)
                    }
                    _ => "-".to_owned(),
                };
                self.push_raw(&format!("{indent}{bullet}"));
                self.pending_space = true;
            }
            "li" => self.ensure_line_break(),
            "pre" => {
                self.ensure_line_break();
                self.pre_depth = if tag.closing {
                    self.pre_depth.saturating_sub(1)
                } else {
                    self.pre_depth + 1
                };
            }
            "td" | "th" if tag.closing => self.pending_space = true,
            _ if PARAGRAPHS.contains(&name) => self.paragraph_break(),
            _ if BLOCKS.contains(&name) => self.ensure_line_break(),
            _ => {}
        }
    }
}

/// How many `>` quote marks start `line`.
fn quote_level(line: &str) -> usize {
    line.chars()
        .take_while(|&c| c == '>' || c == ' ')
        .filter(|&c| c == '>')
        .count()
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

/// Named entities beyond the basics: typography and the accented letters of
/// the Latin-script languages replies come in.
const NAMED: [(&str, char); 60] = [
    ("hellip", '\u{2026}'),
    ("ndash", '\u{2013}'),
    ("mdash", '\u{2014}'),
    ("lsquo", '\u{2018}'),
    ("rsquo", '\u{2019}'),
    ("sbquo", '\u{201a}'),
    ("ldquo", '\u{201c}'),
    ("rdquo", '\u{201d}'),
    ("bdquo", '\u{201e}'),
    ("laquo", '\u{ab}'),
    ("raquo", '\u{bb}'),
    ("bull", '\u{2022}'),
    ("middot", '\u{b7}'),
    ("times", '\u{d7}'),
    ("copy", '\u{a9}'),
    ("reg", '\u{ae}'),
    ("trade", '\u{2122}'),
    ("euro", '\u{20ac}'),
    ("pound", '\u{a3}'),
    ("deg", '\u{b0}'),
    ("iexcl", '\u{a1}'),
    ("iquest", '\u{bf}'),
    ("shy", '\u{ad}'),
    ("zwnj", '\u{200c}'),
    ("szlig", 'ß'),
    ("auml", 'ä'),
    ("ouml", 'ö'),
    ("uuml", 'ü'),
    ("Auml", 'Ä'),
    ("Ouml", 'Ö'),
    ("Uuml", 'Ü'),
    ("euml", 'ë'),
    ("iuml", 'ï'),
    ("aacute", 'á'),
    ("eacute", 'é'),
    ("iacute", 'í'),
    ("oacute", 'ó'),
    ("uacute", 'ú'),
    ("Eacute", 'É'),
    ("agrave", 'à'),
    ("egrave", 'è'),
    ("igrave", 'ì'),
    ("ograve", 'ò'),
    ("ugrave", 'ù'),
    ("Agrave", 'À'),
    ("acirc", 'â'),
    ("ecirc", 'ê'),
    ("icirc", 'î'),
    ("ocirc", 'ô'),
    ("ucirc", 'û'),
    ("atilde", 'ã'),
    ("otilde", 'õ'),
    ("ntilde", 'ñ'),
    ("Ntilde", 'Ñ'),
    ("ccedil", 'ç'),
    ("Ccedil", 'Ç'),
    ("aring", 'å'),
    ("Aring", 'Å'),
    ("oslash", 'ø'),
    ("aelig", 'æ'),
];

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
        _ => match NAMED.iter().find(|(n, _)| *n == name) {
            Some(&(_, c)) => c,
            None => {
                let number = name.strip_prefix('#')?;
                let code = match number.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => number.parse().ok()?,
                };
                char::from_u32(code).unwrap_or('\u{fffd}')
            }
        },
    };
    Some((c, semi + 1))
}

/// Trims line ends, collapses runs of blank lines and drops blank lines
/// around the text. A removed blank line's mark goes with it.
fn tidy(lines: Vec<Line>) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::with_capacity(lines.len());
    for (text, mark) in lines {
        let text = text.trim_end();
        // Zero-width characters alone (Outlook's `&#8203;`) make a blank line.
        let blank = text
            .chars()
            .all(|c| c.is_whitespace() || matches!(c, '\u{200b}' | '\u{200c}' | '\u{feff}'));
        if blank && out.last().is_none_or(|(t, _)| t.is_empty()) {
            continue;
        }
        out.push((
            if blank {
                String::new()
            } else {
                text.to_owned()
            },
            mark,
        ));
    }
    while out.last().is_some_and(|(t, _)| t.is_empty()) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The non-blank lines and their marks (a blank line's mark is moot).
    fn marks(html: &str) -> Vec<(String, Mark)> {
        convert(html)
            .into_iter()
            .filter(|(text, _)| !text.is_empty())
            .collect()
    }

    #[test]
    fn paragraphs_breaks_and_entities() {
        let html = "<p>Hi team,</p><p>The export&nbsp;button is <b>greyed&nbsp;out</b> \
                    &amp; the tooltip says &quot;Soon&quot; &#39;n&#x27; &lt;3&gt;.<br>Line two</p>";
        assert_eq!(
            html_to_text(html),
            "Hi team,\n\nThe export button is greyed out & the tooltip says \"Soon\" 'n' <3>.\nLine two"
        );
    }

    #[test]
    fn gmail_divs_and_blank_lines() {
        let html = "<div dir=\"ltr\"><div>Hello,</div><div><br></div><div><br></div>\
                    <div>It crashed.</div></div>";
        assert_eq!(html_to_text(html), "Hello,\n\nIt crashed.");
    }

    #[test]
    fn word_paragraphs_are_lines() {
        let html = "<p class=MsoNormal>Kind regards,<o:p></o:p></p>\
                    <p class=\"MsoNormal\">Marcus<o:p></o:p></p>\
                    <p class=\"MsoNormal\"><o:p>&nbsp;</o:p></p><p class=MsoNormal>PS<o:p></o:p></p>";
        assert_eq!(html_to_text(html), "Kind regards,\nMarcus\n\nPS");
    }

    #[test]
    fn hidden_elements_and_comments() {
        let html = "<html><head><title>x</title><style>p { color: red }</style></head>\
                    <body><!-- a > comment --><script type=\"text/javascript\">if (a < b) {}</script>\
                    <p class='a>b'>Visible</p><!DOCTYPE nope></body></html>";
        assert_eq!(html_to_text(html), "Visible");
    }

    #[test]
    fn typographic_and_accented_entities() {
        assert_eq!(
            html_to_text("It&rsquo;s 1280&times;800 &ndash; &ldquo;ok&rdquo;&hellip;"),
            "It\u{2019}s 1280\u{d7}800 \u{2013} \u{201c}ok\u{201d}\u{2026}"
        );
        assert_eq!(
            html_to_text(
                "Gr&uuml;&szlig;e, r&eacute;sum&eacute;, a&ntilde;o, cora&ccedil;&atilde;o"
            ),
            "Grüße, résumé, año, coração"
        );
    }

    #[test]
    fn lists() {
        let html = "<p>Steps:</p><ul><li>Open Lumen</li><li>Click <i>Export</i>\
                    <ol><li>PDF</li><li>PNG</li></ol></li></ul><p>Done</p>\
                    <ol start=\"3\"><li>third</li></ol>";
        assert_eq!(
            html_to_text(html),
            "Steps:\n\n- Open Lumen\n- Click Export\n  1. PDF\n  2. PNG\n\nDone\n\n3. third"
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
        let html = format!("{}x", "<ul><li>".repeat(10_000));
        assert!(
            html_to_text(&html)
                .lines()
                .all(|l| l.len() <= 2 * MAX_LIST_INDENT + 3)
        );
    }

    #[test]
    fn hidden_element_closing_tag_any_case() {
        assert_eq!(html_to_text("<STYLE>a</b></Style >b"), "b");
    }

    #[test]
    fn whitespace_collapses_outside_pre() {
        let html = "<div>a\n   b\t c</div><pre>x  y\n  z</pre>";
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
        assert_eq!(html_to_text("<div>ok</div><script>never closed"), "ok");
    }

    #[test]
    fn attributes() {
        let (tag, _) =
            parse_tag("<div id = 'divRplyFwdMsg' dir=ltr hidden class=\"a  gmail_quote\">x")
                .unwrap();
        assert_eq!(tag.attr("ID"), Some("divRplyFwdMsg"));
        assert_eq!(tag.attr("dir"), Some("ltr"));
        assert_eq!(tag.attr("hidden"), Some(""));
        assert_eq!(tag.attr("style"), None);
        assert!(tag.has_class("gmail_quote"));
        assert!(!tag.has_class("gmail"));
        let (tag, _) = parse_tag("<div =x id=y>").unwrap();
        assert_eq!(tag.attr("id"), Some("y"));
    }

    #[test]
    fn reply_header_and_signature_containers_are_elided() {
        let html = "<div>Works.</div><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">\
                    Beta &lt;b@x&gt; said<br></div><blockquote class=\"gmail_quote\">q</blockquote></div>";
        assert_eq!(
            marks(html),
            [
                ("Works.".into(), Mark::Text),
                ("Beta <b@x> said".into(), Mark::Elide),
                ("> q".into(), Mark::Text),
            ]
        );
        let html = "<p>Ok</p><div class=\"moz-signature\">-- <br><div>Dana</div></div><p>after</p>";
        assert_eq!(
            marks(html),
            [
                ("Ok".into(), Mark::Text),
                ("--".into(), Mark::Elide),
                ("Dana".into(), Mark::Elide),
                ("after".into(), Mark::Text),
            ]
        );
    }

    #[test]
    fn quoted_original_containers_cut_the_rest() {
        for opener in [
            "<div id=\"appendonsend\"></div><hr>",
            "<hr style=\"display:inline-block\"><div id=\"divRplyFwdMsg\" dir=\"ltr\">",
            "<div style=\"border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm\">",
            "<div class=\"yahoo_quoted\">",
        ] {
            let html = format!("<div>Mine</div>{opener}<b>From:</b> Beta<br><p>Original</p>");
            let lines = marks(&html);
            assert_eq!(lines[0], ("Mine".into(), Mark::Text), "{opener}");
            assert!(
                lines[1..].iter().all(|(_, m)| *m == Mark::Cut),
                "{opener}: {lines:?}"
            );
        }
    }
}
