use std::fmt;

use crate::error::{Error, ErrorKind};

/// A parsed POP3 status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// `+OK text`: the text, trimmed (may be empty).
    Ok(String),
    /// `-ERR [CODE] text`.
    Err(ErrResponse),
    /// `+ challenge`: a SASL continuation; the (base64) challenge, trimmed.
    Continue(String),
}

/// A `-ERR` response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrResponse {
    /// The RFC 2449 response code in brackets, if the server sent one.
    pub code: Option<ResponseCode>,
    /// The text after the status indicator and code, trimmed.
    pub text: String,
    /// The whole line as received, for messages.
    pub line: String,
}

/// An RFC 2449 / RFC 3206 extended response code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResponseCode {
    /// `[IN-USE]`: the maildrop is locked by another session.
    InUse,
    /// `[AUTH]`: the credentials were refused.
    Auth,
    /// `[SYS/TEMP]`: a transient server problem.
    SysTemp,
    /// `[SYS/PERM]`: a permanent server problem.
    SysPerm,
    /// `[LOGIN-DELAY]`: logged in too soon after the previous session.
    LoginDelay,
    /// Any other code, as sent (without brackets).
    Other(String),
}

impl Status {
    /// Parse a status line (without CRLF; a stray trailing CR or LF is ignored).
    ///
    /// Status indicators are matched case-insensitively, since servers vary.
    /// Anything that is not `+OK`, `-ERR` or a `+` continuation is a
    /// [`ErrorKind::Protocol`] error quoting the line.
    pub fn parse(line: &str) -> Result<Self, Error> {
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(text) = strip_indicator(line, "+OK") {
            return Ok(Status::Ok(text.to_owned()));
        }
        if let Some(rest) = strip_indicator(line, "-ERR") {
            let (code, text) = split_code(rest);
            return Ok(Status::Err(ErrResponse {
                code,
                text: text.to_owned(),
                line: line.to_owned(),
            }));
        }
        if let Some(challenge) = strip_indicator(line, "+") {
            return Ok(Status::Continue(challenge.to_owned()));
        }
        Err(Error::unexpected_line(
            "expected a POP3 status line, got",
            line,
        ))
    }

    /// Parse a status line that must be `+OK`, returning its text.
    ///
    /// `-ERR` becomes an error of the kind its response code implies and a
    /// continuation becomes a protocol error.
    pub fn parse_ok(line: &str) -> Result<String, Error> {
        match Self::parse(line)? {
            Status::Ok(text) => Ok(text),
            Status::Err(err) => Err(err.to_error()),
            Status::Continue(_) => Err(Error::unexpected_line(
                "expected +OK or -ERR, got a continuation",
                line,
            )),
        }
    }
}

impl ErrResponse {
    /// The error kind the response code implies; [`ErrorKind::Other`] without
    /// a known code.
    pub fn kind(&self) -> ErrorKind {
        match &self.code {
            Some(ResponseCode::InUse) => ErrorKind::InUse,
            Some(ResponseCode::Auth) => ErrorKind::Auth,
            // Both mean "try again later"; LOGIN-DELAY has no kind of its own.
            Some(ResponseCode::SysTemp | ResponseCode::LoginDelay) => ErrorKind::SysTemp,
            Some(ResponseCode::SysPerm) => ErrorKind::SysPerm,
            Some(ResponseCode::Other(_)) | None => ErrorKind::Other,
        }
    }

    /// The error kind for a refused login: like [`kind`](Self::kind), but a
    /// refusal without a specific code means the credentials need attention.
    pub fn login_kind(&self) -> ErrorKind {
        match self.kind() {
            ErrorKind::Other => ErrorKind::Auth,
            kind => kind,
        }
    }

    /// An [`Error`] of [`kind`](Self::kind) carrying the whole line.
    pub fn to_error(&self) -> Error {
        Error::new(self.kind(), self.line.clone())
    }
}

impl ResponseCode {
    /// Classify the text between the brackets. Codes are hierarchical and
    /// case-insensitive (`sys/temp/quota` is a `SysTemp`).
    pub fn parse(code: &str) -> Self {
        let mut levels = code.split('/');
        let first = levels.next().unwrap_or_default();
        let second = levels.next();
        let is = |level: &str, name: &str| level.eq_ignore_ascii_case(name);
        if is(first, "IN-USE") {
            ResponseCode::InUse
        } else if is(first, "AUTH") {
            ResponseCode::Auth
        } else if is(first, "LOGIN-DELAY") {
            ResponseCode::LoginDelay
        } else if is(first, "SYS") && second.is_some_and(|s| is(s, "TEMP")) {
            ResponseCode::SysTemp
        } else if is(first, "SYS") && second.is_some_and(|s| is(s, "PERM")) {
            ResponseCode::SysPerm
        } else {
            ResponseCode::Other(code.to_owned())
        }
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResponseCode::InUse => "IN-USE",
            ResponseCode::Auth => "AUTH",
            ResponseCode::SysTemp => "SYS/TEMP",
            ResponseCode::SysPerm => "SYS/PERM",
            ResponseCode::LoginDelay => "LOGIN-DELAY",
            ResponseCode::Other(code) => code,
        })
    }
}

/// If `line` starts with `indicator` (ASCII case-insensitive) followed by the
/// end of the line or a space/tab, the trimmed rest.
fn strip_indicator<'a>(line: &'a str, indicator: &str) -> Option<&'a str> {
    let head = line.get(..indicator.len())?;
    if !head.eq_ignore_ascii_case(indicator) {
        return None;
    }
    let rest = &line[indicator.len()..];
    match rest.as_bytes().first() {
        None => Some(""),
        Some(b' ' | b'\t') => Some(rest.trim()),
        // `+OKAY`, `-ERROR`, `+foo`: not a status indicator.
        Some(_) => None,
    }
}

/// Split a leading `[CODE]` off the text of an `-ERR` line.
fn split_code(rest: &str) -> (Option<ResponseCode>, &str) {
    let Some(inner_and_text) = rest.strip_prefix('[') else {
        return (None, rest);
    };
    let Some(end) = inner_and_text.find(']') else {
        return (None, rest);
    };
    let code = &inner_and_text[..end];
    // RFC 2449 codes are atoms separated by `/`; a bracketed phrase is text.
    let is_atom = !code.is_empty()
        && code.bytes().all(|b| b.is_ascii_graphic() && b != b'[')
        && !code.split('/').any(str::is_empty);
    if !is_atom {
        return (None, rest);
    }
    (
        Some(ResponseCode::parse(code)),
        inner_and_text[end + 1..].trim_start(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str) -> ErrResponse {
        match Status::parse(line) {
            Ok(Status::Err(e)) => e,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn dovecot_greeting() {
        assert_eq!(
            Status::parse("+OK Dovecot (Debian) ready."),
            Ok(Status::Ok("Dovecot (Debian) ready.".into()))
        );
    }

    #[test]
    fn ok_variants() {
        assert_eq!(Status::parse("+OK"), Ok(Status::Ok(String::new())));
        assert_eq!(
            Status::parse("+ok  logged in  "),
            Ok(Status::Ok("logged in".into()))
        );
        assert_eq!(Status::parse("+Ok\tfine"), Ok(Status::Ok("fine".into())));
        // A stray CR left by a sloppy reader is not part of the text.
        assert_eq!(Status::parse("+OK bye\r"), Ok(Status::Ok("bye".into())));
        // APOP timestamp stays part of the greeting text.
        assert_eq!(
            Status::parse("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>"),
            Ok(Status::Ok(
                "POP3 server ready <1896.697170952@dbc.mtview.ca.us>".into()
            ))
        );
    }

    #[test]
    fn office365_protocol_error_has_no_code() {
        let e = err("-ERR Protocol error. Connection is closed. 10");
        assert_eq!(e.code, None);
        assert_eq!(e.text, "Protocol error. Connection is closed. 10");
        assert_eq!(e.kind(), ErrorKind::Other);
        assert_eq!(e.login_kind(), ErrorKind::Auth);
        assert_eq!(
            e.to_error(),
            Error::new(
                ErrorKind::Other,
                "-ERR Protocol error. Connection is closed. 10"
            )
        );
    }

    #[test]
    fn auth_code() {
        let e = err("-ERR [AUTH] Authentication failed.");
        assert_eq!(e.code, Some(ResponseCode::Auth));
        assert_eq!(e.text, "Authentication failed.");
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert_eq!(e.to_error().message, "-ERR [AUTH] Authentication failed.");
    }

    #[test]
    fn sys_temp_and_sys_perm() {
        let e = err("-ERR [SYS/TEMP] Temporary authentication failure.");
        assert_eq!(e.code, Some(ResponseCode::SysTemp));
        assert_eq!(e.text, "Temporary authentication failure.");
        assert_eq!(e.kind(), ErrorKind::SysTemp);
        assert_eq!(e.login_kind(), ErrorKind::SysTemp);

        let e = err("-ERR [SYS/PERM] Your account is disabled");
        assert_eq!(e.kind(), ErrorKind::SysPerm);
        assert_eq!(e.login_kind(), ErrorKind::SysPerm);
    }

    #[test]
    fn in_use_and_login_delay() {
        let e = err("-ERR [IN-USE] Mailbox is locked by another POP3 session");
        assert_eq!(e.kind(), ErrorKind::InUse);
        assert_eq!(e.login_kind(), ErrorKind::InUse);
        let e = err("-ERR [LOGIN-DELAY] wait 900 seconds");
        assert_eq!(e.code, Some(ResponseCode::LoginDelay));
        assert_eq!(e.kind(), ErrorKind::SysTemp);
    }

    #[test]
    fn codes_are_case_insensitive_and_hierarchical() {
        assert_eq!(
            err("-err [sys/temp] later").code,
            Some(ResponseCode::SysTemp)
        );
        assert_eq!(err("-Err [In-Use] busy").kind(), ErrorKind::InUse);
        assert_eq!(
            err("-ERR [SYS/TEMP/QUOTA] x").code,
            Some(ResponseCode::SysTemp)
        );
        assert_eq!(err("-ERR [AUTH/EXPIRED] x").code, Some(ResponseCode::Auth));
    }

    #[test]
    fn unknown_codes_are_kept() {
        let e = err("-ERR [UTF8] not allowed");
        assert_eq!(e.code, Some(ResponseCode::Other("UTF8".into())));
        assert_eq!(e.kind(), ErrorKind::Other);
        assert_eq!(e.login_kind(), ErrorKind::Auth);
        assert_eq!(e.text, "not allowed");
        // `[SYS]` alone or an unknown SYS level is not SYS/TEMP.
        assert_eq!(
            err("-ERR [SYS] x").code,
            Some(ResponseCode::Other("SYS".into()))
        );
        assert_eq!(
            err("-ERR [SYS/MAYBE] x").code.map(|c| c.to_string()),
            Some("SYS/MAYBE".into())
        );
    }

    #[test]
    fn bracketed_phrases_and_broken_brackets_are_text() {
        for line in [
            "-ERR [no such message] sorry",
            "-ERR [AUTH failed",
            "-ERR [] empty",
            "-ERR [SYS//TEMP] x",
            "-ERR text [AUTH] later",
        ] {
            let e = err(line);
            assert_eq!(e.code, None, "{line}");
            assert_eq!(e.text, line[5..], "{line}");
        }
    }

    #[test]
    fn bare_err_and_code_without_text() {
        let e = err("-ERR");
        assert_eq!((e.code, e.text.as_str()), (None, ""));
        let e = err("-ERR [IN-USE]");
        assert_eq!((e.code, e.text.as_str()), (Some(ResponseCode::InUse), ""));
    }

    #[test]
    fn continuations() {
        assert_eq!(Status::parse("+ "), Ok(Status::Continue(String::new())));
        assert_eq!(Status::parse("+"), Ok(Status::Continue(String::new())));
        assert_eq!(
            Status::parse("+ eyJzdGF0dXMiOiI0MDEifQ=="),
            Ok(Status::Continue("eyJzdGF0dXMiOiI0MDEifQ==".into()))
        );
    }

    #[test]
    fn garbage_is_a_protocol_error_naming_the_line() {
        for line in [
            "",
            "OK",
            "+OKAY",
            "-ERROR",
            "+foo",
            " +OK leading space",
            "* OK [CAPABILITY IMAP4rev1] Dovecot ready.",
            "220 smtp.example.com ESMTP",
        ] {
            let e = Status::parse(line).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Protocol, "{line}");
            assert!(e.message.contains(&format!("{line:?}")), "{}", e.message);
        }
    }

    #[test]
    fn garbage_in_errors_is_truncated() {
        let line = "x".repeat(5000);
        let e = Status::parse(&line).unwrap_err();
        assert!(e.message.len() < 300, "{}", e.message.len());
        assert!(e.message.contains("(5000 bytes)"));
    }

    #[test]
    fn parse_ok_maps_each_status() {
        assert_eq!(Status::parse_ok("+OK 2 320"), Ok("2 320".into()));
        assert_eq!(
            Status::parse_ok("-ERR [IN-USE] locked").unwrap_err().kind,
            ErrorKind::InUse
        );
        assert_eq!(
            Status::parse_ok("-ERR no such message").unwrap_err(),
            Error::new(ErrorKind::Other, "-ERR no such message")
        );
        assert_eq!(
            Status::parse_ok("+ abc").unwrap_err().kind,
            ErrorKind::Protocol
        );
        assert_eq!(
            Status::parse_ok("hello").unwrap_err().kind,
            ErrorKind::Protocol
        );
    }

    #[test]
    fn response_code_display_round_trips() {
        for code in [
            "IN-USE",
            "AUTH",
            "SYS/TEMP",
            "SYS/PERM",
            "LOGIN-DELAY",
            "X-FOO/BAR",
        ] {
            assert_eq!(ResponseCode::parse(code).to_string(), code);
        }
    }
}
