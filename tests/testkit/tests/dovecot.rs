//! Proves the harness against the real server: TLS with the generated CA,
//! logins, STAT/RETR byte-exactness, STLS, deletions and the gotchas the
//! harness configures away (failure delay, loopback counting as secure).

use std::path::Path;
use std::time::{Duration, Instant};

mod support;

use popline_testkit::{Dovecot, DovecotOptions, Tls, beta_replies};
use rustls_pki_types::ServerName;
use support::{Pop3, connector};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const USER: &str = "alice@contoso.example";
const PASSWORD: &str = "s3cret pass";

fn start() -> Dovecot {
    let started = Instant::now();
    let dovecot =
        Dovecot::start(DovecotOptions::default().user(USER, PASSWORD)).expect("starting dovecot");
    eprintln!("dovecot started in {:?}", started.elapsed());
    dovecot
}

/// Three messages with CRLF line endings, as on the wire. The first has lines
/// starting with "." (dot-stuffed by the server) and one that is just ".".
fn three_messages() -> Vec<Vec<u8>> {
    let first = b"From: Dana <dana@example.org>\r\nTo: replies+FB-2001@beta.example.com\r\n\
Subject: dots\r\n\r\nA line:\r\n.starts with a dot\r\n..and two\r\n.\r\nend\r\n"
        .to_vec();
    let beta = beta_replies();
    vec![first, beta[1].clone(), beta[4].clone()]
}

async fn pop3s(
    dovecot: &Dovecot,
    ca: &Path,
) -> std::io::Result<impl AsyncRead + AsyncWrite + Unpin> {
    let tcp = TcpStream::connect(("127.0.0.1", dovecot.tls_port())).await?;
    let name = ServerName::try_from("127.0.0.1").unwrap();
    connector(ca).connect(name, tcp).await
}

#[tokio::test]
async fn pop3s_login_stat_and_byte_exact_retr() {
    let dovecot = start();
    let messages = three_messages();
    dovecot.seed(USER, &messages).unwrap();
    assert_eq!(dovecot.count(USER).unwrap(), 3);

    let tls = pop3s(&dovecot, dovecot.ca_pem())
        .await
        .expect("TLS with the test CA");
    let mut pop = Pop3::greeting(tls).await;
    pop.login(USER, PASSWORD).await;

    // STAT counts sizes as served (CRLF): proves the S=/W= file names are right.
    let total: usize = messages.iter().map(Vec::len).sum();
    assert_eq!(pop.cmd("STAT").await, format!("+OK 3 {total}"));
    let list = String::from_utf8(pop.multi("LIST").await).unwrap();
    let expected: String = messages
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {}\r\n", i + 1, m.len()))
        .collect();
    assert_eq!(list, expected);

    // Seeding order is POP3 order, and RETR gives back exactly what was seeded.
    for (i, message) in messages.iter().enumerate() {
        let got = pop.multi(&format!("RETR {}", i + 1)).await;
        assert!(
            got == *message,
            "RETR {} differs:\n{}",
            i + 1,
            String::from_utf8_lossy(&got)
        );
    }
    let uidl = String::from_utf8(pop.multi("UIDL").await).unwrap();
    assert_eq!(uidl.lines().count(), 3, "{uidl}");
    assert!(pop.cmd("QUIT").await.starts_with("+OK"));
    // Nothing deleted: messages stay (moved from new/ to cur/).
    assert_eq!(dovecot.count(USER).unwrap(), 3);
}

#[tokio::test]
async fn stls_on_plain_port_and_dele_is_counted() {
    let dovecot = start();
    dovecot.seed(USER, &three_messages()).unwrap();

    let tcp = TcpStream::connect(("127.0.0.1", dovecot.plain_port()))
        .await
        .unwrap();
    let mut pop = Pop3::greeting(tcp).await;
    let capa = String::from_utf8(pop.multi("CAPA").await).unwrap();
    assert!(capa.lines().any(|l| l == "STLS"), "{capa}");
    assert!(pop.cmd("STLS").await.starts_with("+OK"));
    // No bytes may follow STLS's answer before the handshake.
    assert!(pop.io.buffer().is_empty());
    let name = ServerName::try_from("localhost").unwrap();
    let tls = connector(dovecot.ca_pem())
        .connect(name, pop.io.into_inner())
        .await
        .expect("STLS handshake (DNS:localhost)");
    let mut pop = Pop3::new(tls);
    let capa = String::from_utf8(pop.multi("CAPA").await).unwrap();
    assert!(!capa.lines().any(|l| l == "STLS"), "{capa}");
    // No introspection endpoint configured: no bearer-token mechanisms.
    assert!(capa.lines().any(|l| l == "SASL PLAIN LOGIN"), "{capa}");
    pop.login(USER, PASSWORD).await;
    assert!(pop.cmd("DELE 2").await.starts_with("+OK"));
    assert!(pop.cmd("QUIT").await.starts_with("+OK"));
    assert_eq!(dovecot.count(USER).unwrap(), 2);
}

#[tokio::test]
async fn unknown_ca_is_refused() {
    let dovecot = start();
    let rogue = Tls::rogue_ca(dovecot.dir()).unwrap();
    let err = match pop3s(&dovecot, &rogue).await {
        Ok(_) => panic!("handshake succeeded with a CA that did not sign the server certificate"),
        Err(err) => err,
    };
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn plaintext_login_refused_when_not_loopback_equal() {
    let dovecot = start();
    // 127.0.0.1 → 127.0.0.2: Dovecot no longer counts the connection as secure.
    let tcp = TcpStream::connect(("127.0.0.2", dovecot.nonlocal_plain_port()))
        .await
        .unwrap();
    let mut pop = Pop3::greeting(tcp).await;
    let user = pop.cmd(&format!("USER {USER}")).await;
    assert_eq!(
        user,
        "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
    );

    // 127.0.0.1 → 127.0.0.1 counts as secure: plaintext login works.
    let tcp = TcpStream::connect(("127.0.0.1", dovecot.plain_port()))
        .await
        .unwrap();
    let mut pop = Pop3::greeting(tcp).await;
    pop.login(USER, PASSWORD).await;
}

#[tokio::test]
async fn failed_logins_are_not_penalised() {
    let dovecot = start();
    for _ in 0..3 {
        let tls = pop3s(&dovecot, dovecot.ca_pem()).await.unwrap();
        let mut pop = Pop3::greeting(tls).await;
        assert!(pop.cmd(&format!("USER {USER}")).await.starts_with("+OK"));
        let started = Instant::now();
        assert_eq!(
            pop.cmd("PASS wrong").await,
            "-ERR [AUTH] Authentication failed."
        );
        // Dovecot's defaults: 2 s, then 4, 8, 15 s per IP. With
        // `auth_failure_delay = 0` and anvil's penalty off, what remains is
        // Dovecot 2.3's 0.5 s failure-flush timer.
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
    assert!(
        dovecot.log().contains("Password mismatch"),
        "{}",
        dovecot.log()
    );
}

/// A stand-in RFC 7662 introspection endpoint: the token `good` is active for
/// `USER`, anything else is not.
async fn introspection_endpoint() -> u16 {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0; 4096];
                // Headers, then a Content-Length form body:
                // `token=...&client_id=...&client_secret=...`.
                let body = loop {
                    let text = String::from_utf8_lossy(&request).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .map_or(0, |n| n.trim().parse().unwrap());
                        if body.len() >= length {
                            assert!(head.starts_with("POST /introspect "), "{head}");
                            break body.to_owned();
                        }
                    }
                    let n = stream.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                };
                let body = if body.split('&').any(|field| field == "token=good") {
                    format!(
                        r#"{{"active":true,"username":"{USER}","scope":"POP.AccessAsUser.All"}}"#
                    )
                } else {
                    r#"{"active":false}"#.to_owned()
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(response.as_bytes()).await.unwrap();
            });
        }
    });
    port
}

#[tokio::test]
async fn xoauth2_checked_by_the_introspection_endpoint() {
    use base64::Engine as _;
    let port = introspection_endpoint().await;
    let dovecot = Dovecot::start(
        DovecotOptions::default()
            .user(USER, PASSWORD)
            .oauth2_introspection_url(format!("http://127.0.0.1:{port}/introspect")),
    )
    .unwrap();
    let xoauth2 = |token: &str| {
        base64::engine::general_purpose::STANDARD
            .encode(format!("user={USER}\x01auth=Bearer {token}\x01\x01"))
    };

    let tls = pop3s(&dovecot, dovecot.ca_pem()).await.unwrap();
    let mut pop = Pop3::greeting(tls).await;
    let capa = String::from_utf8(pop.multi("CAPA").await).unwrap();
    assert!(
        capa.lines()
            .any(|l| l == "SASL PLAIN LOGIN XOAUTH2 OAUTHBEARER"),
        "{capa}"
    );
    let answer = pop.cmd(&format!("AUTH XOAUTH2 {}", xoauth2("good"))).await;
    assert_eq!(answer, "+OK Logged in.", "{}", dovecot.log());

    // A rejected token gets an error challenge; the client must answer it
    // with an empty line to get the final -ERR.
    let tls = pop3s(&dovecot, dovecot.ca_pem()).await.unwrap();
    let mut pop = Pop3::greeting(tls).await;
    let challenge = pop
        .cmd(&format!("AUTH XOAUTH2 {}", xoauth2("revoked")))
        .await;
    assert!(challenge.starts_with("+ eyJ"), "{challenge}");
    assert_eq!(pop.cmd("").await, "-ERR [AUTH] Authentication failed.");
}

/// `(name, uid)` of every process in Dovecot's process group.
fn dovecot_processes(dovecot: &Dovecot) -> Vec<(String, u32)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...; comm may hold spaces, not ')'.
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let name = head.split_once(" (").map_or("", |(_, n)| n).to_owned();
        let pgrp: Option<u32> = rest.split_whitespace().nth(2).and_then(|p| p.parse().ok());
        if pgrp != Some(dovecot.pid()) {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap();
        found.push((name, uid));
    }
    found
}

/// As root, Dovecot drops to its own users (mail is read as `mail`, 8); as
/// anyone else, every process and every mail file is that user's.
#[tokio::test]
async fn processes_and_mail_belong_to_the_invoking_user_unless_root() {
    use std::os::unix::fs::MetadataExt as _;
    let dovecot = start();
    dovecot.seed(USER, &three_messages()).unwrap();
    let tls = pop3s(&dovecot, dovecot.ca_pem()).await.unwrap();
    let mut pop = Pop3::greeting(tls).await;
    pop.login(USER, PASSWORD).await;
    assert!(pop.cmd("STAT").await.starts_with("+OK 3 "));

    // While the session is open: its login and mail processes exist.
    let processes = dovecot_processes(&dovecot);
    let uid_of = |name: &str| {
        processes
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, uid)| uid)
            .unwrap_or_else(|| panic!("no {name} process among {processes:?}"))
    };
    let (pop3, login) = (uid_of("pop3"), uid_of("pop3-login"));
    let message = std::fs::read_dir(dovecot.maildir(USER).unwrap().join("new"))
        .unwrap()
        .chain(std::fs::read_dir(dovecot.maildir(USER).unwrap().join("cur")).unwrap())
        .next()
        .expect("a seeded message")
        .unwrap();
    let mail_owner = message.metadata().unwrap().uid();
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if me == 0 {
        assert_eq!((pop3, mail_owner), (8, 8), "mail is read as mail (8)");
        assert_ne!(login, 0, "pop3-login drops root");
    } else {
        assert!(
            processes.iter().all(|&(_, uid)| uid == me),
            "every Dovecot process runs as uid {me}: {processes:?}"
        );
        assert_eq!((pop3, login, mail_owner), (me, me, me));
    }
    assert!(pop.cmd("QUIT").await.starts_with("+OK"));
}

/// The authentication service Postfix asks (`smtp_auth`) answers Dovecot's
/// auth protocol on its TCP port, as root and as any other user: the right
/// password for service `smtp` passes, a wrong one fails.
#[test]
fn smtp_auth_service_checks_passwords_over_tcp() {
    use base64::Engine as _;
    use std::io::{BufRead as _, BufReader, Write as _};
    let dovecot = Dovecot::start(
        DovecotOptions::default()
            .user(USER, PASSWORD)
            .smtp_auth(true),
    )
    .expect("starting dovecot with smtp_auth");
    let port = dovecot.auth_port().expect("an auth port with smtp_auth");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = || {
        let mut l = String::new();
        reader
            .read_line(&mut l)
            .expect("a line from the auth service");
        l.trim_end().to_owned()
    };
    write!(stream, "VERSION\t1\t2\nCPID\t{}\n", std::process::id()).unwrap();
    let mut mechanisms = Vec::new();
    loop {
        let l = line();
        assert!(!l.is_empty(), "the auth service closed the connection");
        if l == "DONE" {
            break;
        }
        if let Some(m) = l.strip_prefix("MECH\t") {
            mechanisms.push(m.split('\t').next().unwrap().to_owned());
        }
    }
    assert!(mechanisms.iter().any(|m| m == "PLAIN"), "{mechanisms:?}");
    let plain = |password: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("\0{USER}\0{password}"))
    };
    let auth = |id: u32, password: &str| {
        format!(
            "AUTH\t{id}\tPLAIN\tservice=smtp\tsecured\trip=127.0.0.1\tlip=127.0.0.1\tresp={}\n",
            plain(password)
        )
    };
    stream.write_all(auth(1, PASSWORD).as_bytes()).unwrap();
    let ok = line();
    assert!(ok.starts_with("OK\t1\t"), "{ok}\n{}", dovecot.log());
    stream.write_all(auth(2, "wrong").as_bytes()).unwrap();
    let fail = line();
    assert!(fail.starts_with("FAIL\t2"), "{fail}");
}
