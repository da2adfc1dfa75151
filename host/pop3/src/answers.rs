//! Which command each server answer belongs to.
//!
//! The host sees every line a plugin writes and every answer it reads, so it
//! knows what the bytes it holds answer, whatever the plugin later claims:
//! the pipeline checks that the message it stores as number `n` is the
//! answer to `RETR n`, and that the unique ids a plugin lists are the ones
//! the server's own `UIDL` gave in this session.

use std::collections::{HashMap, VecDeque};

use crate::ConnError;

/// Commands written but not yet answered, beyond which the host refuses more.
pub const MAX_UNANSWERED: usize = 4096;

/// The answers due on one connection, in order.
#[derive(Debug, Default)]
pub struct Answers {
    /// Commands written and not yet answered by a status line, oldest first.
    unanswered: VecDeque<String>,
    /// The command whose multi-line body is the next thing on the wire.
    body_due: Option<String>,
    /// Message number → unique id, from the server's UIDL answers.
    uids: HashMap<u32, String>,
}

/// `line` in canonical form: the verb upper-cased, numbers without leading
/// zeros, one space between words (`retr  007` → `RETR 7`).
pub fn canonical(line: &str) -> String {
    let mut words = line.split_whitespace();
    let mut out = words.next().unwrap_or("").to_ascii_uppercase();
    for w in words {
        out.push(' ');
        match w.parse::<u32>() {
            Ok(n) => out.push_str(&n.to_string()),
            Err(_) => out.push_str(w),
        }
    }
    out
}

/// Whether `+OK` to `command` (canonical) is followed by a dot-terminated body.
fn has_body(command: &str) -> bool {
    let mut words = command.split(' ');
    let verb = words.next().unwrap_or("");
    let args = words.count();
    matches!(
        (verb, args),
        ("CAPA", 0) | ("LIST", 0) | ("UIDL", 0) | ("RETR", 1) | ("TOP", 2)
    )
}

impl Answers {
    /// The plugin queued `line` (already allowed by the command policy).
    pub fn sent(&mut self, line: &str) -> Result<(), ConnError> {
        if self.unanswered.len() >= MAX_UNANSWERED {
            return Err(ConnError::Refused(format!(
                "more than {MAX_UNANSWERED} commands written without reading their answers"
            )));
        }
        self.unanswered.push_back(canonical(line));
        Ok(())
    }

    /// Whether every command written has been answered in full: only then
    /// may the host itself talk to the server (login, STLS).
    pub fn settled(&self) -> bool {
        self.unanswered.is_empty() && self.body_due.is_none()
    }

    /// Before a status line is read: not while a body is due, since its
    /// lines would be taken for answers.
    pub fn check_status_read(&self) -> Result<(), ConnError> {
        match &self.body_due {
            Some(cmd) => Err(ConnError::Refused(format!(
                "the multi-line answer to `{cmd}` comes first; read it with read-multiline"
            ))),
            None => Ok(()),
        }
    }

    /// A status line was read: it answers the oldest unanswered command (or
    /// is the greeting, when none is).
    pub fn status_read(&mut self, status: &str) {
        let Some(cmd) = self.unanswered.pop_front() else {
            return;
        };
        let Some(text) = status.strip_prefix("+OK") else {
            return;
        };
        if has_body(&cmd) {
            self.body_due = Some(cmd);
        } else if cmd.starts_with("UIDL ") {
            // `+OK n uid`
            self.remember_uids(text);
        }
    }

    /// A body is about to be read: the command it answers.
    pub fn body_starts(&mut self) -> Result<String, ConnError> {
        self.body_due.take().ok_or_else(|| {
            ConnError::Refused(
                "no multi-line answer is due: read the +OK of CAPA, LIST, UIDL, RETR or TOP first"
                    .into(),
            )
        })
    }

    /// The body answering `cmd` was read in full.
    pub fn body_read(&mut self, cmd: &str, body: &[u8]) {
        if cmd == "UIDL" {
            self.uids.clear();
            self.remember_uids(&String::from_utf8_lossy(body));
        }
    }

    /// The unique id the server itself gave message `number` in this session.
    pub fn server_uid(&self, number: u32) -> Option<&str> {
        self.uids.get(&number).map(String::as_str)
    }

    /// `n uid` lines.
    fn remember_uids(&mut self, text: &str) {
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if let (Some(n), Some(uid)) = (words.next(), words.next())
                && let Ok(n) = n.parse()
            {
                self.uids.insert(n, uid.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_compared_in_canonical_form() {
        assert_eq!(canonical("retr  007"), "RETR 7");
        assert_eq!(canonical("Top 3 0"), "TOP 3 0");
        assert_eq!(canonical("UIDL"), "UIDL");
    }

    #[test]
    fn each_answer_is_tied_to_its_command() {
        let mut a = Answers::default();
        a.status_read("+OK POP3 ready"); // the greeting answers nothing
        for c in ["LIST 1", "RETR 1", "RETR 2", "NOOP"] {
            a.sent(c).unwrap();
        }
        assert!(!a.settled());
        a.status_read("+OK 1 120"); // LIST 1: one line
        assert!(a.check_status_read().is_ok());
        assert!(
            a.body_starts().is_err(),
            "no body is due after a one-line answer"
        );
        a.status_read("+OK 120 octets");
        assert!(a.check_status_read().is_err(), "RETR 1's body comes first");
        assert_eq!(a.body_starts().unwrap(), "RETR 1");
        a.status_read("-ERR no such message"); // RETR 2: no body
        assert!(a.body_starts().is_err());
        a.status_read("+OK"); // NOOP
        assert!(a.settled());
    }

    #[test]
    fn unique_ids_come_from_the_servers_own_answers() {
        let mut a = Answers::default();
        a.sent("UIDL").unwrap();
        a.status_read("+OK");
        let cmd = a.body_starts().unwrap();
        a.body_read(&cmd, b"1 aaa\r\n2 bbb\r\n");
        a.sent("UIDL 3").unwrap();
        a.status_read("+OK 3 ccc");
        assert_eq!(a.server_uid(1), Some("aaa"));
        assert_eq!(a.server_uid(2), Some("bbb"));
        assert_eq!(a.server_uid(3), Some("ccc"));
        assert_eq!(a.server_uid(4), None);
    }

    #[test]
    fn unread_answers_are_bounded() {
        let mut a = Answers::default();
        for _ in 0..MAX_UNANSWERED {
            a.sent("NOOP").unwrap();
        }
        assert!(matches!(a.sent("NOOP"), Err(ConnError::Refused(_))));
    }
}
