//! A scripted POP3 server on loopback: a real (small) RFC 1939 state machine
//! over plain TCP, one maildrop per user, that records every command it
//! receives and can be told to misbehave ([`Fault`], [`UidStyle`],
//! [`Script::list_size`], [`Script::ignore_pipelined`]).
//!
//! As on a real server, a session sees the maildrop as it was at login,
//! numbered from 1, and deletions take effect only at QUIT.
//!
//! The server runs on its own thread and runtime, so a test may block (run
//! the `popline` binary and wait for it) while the server keeps answering;
//! dropping the [`ScriptedServer`] stops it, stalled sessions included.
//!
//! Where [`crate::Dovecot`] is the real server, this one is the broken one:
//! popline's fault, load and hostile-plugin tests (`tests/all`) use it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

use crate::server_thread::ServerThread;

/// How the server should behave. `Script::default()` is a well-behaved
/// server without capabilities; tests name only what they change.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Capabilities to advertise (CAPA lines).
    pub capa: Vec<String>,
    /// The first user's name and password (see [`ScriptedServer::add_user`]
    /// for more).
    pub user: String,
    pub password: String,
    /// How UIDL names messages.
    pub uids: UidStyle,
    /// LIST reports this size for every message instead of the real one.
    pub list_size: Option<u64>,
    /// After each command, throw away whatever else the client already sent:
    /// a server that advertises PIPELINING but does not honour it.
    pub ignore_pipelined: bool,
    /// Misbehaviour on cue; the first matching fault wins.
    pub faults: Vec<Fault>,
    /// Accept `AUTH XOAUTH2` as Office 365 does: in two steps only (the
    /// one-line SASL-IR form gets `-ERR Protocol error. Connection is
    /// closed. 10` and the connection closes), the token judged by this
    /// check of `(user, token)`; a refusal is `-ERR Authentication
    /// failure: unknown user name or bad password.`
    pub xoauth2: Option<TokenCheck>,
}

/// Whether an access token opens a user's mailbox (see [`Script::xoauth2`]).
#[derive(Clone)]
pub struct TokenCheck(pub Arc<TokenCheckFn>);

/// `(user, token)` → whether the token opens the user's mailbox.
pub type TokenCheckFn = dyn Fn(&str, &str) -> bool + Send + Sync;

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCheck")
    }
}

/// Unique ids as UIDL reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UidStyle {
    /// `uid-N`, N the message's arrival order on the server: stable and unique.
    #[default]
    Stable,
    /// Stable, but 100 characters (RFC 1939 allows at most 70).
    Long,
    /// Messages 1 and 2 share `dup-1`, 3 and 4 share `dup-2`, ... (arrival order).
    Paired,
    /// A new id for every message in every session (`sK-N`, K the login count).
    PerSession,
    /// The message number in the session: ids are reused once messages are
    /// deleted (a server deriving ids from positions).
    Position,
}

/// One misbehaviour: when a session of `user` (any user if `None`) receives
/// `verb` (with argument `arg`, if set), do `action` instead of answering.
/// The verb `GREETING` is the server's first line.
#[derive(Debug, Clone)]
pub struct Fault {
    pub user: Option<String>,
    pub verb: String,
    pub arg: Option<usize>,
    pub action: Action,
}

impl Fault {
    /// A fault on every `verb`, for every user.
    pub fn on(verb: &str, action: Action) -> Fault {
        Fault {
            user: None,
            verb: verb.to_ascii_uppercase(),
            arg: None,
            action,
        }
    }

    /// Only when the command's argument is `n` (e.g. `RETR 3`).
    pub fn arg(mut self, n: usize) -> Fault {
        self.arg = Some(n);
        self
    }

    /// Only in sessions of `user`.
    pub fn user(mut self, user: &str) -> Fault {
        self.user = Some(user.to_string());
        self
    }
}

/// What a [`Fault`] does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send these bytes instead of the answer (an `-ERR [IN-USE]`, garbage,
    /// an over-long line...). The command has no other effect.
    Reply(Vec<u8>),
    /// Close the connection without answering.
    Close,
    /// Send the first half of the answer's status line (no line end), then
    /// close.
    CloseMidLine,
    /// Send the status line and half the multi-line body, then close.
    CloseMidBody,
    /// Answer nothing more; keep the connection open.
    Stall,
    /// Send the status line and half the body, then fall silent.
    StallMidBody,
    /// Send the answer one byte at a time with this pause between bytes
    /// (shorter than the client's read timeout, so only a rate check stops
    /// it).
    Trickle(std::time::Duration),
}

impl Action {
    /// [`Action::Reply`] with one line (CRLF added).
    pub fn line(text: &str) -> Action {
        Action::Reply(format!("{text}\r\n").into_bytes())
    }
}

struct Stored {
    /// Arrival order on the server, from 1.
    id: usize,
    body: Vec<u8>,
    deleted: bool,
}

/// The maildrop as one session sees it: (arrival id, body), numbered from 1.
type SessionDrop = Vec<(usize, Vec<u8>)>;

struct Maildrop {
    password: String,
    messages: Vec<Stored>,
    logins: usize,
}

impl Maildrop {
    /// A login: its number, and the maildrop as the session sees it
    /// (arrival id and body, numbered from 1).
    fn open(&mut self) -> (usize, Option<SessionDrop>) {
        self.logins += 1;
        let drop = self
            .messages
            .iter()
            .filter(|s| !s.deleted)
            .map(|s| (s.id, s.body.clone()))
            .collect();
        (self.logins, Some(drop))
    }
}

impl Script {
    /// A well-behaved server for one user: CAPA `USER UIDL TOP PIPELINING`,
    /// no faults (add them with struct update syntax).
    pub fn login(user: &str, password: &str) -> Script {
        Script {
            capa: ["USER", "UIDL", "TOP", "PIPELINING"]
                .map(String::from)
                .to_vec(),
            user: user.into(),
            password: password.into(),
            ..Script::default()
        }
    }
}

/// One command as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The session, counted from 1 in order of connection.
    pub session: usize,
    /// The user named by USER in that session so far (empty before).
    pub user: String,
    /// The line without CRLF; PASS arguments are redacted.
    pub line: String,
}

struct ServerState {
    script: Script,
    maildrops: BTreeMap<String, Maildrop>,
    next_id: usize,
    commands: Vec<Received>,
    sessions: usize,
    quits: usize,
}

impl ServerState {
    fn deliver(&mut self, user: &str, messages: Vec<Vec<u8>>) {
        let drop = self
            .maildrops
            .get_mut(user)
            .unwrap_or_else(|| panic!("{user} is not a user of the scripted server"));
        for body in messages {
            self.next_id += 1;
            drop.messages.push(Stored {
                id: self.next_id,
                body,
                deleted: false,
            });
        }
    }

    fn fault(&self, user: Option<&str>, verb: &str, arg: Option<usize>) -> Option<Action> {
        self.script
            .faults
            .iter()
            .find(|f| {
                f.verb == verb
                    && f.arg.is_none_or(|a| Some(a) == arg)
                    && f.user.as_deref().is_none_or(|u| Some(u) == user)
            })
            .map(|f| f.action.clone())
    }
}

/// A running scripted server.
pub struct ScriptedServer {
    pub port: u16,
    state: Arc<Mutex<ServerState>>,
    /// Dropping it stops the server, stalled sessions included.
    _thread: ServerThread,
}

impl ScriptedServer {
    /// Start serving `messages` to `script.user` on 127.0.0.1 (ephemeral
    /// port). Async for the tests that drive the host's API directly; the
    /// server itself runs on its own thread either way.
    pub async fn start(script: Script, messages: Vec<Vec<u8>>) -> ScriptedServer {
        ScriptedServer::spawn(script, messages)
    }

    /// [`ScriptedServer::start`] for tests without a runtime.
    pub fn spawn(script: Script, messages: Vec<Vec<u8>>) -> ScriptedServer {
        let mut maildrops = BTreeMap::new();
        maildrops.insert(
            script.user.clone(),
            Maildrop {
                password: script.password.clone(),
                messages: Vec::new(),
                logins: 0,
            },
        );
        let first = script.user.clone();
        let mut st = ServerState {
            script,
            maildrops,
            next_id: 0,
            commands: Vec::new(),
            sessions: 0,
            quits: 0,
        };
        st.deliver(&first, messages);
        let state = Arc::new(Mutex::new(st));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let shared = state.clone();
        let thread = ServerThread::spawn("scripted-pop3", move |stop| async move {
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            // The load test connects hundreds of clients at once; the
            // default backlog (128) would drop SYNs and stall them.
            let listener = socket.listen(1024).unwrap();
            port_tx.send(listener.local_addr().unwrap().port()).unwrap();
            let accept = async {
                while let Ok((sock, _)) = listener.accept().await {
                    let st = shared.clone();
                    let n = {
                        let mut s = st.lock().unwrap();
                        s.sessions += 1;
                        s.sessions
                    };
                    tokio::spawn(async move {
                        let _ = session(sock, st, n).await;
                    });
                }
            };
            tokio::select! {
                _ = accept => {}
                _ = stop => {}
            }
        })
        .expect("starting the scripted server's thread");
        let port = port_rx.recv().expect("the scripted server did not start");
        ScriptedServer {
            port,
            state,
            _thread: thread,
        }
    }

    fn lock(&self) -> MutexGuard<'_, ServerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Add a user with its own maildrop.
    pub fn add_user(&self, user: &str, password: &str, messages: Vec<Vec<u8>>) {
        let mut st = self.lock();
        st.maildrops.insert(
            user.to_string(),
            Maildrop {
                password: password.to_string(),
                messages: Vec::new(),
                logins: 0,
            },
        );
        st.deliver(user, messages);
    }

    /// New mail for `user`; sessions that start later see it.
    pub fn deliver(&self, user: &str, messages: Vec<Vec<u8>>) {
        self.lock().deliver(user, messages);
    }

    /// Change the script (faults included) for what happens from now on.
    pub fn update_script(&self, f: impl FnOnce(&mut Script)) {
        f(&mut self.lock().script);
    }

    /// Messages still in the first user's maildrop.
    pub fn remaining(&self) -> usize {
        let user = self.lock().script.user.clone();
        self.remaining_of(&user)
    }

    /// Messages still in `user`'s maildrop.
    pub fn remaining_of(&self, user: &str) -> usize {
        self.bodies_of(user).len()
    }

    /// The bodies still in `user`'s maildrop, in arrival order.
    pub fn bodies_of(&self, user: &str) -> Vec<Vec<u8>> {
        self.lock().maildrops[user]
            .messages
            .iter()
            .filter(|m| !m.deleted)
            .map(|m| m.body.clone())
            .collect()
    }

    /// Every command line received (PASS redacted), in order.
    pub fn commands(&self) -> Vec<String> {
        self.lock()
            .commands
            .iter()
            .map(|c| c.line.clone())
            .collect()
    }

    /// Every command received in sessions of `user` (from the USER command on).
    pub fn commands_of(&self, user: &str) -> Vec<String> {
        self.lock()
            .commands
            .iter()
            .filter(|c| c.user == user)
            .map(|c| c.line.clone())
            .collect()
    }

    /// Successful logins of `user`.
    pub fn logins_of(&self, user: &str) -> usize {
        self.lock().maildrops[user].logins
    }

    /// Connections accepted so far.
    pub fn sessions(&self) -> usize {
        self.lock().sessions
    }

    /// Sessions that ended with QUIT.
    pub fn quits(&self) -> usize {
        self.lock().quits
    }
}

fn stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 16);
    for line in body.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn uid(style: UidStyle, id: usize, number: usize, login: usize) -> String {
    match style {
        UidStyle::Stable => format!("uid-{id}"),
        UidStyle::Long => format!("uid-{id:04}-{}", "x".repeat(92)),
        UidStyle::Paired => format!("dup-{}", id.div_ceil(2)),
        UidStyle::PerSession => format!("s{login}-{id}"),
        UidStyle::Position => format!("{number}"),
    }
}

/// How a session goes on after one command.
enum Flow {
    Continue,
    End,
}

/// Perform a fault's action given the answer it replaces. `status_len` is
/// the length of the answer's status line, CRLF included.
async fn perform(
    w: &mut tokio::net::tcp::OwnedWriteHalf,
    action: &Action,
    answer: &[u8],
) -> std::io::Result<Flow> {
    let status_len = answer
        .windows(2)
        .position(|p| p == b"\r\n")
        .map_or(answer.len(), |i| i + 2);
    let mid_body = status_len + (answer.len() - status_len) / 2;
    match action {
        Action::Reply(bytes) => {
            w.write_all(bytes).await?;
            Ok(Flow::Continue)
        }
        Action::Close => Ok(Flow::End),
        Action::CloseMidLine => {
            w.write_all(&answer[..status_len.saturating_sub(2) / 2])
                .await?;
            w.flush().await?;
            Ok(Flow::End)
        }
        Action::CloseMidBody => {
            w.write_all(&answer[..mid_body]).await?;
            w.flush().await?;
            Ok(Flow::End)
        }
        Action::Stall => std::future::pending().await,
        Action::StallMidBody => {
            w.write_all(&answer[..mid_body]).await?;
            w.flush().await?;
            std::future::pending().await
        }
        Action::Trickle(pause) => {
            for b in answer {
                w.write_all(std::slice::from_ref(b)).await?;
                w.flush().await?;
                tokio::time::sleep(*pause).await;
            }
            Ok(Flow::Continue)
        }
    }
}

async fn session(
    sock: TcpStream,
    state: Arc<Mutex<ServerState>>,
    session_no: usize,
) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    let greeting = b"+OK scripted POP3 ready\r\n";
    let fault = state.lock().unwrap().fault(None, "GREETING", None);
    match fault {
        Some(action) => {
            if let Flow::End = perform(&mut w, &action, greeting).await? {
                return Ok(());
            }
        }
        None => w.write_all(greeting).await?,
    }
    let mut user: Option<String> = None;
    // The maildrop as of login: (arrival id, body), numbered from 1.
    let mut drop: Option<SessionDrop> = None;
    let mut login = 0;
    let mut marked: BTreeSet<usize> = BTreeSet::new();
    let mut raw = Vec::new();
    loop {
        raw.clear();
        if r.read_until(b'\n', &mut raw).await? == 0 {
            return Ok(());
        }
        let script = state.lock().unwrap().script.clone();
        if script.ignore_pipelined && drop.is_some() {
            let n = r.buffer().len();
            r.consume(n);
        }
        let cmd = String::from_utf8_lossy(&raw).trim_end().to_string();
        let mut words = cmd.split(' ');
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        let arg: Option<usize> = words.next().and_then(|w| w.parse().ok());
        if verb == "USER" {
            user = Some(words_after(&cmd).to_string());
        }
        {
            let mut st = state.lock().unwrap();
            st.commands.push(Received {
                session: session_no,
                user: user.clone().unwrap_or_default(),
                line: if verb == "PASS" {
                    "PASS ***".into()
                } else if verb == "AUTH" && cmd.matches(' ').count() > 1 {
                    // A response on the command line (SASL-IR): no token in the record.
                    format!("{} ***", cmd.rsplit_once(' ').map_or("", |(head, _)| head))
                } else {
                    cmd.clone()
                },
            });
        }
        let fault = state.lock().unwrap().fault(user.as_deref(), &verb, arg);
        if let Some(action @ (Action::Reply(_) | Action::Close | Action::Stall)) = &fault {
            // Replaces the command outright: no effect on the session.
            match perform(&mut w, action, b"").await? {
                Flow::End => return Ok(()),
                Flow::Continue => continue,
            }
        }
        let live = |n: usize| {
            drop.as_ref()
                .is_some_and(|d| n >= 1 && n <= d.len() && !marked.contains(&n))
        };
        let mut end = false;
        let answer: Vec<u8> = match verb.as_str() {
            "CAPA" => {
                let mut s = String::from("+OK\r\n");
                for c in &script.capa {
                    s.push_str(c);
                    s.push_str("\r\n");
                }
                s.push_str(".\r\n");
                s.into_bytes()
            }
            "USER" => b"+OK\r\n".to_vec(),
            "PASS" => {
                let mut st = state.lock().unwrap();
                let name = user.clone().unwrap_or_default();
                match st.maildrops.get_mut(&name) {
                    Some(m) if drop.is_none() && m.password == words_after(&cmd) => {
                        (login, drop) = m.open();
                        b"+OK logged in\r\n".to_vec()
                    }
                    _ => b"-ERR [AUTH] invalid login\r\n".to_vec(),
                }
            }
            "AUTH" if script.xoauth2.is_some() && drop.is_none() => {
                let check = script.xoauth2.clone().expect("matched");
                let mechanism = words_after(&cmd);
                if !mechanism.eq_ignore_ascii_case("XOAUTH2") {
                    // Office 365 with the response on the command line.
                    w.write_all(b"-ERR Protocol error. Connection is closed. 10\r\n")
                        .await?;
                    return Ok(());
                }
                w.write_all(b"+ \r\n").await?;
                raw.clear();
                r.read_until(b'\n', &mut raw).await?;
                let (name, token) = xoauth2_response(&raw).unwrap_or_default();
                let mut st = state.lock().unwrap();
                match st.maildrops.get_mut(&name) {
                    Some(m) if (check.0)(&name, &token) => {
                        (login, drop) = m.open();
                        user = Some(name);
                        b"+OK User successfully authenticated.\r\n".to_vec()
                    }
                    _ => b"-ERR Authentication failure: unknown user name or bad password.\r\n"
                        .to_vec(),
                }
            }
            "QUIT" => {
                let mut st = state.lock().unwrap();
                if let (Some(name), Some(d)) = (&user, &drop) {
                    let ids: Vec<usize> = marked.iter().map(|&n| d[n - 1].0).collect();
                    if let Some(m) = st.maildrops.get_mut(name) {
                        for s in &mut m.messages {
                            if ids.contains(&s.id) {
                                s.deleted = true;
                            }
                        }
                    }
                }
                st.quits += 1;
                end = true;
                b"+OK bye\r\n".to_vec()
            }
            "NOOP" => b"+OK\r\n".to_vec(),
            _ if drop.is_none() => b"-ERR not logged in\r\n".to_vec(),
            "STAT" => {
                let d = drop.as_ref().unwrap();
                let live: Vec<_> = (1..=d.len()).filter(|&n| live(n)).collect();
                let size: usize = live.iter().map(|&n| d[n - 1].1.len()).sum();
                format!("+OK {} {size}\r\n", live.len()).into_bytes()
            }
            "LIST" => {
                let d = drop.as_ref().unwrap();
                let mut s = String::from("+OK\r\n");
                for n in (1..=d.len()).filter(|&n| live(n)) {
                    let size = script.list_size.unwrap_or(d[n - 1].1.len() as u64);
                    s.push_str(&format!("{n} {size}\r\n"));
                }
                s.push_str(".\r\n");
                s.into_bytes()
            }
            "UIDL" => {
                let d = drop.as_ref().unwrap();
                let mut s = String::from("+OK\r\n");
                for n in (1..=d.len()).filter(|&n| live(n)) {
                    s.push_str(&format!(
                        "{n} {}\r\n",
                        uid(script.uids, d[n - 1].0, n, login)
                    ));
                }
                s.push_str(".\r\n");
                s.into_bytes()
            }
            "RETR" => match arg {
                Some(n) if live(n) => {
                    let body = &drop.as_ref().unwrap()[n - 1].1;
                    let mut out = format!("+OK {} octets\r\n", body.len()).into_bytes();
                    out.extend(stuff(body));
                    out
                }
                _ => b"-ERR no such message\r\n".to_vec(),
            },
            // `TOP n 0` (the only form the host uses): the header section.
            "TOP" => match arg {
                Some(n) if live(n) => {
                    let body = &drop.as_ref().unwrap()[n - 1].1;
                    let end = body
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .map_or(body.len(), |i| i + 4);
                    let mut out = b"+OK top follows\r\n".to_vec();
                    out.extend(stuff(&body[..end]));
                    out
                }
                _ => b"-ERR no such message\r\n".to_vec(),
            },
            "DELE" => match arg {
                Some(n) if live(n) => {
                    marked.insert(n);
                    b"+OK marked\r\n".to_vec()
                }
                _ => b"-ERR no such message\r\n".to_vec(),
            },
            "RSET" => {
                marked.clear();
                b"+OK\r\n".to_vec()
            }
            _ => b"-ERR unknown command\r\n".to_vec(),
        };
        if let Some(action) = &fault {
            // The cut-short answers: the session ends or stalls here.
            perform(&mut w, action, &answer).await?;
            return Ok(());
        }
        w.write_all(&answer).await?;
        if end {
            return Ok(());
        }
    }
}

/// `(user, token)` from a base64 XOAUTH2 response line
/// (`user=U\x01auth=Bearer T\x01\x01`).
fn xoauth2_response(line: &[u8]) -> Option<(String, String)> {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD
        .decode(line.trim_ascii())
        .ok()?;
    let text = String::from_utf8(text).ok()?;
    let mut parts = text.split('\x01');
    let user = parts.next()?.strip_prefix("user=")?.to_string();
    let token = parts.next()?.strip_prefix("auth=Bearer ")?.to_string();
    Some((user, token))
}

fn words_after(cmd: &str) -> &str {
    cmd.split_once(' ').map_or("", |(_, rest)| rest)
}
