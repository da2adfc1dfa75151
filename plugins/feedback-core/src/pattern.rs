//! The two configurable patterns, each with exactly one `{id}` placeholder.
//! Hand-written rather than regex: they are tiny, and this keeps the plugin
//! small.

const PLACEHOLDER: &str = "{id}";

/// Longest id a [`TextPattern`] captures. Ids are short; the bound keeps a
/// search through a long body linear.
const MAX_TEXT_ID_LEN: usize = 64;

/// Splits `pattern` around its single `{id}`.
fn split_placeholder(pattern: &str) -> Result<(&str, &str), String> {
    match pattern.split_once(PLACEHOLDER) {
        Some((before, after)) if !after.contains(PLACEHOLDER) => Ok((before, after)),
        Some(_) => Err(format!("must contain `{PLACEHOLDER}` only once")),
        None => Err(format!("must contain `{PLACEHOLDER}`")),
    }
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Star,
    Id,
}

/// A Message-ID glob such as `feedback-{id}@*.example.com`: `*` matches any
/// run of characters, `{id}` captures a non-empty run without `@`, `<`, `>`
/// or whitespace, and literal text compares ASCII case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageIdPattern {
    tokens: Vec<Token>,
}

impl MessageIdPattern {
    /// Parses a pattern; the error says what is wrong with it.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let (before, after) = split_placeholder(pattern)?;
        if pattern
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>')
        {
            return Err("must not contain whitespace or angle brackets".into());
        }
        let mut tokens = Vec::new();
        push_glob(&mut tokens, before);
        tokens.push(Token::Id);
        push_glob(&mut tokens, after);
        Ok(Self { tokens })
    }

    /// The `{id}` part of `message_id` if the whole Message-ID matches.
    /// Angle brackets and surrounding whitespace are ignored. When several
    /// splits fit, the shortest id wins.
    pub fn extract<'a>(&self, message_id: &'a str) -> Option<&'a str> {
        let id = message_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        // Real Message-IDs are far shorter; the bound keeps matching cheap.
        if id.is_empty() || id.len() > 998 {
            return None;
        }
        let mut matcher = GlobMatcher {
            tokens: &self.tokens,
            input: id.as_bytes(),
            memo: vec![None; (self.tokens.len() + 1) * (id.len() + 1)],
            capture: None,
        };
        if matcher.matches(0, 0) {
            matcher.capture.map(|(start, end)| &id[start..end])
        } else {
            None
        }
    }
}

fn push_glob(tokens: &mut Vec<Token>, glob: &str) {
    for (i, literal) in glob.split('*').enumerate() {
        if i > 0 && tokens.last() != Some(&Token::Star) {
            tokens.push(Token::Star);
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal.to_owned()));
        }
    }
}

fn is_id_byte(b: u8) -> bool {
    !(b.is_ascii_whitespace() || b == b'@' || b == b'<' || b == b'>')
}

/// Memoised backtracking over (token, position). A state that succeeds means
/// the rest of the pattern matches to the end, so the first `{id}` span that
/// succeeds is the one of the winning path and is kept in `capture`.
struct GlobMatcher<'a> {
    tokens: &'a [Token],
    input: &'a [u8],
    memo: Vec<Option<bool>>,
    capture: Option<(usize, usize)>,
}

impl GlobMatcher<'_> {
    fn matches(&mut self, token: usize, pos: usize) -> bool {
        let slot = token * (self.input.len() + 1) + pos;
        if let Some(known) = self.memo[slot] {
            return known;
        }
        let result = match self.tokens.get(token) {
            None => pos == self.input.len(),
            Some(Token::Literal(literal)) => {
                starts_with_ignore_case(&self.input[pos..], literal.as_bytes())
                    && self.matches(token + 1, pos + literal.len())
            }
            Some(Token::Star) => (pos..=self.input.len()).any(|end| self.matches(token + 1, end)),
            Some(Token::Id) if !self.is_boundary(pos) => false,
            Some(Token::Id) => {
                let mut found = false;
                let mut end = pos;
                while end < self.input.len() && is_id_byte(self.input[end]) {
                    end += 1;
                    if self.is_boundary(end) && self.matches(token + 1, end) {
                        self.capture = Some((pos, end));
                        found = true;
                        break;
                    }
                }
                found
            }
        };
        self.memo[slot] = Some(result);
        result
    }

    /// Whether `pos` falls between UTF-8 characters, so the capture can be sliced.
    fn is_boundary(&self, pos: usize) -> bool {
        self.input.get(pos).is_none_or(|&b| (b as i8) >= -0x40)
    }
}

/// A token in free text (the subject, a body marker) such as `[FB-{id}]`:
/// literal text (ASCII case-insensitive)
/// around an id of ASCII letters, digits, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextPattern {
    before: String,
    after: String,
}

impl TextPattern {
    /// Parses a pattern; the error says what is wrong with it.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let (before, after) = split_placeholder(pattern)?;
        // A bare `{id}` would match the first word of every subject.
        if before.trim().is_empty() && after.trim().is_empty() {
            return Err(format!("needs literal text around `{PLACEHOLDER}`"));
        }
        Ok(Self {
            before: before.to_owned(),
            after: after.to_owned(),
        })
    }

    /// The first occurrence in `text`, as (whole token, id).
    pub fn find<'a>(&self, text: &'a str) -> Option<(&'a str, &'a str)> {
        let bytes = text.as_bytes();
        let before = self.before.as_bytes();
        let after = self.after.as_bytes();
        // Candidates are where `before`'s first byte occurs (either case),
        // found with memchr, as this runs over whole bodies. That byte starts
        // a character, so every candidate is a char boundary.
        let candidates: Box<dyn Iterator<Item = usize>> = match before.first() {
            Some(first) => Box::new(memchr::memchr2_iter(
                first.to_ascii_lowercase(),
                first.to_ascii_uppercase(),
                bytes,
            )),
            None => Box::new((0..bytes.len()).filter(|&i| text.is_char_boundary(i))),
        };
        for start in candidates {
            if !starts_with_ignore_case(&bytes[start..], before) {
                continue;
            }
            let id_start = start + before.len();
            let id_len = bytes[id_start..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b'_')
                .take(MAX_TEXT_ID_LEN)
                .count();
            // Longest id first; shorter ones only if the suffix needs the room.
            for id_end in (id_start + 1..=id_start + id_len).rev() {
                if starts_with_ignore_case(&bytes[id_end..], after) {
                    let token_end = id_end + after.len();
                    return Some((&text[start..token_end], &text[id_start..id_end]));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_default_shape() {
        let p = MessageIdPattern::parse("feedback-{id}@*").unwrap();
        assert_eq!(
            p.extract("feedback-1043@notify.beta.example.com"),
            Some("1043")
        );
        assert_eq!(p.extract("<FEEDBACK-abc.7@x>"), Some("abc.7"));
        assert_eq!(p.extract("feedback-@x"), None);
        assert_eq!(p.extract("xfeedback-1@x"), None);
        assert_eq!(p.extract("CAF=abc@mail.gmail.com"), None);
    }

    #[test]
    fn message_id_fixed_domain_and_stars() {
        let p = MessageIdPattern::parse("feedback-{id}@notify.example.com").unwrap();
        assert_eq!(p.extract("feedback-42@notify.example.com"), Some("42"));
        assert_eq!(p.extract("feedback-42@notify.example.com.evil"), None);
        assert_eq!(p.extract("feedback-42@other.example.com"), None);

        let p = MessageIdPattern::parse("*.{id}.fb@*.example.com").unwrap();
        assert_eq!(p.extract("20260303.x9-k.fb@mx1.example.com"), Some("x9-k"));

        // Shortest id when ambiguous.
        let p = MessageIdPattern::parse("fb-{id}-*@x").unwrap();
        assert_eq!(p.extract("fb-a-b-c@x"), Some("a"));
    }

    #[test]
    fn message_id_non_ascii_stays_on_char_boundaries() {
        let p = MessageIdPattern::parse("fb-{id}*").unwrap();
        assert_eq!(p.extract("fb-é"), Some("é"));
    }

    #[test]
    fn message_id_pattern_errors() {
        assert!(MessageIdPattern::parse("feedback@x").is_err());
        assert!(MessageIdPattern::parse("{id}-{id}@x").is_err());
        assert!(MessageIdPattern::parse("<feedback-{id}@x>").is_err());
    }

    #[test]
    fn subject_token() {
        let p = TextPattern::parse("[FB-{id}]").unwrap();
        assert_eq!(
            p.find("Re: [Lumen beta] Export is slow [FB-1044]"),
            Some(("[FB-1044]", "1044"))
        );
        assert_eq!(p.find("Re: [fb-a_b-9] x"), Some(("[fb-a_b-9]", "a_b-9")));
        assert_eq!(p.find("Re: [FB-] x [FB-7]"), Some(("[FB-7]", "7")));
        assert_eq!(p.find("Re: [FB-12 ]"), None);
        assert_eq!(p.find("Ré: ünïcode [FB-5]"), Some(("[FB-5]", "5")));
    }

    #[test]
    fn subject_suffix_overlapping_id_chars() {
        let p = TextPattern::parse("#{id}-fb").unwrap();
        assert_eq!(p.find("about #12-fb now"), Some(("#12-fb", "12")));
        let p = TextPattern::parse("FB-{id}").unwrap();
        assert_eq!(p.find("Re: FB-77 crash"), Some(("FB-77", "77")));
        // The first byte is looked for in either case, non-ASCII text around.
        assert_eq!(p.find("é ff fx fB-8 ü"), Some(("fB-8", "8")));
        assert_eq!(p.find("é ff fx fB- ü"), None);
    }

    #[test]
    fn text_pattern_with_nothing_before_the_id() {
        let p = TextPattern::parse("{id}@fb").unwrap();
        assert_eq!(p.find("ü see 42@FB."), Some(("42@FB", "42")));
        assert_eq!(p.find("ü@fb"), None);
    }

    #[test]
    fn subject_pattern_errors() {
        assert!(TextPattern::parse("[FB]").is_err());
        assert!(TextPattern::parse("{id}").is_err());
        assert!(TextPattern::parse("[{id}{id}]").is_err());
    }
}
