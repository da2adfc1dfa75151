//! The host side of the `connection` a dialogue plugin borrows.
//!
//! The host keeps the socket, TLS and the credential. It enforces policy on
//! every line the plugin writes: no CR/LF smuggling, no credentials commands,
//! and no `DELE` unless the host authorised that message number for the
//! current delete call. The credential is written onto the wire here and
//! nowhere else.

pub mod answers;
mod sasl;
pub mod wire;

use answers::Answers;
use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};

use popline_core::spool::{Spooled, Spooler};
use popline_net::{Stream, TlsClient, explain_tls_error};
use wire::WireError;

pub use popline_core::Secret;

/// What the host logs in with.
#[derive(Debug, Clone)]
pub enum Credential {
    Password(Secret),
    /// An OAuth 2.0 access token.
    Bearer(Secret),
}

/// How the plugin asked to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    UserPass,
    Plain,
    Xoauth2,
    OauthBearer,
}

/// The server's verdict on a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    Accepted(String),
    Rejected {
        response: String,
        challenge: Option<String>,
    },
}

/// Why a connection operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnError {
    Timeout,
    Closed,
    LineTooLong(u32),
    TooLarge(u64),
    Tls(String),
    Refused(String),
    Other(String),
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnError::Timeout => f.write_str("the server did not answer within the read timeout"),
            ConnError::Closed => f.write_str("the server closed the connection"),
            ConnError::LineTooLong(n) => write!(f, "a response line exceeded {n} bytes"),
            ConnError::TooLarge(n) => write!(f, "a multi-line response exceeded {n} bytes"),
            ConnError::Tls(m) => f.write_str(m),
            ConnError::Refused(m) => write!(f, "refused by the host: {m}"),
            ConnError::Other(m) => f.write_str(m),
        }
    }
}

impl From<WireError> for ConnError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Closed => ConnError::Closed,
            WireError::Timeout => ConnError::Timeout,
            WireError::LineTooLong(n) => ConnError::LineTooLong(n),
            WireError::TooLarge(n) => ConnError::TooLarge(n),
            WireError::TooSlow { bytes, secs } => ConnError::Other(format!(
                "the server sent only {bytes} bytes in {secs} s, below min_bytes_per_sec; \
                 the link or the server is too slow (raise read_timeout_secs or lower \
                 min_bytes_per_sec if this is expected)"
            )),
            WireError::Io(m) => ConnError::Other(m),
        }
    }
}

/// A `RETR` whose answer outgrew the size bound: the connection is unusable
/// after it, but the message's header section had arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    /// The message number.
    pub number: u32,
    /// The bound it outgrew, in bytes.
    pub bound: u64,
    /// Its header section as far as it arrived, at most [`TOO_LARGE_HEAD`]
    /// bytes: who sent it and what it is about, for the operator and the
    /// notice to its sender.
    pub head: Vec<u8>,
}

/// How much of an oversized message's start is kept for its headers.
pub const TOO_LARGE_HEAD: usize = 64 * 1024;

/// The header section at the start of `bytes` (through the blank line), or
/// the whole lines of its first [`TOO_LARGE_HEAD`] bytes when no blank line
/// comes by then.
fn header_section(bytes: &[u8]) -> Vec<u8> {
    let start = &bytes[..bytes.len().min(TOO_LARGE_HEAD)];
    let end = match start.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => i + 4,
        None => start.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1),
    };
    start[..end].to_vec()
}

/// Settings for one connection.
#[derive(Debug, Clone)]
pub struct ConnSettings {
    /// Server host name (for OAUTHBEARER's `host=` and error messages).
    pub host: String,
    pub port: u16,
    /// The login identity: USER name, XOAUTH2 `user=`.
    pub user: String,
    pub read_timeout: Duration,
    /// Slowest average transfer accepted after the first `read_timeout`, in
    /// bytes per second (0: only silence is bounded).
    pub min_rate: u64,
    /// Largest multi-line response accepted, in bytes.
    pub max_message: u64,
    /// When multi-line responses move from memory to a spool file.
    pub spool: popline_core::spool::SpoolPolicy,
    /// Operator allowed credentials without TLS (only honoured for loopback).
    pub allow_plaintext: bool,
}

/// Counters the pipeline reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConnStats {
    pub bytes_read: u64,
}

/// A POP3 connection lent to a dialogue plugin.
pub struct Connection {
    io: Option<BufReader<Stream>>,
    wbuf: Vec<u8>,
    tls: Option<TlsClient>,
    credential: Credential,
    settings: ConnSettings,
    authenticated: bool,
    dele_allowed: HashSet<u32>,
    /// The failure that left the stream at an unknown position (timeout,
    /// close, over-long line or body, transport error). Every later
    /// operation fails at once with it: the plugin learns nothing new by
    /// asking again, and a plugin that ignores errors must not wait out the
    /// read timeout again and again (time in host I/O is not charged to its
    /// CPU budget, so it would never be stopped).
    failed: Option<ConnError>,
    /// Which command each answer the plugin reads belongs to.
    answers: Answers,
    /// A `RETR` whose answer outgrew the size bound.
    too_large: Option<TooLarge>,
    pub stats: ConnStats,
}

/// A multi-line answer, and the command (canonical form) it answers.
#[derive(Debug)]
pub struct Body {
    pub bytes: Spooled,
    pub answers: String,
}

const READ_BUF: usize = 64 * 1024;
/// Pipelined commands waiting to be sent; far more than any sane window.
const MAX_WRITE_BUF: usize = 1 << 20;
/// RFC 2449 allows 255 octets for a command; be generous, but bounded.
const MAX_COMMAND: usize = 1024;

impl Connection {
    /// Wrap an established stream. `tls` is used for a later STLS upgrade.
    pub fn new(
        stream: Stream,
        tls: Option<TlsClient>,
        credential: Credential,
        settings: ConnSettings,
    ) -> Connection {
        Connection {
            io: Some(BufReader::with_capacity(READ_BUF, stream)),
            wbuf: Vec::with_capacity(4096),
            tls,
            credential,
            settings,
            authenticated: false,
            dele_allowed: HashSet::new(),
            failed: None,
            answers: Answers::default(),
            too_large: None,
            stats: ConnStats::default(),
        }
    }

    fn io(&mut self) -> Result<&mut BufReader<Stream>, ConnError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.io
            .as_mut()
            .ok_or_else(|| ConnError::Other("the connection was lost during a TLS upgrade".into()))
    }

    /// Remember a failure that leaves the stream unusable (see `failed`).
    fn poison<T>(&mut self, res: Result<T, ConnError>) -> Result<T, ConnError> {
        if let Err(e) = &res
            && !matches!(e, ConnError::Refused(_))
            && self.failed.is_none()
        {
            self.failed = Some(e.clone());
        }
        res
    }

    /// Whether the connection is TLS-protected now.
    pub fn is_secure(&self) -> bool {
        self.io.as_ref().is_some_and(|io| io.get_ref().is_tls())
    }

    /// Whether the plugin logged in successfully.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// The credential kind (never the credential).
    pub fn credential_is_bearer(&self) -> bool {
        matches!(self.credential, Credential::Bearer(_))
    }

    /// Allow exactly these `DELE`s until [`Connection::forbid_deletes`].
    pub fn allow_deletes(&mut self, numbers: &[u32]) {
        self.dele_allowed = numbers.iter().copied().collect();
    }

    pub fn forbid_deletes(&mut self) {
        self.dele_allowed.clear();
    }

    async fn flush(&mut self) -> Result<(), ConnError> {
        let res = self.flush_inner().await;
        self.poison(res)
    }

    async fn flush_inner(&mut self) -> Result<(), ConnError> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.wbuf);
        let timeout = self.settings.read_timeout;
        let io = self.io()?;
        let w = async {
            io.get_mut().write_all(&buf).await?;
            io.get_mut().flush().await
        };
        let res = tokio::time::timeout(timeout, w).await;
        self.wbuf = buf;
        self.wbuf.clear();
        match res {
            Err(_) => Err(ConnError::Timeout),
            Ok(Err(e)) => Err(ConnError::Other(format!("writing to the server: {e}"))),
            Ok(Ok(())) => Ok(()),
        }
    }

    fn pace(&self) -> wire::Pace {
        wire::Pace {
            idle: self.settings.read_timeout,
            min_rate: self.settings.min_rate,
        }
    }

    /// Read one response line (flushing queued commands first). It answers
    /// the oldest command not yet answered; refused while a multi-line
    /// answer is due.
    pub async fn read_line(&mut self, max: u32) -> Result<String, ConnError> {
        self.answers.check_status_read()?;
        self.flush().await?;
        let pace = self.pace();
        let io = self.io()?;
        let line = wire::read_line(io, max, pace)
            .await
            .map_err(ConnError::from);
        let line = self.poison(line)?;
        self.stats.bytes_read += line.len() as u64 + 2;
        self.answers.status_read(&line);
        Ok(line)
    }

    /// Read a dot-terminated body into host memory, or into a spool file
    /// once it passes the spool threshold. Only when a `+OK` to a command
    /// with a multi-line answer was read; the body says which command.
    pub async fn read_multiline(&mut self) -> Result<Body, ConnError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let command = self.answers.body_starts()?;
        self.flush().await?;
        let pace = self.pace();
        let max = self.settings.max_message;
        // The policy is cloned so the spooler can live beside `io`'s borrow.
        let policy = self.settings.spool.clone();
        let io = self.io()?;
        let mut out = Spooler::new(&policy);
        popline_core::failpoint::hit("retr");
        let res = wire::read_multiline(io, max, pace, &mut out)
            .await
            .map_err(ConnError::from);
        if let Err(e) = res {
            if let ConnError::TooLarge(bound) = e
                && let Some(number) = command.strip_prefix("RETR ").and_then(|n| n.parse().ok())
            {
                let head = out
                    .finish()
                    .map_or_else(|_| Vec::new(), |b| header_section(&b));
                self.too_large = Some(TooLarge {
                    number,
                    bound,
                    head,
                });
            }
            return self.poison(Err(e));
        }
        self.stats.bytes_read += out.len();
        let raw = out
            .finish()
            .map_err(|e| ConnError::Other(format!("mapping the spooled response: {e}")));
        let bytes = self.poison(raw)?;
        self.answers.body_read(&command, &bytes);
        Ok(Body {
            bytes,
            answers: command,
        })
    }

    /// The message whose `RETR` answer outgrew the size bound on this
    /// connection, if one did; taken once.
    pub fn take_too_large(&mut self) -> Option<TooLarge> {
        self.too_large.take()
    }

    /// The unique id the server itself gave message `number` in its UIDL
    /// answers on this connection.
    pub fn server_uid(&self, number: u32) -> Option<&str> {
        self.answers.server_uid(number)
    }

    /// Change the largest multi-line response accepted from now on (the
    /// pipeline raises it to fetch a message it chose to fetch despite its
    /// size).
    pub fn set_max_message(&mut self, bytes: u64) {
        self.settings.max_message = bytes;
    }

    /// Queue one command line from the plugin, after the policy check.
    pub fn write_line(&mut self, line: &str) -> Result<(), ConnError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.check_command(line)?;
        if self.wbuf.len() + line.len() + 2 > MAX_WRITE_BUF {
            return Err(ConnError::Refused(format!(
                "more than {MAX_WRITE_BUF} bytes of commands queued without reading a response"
            )));
        }
        self.answers.sent(line)?;
        self.wbuf.extend_from_slice(line.as_bytes());
        self.wbuf.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// The host talks to the server itself (login, STLS) only once every
    /// command the plugin wrote has been answered in full: otherwise an
    /// earlier answer would be read as the verdict.
    fn check_settled(&self, doing: &str) -> Result<(), ConnError> {
        if self.answers.settled() {
            Ok(())
        } else {
            Err(ConnError::Refused(format!(
                "{doing} while commands are still unanswered; read every answer first"
            )))
        }
    }

    fn check_command(&mut self, line: &str) -> Result<(), ConnError> {
        if line.len() > MAX_COMMAND {
            return Err(ConnError::Refused(format!(
                "command longer than {MAX_COMMAND} bytes"
            )));
        }
        if line.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(ConnError::Refused(
                "command contains CR, LF or NUL (one command per write-line)".into(),
            ));
        }
        let mut words = line.split(' ');
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "USER" | "PASS" | "AUTH" | "APOP" => Err(ConnError::Refused(format!(
                "{verb} carries credentials; call authenticate and the host writes it"
            ))),
            "STLS" => Err(ConnError::Refused(
                "call start-tls to upgrade the connection".into(),
            )),
            "CAPA" | "QUIT" | "NOOP" => Ok(()),
            _ if !self.authenticated => Err(ConnError::Refused(format!(
                "{verb} before a successful login"
            ))),
            "STAT" | "LIST" | "UIDL" | "RETR" | "TOP" | "RSET" => Ok(()),
            "DELE" => {
                let n = words.next().and_then(|w| w.parse::<u32>().ok());
                match n {
                    Some(n) if self.dele_allowed.contains(&n) => Ok(()),
                    _ => Err(ConnError::Refused(format!(
                        "`{line}` was not authorised: the host deletes only messages whose result is durably stored"
                    ))),
                }
            }
            _ => Err(ConnError::Refused(format!(
                "{verb} is not a command the host allows plugins to send"
            ))),
        }
    }

    /// Send STLS and upgrade on `+OK`; returns the status line.
    pub async fn start_tls(&mut self) -> Result<String, ConnError> {
        self.check_settled("STLS")?;
        if self.is_secure() {
            return Err(ConnError::Refused("the connection already uses TLS".into()));
        }
        let Some(tls) = self.tls.clone() else {
            return Err(ConnError::Refused("no TLS settings for this server".into()));
        };
        self.wbuf.extend_from_slice(b"STLS\r\n");
        let status = self.read_line(512).await?;
        if !is_ok(&status) {
            return Ok(status);
        }
        let io = self.io.take().expect("checked by read_line");
        // Bytes buffered after +OK would be injected plaintext posing as
        // TLS-protected data (CVE-2011-0411 style): refuse.
        if !io.buffer().is_empty() {
            return Err(ConnError::Tls(
                "the server sent data after its STLS answer before the TLS handshake; refusing the connection".into(),
            ));
        }
        let tcp = io
            .into_inner()
            .into_plain()
            .ok_or_else(|| ConnError::Other("not a plain stream".into()))?;
        let stream = tokio::time::timeout(self.settings.read_timeout, tls.handshake(tcp))
            .await
            .map_err(|_| ConnError::Timeout)
            .and_then(|r| {
                r.map_err(|e| ConnError::Tls(explain_tls_error(&e, &self.settings.host)))
            });
        let stream = self.poison(stream)?;
        self.io = Some(BufReader::with_capacity(READ_BUF, stream));
        Ok(status)
    }

    /// Write the credential in the requested form and return the verdict.
    pub async fn authenticate(
        &mut self,
        mechanism: Mechanism,
        initial_response: bool,
    ) -> Result<AuthOutcome, ConnError> {
        if self.authenticated {
            return Err(ConnError::Refused("already logged in".into()));
        }
        self.check_settled("logging in")?;
        let loopback = self
            .io
            .as_ref()
            .is_some_and(|io| io.get_ref().peer_is_loopback());
        if !(self.is_secure() || (self.settings.allow_plaintext && loopback)) {
            return Err(ConnError::Refused(format!(
                "refusing to send credentials to {} without TLS; use tls = \"implicit\" or \"starttls\" (plaintext is only allowed for a loopback server with allow_plaintext = true)",
                self.settings.host
            )));
        }
        let bearer = matches!(mechanism, Mechanism::Xoauth2 | Mechanism::OauthBearer);
        if bearer != self.credential_is_bearer() {
            return Err(ConnError::Refused(format!(
                "mechanism {mechanism:?} does not fit the configured credential ({})",
                if self.credential_is_bearer() {
                    "an OAuth token"
                } else {
                    "a password"
                }
            )));
        }
        let outcome = if mechanism == Mechanism::UserPass {
            self.user_pass().await?
        } else {
            let (name, response) = sasl::initial_response(
                mechanism,
                &self.settings.user,
                &self.credential,
                &self.settings.host,
                self.settings.port,
            );
            self.sasl(name, &response, initial_response).await?
        };
        if matches!(outcome, AuthOutcome::Accepted(_)) {
            self.authenticated = true;
        }
        Ok(outcome)
    }

    async fn user_pass(&mut self) -> Result<AuthOutcome, ConnError> {
        let Credential::Password(pw) = self.credential.clone() else {
            unreachable!("checked by authenticate");
        };
        let user = self.settings.user.clone();
        self.queue_raw(&format!("USER {user}"));
        let status = self.read_line(512).await?;
        if !is_ok(&status) {
            return Ok(rejected(status, None));
        }
        self.queue_raw(&format!("PASS {}", pw.expose()));
        let status = self.read_line(512).await?;
        Ok(verdict(status, None))
    }

    async fn sasl(
        &mut self,
        name: &str,
        response: &Secret,
        initial: bool,
    ) -> Result<AuthOutcome, ConnError> {
        if initial {
            self.queue_raw(&format!("AUTH {name} {}", response.expose()));
        } else {
            self.queue_raw(&format!("AUTH {name}"));
            let cont = self.read_line(512).await?;
            if !cont.starts_with('+') || is_ok(&cont) {
                return Ok(verdict(cont, None));
            }
            self.queue_raw(response.expose());
        }
        // Token lines are long; the server's answer lines are not.
        let status = self.read_line(8192).await?;
        if is_ok(&status) || is_err(&status) {
            return Ok(verdict(status, None));
        }
        if let Some(challenge) = status.strip_prefix('+') {
            // Bearer mechanisms report errors as a base64 JSON challenge and
            // wait for an empty response before their -ERR.
            let decoded = sasl::decode_challenge(challenge.trim());
            self.queue_raw("");
            let status = self.read_line(8192).await?;
            return Ok(rejected(status, decoded));
        }
        Ok(rejected(status, None))
    }

    /// Queue a line the host itself composed (credentials), bypassing the
    /// plugin policy.
    fn queue_raw(&mut self, line: &str) {
        self.wbuf.extend_from_slice(line.as_bytes());
        self.wbuf.extend_from_slice(b"\r\n");
    }

    /// Close without QUIT: the server discards pending deletions.
    pub async fn abandon(mut self) {
        self.wbuf.clear();
        if let Some(mut io) = self.io.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), io.get_mut().shutdown()).await;
        }
    }
}

fn verdict(status: String, challenge: Option<String>) -> AuthOutcome {
    if is_ok(&status) {
        AuthOutcome::Accepted(status[3..].trim().to_string())
    } else {
        rejected(status, challenge)
    }
}

/// Status indicators are case-insensitive in practice (`+ok` exists).
fn is_ok(status: &str) -> bool {
    status
        .get(..3)
        .is_some_and(|s| s.eq_ignore_ascii_case("+OK"))
}

fn is_err(status: &str) -> bool {
    status
        .get(..4)
        .is_some_and(|s| s.eq_ignore_ascii_case("-ERR"))
}

fn rejected(response: String, challenge: Option<String>) -> AuthOutcome {
    AuthOutcome::Rejected {
        response,
        challenge,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_section_of_a_cut_off_message() {
        let msg = b"From: a@b\r\nSubject: big\r\n\r\nbody body\r\n";
        assert_eq!(header_section(msg), b"From: a@b\r\nSubject: big\r\n\r\n");
        // No blank line yet: the whole lines that arrived.
        assert_eq!(header_section(b"From: a@b\r\nSubj"), b"From: a@b\r\n");
        // Never more than TOO_LARGE_HEAD bytes.
        let long = format!("X: {}\r\n", "y".repeat(TOO_LARGE_HEAD * 2));
        assert!(header_section(long.as_bytes()).is_empty());
        let many = "X: y\r\n".repeat(TOO_LARGE_HEAD);
        let head = header_section(many.as_bytes());
        assert!(head.len() <= TOO_LARGE_HEAD && head.ends_with(b"\r\n"));
    }
}
