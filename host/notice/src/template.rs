//! Subject and body templates: `{name}` is replaced by a variable, `{{`
//! and `}}` write a brace. Variables: `reason`, `reason_code`,
//! `feedback_id`, `subject`, `excerpt`, `mailbox`.

use crate::reason::Reason;

/// The variables a template may use.
pub const VARIABLES: &[&str] = &[
    "reason",
    "reason_code",
    "feedback_id",
    "subject",
    "excerpt",
    "mailbox",
];

/// The default subject.
pub const DEFAULT_SUBJECT: &str = "Re: {subject}";

/// The default plain-text body.
pub const DEFAULT_BODY: &str = "Hello,

thank you for your reply. {reason}

Your reply began:

{excerpt}

This message was sent automatically; replies to it are not read.
";

/// The values of one notice's variables.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub reason: Option<Reason>,
    pub feedback_id: Option<String>,
    pub subject: Option<String>,
    pub excerpt: String,
    pub mailbox: String,
}

impl Vars {
    fn get(&self, name: &str) -> String {
        match name {
            "reason" => self.reason.map(|r| sentence(r, self)).unwrap_or_default(),
            "reason_code" => self
                .reason
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            "feedback_id" => self.feedback_id.clone().unwrap_or_default(),
            "subject" => self
                .subject
                .clone()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "your reply".into()),
            "excerpt" => quote(&self.excerpt),
            "mailbox" => self.mailbox.clone(),
            _ => String::new(),
        }
    }
}

/// What happened, in a sentence for the tester.
pub fn sentence(reason: Reason, vars: &Vars) -> String {
    match reason {
        Reason::NoMatch => "We could not tell which feedback request it answers, so it was \
            not recorded. Please reply to the original request, keeping its subject and \
            quoted text."
            .into(),
        Reason::ExpiredToken => "The request you replied to has expired, so your reply could \
            not be recorded. Please answer a more recent request."
            .into(),
        Reason::Oversize => "It is too large to be processed, so it was not recorded. Please \
            send it again with smaller attachments."
            .into(),
        Reason::DeadLetter => "It could not be processed automatically; it was set aside for \
            the team to look at."
            .into(),
        Reason::Acknowledged => match &vars.feedback_id {
            Some(id) => format!("It was added to {id}."),
            None => "It was recorded.".into(),
        },
    }
}

/// `text` with `> ` before each line.
fn quote(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                ">".to_string()
            } else {
                format!("> {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The start of a reply for `{excerpt}`: its first non-empty, unquoted
/// lines, at most 5 lines and 300 characters.
pub fn excerpt(text: &str) -> String {
    let mut out = String::new();
    let mut lines = 0;
    for line in text.lines().map(str::trim_end) {
        if line.starts_with('>') {
            break;
        }
        if line.trim().is_empty() && out.is_empty() {
            continue;
        }
        if lines == 5 {
            break;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
        lines += 1;
    }
    let out = out.trim_end();
    match out.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &out[..cut]),
        None => out.to_string(),
    }
}

/// A template error: an unknown variable or an unclosed brace.
pub fn check(template: &str) -> Result<(), String> {
    parse(template, |_| String::new()).map(|_| ())
}

/// `template` with its variables replaced; `escape` applies to each value
/// (HTML templates escape them).
pub fn render(template: &str, vars: &Vars, escape: fn(&str) -> String) -> String {
    parse(template, |name| escape(&vars.get(name))).unwrap_or_else(|_| template.to_string())
}

fn parse(template: &str, mut value: impl FnMut(&str) -> String) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err("a lone `}` (write `}}` for a brace)".into());
        }
        let Some(end) = tail.find('}') else {
            return Err("a `{` without its `}` (write `{{` for a brace)".into());
        };
        let name = &tail[1..end];
        if !VARIABLES.contains(&name) {
            return Err(format!(
                "unknown variable {{{name}}}; known: {}",
                VARIABLES
                    .iter()
                    .map(|v| format!("{{{v}}}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        out.push_str(&value(name));
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value as is (plain text).
pub fn plain(s: &str) -> String {
    s.to_string()
}

/// The value escaped for HTML text and attributes.
pub fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars {
            reason: Some(Reason::Acknowledged),
            feedback_id: Some("FB-1042".into()),
            subject: Some("Re: Crash on <start>".into()),
            excerpt: "Works now.\nThanks".into(),
            mailbox: "beta".into(),
        }
    }

    #[test]
    fn rendering() {
        let cases: &[(&str, &str)] = &[
            ("{subject}", "Re: Crash on <start>"),
            ("{{literal}} {reason_code}", "{literal} acknowledged"),
            ("{reason}", "It was added to FB-1042."),
            ("{excerpt}", "> Works now.\n> Thanks"),
            ("[{mailbox}] {feedback_id}", "[beta] FB-1042"),
        ];
        for (t, want) in cases {
            check(t).unwrap();
            assert_eq!(render(t, &vars(), plain), *want, "{t}");
        }
        assert_eq!(
            render("<p>{subject}</p>", &vars(), html),
            "<p>Re: Crash on &lt;start&gt;</p>"
        );
        let no_subject = Vars {
            subject: None,
            ..vars()
        };
        assert_eq!(
            render(DEFAULT_SUBJECT, &no_subject, plain),
            "Re: your reply"
        );
        for bad in ["{nope}", "{subject", "a } b"] {
            assert!(check(bad).is_err(), "{bad}");
        }
        check(DEFAULT_BODY).unwrap();
    }

    #[test]
    fn excerpts() {
        let cases: &[(&str, &str)] = &[
            (
                "\n\nWorks now.\n\nOn Monday, Beta wrote:\n> Does it?",
                "Works now.\n\nOn Monday, Beta wrote:",
            ),
            ("a\nb\nc\nd\ne\nf\ng", "a\nb\nc\nd\ne"),
            ("> only a quote", ""),
        ];
        for (text, want) in cases {
            assert_eq!(excerpt(text), *want, "{text:?}");
        }
        assert_eq!(excerpt(&"x".repeat(400)).chars().count(), 303);
    }
}
