//! A scripted POP3 server on loopback: a real (small) RFC 1939 state machine
//! over plain TCP that records every command it receives and can be told to
//! misbehave. Deletions take effect only at QUIT, as on a real server.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How the server should behave.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Capabilities to advertise (CAPA lines).
    pub capa: Vec<String>,
    /// USER name and password accepted.
    pub user: String,
    pub password: String,
}

/// Shared view of the server's state.
#[derive(Debug, Default)]
pub struct ServerState {
    /// Message bodies; `None` once deleted by a completed QUIT.
    pub messages: Vec<Option<Vec<u8>>>,
    /// Every command line received (PASS lines redacted), in order.
    pub commands: Vec<String>,
    /// Sessions that ended with QUIT.
    pub quits: usize,
}

pub struct ScriptedServer {
    pub port: u16,
    pub state: Arc<Mutex<ServerState>>,
}

impl ScriptedServer {
    /// Start serving `messages` with `script` on 127.0.0.1 (ephemeral port).
    pub async fn start(script: Script, messages: Vec<Vec<u8>>) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(ServerState {
            messages: messages.into_iter().map(Some).collect(),
            ..Default::default()
        }));
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let st = st.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let _ = session(sock, script, st).await;
                });
            }
        });
        ScriptedServer { port, state }
    }

    /// Messages still on the server.
    pub fn remaining(&self) -> usize {
        self.state.lock().unwrap().messages.iter().flatten().count()
    }

    pub fn commands(&self) -> Vec<String> {
        self.state.lock().unwrap().commands.clone()
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

async fn session(
    sock: tokio::net::TcpStream,
    script: Script,
    state: Arc<Mutex<ServerState>>,
) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"+OK scripted POP3 ready\r\n").await?;
    let mut user_ok = false;
    let mut authed = false;
    let mut marked: Vec<usize> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let mut words = cmd.split(' ');
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        let arg: Option<usize> = words.next().and_then(|w| w.parse().ok());
        state.lock().unwrap().commands.push(if verb == "PASS" {
            "PASS ***".into()
        } else {
            cmd.clone()
        });
        let msgs: Vec<Option<Vec<u8>>> = state.lock().unwrap().messages.clone();
        let live =
            |n: usize| n >= 1 && n <= msgs.len() && msgs[n - 1].is_some() && !marked.contains(&n);
        let reply: Vec<u8> = match verb.as_str() {
            "CAPA" => {
                let mut s = String::from("+OK\r\n");
                for c in &script.capa {
                    s.push_str(c);
                    s.push_str("\r\n");
                }
                s.push_str(".\r\n");
                s.into_bytes()
            }
            "USER" => {
                user_ok = words_after(&cmd) == script.user;
                b"+OK\r\n".to_vec()
            }
            "PASS" => {
                if user_ok && words_after(&cmd) == script.password {
                    authed = true;
                    b"+OK logged in\r\n".to_vec()
                } else {
                    b"-ERR [AUTH] invalid login\r\n".to_vec()
                }
            }
            "QUIT" => {
                {
                    let mut st = state.lock().unwrap();
                    for &n in &marked {
                        st.messages[n - 1] = None;
                    }
                    st.quits += 1;
                }
                w.write_all(b"+OK bye\r\n").await?;
                return Ok(());
            }
            _ if !authed => b"-ERR not logged in\r\n".to_vec(),
            "LIST" => {
                let mut s = String::from("+OK\r\n");
                for n in 1..=msgs.len() {
                    if live(n) {
                        s.push_str(&format!("{n} {}\r\n", msgs[n - 1].as_ref().unwrap().len()));
                    }
                }
                s.push_str(".\r\n");
                s.into_bytes()
            }
            "UIDL" => {
                let mut s = String::from("+OK\r\n");
                for n in 1..=msgs.len() {
                    if live(n) {
                        s.push_str(&format!("{n} uid-{n}\r\n"));
                    }
                }
                s.push_str(".\r\n");
                s.into_bytes()
            }
            "RETR" => match arg {
                Some(n) if live(n) => {
                    let body = msgs[n - 1].as_ref().unwrap();
                    let mut out = format!("+OK {} octets\r\n", body.len()).into_bytes();
                    out.extend(stuff(body));
                    out
                }
                _ => b"-ERR no such message\r\n".to_vec(),
            },
            "DELE" => match arg {
                Some(n) if live(n) => {
                    marked.push(n);
                    b"+OK marked\r\n".to_vec()
                }
                _ => b"-ERR no such message\r\n".to_vec(),
            },
            "RSET" => {
                marked.clear();
                b"+OK\r\n".to_vec()
            }
            "NOOP" => b"+OK\r\n".to_vec(),
            _ => b"-ERR unknown command\r\n".to_vec(),
        };
        w.write_all(&reply).await?;
    }
}

fn words_after(cmd: &str) -> &str {
    cmd.split_once(' ').map_or("", |(_, rest)| rest)
}
