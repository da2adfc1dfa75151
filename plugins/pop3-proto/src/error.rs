use std::fmt;

/// Why a POP3 exchange failed, mirroring the WIT `error-kind`.
///
/// There is no `io` kind: transport failures never pass through this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// `[IN-USE]`: another session holds the maildrop.
    InUse,
    /// `[AUTH]`, or a failed login without a more specific code.
    Auth,
    /// `[SYS/TEMP]` or `[LOGIN-DELAY]`: retry later.
    SysTemp,
    /// `[SYS/PERM]`: permanent server trouble.
    SysPerm,
    /// The server said something that is not POP3.
    Protocol,
    /// The server lacks something the session needs.
    Unsupported,
    /// Any other `-ERR`.
    Other,
}

/// A classified failure with a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The failure class.
    pub kind: ErrorKind,
    /// Detail for the operator, e.g. the server's `-ERR` line.
    pub message: String,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A protocol error about an unexpected server line, quoting it.
    pub fn unexpected_line(what: &str, line: &str) -> Self {
        Self::new(ErrorKind::Protocol, format!("{what}: {}", quote_line(line)))
    }

    /// The same error with `context: ` prefixed to the message.
    pub fn context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Longest excerpt of a server line quoted in a message, in characters.
const QUOTE_MAX_CHARS: usize = 120;

/// Quote a server line for a log or error message: escaped, and truncated so
/// a hostile or broken server cannot flood the operator's logs.
pub fn quote_line(line: &str) -> String {
    let mut chars = line.char_indices();
    match chars.nth(QUOTE_MAX_CHARS) {
        None => format!("\"{}\"", line.escape_debug()),
        Some((cut, _)) => format!("\"{}\"… ({} bytes)", line[..cut].escape_debug(), line.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_quoted_whole_and_escaped() {
        assert_eq!(quote_line("abc"), "\"abc\"");
        assert_eq!(quote_line("a\"b\r"), "\"a\\\"b\\r\"");
        assert_eq!(quote_line(""), "\"\"");
    }

    #[test]
    fn long_lines_are_truncated_on_a_char_boundary() {
        let line = "é".repeat(500);
        let quoted = quote_line(&line);
        assert!(quoted.starts_with(&format!("\"{}\"…", "é".repeat(QUOTE_MAX_CHARS))));
        assert!(quoted.ends_with("(1000 bytes)"));
        // Exactly at the limit: not truncated.
        let exact = "x".repeat(QUOTE_MAX_CHARS);
        assert_eq!(quote_line(&exact), format!("\"{exact}\""));
    }

    #[test]
    fn context_prefixes_the_message() {
        let e = Error::new(ErrorKind::Other, "-ERR no such message").context("RETR 4");
        assert_eq!(e.to_string(), "RETR 4: -ERR no such message");
        assert_eq!(e.kind, ErrorKind::Other);
    }
}
