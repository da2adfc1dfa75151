//! The reference mapper on public reply-trimming fixture sets kept outside
//! the repository: `just quality-external DIR`, which runs
//! `POPLINE_EXTERNAL_DIR=DIR cargo test --test all quality_external -- --ignored --nocapture`.
//!
//! `DIR` holds one folder per source (e.g. a repository fetched and
//! extracted there); nothing from those sets is committed here. Each message
//! goes through the host's MIME parsing and the built `feedback-default`
//! plugin, as ingestion and `just quality` run them (the reference mapper is
//! the plugin, not `feedback-core` alone). A plain-text fixture is wrapped in
//! a minimal UTF-8 message first.
//!
//! Layouts understood, per source folder:
//! - `…/emails/X.txt` (or `.eml`) with `…/trimmed/X.txt`: the expected text;
//! - `X.eml` with `X_reply_text` beside it;
//! - JSON expectation files: a list of objects, or an object of objects,
//!   each naming a fixture (`file`, `email`, `fixture`, `path`, `input` or
//!   `name`) and its expected text (`expected`, `reply`, `trimmed`,
//!   `visible_text` or `text`); or an object mapping a fixture's file name to
//!   its expected text;
//! - the expectations written in those projects' test files (JavaScript,
//!   Ruby, Python): an equality between a string literal (or a constant
//!   holding one) and the visible reply of the fixture the test loaded gives
//!   an exact label; `include`/`in`, `not include`/`not in`,
//!   `startswith`/`endswith` and plain-text `assert_match(/…/)` or
//!   `/…/.test(…)` assertions on the reply give constraints. The github
//!   parser and its ports cut a reply into fragments, flagged hidden or
//!   quoted, and the visible reply is the visible fragments joined: an
//!   equality on `fragments[0]` is the visible reply when the test's flags
//!   say every other fragment is hidden (or, with no flags, unless the test
//!   walks the fragments one by one); a test saying there is one fragment
//!   makes the whole plain-text fixture the visible reply; a containment on
//!   a visible, unquoted fragment is a constraint on the reply.
//!
//! `POPLINE_EXTERNAL_MAPPER=FILE.wasm` scores another mapper component
//! instead of the one built from `plugins/feedback-default`.
//!
//! YAML expectation files are not read yet (the scorer reports how many it
//! saw).
//!
//! popline's documented semantics win where a source labels differently:
//! mobile footers ("Sent from my iPhone"...; not a line that goes on as a
//! sentence, a clause after a comma and a full stop) and a `-- ` signature are
//! removed from the expected text before comparing; a dash sign-off
//! (`-Dana`, `-- Dana`) that the plain-text fixture has right under the labelled text,
//! which the github parser and its ports count as a signature, is added to
//! it (popline keeps the tester's sign-off; only `-- ` starts a signature);
//! a reply a source expects to end with the tester's sign-off may also end
//! with the unquoted lines the plain-text fixture has under it, up to the
//! first quote, reply header or separator line (popline keeps what the
//! tester wrote below a closing such as "Yours sincerely,", having no
//! `-- ` to cut at); and a containment constraint asking for a quoted line or the reply header
//! above it is not checked (popline keeps inline answers, not the quotes
//! they answer). Comparison ignores line endings, trailing spaces and blank
//! lines at either end. Other differences count as misses.
//!
//! Files are split into a development half and a check half by a fixed hash
//! (FNV-1a) of their path inside the source. Only development misses are
//! printed (`POPLINE_EXTERNAL_SHOW=all` prints both), so fixes are made
//! against one half and the other measures how well they generalise.
//!
//! `POPLINE_EXTERNAL_SHOW=unlabelled-dev` also prints what the mapper made of
//! each message file that has no label, development half only (the same
//! split): path, `body_text`, whether text was elided and whether it was
//! taken as a forward, to be read against the documented trimming rules.
//! `POPLINE_EXTERNAL_ONLY=NAME,…` limits the run to sources whose folder
//! name contains one of the names.
//!
//! Every `.eml` without a label is mapped too: it must map or skip with a
//! reason, never fail, and never give an empty body when the message had
//! text (the bad-input check for the malformed-MIME collections).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use popline_mime as mime;
use popline_plugin_runtime::mapper::{MapOutcome, MapperInput, wit};
use popline_plugin_runtime::{Limits, MapperPlugin};
use regex::Regex;
use serde_json::Value;

use crate::support;

#[derive(Debug, Clone, Default)]
struct Expect {
    exact: Option<String>,
    include: Vec<String>,
    exclude: Vec<String>,
    /// The reply starts / ends with these (Python `startswith`/`endswith`).
    prefix: Vec<String>,
    suffix: Vec<String>,
}

impl Expect {
    fn is_empty(&self) -> bool {
        self.exact.is_none()
            && self.include.is_empty()
            && self.exclude.is_empty()
            && self.prefix.is_empty()
            && self.suffix.is_empty()
    }
}

/// FNV-1a, fixed here so the halves never move.
fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn half(rel: &str) -> &'static str {
    if fnv1a(rel).is_multiple_of(2) {
        "dev"
    } else {
        "check"
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with('.') || name == "node_modules" {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn ext(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

fn is_message_file(path: &Path) -> bool {
    matches!(ext(path).as_str(), "txt" | "eml")
}

// ---------------------------------------------------------------------------
// String literals in test code

/// Parses one string literal (or adjacent/`+`-joined literals, or a known
/// constant) at the start of `s`: `'…'`, `"…"`, Python triple quotes, JS
/// backslash-newline continuations. Returns the value and the bytes used.
fn parse_literal(s: &str, consts: &HashMap<String, String>) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut at = 0;
    let mut any = false;
    loop {
        let rest = &s[at..];
        let skipped = rest.len() - rest.trim_start().len();
        let rest = rest.trim_start();
        if any {
            // Another piece only after `+` or directly adjacent (Python).
            if let Some(after) = rest.strip_prefix('+') {
                let inner = after.len() - after.trim_start().len();
                let piece = parse_piece(after.trim_start(), consts)?;
                value.push_str(&piece.0);
                at += skipped + 1 + inner + piece.1;
                continue;
            }
            if rest.starts_with(['"', '\''])
                && let Some(piece) = parse_piece(rest, consts)
            {
                value.push_str(&piece.0);
                at += skipped + piece.1;
                continue;
            }
            return Some((value, at));
        }
        let piece = parse_piece(rest, consts)?;
        value.push_str(&piece.0);
        at += skipped + piece.1;
        any = true;
    }
}

fn parse_piece(s: &str, consts: &HashMap<String, String>) -> Option<(String, usize)> {
    let first = s.chars().next()?;
    if first.is_ascii_uppercase() || first == '_' {
        let len = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        return consts.get(&s[..len]).map(|v| (v.clone(), len));
    }
    let (quote, open) = if s.starts_with("\"\"\"") {
        ("\"\"\"", 3)
    } else if s.starts_with("'''") {
        ("'''", 3)
    } else if first == '"' {
        ("\"", 1)
    } else if first == '\'' {
        ("'", 1)
    } else {
        return None;
    };
    let mut out = String::new();
    let body = &s[open..];
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if body[i..].starts_with(quote) {
            return Some((out, open + i + quote.len()));
        }
        if c == '\\' {
            let (_, e) = chars.next()?;
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                '\n' => {}
                'u' => {
                    let hex: String = (0..4).filter_map(|_| chars.next().map(|x| x.1)).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// `NAME = '…'` constants (JS `const`/`let`/`var`, Python, Ruby).
fn constants(code: &str) -> HashMap<String, String> {
    let re = Regex::new(r"(?m)^\s*(?:const |let |var )?([A-Z][A-Z0-9_]+)\s*=\s*").unwrap();
    let mut consts = HashMap::new();
    for m in re.captures_iter(code) {
        let end = m.get(0).unwrap().end();
        if let Some((value, _)) = parse_literal(&code[end..], &consts) {
            consts.insert(m[1].to_owned(), value);
        }
    }
    consts
}

/// What one assertion in a test file says about a fixture's reply.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Says {
    Exact,
    Prefix,
    Suffix,
    Include,
    Exclude,
}

/// What an assertion is about.
#[derive(Debug, Clone, PartialEq)]
enum About {
    /// The visible reply (`parse_reply(…)`, `visible_text`, `.reply`…).
    Reply,
    /// One fragment of the reply (`fragments[k]`), the way the github
    /// parser and its ports cut it: fragments are visible or hidden, quoted
    /// or not, and the visible reply is the visible ones joined.
    Fragment(usize),
    /// A Python variable, resolved through its last assignment.
    Var(String),
}

/// What an assertion form's match says, and about what (`None`: read from
/// the expression after the value).
type Meaning = fn(&regex::Captures) -> (Says, Option<About>);

struct Assertion {
    at: usize,
    says: Says,
    value: String,
    about: About,
}

/// What a test states about the fragments of its fixture: the `hidden` and
/// `quoted` flags (`[false, true, true], reply.fragments.map { |f|
/// f.hidden? }`, `[f.hidden for f in message.fragments]`) and their number.
#[derive(Debug, Default)]
struct FragmentFacts {
    hidden: Option<Vec<bool>>,
    quoted: Option<Vec<bool>>,
    count: Option<usize>,
}

impl FragmentFacts {
    /// Fragment `k` is visible, unquoted text of the tester's. Without flags,
    /// only the first fragment is taken for it (the ports keep the top
    /// visible), unless it is said to be quoted.
    fn visible_text(&self, k: usize) -> bool {
        let flag = |list: &Option<Vec<bool>>| list.as_ref().and_then(|l| l.get(k).copied());
        match (flag(&self.hidden), flag(&self.quoted)) {
            (Some(hidden), quoted) => !hidden && quoted != Some(true),
            (None, quoted) => k == 0 && quoted != Some(true),
        }
    }

    /// Fragment `k` is the whole visible reply: the flags say every other
    /// fragment is hidden (or there is one fragment).
    fn is_whole_reply(&self, k: usize) -> Option<bool> {
        if self.count == Some(1) {
            return Some(k == 0);
        }
        let hidden = self.hidden.as_ref()?;
        Some(
            hidden
                .iter()
                .enumerate()
                .all(|(j, &h)| if j == k { !h } else { h }),
        )
    }
}

/// The text a JavaScript or Ruby regular expression literal (`/…/`) matches,
/// when it is plain text (an optional `^`, escaped punctuation): `(text,
/// anchored)`. Anything with other regular-expression syntax is `None`.
fn regex_literal(s: &str) -> Option<(String, bool, usize)> {
    let body = s.strip_prefix('/')?;
    let (anchored, body, skip) = match body.strip_prefix('^') {
        Some(rest) => (true, rest, 2),
        None => (false, body, 1),
    };
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '/' => return (!out.is_empty()).then_some((out, anchored, skip + i + 1)),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                e if e.is_ascii_punctuation() => out.push(e),
                _ => return None,
            },
            '.' | '*' | '+' | '?' | '[' | ']' | '(' | ')' | '{' | '}' | '|' | '$' | '^' => {
                return None;
            }
            '\n' => return None,
            c => out.push(c),
        }
    }
    None
}

/// Labels read from one test file, keyed by fixture stem. `whole` lists the
/// fixtures a test says are one visible fragment: their label is the whole
/// text, read by the caller.
fn labels_from_test_code(
    code: &str,
    labels: &mut BTreeMap<String, Expect>,
    whole: &mut Vec<String>,
) {
    let consts = constants(code);
    // Where each test starts (the loaded fixture is forgotten there), where a
    // fixture is loaded, and the assertions.
    let test_start = Regex::new(r"(?m)^\s*(?:export\s+)?(?:async\s+)?(?:function|def)\s").unwrap();
    let fixture = Regex::new(
        r#"(?:get_email|load_email|email)\s*\(?\s*(?::(\w+)|['"](?:[^'"]*/)?([\w.\-]+?)(?:\.txt|\.eml)?['"])|['"](?:[^'"]*/)?([\w.\-]+)\.(?:txt|eml)['"]"#,
    )
    .unwrap();
    let mut starts: Vec<usize> = test_start.find_iter(code).map(|m| m.start()).collect();
    starts.push(code.len());
    let block = |at: usize| -> (usize, usize) {
        let start = starts
            .iter()
            .copied()
            .filter(|&p| p <= at)
            .max()
            .unwrap_or(0);
        let end = starts
            .iter()
            .copied()
            .find(|&p| p > at)
            .unwrap_or(code.len());
        (start, end)
    };
    let mut names: BTreeMap<usize, String> = BTreeMap::new();
    for c in fixture.captures_iter(code) {
        let name = (1..=3).find_map(|i| c.get(i)).unwrap().as_str().to_owned();
        names.insert(c.get(0).unwrap().start(), name);
    }
    let current = |at: usize| -> Option<String> {
        names
            .range(block(at).0..at)
            .next_back()
            .map(|(_, name)| name.clone())
    };

    // Fragment flags and counts, per test.
    let flags = Regex::new(
        r"(?i)\[((?:\s*(?:true|false)\s*,?)+)\]\s*,\s*(?:\w+\.fragments\.map\s*\{\s*\|\w+\|\s*\w+\.(hidden|quoted)\?\s*\}|\[\s*\w+\.(hidden|quoted)\s+for\s+\w+\s+in\s+\w+\.fragments\s*\])",
    )
    .unwrap();
    let count = Regex::new(
        r"(?:assert_equal|assertEqual|test\.equal|test\.strictEqual)\s*\(?\s*(\d+)\s*,\s*(?:\w+\.fragments\.(?:size|length|count)\b|fragments\.length\b|len\(\s*\w+\.fragments\s*\))",
    )
    .unwrap();
    let mut facts: BTreeMap<usize, FragmentFacts> = BTreeMap::new();
    for c in flags.captures_iter(code) {
        let list: Vec<bool> = c[1]
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.eq_ignore_ascii_case("true"))
            .collect();
        let f = facts.entry(block(c.get(0).unwrap().start()).0).or_default();
        if c.get(2).or(c.get(3)).unwrap().as_str() == "hidden" {
            f.hidden = Some(list);
        } else {
            f.quoted = Some(list);
        }
    }
    for c in count.captures_iter(code) {
        let at = c.get(0).unwrap().start();
        if let Ok(n) = c[1].parse() {
            facts.entry(block(at).0).or_default().count = Some(n);
            if n == 1
                && let Some(name) = current(at)
            {
                whole.push(name);
            }
        }
    }

    // Every assertion form, each giving what it says, about what, and the
    // value (a string literal, a constant, or a plain regular expression).
    let fragment_index = Regex::new(r"[Ff]ragments(?:\(\))?\[(\d+)\]").unwrap();
    let about_expr = |expr: &str| -> Option<About> {
        if let Some(c) = fragment_index.captures(expr) {
            return c[1].parse().ok().map(About::Fragment);
        }
        (expr.contains("getVisibleText")
            || expr.contains("visible_text")
            || expr.contains("parse_reply")
            || expr.contains(".reply"))
        .then_some(About::Reply)
    };
    let forms: [(&str, Meaning); 7] = [
        // `assert_equal "…", reply.fragments[0].to_s`, `test.equal(X, …)`.
        (
            r"(?:test\.equal|assertEqual|assert_equal|test\.strictEqual)\s*\(?\s*",
            |_| (Says::Exact, None),
        ),
        // `assertEqual(message.reply.strip(), '…')`.
        (r"assertEqual\(\s*\w+\.reply(?:\.strip\(\))?\s*,\s*", |_| {
            (Says::Exact, Some(About::Reply))
        }),
        // RSpec `is_expected.to eq "…"` on the reply.
        (r"is_expected\.to\s+eq\s+", |_| {
            (Says::Exact, Some(About::Reply))
        }),
        // `assert body == '…'`, `assert body.startswith('…')`.
        (r"assert\s+(\w+)(?:\.strip\(\))?\s*==\s*", |c| {
            (Says::Exact, Some(About::Var(c[1].to_owned())))
        }),
        (
            r"assert\s+(\w+)(?:\.strip\(\))?\.(startswith|endswith)\(\s*",
            |c| {
                let says = if &c[2] == "startswith" {
                    Says::Prefix
                } else {
                    Says::Suffix
                };
                (says, Some(About::Var(c[1].to_owned())))
            },
        ),
        // RSpec `expect(subject).to include "…"`.
        (r"expect\(subject\)\.(to|not_to|to_not)\s+include\s+", |c| {
            let says = if &c[1] == "to" {
                Says::Include
            } else {
                Says::Exclude
            };
            (says, Some(About::Reply))
        }),
        // `assertTrue("…" in …)`, `assert '…' not in …`, Ruby
        // `assert_match(/…/, …)`, JavaScript `test.equal(true, /…/.test(…))`.
        (
            r"assert_match\s*\(?\s*|assert(?:True)?\(?\s*|test\.equal\(\s*true\s*,\s*",
            |_| (Says::Include, None),
        ),
    ];
    let mut assertions: Vec<Assertion> = Vec::new();
    for (pattern, meaning) in forms {
        let re = Regex::new(pattern).unwrap();
        for c in re.captures_iter(code) {
            let m = c.get(0).unwrap();
            let (mut says, about) = meaning(&c);
            let rest = &code[m.end()..];
            // The value: a literal, or a plain regular expression (only
            // where the form takes one).
            let is_match = m.as_str().contains("match") || m.as_str().contains("true");
            let (value, used, anchored) = match parse_literal(rest, &consts) {
                Some((v, used)) => (v, used, false),
                None if is_match => match regex_literal(rest) {
                    Some((v, anchored, used)) => (v, used, anchored),
                    None => continue,
                },
                None => continue,
            };
            let after = rest[used..].trim_start();
            let about = match about {
                Some(about) => about,
                None => {
                    // Then `, expr`, `.test(expr)`, `in expr` or `not in expr`.
                    let (negated, expr) = if let Some(e) = after.strip_prefix(',') {
                        (false, e)
                    } else if let Some(e) = after.strip_prefix(".test(") {
                        (false, e)
                    } else if let Some(e) = after.strip_prefix("not in ") {
                        (true, e)
                    } else if let Some(e) = after.strip_prefix("in ") {
                        (false, e)
                    } else {
                        continue;
                    };
                    if says == Says::Include && negated {
                        says = Says::Exclude;
                    }
                    // Equality forms take `,` only; containment forms take
                    // the others (and `assert_match "…", expr`).
                    let comma = after.starts_with(',');
                    if says == Says::Exact && !comma {
                        continue;
                    }
                    if says == Says::Include && comma && !m.as_str().contains("match") {
                        continue;
                    }
                    let expr: String = expr
                        .chars()
                        .take_while(|&c| c != '\n' && c != ';')
                        .collect();
                    match about_expr(&expr) {
                        Some(about) => about,
                        None => continue,
                    }
                }
            };
            if anchored {
                says = Says::Prefix;
            }
            // RSpec's `eq` on an address is about the sender, not the reply.
            if pattern.starts_with("is_expected") && value.contains('@') {
                continue;
            }
            assertions.push(Assertion {
                at: m.start(),
                says,
                value,
                about,
            });
        }
    }

    // The fixture a Python variable holds the reply of: `body =
    // cut(first_message.text…)` after `first_message = self.get_email('x')`,
    // when the variable was last assigned the reply (`parse_reply(…)` or a
    // cut that keeps the signature).
    let assign = Regex::new(r"(?m)^\s*(\w+)\s*=\s*(.*)$").unwrap();
    let text_of = Regex::new(r"(\w+)\.text\b").unwrap();
    let fixture_of = |assigned: &str, at: usize| -> Option<String> {
        let holder = text_of.captures(assigned)?.get(1)?.as_str().to_owned();
        let load = assign
            .captures_iter(&code[..at])
            .filter(|a| a[1] == *holder)
            .last()?;
        let c = fixture.captures(load.get(2)?.as_str())?;
        (1..=3)
            .find_map(|i| c.get(i))
            .map(|m| m.as_str().to_owned())
    };
    let empty = FragmentFacts::default();
    for a in assertions {
        let (name, says) = match &a.about {
            About::Reply => (current(a.at), a.says),
            About::Var(var) => {
                let last = assign
                    .captures_iter(&code[..a.at])
                    .filter(|c| &c[1] == var)
                    .last();
                let Some(c) = last else { continue };
                if !(c[2].contains("parse_reply") || c[2].contains("include=True")) {
                    continue;
                }
                let at = c.get(0).unwrap().start();
                (fixture_of(&c[2], at).or_else(|| current(a.at)), a.says)
            }
            &About::Fragment(k) => {
                let (start, end) = block(a.at);
                let f = facts.get(&start).unwrap_or(&empty);
                let says = match a.says {
                    // `fragments[0]` equal to a text is the visible reply
                    // when the flags say the rest is hidden; with no flags,
                    // unless the test walks a bottom-posted reply fragment
                    // by fragment (`fragments[2]`...).
                    Says::Exact if k == 0 => match f.is_whole_reply(0) {
                        Some(true) => Says::Exact,
                        Some(false) => Says::Include,
                        None if code[start..end].contains("fragments[2]") => continue,
                        None => Says::Exact,
                    },
                    Says::Exact | Says::Include => Says::Include,
                    // A prefix of the first visible fragment is the reply's.
                    Says::Prefix if k == 0 => Says::Prefix,
                    Says::Prefix => Says::Include,
                    _ => continue,
                };
                if !f.visible_text(k) {
                    continue;
                }
                (current(a.at), says)
            }
        };
        let Some(name) = name else { continue };
        let e = labels.entry(name).or_default();
        match says {
            Says::Exact => {
                e.exact.get_or_insert(a.value);
            }
            Says::Prefix => e.prefix.push(a.value),
            Says::Suffix => e.suffix.push(a.value),
            Says::Include => e.include.push(a.value),
            Says::Exclude => e.exclude.push(a.value),
        }
    }
}

// ---------------------------------------------------------------------------
// Discovery

struct Case {
    /// Path inside the source.
    rel: String,
    path: PathBuf,
    expect: Expect,
}

struct Source {
    name: String,
    cases: Vec<Case>,
    /// `.eml` files with no label: mapped for the bad-input check.
    unlabelled: Vec<PathBuf>,
    /// Every message file (`.txt` or `.eml`) with no label.
    unlabelled_messages: Vec<PathBuf>,
    yaml_files: usize,
}

fn json_str(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_owned))
}

fn discover(root: &Path, name: &str) -> Source {
    let mut files = Vec::new();
    walk(root, &mut files);
    let rel = |p: &Path| p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
    // Fixture files by stem and by file name, preferring test folders.
    let mut by_stem: HashMap<String, PathBuf> = HashMap::new();
    for f in files.iter().filter(|f| is_message_file(f)) {
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        let in_tests = rel(f).contains("test") || rel(f).contains("spec");
        match by_stem.get(&stem) {
            Some(prev) if rel(prev).contains("test") || rel(prev).contains("spec") || !in_tests => {
            }
            _ => {
                by_stem.insert(stem, f.clone());
            }
        }
    }
    let mut labels: BTreeMap<PathBuf, Expect> = BTreeMap::new();
    let mut yaml_files = 0;

    for f in &files {
        let components: Vec<_> = f.components().collect();
        // emails/X with trimmed/X.
        if is_message_file(f)
            && let Some(pos) = components.iter().rposition(|c| c.as_os_str() == "emails")
        {
            let mut trimmed: PathBuf = components[..pos].iter().collect();
            trimmed.push("trimmed");
            for c in &components[pos + 1..] {
                trimmed.push(c);
            }
            let candidates = [trimmed.clone(), trimmed.with_extension("txt")];
            if let Some(t) = candidates.iter().find(|t| t.is_file()) {
                labels.entry(f.clone()).or_default().exact =
                    Some(String::from_utf8_lossy(&std::fs::read(t).unwrap()).into_owned());
            }
        }
        // X.eml with X_reply_text.
        if ext(f) == "eml" {
            let stem = f.file_stem().unwrap().to_string_lossy();
            let reply = f.with_file_name(format!("{stem}_reply_text"));
            if reply.is_file() {
                labels.entry(f.clone()).or_default().exact =
                    Some(String::from_utf8_lossy(&std::fs::read(&reply).unwrap()).into_owned());
            }
        }
        match ext(f).as_str() {
            "yml" | "yaml" => yaml_files += 1,
            "json" => {
                let Ok(text) = std::fs::read_to_string(f) else {
                    continue;
                };
                let Ok(json) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let dir = f.parent().unwrap();
                let resolve = |name: &str| -> Option<PathBuf> {
                    [dir.join(name), root.join(name)]
                        .into_iter()
                        .find(|p| p.is_file() && is_message_file(p))
                        .or_else(|| {
                            let stem = Path::new(name).file_stem()?.to_string_lossy().into_owned();
                            by_stem.get(&stem).cloned()
                        })
                };
                let entries: Vec<(Option<String>, &Value)> = match &json {
                    Value::Array(items) => items.iter().map(|v| (None, v)).collect(),
                    Value::Object(map) => map.iter().map(|(k, v)| (Some(k.clone()), v)).collect(),
                    _ => Vec::new(),
                };
                for (key, value) in entries {
                    let (fixture, expected) = match value {
                        Value::String(s) => (key, Some(s.clone())),
                        Value::Object(_) => (
                            json_str(
                                value,
                                &["file", "email", "fixture", "path", "input", "name"],
                            )
                            .or(key),
                            json_str(
                                value,
                                &["expected", "reply", "trimmed", "visible_text", "text"],
                            ),
                        ),
                        _ => (None, None),
                    };
                    if let (Some(fixture), Some(expected)) = (fixture, expected)
                        && let Some(path) = resolve(&fixture)
                    {
                        labels
                            .entry(path)
                            .or_default()
                            .exact
                            .get_or_insert(expected);
                    }
                }
            }
            "js" | "rb" | "py" | "ts" => {
                let file_name = f.file_name().unwrap().to_string_lossy();
                if !(file_name.contains("test") || file_name.contains("spec")) {
                    continue;
                }
                let Ok(code) = std::fs::read_to_string(f) else {
                    continue;
                };
                let mut by_name = BTreeMap::new();
                let mut whole = Vec::new();
                labels_from_test_code(&code, &mut by_name, &mut whole);
                // One fragment: the whole plain-text fixture is the reply.
                for fixture in whole {
                    let stem = Path::new(&fixture)
                        .file_stem()
                        .map_or(fixture.clone(), |s| s.to_string_lossy().into_owned());
                    if let Some(path) = by_stem.get(&stem).filter(|p| ext(p) == "txt") {
                        by_name
                            .entry(fixture)
                            .or_default()
                            .exact
                            .get_or_insert_with(|| {
                                String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
                            });
                    }
                }
                for (fixture, expect) in by_name {
                    let stem = Path::new(&fixture)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or(fixture);
                    if let Some(path) = by_stem.get(&stem) {
                        let e = labels.entry(path.clone()).or_default();
                        if e.exact.is_none() {
                            e.exact = expect.exact;
                        }
                        e.include.extend(expect.include);
                        e.exclude.extend(expect.exclude);
                        e.prefix.extend(expect.prefix);
                        e.suffix.extend(expect.suffix);
                    }
                }
            }
            _ => {}
        }
    }
    let cases: Vec<Case> = labels
        .into_iter()
        .filter(|(_, e)| !e.is_empty())
        .map(|(path, expect)| Case {
            rel: rel(&path),
            path,
            expect,
        })
        .collect();
    let unlabelled = files
        .iter()
        .filter(|f| ext(f) == "eml" && !cases.iter().any(|c| &c.path == *f))
        .cloned()
        .collect();
    let unlabelled_messages = files
        .iter()
        .filter(|f| is_message_file(f) && !cases.iter().any(|c| &c.path == *f))
        .cloned()
        .collect();
    Source {
        name: name.to_owned(),
        cases,
        unlabelled,
        unlabelled_messages,
        yaml_files,
    }
}

// ---------------------------------------------------------------------------
// popline's rules and comparison

/// A footer-like line popline keeps: a clause after a comma and a final full
/// stop, unless that clause is the footer's own apology ("…, please excuse
/// typos.").
fn goes_on_as_sentence(line: &str) -> bool {
    const APOLOGIES: &[&str] = &[
        "please",
        "excuse",
        "sorry",
        "pardon",
        "bitte",
        "entschuldig",
    ];
    line.split_once(", ").is_some_and(|(_, rest)| {
        let rest = rest.trim_start().to_lowercase();
        line.trim_end().ends_with(['.', '!', '?']) && !APOLOGIES.iter().any(|a| rest.starts_with(a))
    })
}

/// Mobile footer starts popline removes (see `feedback-core`'s quote
/// module); a label that keeps one is corrected to popline's rule.
const FOOTERS: [&str; 12] = [
    "sent from my ",
    "sent from ",
    "get outlook for ",
    "von meinem ",
    "gesendet von ",
    "envoyé de mon ",
    "envoyé depuis ",
    "enviado desde mi ",
    "enviado do meu ",
    "inviato da ",
    "verstuurd vanaf ",
    "skickat från ",
];

fn normalize(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let start = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |e| e + 1);
    lines[start..end].join("\n")
}

/// A dash sign-off on a line of its own: `-Dana`, `- Dana Whitfield`,
/// `--Dana`, `-- Dana` (a name after the dashes: not the bare `-- ` that
/// starts a signature).
fn is_dash_signoff(line: &str) -> bool {
    let line = line.trim();
    let Some(name) = line.strip_prefix("--").or_else(|| line.strip_prefix('-')) else {
        return false;
    };
    let name = name.trim_start();
    name.chars().next().is_some_and(char::is_alphabetic)
        && name.split_whitespace().count() <= 3
        && name
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, ' ' | '.' | '\'' | '-'))
}

/// The expected text under popline's documented rules: no `-- ` signature
/// (nor its iOS form, an em dash),
/// no trailing mobile footers, and the tester's dash sign-off kept. A source
/// that counts a `-Dana` line right under the text as a signature hides it;
/// popline keeps a sign-off (only `-- ` starts a signature), so when the
/// plain-text `fixture` shows one there, it is part of the expected text.
fn by_popline_rules(expected: &str, fixture: Option<&str>) -> String {
    let text = with_signoff(&normalize(expected), fixture);
    without_signature_and_footers(&text)
}

fn with_signoff(text: &str, fixture: Option<&str>) -> String {
    let Some(fixture) = fixture.map(normalize) else {
        return text.to_owned();
    };
    if text.is_empty() {
        return text.to_owned();
    }
    let Some(at) = fixture.find(text) else {
        return text.to_owned();
    };
    let end = at + text.len();
    let mut rest = fixture[end..].lines();
    // Only at a line end, then blank lines, the sign-off, and a blank line or
    // the end.
    if !(fixture[end..].starts_with('\n') || end == fixture.len()) {
        return text.to_owned();
    }
    rest.next();
    let mut extra = Vec::new();
    for line in rest.by_ref() {
        if line.trim().is_empty() {
            extra.push(line);
            continue;
        }
        if is_dash_signoff(line) {
            extra.push(line);
            break;
        }
        return text.to_owned();
    }
    match (extra.last(), rest.next()) {
        (Some(last), next) if is_dash_signoff(last) && next.is_none_or(|l| l.trim().is_empty()) => {
            normalize(&format!("{text}\n{}", extra.join("\n")))
        }
        _ => text.to_owned(),
    }
}

fn without_signature_and_footers(expected: &str) -> String {
    let text = normalize(expected);
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(sig) = lines
        .iter()
        .position(|l| matches!(l.trim_end(), "--" | "\u{2014}"))
    {
        lines.truncate(sig);
    }
    loop {
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        match lines.last() {
            // A line that goes on as a sentence after a comma and ends
            // with a full stop is the tester's, as popline keeps it.
            Some(l)
                if l.chars().count() <= 90
                    && !goes_on_as_sentence(l)
                    && FOOTERS
                        .iter()
                        .any(|f| l.trim().to_lowercase().starts_with(f)) =>
            {
                lines.pop();
            }
            _ => break,
        }
    }
    normalize(&lines.join("\n"))
}

/// The end a source's `endswith` on the tester's sign-off takes under
/// popline's rules. Some sources cut a reply after a closing such as
/// "Yours sincerely," and the name under it, dropping the lines the tester
/// wrote below; popline keeps them (only `-- ` starts a signature). So when
/// the plain-text `fixture` goes on below `suffix` (which ends a line) with
/// unquoted text, the reply may end with `suffix` and that text instead, up
/// to the first quoted line, reply header or separator line, without a `-- `
/// signature and mobile footers. `None` when nothing follows.
fn under_signoff(suffix: &str, fixture: Option<&str>) -> Option<String> {
    let fixture = normalize(fixture?);
    let at = fixture.find(suffix)? + suffix.len();
    if !fixture[at..].starts_with('\n') {
        return None;
    }
    let mut rest = Vec::new();
    for line in fixture[at..].lines().skip(1) {
        let t = line.trim();
        if is_quote_or_header(t)
            || (t.len() >= 5 && t.chars().all(|c| matches!(c, '-' | '_' | '=')))
        {
            break;
        }
        rest.push(line);
    }
    if rest.iter().all(|l| l.trim().is_empty()) {
        return None;
    }
    let text = without_signature_and_footers(&format!("{suffix}\n{}", rest.join("\n")));
    (text != suffix).then_some(text)
}

/// A quoted line or a reply header ("On … wrote:"), which popline removes
/// by its documented rules even where a source keeps them.
fn is_quote_or_header(text: &str) -> bool {
    let text = text.trim();
    let lower = text.to_lowercase();
    text.starts_with('>')
        || (["wrote", "schrieb", "a écrit", "escribió"]
            .iter()
            .any(|v| lower.contains(v))
            && (text.ends_with(':') || lower.starts_with("on ") || lower.starts_with("am ")))
}

/// A plain-text fixture as a message: UTF-8, matched by `In-Reply-To`.
fn wrap(text: &[u8]) -> Vec<u8> {
    let body = String::from_utf8_lossy(text)
        .replace("\r\n", "\n")
        .replace('\n', "\r\n");
    let mut raw = String::from(
        "From: Tester <tester@example.org>\r\n\
         To: replies@beta.example.com\r\n\
         Subject: Re: feedback\r\n\
         Message-ID: <external-fixture@example.org>\r\n\
         In-Reply-To: <feedback-FB-1@notify.beta.example.com>\r\n\
         Date: Tue, 10 Mar 2026 12:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n",
    );
    raw.push_str(&body);
    raw.into_bytes()
}

/// A fixture file as raw message bytes: `.eml` as is, text wrapped (a text
/// file that starts with header fields is taken as a message too).
fn raw_message(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let looks_like_message = {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2000)]);
        let first = head.lines().next().unwrap_or("");
        let header = Regex::new(r"^(?:Return-Path|Received|From|Delivered-To|Message-ID|MIME-Version|Date|X-[\w-]+|Content-Type):\s").unwrap();
        header.is_match(first) && head.contains("\n\n")
            || header.is_match(first) && head.contains("\r\n\r\n")
    };
    if ext(path) == "eml" || looks_like_message {
        bytes
    } else {
        wrap(&bytes)
    }
}

enum Mapped {
    Body {
        body: String,
        had_text: bool,
        elided: bool,
        forwarded: bool,
    },
    Skip(String),
    Failed(String),
}

async fn map(
    mapper: &MapperPlugin,
    raw: &[u8],
    ctx: &wit::Context,
    config: &[(String, String)],
) -> Mapped {
    let parsed = match mime::parse(raw) {
        Ok(p) => p,
        Err(e) => return Mapped::Skip(format!("host could not parse: {e}")),
    };
    let had_text = parsed
        .email
        .text_body
        .as_deref()
        .is_some_and(|t| !t.trim().is_empty())
        || parsed
            .email
            .html_body
            .as_deref()
            .is_some_and(|h| !popline_html_text_is_empty(h));
    match mapper
        .map(MapperInput {
            email: &parsed.email,
            attachments: parsed.attachments.clone(),
            context: ctx,
            config,
        })
        .await
    {
        Ok(MapOutcome::Feedback(list)) => {
            let first = list.first();
            Mapped::Body {
                body: first.map(|f| f.body_text.clone()).unwrap_or_default(),
                had_text,
                elided: first
                    .and_then(|f| f.elided_text.as_deref())
                    .is_some_and(|e| !e.trim().is_empty()),
                forwarded: first.is_some_and(|f| {
                    f.fields
                        .iter()
                        .any(|(k, v)| k == "forwarded" && v == "true")
                }),
            }
        }
        Ok(MapOutcome::Skip(reason)) => Mapped::Skip(reason),
        Err(e) => Mapped::Failed(e.to_string()),
    }
}

/// Whether an HTML body has no visible text (tags, entities of spaces).
fn popline_html_text_is_empty(html: &str) -> bool {
    let tags =
        Regex::new(r"(?s)<style.*?</style>|<script.*?</script>|<[^>]*>|&nbsp;|&#160;").unwrap();
    tags.replace_all(html, "").trim().is_empty()
}

#[derive(Default, Clone, Copy)]
struct Rate {
    n: usize,
    ok: usize,
}

impl Rate {
    fn add(&mut self, ok: bool) {
        self.n += 1;
        self.ok += usize::from(ok);
    }
    fn show(self) -> String {
        if self.n == 0 {
            "-".into()
        } else {
            format!(
                "{}/{} {:.1}%",
                self.ok,
                self.n,
                100.0 * self.ok as f64 / self.n as f64
            )
        }
    }
}

#[derive(Default)]
struct SourceTally {
    exact: [Rate; 2],
    constraints: [Rate; 2],
    empty_bodies: usize,
    unlabelled_mapped: usize,
    unlabelled_skipped: usize,
    unlabelled_failed: usize,
    unlabelled_empty: usize,
}

#[tokio::test]
#[ignore = "needs POPLINE_EXTERNAL_DIR: just quality-external DIR"]
async fn quality_external() {
    let dir = PathBuf::from(std::env::var_os("POPLINE_EXTERNAL_DIR").expect(
        "set POPLINE_EXTERNAL_DIR to a folder of fixture sets (just quality-external DIR)",
    ));
    let show_all = std::env::var("POPLINE_EXTERNAL_SHOW").is_ok_and(|v| v == "all");
    let show_unlabelled_dev =
        std::env::var("POPLINE_EXTERNAL_SHOW").is_ok_and(|v| v == "unlabelled-dev");
    let only: Vec<String> = std::env::var("POPLINE_EXTERNAL_ONLY")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let corpus = support::root().join("corpus");
    let settings: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("config.json")).unwrap())
            .unwrap();
    let mut config: Vec<(String, String)> = settings["config"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    // Unlabelled messages match nothing; keep them as new feedback so their
    // bodies are checked too.
    config.push(("unmatched".into(), "new".into()));
    let ctx = wit::Context {
        pipeline: "quality-external".into(),
        mailbox: settings["mailbox"].as_str().unwrap().into(),
        uid: String::new(),
        received_at: settings["received_at"].as_str().unwrap().into(),
    };
    // Another mapper component can be scored the same way (e.g. an earlier
    // build, for a before/after figure).
    let wasm = std::env::var_os("POPLINE_EXTERNAL_MAPPER")
        .map_or_else(|| support::plugin("feedback-default"), PathBuf::from);
    let mapper = MapperPlugin::load(support::engine(), &wasm, Limits::default()).unwrap();

    let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            only.is_empty() || only.iter().any(|o| name.contains(o.as_str()))
        })
        .collect();
    sources.sort();
    let mut report = String::new();
    let mut misses = String::new();
    let mut totals = SourceTally::default();
    let halves = ["dev", "check"];
    writeln!(
        report,
        "\nexternal fixture sets in {}\n\n{:<40} {:>6} {:>18} {:>18} {:>14} {:>14} {:>6}",
        dir.display(),
        "source",
        "labels",
        "exact dev",
        "exact check",
        "constr. dev",
        "constr. check",
        "empty"
    )
    .unwrap();
    let mut bad_input = String::new();
    let mut unlabelled_dev = String::new();
    for root in &sources {
        let name = root.file_name().unwrap().to_string_lossy().into_owned();
        let source = discover(root, &name);
        let mut t = SourceTally::default();
        for case in &source.cases {
            let h = usize::from(half(&case.rel) == "check");
            let raw = raw_message(&case.path);
            let mapped = map(&mapper, &raw, &ctx, &config).await;
            let (body, had_text) = match &mapped {
                Mapped::Body { body, had_text, .. } => (normalize(body), *had_text),
                Mapped::Skip(r) => (format!("<skip: {r}>"), false),
                Mapped::Failed(e) => (format!("<failure: {e}>"), false),
            };
            if had_text && body.is_empty() {
                t.empty_bodies += 1;
            }
            let show = show_all || h == 0;
            if let Some(exact) = &case.expect.exact {
                let fixture = (ext(&case.path) == "txt").then(|| {
                    String::from_utf8_lossy(&std::fs::read(&case.path).unwrap()).into_owned()
                });
                let want = by_popline_rules(exact, fixture.as_deref());
                let ok = body == want;
                t.exact[h].add(ok);
                if !ok && show {
                    writeln!(
                        misses,
                        "  [{}] {}/{}:\n    expected: {want:?}\n    got:      {body:?}",
                        halves[h], source.name, case.rel
                    )
                    .unwrap();
                }
            }
            let fixture = (ext(&case.path) == "txt")
                .then(|| String::from_utf8_lossy(&std::fs::read(&case.path).unwrap()).into_owned());
            let ends = |s: &String, start: bool| {
                let s = normalize(s);
                if start {
                    body.starts_with(&s)
                } else {
                    body.ends_with(&s)
                        || under_signoff(&s, fixture.as_deref()).is_some_and(|e| body.ends_with(&e))
                }
            };
            if !case.expect.include.is_empty()
                || !case.expect.exclude.is_empty()
                || !case.expect.prefix.is_empty()
                || !case.expect.suffix.is_empty()
            {
                // popline removes quoted lines and the header introducing
                // them, keeping the answers: a source that expects them is
                // not followed there.
                let lacking: Vec<&String> = case
                    .expect
                    .include
                    .iter()
                    .filter(|s| !is_quote_or_header(s))
                    .filter(|s| !body.contains(s.as_str()))
                    .collect();
                let extra: Vec<&String> = case
                    .expect
                    .exclude
                    .iter()
                    .filter(|s| body.contains(s.as_str()))
                    .collect();
                let bad_ends: Vec<&String> = (case.expect.prefix.iter().filter(|s| !ends(s, true)))
                    .chain(case.expect.suffix.iter().filter(|s| !ends(s, false)))
                    .collect();
                let ok = lacking.is_empty() && extra.is_empty() && bad_ends.is_empty();
                t.constraints[h].add(ok);
                if !ok && show {
                    writeln!(
                        misses,
                        "  [{}] {}/{} (constraints):\n    lacks {lacking:?}\n    has {extra:?}\n    does not start/end with {bad_ends:?}\n    got: {body:?}",
                        halves[h], source.name, case.rel
                    )
                    .unwrap();
                }
            }
        }
        for eml in &source.unlabelled {
            let raw = std::fs::read(eml).unwrap();
            match map(&mapper, &raw, &ctx, &config).await {
                Mapped::Body { body, had_text, .. } => {
                    t.unlabelled_mapped += 1;
                    if had_text && body.trim().is_empty() {
                        t.unlabelled_empty += 1;
                        writeln!(
                            bad_input,
                            "  empty body: {name}/{}",
                            eml.strip_prefix(root).unwrap().display()
                        )
                        .unwrap();
                    }
                }
                Mapped::Skip(_) => t.unlabelled_skipped += 1,
                Mapped::Failed(e) => {
                    t.unlabelled_failed += 1;
                    writeln!(
                        bad_input,
                        "  failure: {name}/{}: {e}",
                        eml.strip_prefix(root).unwrap().display()
                    )
                    .unwrap();
                }
            }
        }
        if show_unlabelled_dev {
            // The split decides first: a check-half file is never mapped here.
            for path in &source.unlabelled_messages {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy();
                if half(&rel) != "dev" {
                    continue;
                }
                let shown = match map(&mapper, &raw_message(path), &ctx, &config).await {
                    Mapped::Body {
                        body,
                        elided,
                        forwarded,
                        ..
                    } => format!(
                        "elided: {elided}, forwarded: {forwarded}\n    body: {:?}",
                        normalize(&body)
                    ),
                    Mapped::Skip(r) => format!("skip: {r}"),
                    Mapped::Failed(e) => format!("failure: {e}"),
                };
                writeln!(unlabelled_dev, "  [dev] {name}/{rel}: {shown}").unwrap();
            }
        }
        writeln!(
            report,
            "{:<40} {:>6} {:>18} {:>18} {:>14} {:>14} {:>6}",
            name,
            source.cases.len(),
            t.exact[0].show(),
            t.exact[1].show(),
            t.constraints[0].show(),
            t.constraints[1].show(),
            t.empty_bodies
        )
        .unwrap();
        if !source.unlabelled.is_empty() || source.yaml_files > 0 {
            writeln!(
                report,
                "{:<40} unlabelled .eml: {} mapped ({} with an empty body), {} skipped, {} failed; YAML files not read: {}",
                "",
                t.unlabelled_mapped,
                t.unlabelled_empty,
                t.unlabelled_skipped,
                t.unlabelled_failed,
                source.yaml_files
            )
            .unwrap();
        }
        for h in 0..2 {
            totals.exact[h].n += t.exact[h].n;
            totals.exact[h].ok += t.exact[h].ok;
            totals.constraints[h].n += t.constraints[h].n;
            totals.constraints[h].ok += t.constraints[h].ok;
        }
        totals.empty_bodies += t.empty_bodies + t.unlabelled_empty;
        totals.unlabelled_failed += t.unlabelled_failed;
    }
    writeln!(
        report,
        "{:<40} {:>6} {:>18} {:>18} {:>14} {:>14} {:>6}",
        "all",
        "",
        totals.exact[0].show(),
        totals.exact[1].show(),
        totals.constraints[0].show(),
        totals.constraints[1].show(),
        totals.empty_bodies
    )
    .unwrap();
    println!("{report}");
    if !misses.is_empty() {
        println!(
            "misses{}:\n{misses}",
            if show_all {
                ""
            } else {
                " (development half only)"
            }
        );
    }
    if !bad_input.is_empty() {
        println!("bad input:\n{bad_input}");
    }
    if show_unlabelled_dev {
        println!("unlabelled message files (development half only):\n{unlabelled_dev}");
    }
}

/// The scorer's readers on test code written here (not taken from any
/// source): each assertion form it understands, once.
#[test]
fn the_scorer_reads_the_expectation_forms() {
    let ruby = r#"
  def test_top
    reply = email(:top_post)
    assert_equal [false, true, true], reply.fragments.map { |f| f.hidden? }
    assert_equal "Works now.\n", reply.fragments[0].to_s
  end

  def test_inline
    reply = email(:inline_one)
    assert_equal [false, false, true], reply.fragments.map { |f| f.hidden? }
    assert_equal [true, false, false], reply.fragments.map { |f| f.quoted? }
    assert_match(/^On [^\:]+\:/, reply.fragments[0].to_s)
    assert_match "my answer", reply.fragments[1].to_s
  end

  def test_prefix
    reply = email(:prefixed)
    assert_match(/^Thanks\.\n\nIt/, reply.fragments[0].to_s)
  end

  def test_single
    reply = email :whole_thing
    assert_equal 1, reply.fragments.size
  end

  def test_parse_reply
    body = File.read EMAIL_FIXTURE_PATH.join("plain_reply.txt").to_s
    assert_equal "Just this", EmailReplyParser.parse_reply(body)
  end
"#;
    let mut labels = BTreeMap::new();
    let mut whole = Vec::new();
    labels_from_test_code(ruby, &mut labels, &mut whole);
    assert_eq!(labels["top_post"].exact.as_deref(), Some("Works now.\n"));
    // Fragment 0 is a quote header there: only the visible fragment 1 counts.
    assert_eq!(labels["inline_one"].include, ["my answer"]);
    assert!(labels["inline_one"].exact.is_none());
    assert_eq!(labels["prefixed"].prefix, ["Thanks.\n\nIt"]);
    assert_eq!(whole, ["whole_thing"]);
    assert_eq!(labels["plain_reply"].exact.as_deref(), Some("Just this"));

    let python = r#"
    def test_one(self):
        message = self.get_email('walked')
        self.assertEqual([False, True, False], [f.hidden for f in message.fragments])
        self.assertTrue("kept" in message.fragments[0].content)
        self.assertTrue("hidden bit" in message.fragments[1].content)

    def test_two(self):
        with open('test/emails/outlook_top.txt') as f:
            self.assertEqual("Top text", EmailReplyParser.parse_reply(f.read()))

    def test_three(self):
        message = self.get_email('no_footer')
        self.assertTrue("Sent from my phone" not in message.reply)
"#;
    let mut labels = BTreeMap::new();
    labels_from_test_code(python, &mut labels, &mut Vec::new());
    assert_eq!(labels["walked"].include, ["kept"]);
    assert_eq!(labels["outlook_top"].exact.as_deref(), Some("Top text"));
    assert_eq!(labels["no_footer"].exclude, ["Sent from my phone"]);

    // A dash sign-off right under the labelled text is popline's to keep.
    let fixture = "Works now.\n\n-Dana\n\nOn Tue, Beta wrote:\n> q\n";
    assert_eq!(
        by_popline_rules("Works now.\n", Some(fixture)),
        "Works now.\n\n-Dana"
    );
    assert_eq!(
        by_popline_rules("Works now.", Some("Works now.\n\n-- Dana\n")),
        "Works now.\n\n-- Dana"
    );
    // Not a bare signature delimiter, nor a line of prose.
    assert_eq!(
        by_popline_rules("Works now.", Some("Works now.\n\n-- \nDana\n")),
        "Works now."
    );
    assert_eq!(
        by_popline_rules(
            "Works now.",
            Some("Works now.\n\n- see the log, it has more\n")
        ),
        "Works now."
    );
    // What the tester wrote under a sign-off is kept, up to the quote.
    let fixture = "Thanks.\n\nYours,\n\nDana\n\nQA lead, Example Ltd\n\nOn Tue, Beta wrote:\n> q\n";
    assert_eq!(
        under_signoff("Dana", Some(fixture)).as_deref(),
        Some("Dana\n\nQA lead, Example Ltd")
    );
    assert_eq!(
        under_signoff("Dana", Some("Thanks.\n\nDana\n\n-- \nQA\n")),
        None
    );
    assert_eq!(under_signoff("Dana", Some("Thanks.\n\nDana\n")), None);
    assert_eq!(regex_literal(r"/^On [^\:]+\:/"), None);
    assert_eq!(
        regex_literal(r"/a\.b/, x"),
        Some(("a.b".to_owned(), false, 6))
    );
}
