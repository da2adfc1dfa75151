use crate::lines::body_lines;

/// A server's RFC 2449 capabilities, from the body of a `CAPA` response.
///
/// The default value stands for a server that did not answer `CAPA` (an RFC
/// 1939-only server): nothing is advertised and [`announced`](Self::announced)
/// is false.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    lines: Vec<String>,
    announced: bool,
}

impl Capabilities {
    /// Parse a `CAPA` body (dot-unstuffed, CRLF line ends, no terminating `.`).
    /// Blank lines are skipped and surrounding whitespace trimmed.
    pub fn parse(body: &[u8]) -> Self {
        let lines = body_lines(body)
            .map(|(_, line)| String::from_utf8_lossy(line).trim().to_owned())
            .filter(|line| !line.is_empty())
            .collect();
        Self {
            lines,
            announced: true,
        }
    }

    /// Whether the server answered `CAPA` at all. When it did, a missing
    /// capability really is missing; when it did not, it may still work.
    pub fn announced(&self) -> bool {
        self.announced
    }

    /// The capability lines as advertised.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Whether a capability (the first word of a line) is advertised,
    /// case-insensitively.
    pub fn has(&self, name: &str) -> bool {
        self.arguments(name).next().is_some()
    }

    /// The arguments of each line advertising `name`, case-insensitively.
    pub fn arguments<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Vec<&'a str>> + 'a {
        self.lines.iter().filter_map(move |line| {
            let mut words = line.split_ascii_whitespace();
            words
                .next()
                .filter(|word| word.eq_ignore_ascii_case(name))
                .map(|_| words.collect())
        })
    }

    /// `PIPELINING`: commands may be sent before earlier answers arrive.
    pub fn pipelining(&self) -> bool {
        self.has("PIPELINING")
    }

    /// `UIDL`: unique ids are supported.
    pub fn uidl(&self) -> bool {
        self.has("UIDL")
    }

    /// `TOP`: headers plus n body lines can be fetched.
    pub fn top(&self) -> bool {
        self.has("TOP")
    }

    /// `USER`: the USER/PASS login is offered.
    pub fn user(&self) -> bool {
        self.has("USER")
    }

    /// `STLS`: the connection can be upgraded to TLS.
    pub fn stls(&self) -> bool {
        self.has("STLS")
    }

    /// `RESP-CODES`: `-ERR` lines carry RFC 2449 response codes.
    pub fn resp_codes(&self) -> bool {
        self.has("RESP-CODES")
    }

    /// `AUTH-RESP-CODE`: failed logins carry `[AUTH]` (RFC 3206).
    pub fn auth_resp_code(&self) -> bool {
        self.has("AUTH-RESP-CODE")
    }

    /// Whether any `SASL` line is advertised.
    pub fn sasl(&self) -> bool {
        self.has("SASL")
    }

    /// The advertised SASL mechanisms, as sent, in order, across all `SASL`
    /// lines.
    pub fn sasl_mechanisms(&self) -> Vec<&str> {
        self.arguments("SASL").flatten().collect()
    }

    /// Whether SASL `mechanism` is advertised, case-insensitively.
    pub fn offers_sasl(&self, mechanism: &str) -> bool {
        self.arguments("SASL")
            .flatten()
            .any(|offered| offered.eq_ignore_ascii_case(mechanism))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOVECOT: &[u8] = b"TOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\nSASL PLAIN LOGIN XOAUTH2 OAUTHBEARER\r\n";

    #[test]
    fn dovecot_capabilities() {
        let caps = Capabilities::parse(DOVECOT);
        assert!(caps.announced());
        assert_eq!(caps.lines().len(), 7);
        assert!(caps.top() && caps.uidl() && caps.resp_codes() && caps.pipelining());
        assert!(caps.auth_resp_code() && caps.user() && caps.sasl());
        assert!(!caps.stls());
        assert_eq!(
            caps.sasl_mechanisms(),
            ["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"]
        );
        assert!(caps.offers_sasl("xoauth2"));
        assert!(!caps.offers_sasl("CRAM-MD5"));
    }

    #[test]
    fn office365_capabilities() {
        let caps = Capabilities::parse(b"TOP\r\nUIDL\r\nSASL PLAIN XOAUTH2\r\nUSER\r\n");
        assert!(!caps.pipelining());
        assert_eq!(caps.sasl_mechanisms(), ["PLAIN", "XOAUTH2"]);
    }

    #[test]
    fn words_are_case_insensitive_and_whole() {
        let caps = Capabilities::parse(b"pipelining\r\nUIDLX\r\nsasl  plain\txoauth2 \r\n");
        assert!(caps.pipelining());
        // A capability is a whole word: UIDLX is not UIDL.
        assert!(!caps.uidl());
        assert!(caps.offers_sasl("PLAIN") && caps.offers_sasl("XOAuth2"));
    }

    #[test]
    fn arguments_and_repeated_sasl_lines() {
        let caps = Capabilities::parse(
            b"EXPIRE 31 USER\r\nLOGIN-DELAY 900\r\nIMPLEMENTATION Shlemazle-Plotz-v302\r\nSASL PLAIN\r\nSASL XOAUTH2\r\n",
        );
        assert_eq!(
            caps.arguments("expire").collect::<Vec<_>>(),
            [vec!["31", "USER"]]
        );
        assert_eq!(
            caps.arguments("LOGIN-DELAY").collect::<Vec<_>>(),
            [vec!["900"]]
        );
        assert_eq!(caps.sasl_mechanisms(), ["PLAIN", "XOAUTH2"]);
        // EXPIRE's `USER` argument is not the USER capability.
        assert!(!caps.user());
    }

    #[test]
    fn blank_lines_bare_lf_and_bad_utf8_are_tolerated() {
        let caps = Capabilities::parse(b"\r\n  TOP  \n\xff\xfe\r\nUIDL");
        assert_eq!(caps.lines(), ["TOP", "\u{fffd}\u{fffd}", "UIDL"]);
        assert!(caps.top() && caps.uidl());
    }

    #[test]
    fn empty_and_absent_capabilities() {
        let empty = Capabilities::parse(b"");
        assert!(empty.announced());
        assert!(empty.lines().is_empty());
        let absent = Capabilities::default();
        assert!(!absent.announced());
        assert!(!absent.sasl() && absent.sasl_mechanisms().is_empty());
        assert!(!absent.pipelining());
    }
}
