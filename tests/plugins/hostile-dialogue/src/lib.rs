//! Test-only POP3 dialogue plugin that attacks the host on cue.
//!
//! It speaks a plain, unpipelined RFC 1939 dialogue (USER/PASS through the
//! host's `authenticate`), and misbehaves according to the session's
//! mechanisms list: every entry `hostile:MODE` switches a mode on.
//!
//! | mode | what it does |
//! |---|---|
//! | `dele` | writes `DELE` itself: after login, for numbers the host did not authorise during `delete`, and before `QUIT` |
//! | `credentials` | writes `USER`, `PASS`, `AUTH`, `APOP` itself, before and after login |
//! | `smuggle` | hides a second command behind CR, LF or NUL (`NOOP\r\nDELE 1`) |
//! | `loop` | spins forever in `list` |
//! | `oom` | allocates without bound in `list` |
//! | `no-read` | in `list`, queues `NOOP`s without ever reading an answer |
//! | `read-forever` | in `list`, reads lines forever, ignoring every error |
//! | `compute` | not hostile: computes briefly (well under any CPU limit) at the start of `list` |
//! | `swap-uids` | lists each message number with the next message's unique id |
//! | `retr-other` | answers `retrieve(n)` with the bytes of `RETR` of the first number asked |
//! | `noop-loop` | in `list`, sends `NOOP` and reads its answer forever (the server keeps answering) |
//! | `hoard` | in `list`, retrieves message 1 again and again, keeping every handle |
//! | `slow` | spends 1.5 s on `NOOP`s before each `retrieve`: every call is within its limits, the session is not |
//! | `aliased-list` | returns 4,000 listings whose unique ids are all one 8 MiB buffer in its memory |
//! | `ballast` | not hostile: holds the same 8 MiB buffer while it lists (the baseline of `aliased-list`) |
//! | `noop-before-auth` | queues `NOOP` and calls `authenticate` before reading its answer, then logs in twice |
//!
//! Refused writes are ignored, as an attacker would; anything the host lets
//! through reaches the server, where the tests look for it.

use std::cell::RefCell;

wit_bindgen::generate!({ path: "../../../wit", world: "pop3-dialogue" });

use exports::popline::plugin::dialogue::{
    ErrorKind, Guest, Listing, Pop3Error, ServerInfo, SessionParams,
};
use popline::plugin::connection::{
    AuthOutcome, AuthRequest, Connection, IoError, Mechanism, Message,
};
use popline::plugin::log::{Level, log};

/// 8 MiB of text in the guest's memory.
fn ballast() -> String {
    "u".repeat(8 << 20)
}

/// Another `String` over the very bytes of `s`, which is never freed.
/// Deliberately unsound: wit-bindgen hands a returned string to the host by
/// pointer, so a list of aliases is many views of one buffer, as a hostile
/// guest could write by hand. The host copies each view unless its output
/// limit stops it first.
fn alias(s: &str) -> String {
    // SAFETY: not sound (double ownership); the instance is discarded after
    // the call, and the host must refuse the output before it is used.
    unsafe { String::from_raw_parts(s.as_ptr().cast_mut(), s.len(), s.len()) }
}

struct Session {
    conn: Connection,
    modes: Vec<String>,
    /// Message numbers from the last `list`.
    numbers: Vec<u32>,
}

impl Session {
    fn has(&self, mode: &str) -> bool {
        self.modes.iter().any(|m| m == mode)
    }

    /// Try a line the host must refuse; carry on either way.
    fn attempt(&self, line: &str) {
        match self.conn.write_line(line) {
            Err(IoError::Refused(why)) => log(
                Level::Info,
                &format!("refused as expected: {line:?}: {why}"),
            ),
            Err(e) => log(Level::Warn, &format!("{line:?} failed: {e:?}")),
            Ok(()) => log(Level::Warn, &format!("the host accepted {line:?}")),
        }
    }

    fn credentials(&self) {
        for line in [
            "USER attacker",
            "PASS stolen-secret",
            "AUTH PLAIN AGF0dGFja2VyAHN0b2xlbi1zZWNyZXQ=",
            "APOP attacker 0123456789abcdef",
            "user attacker",
            "Pass stolen-secret",
        ] {
            self.attempt(line);
        }
    }

    /// Call `authenticate` where the host must refuse it; carry on.
    fn try_login(&self, when: &str) {
        let request = AuthRequest {
            mechanism: Mechanism::UserPass,
            initial_response: false,
        };
        match self.conn.authenticate(request) {
            Err(IoError::Refused(why)) => log(
                Level::Info,
                &format!("login {when} refused as expected: {why}"),
            ),
            other => log(Level::Warn, &format!("login {when}: {other:?}")),
        }
    }

    fn smuggle(&self) {
        for line in [
            "NOOP\r\nDELE 1",
            "NOOP\nDELE 1",
            "NOOP\rDELE 1",
            "NOOP\0DELE 1",
            "NOOP\r\nPASS stolen-secret",
        ] {
            self.attempt(line);
        }
    }

    /// Send one command and read its status line; `+OK` text or an error.
    fn command(&self, line: &str) -> Result<String, Pop3Error> {
        self.conn.write_line(line).map_err(|e| io(line, e))?;
        let status = self.conn.read_line(1024).map_err(|e| io(line, e))?;
        match status.strip_prefix("+OK") {
            Some(text) => Ok(text.trim().to_string()),
            None => Err(Pop3Error {
                kind: ErrorKind::Other,
                message: format!("{line}: {status}"),
            }),
        }
    }

    fn body(&self, line: &str) -> Result<Message, Pop3Error> {
        self.command(line)?;
        self.conn.read_multiline().map_err(|e| io(line, e))
    }
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

fn with<R>(f: impl FnOnce(&mut Session) -> R) -> Result<R, Pop3Error> {
    SESSION.with_borrow_mut(|s| match s.as_mut() {
        Some(s) => Ok(f(s)),
        None => Err(Pop3Error {
            kind: ErrorKind::Other,
            message: "no open session".into(),
        }),
    })
}

fn io(context: &str, e: IoError) -> Pop3Error {
    Pop3Error {
        kind: ErrorKind::Io,
        message: format!("{context}: {e:?}"),
    }
}

fn bytes(m: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let chunk = m.read(out.len() as u64, 64 * 1024);
        if chunk.is_empty() {
            return out;
        }
        out.extend_from_slice(&chunk);
    }
}

/// `number value` lines of a LIST or UIDL body.
fn pairs(body: &[u8]) -> Vec<(u32, String)> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| {
            let (n, v) = l.trim().split_once(' ')?;
            Some((n.parse().ok()?, v.trim().to_string()))
        })
        .collect()
}

struct Plugin;

export!(Plugin);

impl Guest for Plugin {
    fn open(conn: Connection, params: SessionParams) -> Result<ServerInfo, Pop3Error> {
        let modes = params
            .mechanisms
            .iter()
            .filter_map(|m| m.strip_prefix("hostile:"))
            .map(str::to_string)
            .collect();
        let session = Session {
            conn,
            modes,
            numbers: Vec::new(),
        };
        let greeting = session
            .conn
            .read_line(1024)
            .map_err(|e| io("greeting", e))?;
        if session.has("credentials") {
            session.credentials();
        }
        if session.has("smuggle") {
            session.smuggle();
        }
        if session.has("noop-before-auth") {
            // The host must not read NOOP's +OK as the login verdict.
            session.conn.write_line("NOOP").map_err(|e| io("NOOP", e))?;
            session.try_login("with NOOP unanswered");
            session.conn.read_line(1024).map_err(|e| io("NOOP", e))?;
        }
        let outcome = session
            .conn
            .authenticate(AuthRequest {
                mechanism: Mechanism::UserPass,
                initial_response: false,
            })
            .map_err(|e| io("login", e))?;
        if let AuthOutcome::Rejected(r) = outcome {
            return Err(Pop3Error {
                kind: ErrorKind::Auth,
                message: r.response,
            });
        }
        if session.has("noop-before-auth") {
            session.try_login("a second time");
        }
        // Logged in: now DELE would be a valid command, were it authorised.
        if session.has("credentials") {
            session.credentials();
        }
        if session.has("smuggle") {
            session.smuggle();
        }
        if session.has("dele") {
            session.attempt("DELE 1");
            session.attempt("dele 1");
        }
        SESSION.set(Some(session));
        Ok(ServerInfo {
            greeting: greeting.trim_start_matches("+OK").trim().to_string(),
            capabilities: Vec::new(),
            mechanism: "USER".into(),
            pipelining: false,
        })
    }

    fn list() -> Result<Vec<Listing>, Pop3Error> {
        with(|s| {
            if s.has("compute") {
                // Some tens of milliseconds of honest work: crosses epoch
                // ticks, so the guest yields to the executor on the way.
                let mut x: u64 = 0;
                for i in 0..20_000_000u64 {
                    x = std::hint::black_box(x.wrapping_add(i));
                }
                std::hint::black_box(x);
            }
            if s.has("loop") {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            if s.has("oom") {
                let mut hog: Vec<Vec<u8>> = Vec::new();
                loop {
                    hog.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hog);
                }
            }
            if s.has("no-read") {
                // Pipelining without ever reading: the host must bound what
                // it buffers for us.
                let mut queued = 0u64;
                loop {
                    if let Err(e) = s.conn.write_line("NOOP") {
                        return Err(io(&format!("after {queued} queued NOOPs"), e));
                    }
                    queued += 1;
                }
            }
            if s.has("noop-loop") {
                // Busy on the wire, idle in the guest: no CPU limit catches it.
                loop {
                    let _ = s.command("NOOP");
                }
            }
            if s.has("hoard") {
                // Every copy stays in the host until the host says no more.
                let mut kept = Vec::new();
                loop {
                    kept.push(s.body("RETR 1")?);
                }
            }
            if s.has("read-forever") {
                // Wait for answers that never come, ignoring every error.
                let mut errors = 0u64;
                loop {
                    if s.conn.read_line(1024).is_err() {
                        errors += 1;
                        std::hint::black_box(errors);
                    }
                }
            }
            if s.has("aliased-list") {
                let uid = ballast();
                return Ok((1..=4000)
                    .map(|number| Listing {
                        number,
                        uid: alias(&uid),
                        size: 1,
                    })
                    .collect());
            }
            let kept = s.has("ballast").then(ballast);
            std::hint::black_box(&kept);
            let sizes = pairs(&bytes(&s.body("LIST")?));
            let uids = pairs(&bytes(&s.body("UIDL")?));
            let listings: Vec<Listing> = sizes
                .iter()
                .filter_map(|(n, size)| {
                    let i = uids.iter().position(|(m, _)| m == n)?;
                    // swap-uids: the next message's id (wrapping around).
                    let i = if s.has("swap-uids") {
                        (i + 1) % uids.len()
                    } else {
                        i
                    };
                    let uid = uids[i].1.clone();
                    Some(Listing {
                        number: *n,
                        uid,
                        size: size.parse().unwrap_or(0),
                    })
                })
                .collect();
            s.numbers = listings.iter().map(|l| l.number).collect();
            Ok(listings)
        })?
    }

    fn retrieve(numbers: Vec<u32>) -> Vec<Result<Message, Pop3Error>> {
        with(|s| {
            if s.has("slow") {
                let started = std::time::Instant::now();
                while started.elapsed() < std::time::Duration::from_millis(1500) {
                    let _ = s.command("NOOP");
                }
            }
            let first = numbers.first().copied().unwrap_or(1);
            numbers
                .iter()
                .map(|&n| {
                    let n = if s.has("retr-other") { first } else { n };
                    s.body(&format!("RETR {n}"))
                })
                .collect()
        })
        .unwrap_or_else(|e| numbers.iter().map(|_| Err(e.clone())).collect())
    }

    fn top(number: u32, lines: u32) -> Result<Message, Pop3Error> {
        with(|s| s.body(&format!("TOP {number} {lines}")))?
    }

    fn delete(numbers: Vec<u32>) -> Vec<Result<(), Pop3Error>> {
        with(|s| {
            if s.has("dele") {
                // Everything else the server holds, too.
                for n in s.numbers.clone() {
                    if !numbers.contains(&n) {
                        s.attempt(&format!("DELE {n}"));
                    }
                }
            }
            numbers
                .iter()
                .map(|n| s.command(&format!("DELE {n}")).map(drop))
                .collect()
        })
        .unwrap_or_else(|e| numbers.iter().map(|_| Err(e.clone())).collect())
    }

    fn quit() -> Result<(), Pop3Error> {
        let session = SESSION.take().ok_or_else(|| Pop3Error {
            kind: ErrorKind::Other,
            message: "no open session".into(),
        })?;
        if session.has("dele") {
            // Outside a delete call nothing is authorised.
            for n in session.numbers.clone() {
                session.attempt(&format!("DELE {n}"));
            }
        }
        session.command("QUIT").map(drop)
    }
}
