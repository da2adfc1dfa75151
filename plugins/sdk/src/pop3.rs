//! POP3 dialogue plugins: the host lends a connection (socket, TLS and
//! credentials stay in the host), the plugin speaks the protocol.
//!
//! Every [`Pop3Dialogue`] method has a default that follows RFC 1939 with CAPA
//! (RFC 2449), STLS and host-performed SASL logins, and pipelines LIST + UIDL,
//! RETR and DELE through a sliding [`pop3_proto::Window`] when the server
//! advertises PIPELINING (one command at a time otherwise). So
//! `impl Pop3Dialogue for MyDialogue {}` is a complete dialogue: the reference
//! plugin `pop3-standard` is exactly that. Override the step that your server
//! needs done differently, and call the [`Session`] helpers (or the default
//! through [`Session::standard_open`] and friends) for the rest.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::marker::PhantomData;

use pop3_proto::{self as proto, Capabilities, Status};

use crate::bindings::dialogue::exports::popline::plugin::dialogue::Guest;
pub use crate::bindings::dialogue::exports::popline::plugin::dialogue::{
    ErrorKind, Listing, Pop3Error, ServerInfo, SessionParams, TlsMode,
};
pub use crate::bindings::dialogue::popline::plugin::connection::{
    AuthOutcome, AuthRejection, AuthRequest, Connection, CredentialKind, IoError, Mechanism,
    Message,
};

/// Bound for one status line (RFC 2449 allows 512 octets; servers chat more).
pub const STATUS_LINE_MAX: u32 = 1024;
/// Chunk size when copying a multi-line body (CAPA, LIST, UIDL) into the guest.
const READ_CHUNK: u32 = 64 * 1024;
/// Listing warnings logged one by one; the rest are only counted.
const WARNINGS_LOGGED_MAX: usize = 20;

/// A POP3 dialogue. All methods have defaults; each gets the one [`Session`]
/// this instance serves (the host creates an instance per session).
pub trait Pop3Dialogue {
    /// Greet, upgrade to TLS when asked, read CAPA and log in.
    fn open(session: &mut Session, params: &SessionParams) -> Result<ServerInfo, Pop3Error> {
        session.standard_open(params)
    }

    /// Every message with its number, unique id and size (LIST + UIDL).
    fn list(session: &mut Session) -> Result<Vec<Listing>, Pop3Error> {
        session.standard_list()
    }

    /// RETR each number, in order (pipelined when the server allows it); one
    /// result per number.
    fn retrieve(session: &mut Session, numbers: &[u32]) -> Vec<Result<Message, Pop3Error>> {
        session.pipeline(&numbered("RETR", numbers), Session::read_body)
    }

    /// Headers plus `lines` body lines of message `number` (TOP).
    fn top(session: &mut Session, number: u32, lines: u32) -> Result<Message, Pop3Error> {
        let top = session.multiline(&format!("TOP {number} {lines}"));
        top.map_err(|e| unsupported_if(!session.capabilities.top(), e))
    }

    /// DELE each number (pipelined when the server allows it; the host only
    /// allows the numbers it asked for).
    fn delete(session: &mut Session, numbers: &[u32]) -> Vec<Result<(), Pop3Error>> {
        session.pipeline(&numbered("DELE", numbers), |s, command| {
            s.read_status(command).map(drop)
        })
    }

    /// QUIT: commits deletions and ends the session.
    fn quit(session: &mut Session) -> Result<(), Pop3Error> {
        session.command("QUIT").map_err(|e| Pop3Error {
            message: format!("{} (deletions were not committed)", e.message),
            ..e
        })?;
        log::debug!("session ended");
        Ok(())
    }
}

/// The session this instance serves: the lent connection and what was
/// learned about the server.
pub struct Session {
    /// The connection the host lent (socket, TLS and credential stay there).
    pub conn: Connection,
    /// The server's CAPA answer (empty until read, or when it has none).
    pub capabilities: Capabilities,
    /// Set once the transport failed or the server said something out of
    /// step: where the stream stands is unknown, so nothing more is sent or
    /// read after that.
    broken: Option<Pop3Error>,
}

impl Session {
    fn new(conn: Connection) -> Session {
        Session {
            conn,
            capabilities: Capabilities::default(),
            broken: None,
        }
    }

    /// Whether the server advertised PIPELINING, so [`Session::pipeline`]
    /// keeps a window of commands in flight.
    pub fn pipelining(&self) -> bool {
        self.capabilities.pipelining()
    }

    /// Send one command and read its `+OK` status line (the text after
    /// `+OK`). `-ERR` becomes an error whose kind follows the response code.
    pub fn command(&mut self, line: &str) -> Result<String, Pop3Error> {
        self.write(line)?;
        self.read_status(line)
    }

    /// Send a command answered by a multi-line response and return the body,
    /// held by the host (read it with [`Message::read`]).
    pub fn multiline(&mut self, line: &str) -> Result<Message, Pop3Error> {
        self.write(line)?;
        self.read_body(line)
    }

    /// Send a multi-line command and copy its (small) body into the guest.
    pub fn multiline_bytes(&mut self, line: &str) -> Result<Vec<u8>, Pop3Error> {
        self.multiline(line).map(|m| message_bytes(&m))
    }

    /// Send `commands` and read each answer with `read` (e.g.
    /// [`Session::read_body`]), through a sliding [`proto::Window`]: up to
    /// [`proto::PIPELINE_WINDOW`] commands in flight when the server
    /// advertises PIPELINING, one at a time otherwise. One result per
    /// command, in order; once the connection broke, every remaining command
    /// fails too.
    pub fn pipeline<T>(
        &mut self,
        commands: &[String],
        mut read: impl FnMut(&mut Session, &str) -> Result<T, Pop3Error>,
    ) -> Vec<Result<T, Pop3Error>> {
        let mut window = proto::Window::new(commands.len(), self.pipelining());
        let mut written = VecDeque::new();
        let mut results = Vec::with_capacity(commands.len());
        for (i, command) in commands.iter().enumerate() {
            // Queued lines go out with the next read.
            for next in window.top_up(i) {
                written.push_back(self.write(&commands[next]));
            }
            let sent = written.pop_front().expect("queued by top_up");
            results.push(sent.and_then(|()| match &self.broken {
                Some(broken) => Err(unusable(broken)),
                None => read(self, command),
            }));
        }
        results
    }

    /// Read the status line answering `what` and return the text after
    /// `+OK`. `-ERR` is an error (the session goes on); anything else, or a
    /// transport failure, breaks the session.
    pub fn read_status(&mut self, what: &str) -> Result<String, Pop3Error> {
        if let Some(b) = &self.broken {
            return Err(unusable(b));
        }
        let line = self
            .conn
            .read_line(STATUS_LINE_MAX)
            .map_err(|e| self.broke(what, e))?;
        match Status::parse(&line) {
            Ok(Status::Ok(text)) => Ok(text),
            Ok(Status::Err(refusal)) => Err(proto_error(refusal.to_error().context(what))),
            // A continuation is as out of step as garbage.
            Ok(Status::Continue(_)) => Err(self.mark_broken(proto_error(
                proto::Error::unexpected_line("expected +OK or -ERR, got", &line).context(what),
            ))),
            Err(e) => Err(self.mark_broken(proto_error(e.context(what)))),
        }
    }

    /// Read the status line answering `what` and, on `+OK`, the multi-line
    /// body, held by the host.
    pub fn read_body(&mut self, what: &str) -> Result<Message, Pop3Error> {
        self.read_status(what)?;
        self.conn.read_multiline().map_err(|e| self.broke(what, e))
    }

    /// The default `open`: greeting, STLS if asked, CAPA, mechanism choice
    /// (`params.mechanisms`, else what the server offers for the credential
    /// the host holds), login performed by the host, and CAPA again when the
    /// first answer lacked UIDL (capabilities may change after login).
    pub fn standard_open(&mut self, params: &SessionParams) -> Result<ServerInfo, Pop3Error> {
        log::debug!("opening session for {}", params.user);
        let greeting = self.read_greeting()?;
        log::debug!("greeting: {greeting}");
        match params.tls {
            TlsMode::Starttls => self.start_tls()?,
            TlsMode::Implicit => {}
            TlsMode::None => {
                log::debug!("no TLS requested; the host decides whether credentials may be sent")
            }
        }
        let secure = self.conn.is_secure();
        if !secure && params.tls != TlsMode::None {
            return Err(error(
                ErrorKind::Unsupported,
                "the connection is not TLS although TLS was requested",
            ));
        }

        self.capabilities = self.capa()?;
        let credential = match self.conn.credential() {
            CredentialKind::Password => proto::CredentialKind::Password,
            CredentialKind::BearerToken => proto::CredentialKind::BearerToken,
        };
        let mechanism =
            proto::choose_mechanism(&self.capabilities, secure, credential, &params.mechanisms)
                .map_err(proto_error)?;
        log::debug!("logging in with {mechanism}");
        self.login(mechanism)?;

        // Capabilities may change after login (RFC 2449); ask again only when
        // the one we cannot do without was missing.
        if !self.capabilities.uidl() {
            let after = self.capa()?;
            if after.announced() {
                self.capabilities = after;
            }
        }
        let pipelining = self.pipelining();
        log::debug!(
            "logged in; capabilities: {}; pipelining: {pipelining}",
            self.capabilities.lines().join(", ")
        );
        Ok(ServerInfo {
            greeting,
            capabilities: self.capabilities.lines().to_vec(),
            mechanism: mechanism.name().to_owned(),
            pipelining,
        })
    }

    /// The default `list`: LIST and UIDL (pipelined when allowed), joined by
    /// message number.
    pub fn standard_list(&mut self) -> Result<Vec<Listing>, Pop3Error> {
        let commands = ["LIST".to_owned(), "UIDL".to_owned()];
        let bodies = self.pipeline(&commands, |s, command| {
            s.read_body(command).map(|body| message_bytes(&body))
        });
        let Ok([list, uidl]) = <[_; 2]>::try_from(bodies) else {
            unreachable!("pipeline answers once per command")
        };
        let list = list?;
        let uidl = uidl.map_err(|e| unsupported_if(!self.capabilities.uidl(), e))?;
        let listings = proto::join_listings(&list, &uidl).map_err(proto_error)?;

        for warning in listings.warnings.iter().take(WARNINGS_LOGGED_MAX) {
            log::warn!("{warning}");
        }
        let unlogged = listings.warnings.len().saturating_sub(WARNINGS_LOGGED_MAX);
        if unlogged > 0 {
            log::warn!("{unlogged} more listing warnings");
        }
        log::debug!("{} messages listed", listings.entries.len());
        Ok(listings
            .entries
            .into_iter()
            .map(|entry| Listing {
                number: entry.number,
                uid: entry.uid,
                size: entry.size,
            })
            .collect())
    }

    fn read_greeting(&mut self) -> Result<String, Pop3Error> {
        let line = self
            .conn
            .read_line(STATUS_LINE_MAX)
            .map_err(|e| self.broke("reading the greeting", e))?;
        Status::parse_ok(&line).map_err(|e| self.mark_broken(proto_error(e.context("greeting"))))
    }

    fn start_tls(&mut self) -> Result<(), Pop3Error> {
        let line = self.conn.start_tls().map_err(|e| self.broke("STLS", e))?;
        match Status::parse(&line).map_err(|e| proto_error(e.context("STLS")))? {
            Status::Ok(_) => Ok(()),
            Status::Err(refusal) => Err(error(
                ErrorKind::Unsupported,
                format!("server refused STLS: {}", refusal.line),
            )),
            Status::Continue(_) => Err(proto_error(proto::Error::unexpected_line(
                "STLS answered with a continuation",
                &line,
            ))),
        }
    }

    /// Ask CAPA; a server that answers `-ERR` has no capabilities to announce.
    fn capa(&mut self) -> Result<Capabilities, Pop3Error> {
        match self.multiline_bytes("CAPA") {
            Ok(body) => Ok(Capabilities::parse(&body)),
            Err(e) if self.broken.is_some() || e.kind == ErrorKind::Io => Err(e),
            Err(e) => {
                log::debug!("no capabilities: {}", e.message);
                Ok(Capabilities::default())
            }
        }
    }

    /// Have the host log in with `mechanism`, in two steps (no initial
    /// response): Office 365 rejects the one-line form of XOAUTH2.
    fn login(&mut self, mechanism: proto::Mechanism) -> Result<(), Pop3Error> {
        let request = AuthRequest {
            mechanism: match mechanism {
                proto::Mechanism::UserPass => Mechanism::UserPass,
                proto::Mechanism::Plain => Mechanism::Plain,
                proto::Mechanism::XOAuth2 => Mechanism::Xoauth2,
                proto::Mechanism::OAuthBearer => Mechanism::Oauthbearer,
            },
            initial_response: false,
        };
        match self
            .conn
            .authenticate(request)
            .map_err(|e| self.broke("login", e))?
        {
            AuthOutcome::Accepted(_) => Ok(()),
            AuthOutcome::Rejected(r) => {
                // A login refused for a server-side reason ([IN-USE],
                // [SYS/TEMP]) keeps that kind; any other refusal is about the
                // credentials.
                let kind = match Status::parse(&r.response) {
                    Ok(Status::Err(refusal)) => refusal.login_kind(),
                    _ => proto::ErrorKind::Auth,
                };
                let mut message = format!("{mechanism} login rejected: {}", r.response);
                if let Some(challenge) = r.challenge {
                    message.push_str(&format!("; server challenge: {challenge}"));
                }
                Err(proto_error(proto::Error::new(kind, message)))
            }
        }
    }

    /// Queue one command. A line the host refuses is not sent, so only that
    /// command fails; any other write failure breaks the session.
    fn write(&mut self, line: &str) -> Result<(), Pop3Error> {
        if let Some(b) = &self.broken {
            return Err(unusable(b));
        }
        match self.conn.write_line(line) {
            Ok(()) => Ok(()),
            Err(e @ IoError::Refused(_)) => Err(io_error(line, e)),
            Err(e) => Err(self.broke(line, e)),
        }
    }

    fn broke(&mut self, what: &str, e: IoError) -> Pop3Error {
        self.mark_broken(io_error(what, e))
    }

    fn mark_broken(&mut self, e: Pop3Error) -> Pop3Error {
        self.broken = Some(e.clone());
        e
    }
}

/// `VERB n` for each number.
fn numbered(verb: &str, numbers: &[u32]) -> Vec<String> {
    numbers.iter().map(|n| format!("{verb} {n}")).collect()
}

/// A plain `-ERR` to an optional command the server did not advertise means
/// the server lacks it.
fn unsupported_if(lacks_command: bool, e: Pop3Error) -> Pop3Error {
    if lacks_command && e.kind == ErrorKind::Other {
        Pop3Error {
            kind: ErrorKind::Unsupported,
            ..e
        }
    } else {
        e
    }
}

/// Copy a (small) multi-line body held by the host into the guest.
pub fn message_bytes(message: &Message) -> Vec<u8> {
    let size = message.size();
    let mut bytes = Vec::new();
    while (bytes.len() as u64) < size {
        let chunk = message.read(bytes.len() as u64, READ_CHUNK);
        // A body shorter than announced must not spin forever.
        if chunk.is_empty() {
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    bytes
}

/// A [`Pop3Error`] of `kind`.
pub fn error(kind: ErrorKind, message: impl Into<String>) -> Pop3Error {
    Pop3Error {
        kind,
        message: message.into(),
    }
}

fn unusable(broken: &Pop3Error) -> Pop3Error {
    error(
        broken.kind,
        format!(
            "not attempted, the connection is unusable: {}",
            broken.message
        ),
    )
}

fn proto_error(e: proto::Error) -> Pop3Error {
    let kind = match e.kind {
        proto::ErrorKind::InUse => ErrorKind::InUse,
        proto::ErrorKind::Auth => ErrorKind::Auth,
        proto::ErrorKind::SysTemp => ErrorKind::SysTemp,
        proto::ErrorKind::SysPerm => ErrorKind::SysPerm,
        proto::ErrorKind::Protocol => ErrorKind::Protocol,
        proto::ErrorKind::Unsupported => ErrorKind::Unsupported,
        proto::ErrorKind::Other => ErrorKind::Other,
    };
    error(kind, e.message)
}

fn io_error(context: &str, e: IoError) -> Pop3Error {
    let detail = match e {
        IoError::Timeout => "timed out waiting for the server".to_owned(),
        IoError::Closed => "the server closed the connection".to_owned(),
        IoError::LineTooLong(max) => format!("response line longer than {max} bytes"),
        IoError::TooLarge(max) => format!("response larger than {max} bytes"),
        IoError::Tls(detail) => format!("TLS failed: {detail}"),
        IoError::Refused(detail) => format!("refused by the host: {detail}"),
        IoError::Other(detail) => detail,
    };
    error(ErrorKind::Io, format!("{context}: {detail}"))
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

fn with_session<R>(f: impl FnOnce(&mut Session) -> R) -> Result<R, Pop3Error> {
    SESSION.with_borrow_mut(|s| {
        s.as_mut()
            .map(f)
            .ok_or_else(|| error(ErrorKind::Other, "no open session"))
    })
}

/// The glue between [`Pop3Dialogue`] and the generated bindings; used by
/// [`export_pop3_dialogue!`](crate::export_pop3_dialogue).
#[doc(hidden)]
pub struct Export<T>(PhantomData<T>);

impl<T: Pop3Dialogue> Guest for Export<T> {
    fn open(conn: Connection, params: SessionParams) -> Result<ServerInfo, Pop3Error> {
        crate::init_logger();
        if SESSION.with_borrow(Option::is_some) {
            return Err(error(ErrorKind::Other, "open called twice on one instance"));
        }
        let mut session = Session::new(conn);
        let info = T::open(&mut session, &params)?;
        SESSION.set(Some(session));
        Ok(info)
    }

    fn list() -> Result<Vec<Listing>, Pop3Error> {
        with_session(T::list)?
    }

    fn retrieve(numbers: Vec<u32>) -> Vec<Result<Message, Pop3Error>> {
        with_session(|s| T::retrieve(s, &numbers))
            .unwrap_or_else(|e| numbers.iter().map(|_| Err(e.clone())).collect())
    }

    fn top(number: u32, lines: u32) -> Result<Message, Pop3Error> {
        with_session(|s| T::top(s, number, lines))?
    }

    fn delete(numbers: Vec<u32>) -> Vec<Result<(), Pop3Error>> {
        with_session(|s| T::delete(s, &numbers))
            .unwrap_or_else(|e| numbers.iter().map(|_| Err(e.clone())).collect())
    }

    fn quit() -> Result<(), Pop3Error> {
        // QUIT ends the session whatever the answer; dropping it releases the
        // connection handle.
        let mut session = SESSION
            .take()
            .ok_or_else(|| error(ErrorKind::Other, "no open session"))?;
        T::quit(&mut session)
    }
}
