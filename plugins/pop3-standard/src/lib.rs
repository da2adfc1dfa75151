//! Reference POP3 dialogue plugin: RFC 1939 with CAPA (RFC 2449), STLS, SASL
//! logins performed by the host, and pipelining where the server allows it.
//!
//! This is thin glue between the host's `connection` and `pop3-proto`, which
//! does all parsing and decides the dialogue.

use std::cell::RefCell;

use pop3_proto::{self as proto, Capabilities, Status};

wit_bindgen::generate!({ path: "../../wit", world: "pop3-dialogue" });

use exports::popline::plugin::dialogue::{
    ErrorKind, Guest, Listing, Pop3Error, ServerInfo, SessionParams, TlsMode,
};
use popline::plugin::connection::{
    AuthOutcome, AuthRequest, Connection, CredentialKind, IoError, Mechanism, Message,
};
use popline::plugin::log::{Level, log};

/// Bound for status lines: RFC 2449 allows 512 octets, some servers chat more.
const STATUS_LINE_MAX: u32 = 1024;
/// Chunk size when copying a multi-line body (CAPA, LIST, UIDL) into the guest.
const READ_CHUNK: u32 = 64 * 1024;
/// Listing warnings logged one by one; the rest are only counted.
const WARNINGS_LOGGED_MAX: usize = 20;

/// The one session this instance serves.
struct Session {
    conn: Connection,
    caps: Capabilities,
    pipelining: bool,
    /// Set once the transport failed or the server sent garbage: where the
    /// stream stands is unknown, so nothing more may be sent or read.
    broken: Option<Pop3Error>,
}

/// Why one command of a batch failed.
enum Failure {
    /// The server answered `-ERR`; the session goes on.
    Refused(Pop3Error),
    /// The connection is unusable from here on.
    Broken(Pop3Error),
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

struct Plugin;

export!(Plugin);

impl Guest for Plugin {
    fn open(conn: Connection, params: SessionParams) -> Result<ServerInfo, Pop3Error> {
        if SESSION.with_borrow(Option::is_some) {
            return Err(error(ErrorKind::Other, "open called twice on one instance"));
        }
        let (session, info) = open(conn, &params)?;
        SESSION.set(Some(session));
        Ok(info)
    }

    fn list() -> Result<Vec<Listing>, Pop3Error> {
        with_session(Session::list)?
    }

    fn retrieve(numbers: Vec<u32>) -> Vec<Result<Message, Pop3Error>> {
        let commands: Vec<String> = numbers.iter().map(|n| format!("RETR {n}")).collect();
        with_session(|session| session.run(&commands, read_body))
            .unwrap_or_else(|e| numbers.iter().map(|_| Err(e.clone())).collect())
    }

    fn top(number: u32, lines: u32) -> Result<Message, Pop3Error> {
        with_session(|session| {
            let result = session.run(&[format!("TOP {number} {lines}")], read_body);
            one(result).map_err(|e| unsupported_if(!session.caps.top(), e))
        })?
    }

    fn delete(numbers: Vec<u32>) -> Vec<Result<(), Pop3Error>> {
        let commands: Vec<String> = numbers.iter().map(|n| format!("DELE {n}")).collect();
        with_session(|session| session.run(&commands, read_ok))
            .unwrap_or_else(|e| vec![Err(e); numbers.len()])
    }

    fn quit() -> Result<(), Pop3Error> {
        // QUIT ends the session whatever the answer; dropping it releases the
        // connection handle.
        let mut session = SESSION
            .take()
            .ok_or_else(|| error(ErrorKind::Other, "no open session"))?;
        one(session.run(&["QUIT".to_owned()], read_ok)).map_err(|e| Pop3Error {
            message: format!("{} (deletions were not committed)", e.message),
            ..e
        })?;
        log(Level::Debug, "session ended");
        Ok(())
    }
}

/// Greet, upgrade to TLS if asked, read the capabilities and log in.
fn open(conn: Connection, params: &SessionParams) -> Result<(Session, ServerInfo), Pop3Error> {
    log(
        Level::Debug,
        &format!("opening session for {}", params.user),
    );
    let line = conn
        .read_line(STATUS_LINE_MAX)
        .map_err(|e| io_error("reading the greeting", e))?;
    let greeting = Status::parse_ok(&line).map_err(|e| proto_error(e.context("greeting")))?;
    log(Level::Debug, &format!("greeting: {greeting}"));

    match params.tls {
        TlsMode::Starttls => {
            let line = conn.start_tls().map_err(|e| io_error("STLS", e))?;
            match Status::parse(&line).map_err(|e| proto_error(e.context("STLS")))? {
                Status::Ok(_) => {}
                Status::Err(refusal) => {
                    return Err(error(
                        ErrorKind::Unsupported,
                        format!("server refused STLS: {}", refusal.line),
                    ));
                }
                Status::Continue(_) => {
                    return Err(proto_error(proto::Error::unexpected_line(
                        "STLS answered with a continuation",
                        &line,
                    )));
                }
            }
        }
        TlsMode::Implicit => {}
        TlsMode::None => log(
            Level::Debug,
            "no TLS requested; the host decides whether credentials may be sent",
        ),
    }
    let secure = conn.is_secure();
    if !secure && !matches!(params.tls, TlsMode::None) {
        return Err(error(
            ErrorKind::Unsupported,
            "the connection is not TLS although TLS was requested",
        ));
    }

    let mut caps = capa(&conn)?;
    let credential = match conn.credential() {
        CredentialKind::Password => proto::CredentialKind::Password,
        CredentialKind::BearerToken => proto::CredentialKind::BearerToken,
    };
    let mechanism = proto::choose_mechanism(&caps, secure, credential, &params.mechanisms)
        .map_err(proto_error)?;
    log(Level::Debug, &format!("logging in with {mechanism}"));
    login(&conn, mechanism)?;

    // Capabilities may change after login (RFC 2449); ask again only when the
    // one we cannot do without was missing.
    if !caps.uidl() {
        let after = capa(&conn)?;
        if after.announced() {
            caps = after;
        }
    }
    let pipelining = caps.pipelining();
    log(
        Level::Debug,
        &format!(
            "logged in; capabilities: {}; pipelining: {pipelining}",
            caps.lines().join(", ")
        ),
    );
    let info = ServerInfo {
        greeting,
        capabilities: caps.lines().to_vec(),
        mechanism: mechanism.name().to_owned(),
        pipelining,
    };
    let session = Session {
        conn,
        caps,
        pipelining,
        broken: None,
    };
    Ok((session, info))
}

/// Ask CAPA; a server that answers `-ERR` has no capabilities to announce.
fn capa(conn: &Connection) -> Result<Capabilities, Pop3Error> {
    conn.write_line("CAPA").map_err(|e| io_error("CAPA", e))?;
    match read_body(conn, "CAPA") {
        Ok(body) => Ok(Capabilities::parse(&message_bytes(&body))),
        Err(Failure::Refused(e)) => {
            log(Level::Debug, &format!("no capabilities: {}", e.message));
            Ok(Capabilities::default())
        }
        Err(Failure::Broken(e)) => Err(e),
    }
}

/// Have the host log in with `mechanism`, in two steps: Office 365 rejects
/// the one-line (initial response) form of XOAUTH2.
fn login(conn: &Connection, mechanism: proto::Mechanism) -> Result<(), Pop3Error> {
    let request = AuthRequest {
        mechanism: match mechanism {
            proto::Mechanism::UserPass => Mechanism::UserPass,
            proto::Mechanism::Plain => Mechanism::Plain,
            proto::Mechanism::XOAuth2 => Mechanism::Xoauth2,
            proto::Mechanism::OAuthBearer => Mechanism::Oauthbearer,
        },
        initial_response: false,
    };
    match conn
        .authenticate(request)
        .map_err(|e| io_error("login", e))?
    {
        AuthOutcome::Accepted(_) => Ok(()),
        AuthOutcome::Rejected(rejection) => {
            // A login refused for a server-side reason ([IN-USE], [SYS/TEMP])
            // keeps that kind; any other refusal is about the credentials.
            let kind = match Status::parse(&rejection.response) {
                Ok(Status::Err(refusal)) => refusal.login_kind(),
                _ => proto::ErrorKind::Auth,
            };
            let mut message = format!("{mechanism} login rejected: {}", rejection.response);
            if let Some(challenge) = rejection.challenge {
                message.push_str(&format!("; server challenge: {challenge}"));
            }
            Err(proto_error(proto::Error::new(kind, message)))
        }
    }
}

impl Session {
    /// LIST and UIDL (pipelined when allowed), joined by message number.
    fn list(&mut self) -> Result<Vec<Listing>, Pop3Error> {
        let commands = ["LIST".to_owned(), "UIDL".to_owned()];
        let results = self.run(&commands, |conn, command| {
            read_body(conn, command).map(|body| message_bytes(&body))
        });
        let Ok([list, uidl]) = <[_; 2]>::try_from(results) else {
            unreachable!("run answers once per command")
        };
        let list = list?;
        let uidl = uidl.map_err(|e| unsupported_if(!self.caps.uidl(), e))?;
        let listings = proto::join_listings(&list, &uidl).map_err(proto_error)?;

        for warning in listings.warnings.iter().take(WARNINGS_LOGGED_MAX) {
            log(Level::Warn, warning);
        }
        let unlogged = listings.warnings.len().saturating_sub(WARNINGS_LOGGED_MAX);
        if unlogged > 0 {
            log(Level::Warn, &format!("{unlogged} more listing warnings"));
        }
        log(
            Level::Debug,
            &format!("{} messages listed", listings.entries.len()),
        );
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

    /// Send `commands` pipelined through a sliding [`proto::Window`] and read
    /// each answer with `read`. One result per command, in order; after a broken
    /// connection every remaining command fails too.
    fn run<T>(
        &mut self,
        commands: &[String],
        mut read: impl FnMut(&Connection, &str) -> Result<T, Failure>,
    ) -> Vec<Result<T, Pop3Error>> {
        let mut window = proto::Window::new(commands.len(), self.pipelining);
        let mut results = Vec::with_capacity(commands.len());
        let mut written = std::collections::VecDeque::new();
        for (i, command) in commands.iter().enumerate() {
            // Queued lines go out with the next read.
            for next in window.top_up(i) {
                let w = self.write(&commands[next]);
                written.push_back(w);
            }
            if let Err(e) = written.pop_front().expect("queued by top_up") {
                results.push(Err(e));
                continue;
            }
            if let Some(broken) = &self.broken {
                results.push(Err(unusable(broken)));
                continue;
            }
            results.push(match read(&self.conn, command) {
                Ok(value) => Ok(value),
                Err(Failure::Refused(e)) => Err(e),
                Err(Failure::Broken(e)) => {
                    self.broken = Some(e.clone());
                    Err(e)
                }
            });
        }
        results
    }

    /// Queue one command. A line the host refuses is not sent, so only that
    /// command fails; any other write failure breaks the session.
    fn write(&mut self, command: &str) -> Result<(), Pop3Error> {
        if let Some(broken) = &self.broken {
            return Err(unusable(broken));
        }
        match self.conn.write_line(command) {
            Ok(()) => Ok(()),
            Err(e @ IoError::Refused(_)) => Err(io_error(command, e)),
            Err(e) => {
                let e = io_error(command, e);
                self.broken = Some(e.clone());
                Err(e)
            }
        }
    }
}

/// Read a status line that must be `+OK` (single-line answers).
fn read_ok(conn: &Connection, command: &str) -> Result<(), Failure> {
    read_status(conn, command).map(drop)
}

/// Read the status line and, on `+OK`, the multi-line body held by the host.
fn read_body(conn: &Connection, command: &str) -> Result<Message, Failure> {
    read_status(conn, command)?;
    conn.read_multiline()
        .map_err(|e| Failure::Broken(io_error(command, e)))
}

fn read_status(conn: &Connection, command: &str) -> Result<String, Failure> {
    let line = conn
        .read_line(STATUS_LINE_MAX)
        .map_err(|e| Failure::Broken(io_error(command, e)))?;
    match Status::parse(&line) {
        Ok(Status::Ok(text)) => Ok(text),
        Ok(Status::Err(refusal)) => Err(Failure::Refused(proto_error(
            refusal.to_error().context(command),
        ))),
        // A continuation is as out of step as garbage.
        Ok(Status::Continue(_)) => Err(Failure::Broken(proto_error(
            proto::Error::unexpected_line("expected +OK or -ERR, got", &line).context(command),
        ))),
        Err(e) => Err(Failure::Broken(proto_error(e.context(command)))),
    }
}

/// Copy a (small) multi-line body into the guest.
fn message_bytes(message: &Message) -> Vec<u8> {
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

fn with_session<R>(f: impl FnOnce(&mut Session) -> R) -> Result<R, Pop3Error> {
    SESSION.with_borrow_mut(|session| {
        session
            .as_mut()
            .map(f)
            .ok_or_else(|| error(ErrorKind::Other, "no open session"))
    })
}

/// The only result of a one-command batch.
fn one<T>(results: Vec<Result<T, Pop3Error>>) -> Result<T, Pop3Error> {
    results
        .into_iter()
        .next()
        .expect("run answers once per command")
}

/// A plain `-ERR` to an optional command the server did not advertise means
/// the server lacks it.
fn unsupported_if(lacks_command: bool, e: Pop3Error) -> Pop3Error {
    if lacks_command && matches!(e.kind, ErrorKind::Other) {
        Pop3Error {
            kind: ErrorKind::Unsupported,
            ..e
        }
    } else {
        e
    }
}

fn unusable(broken: &Pop3Error) -> Pop3Error {
    Pop3Error {
        kind: broken.kind,
        message: format!(
            "not attempted, the connection is unusable: {}",
            broken.message
        ),
    }
}

fn error(kind: ErrorKind, message: impl Into<String>) -> Pop3Error {
    Pop3Error {
        kind,
        message: message.into(),
    }
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
