//! The scripted POP3 server itself: a session as RFC 1939 has it (the
//! maildrop as of login, DELE applied only at QUIT) and a fault on cue.

mod support;

use popline_testkit::scripted::{Action, Fault, Script, ScriptedServer};
use support::Pop3;
use tokio::net::TcpStream;

const USER: &str = "replies@beta.example.com";

async fn login(server: &ScriptedServer) -> Pop3<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let mut pop = Pop3::greeting(tcp).await;
    pop.login(USER, "pw").await;
    pop
}

#[tokio::test]
async fn deletions_take_effect_at_quit() {
    let messages = vec![b"Subject: a\r\n\r\n.dot\r\n".to_vec(), b"b\r\n".to_vec()];
    let server = ScriptedServer::start(Script::login(USER, "pw"), messages).await;
    let mut pop = login(&server).await;
    assert_eq!(pop.multi("UIDL").await, b"1 uid-1\r\n2 uid-2\r\n");
    assert_eq!(pop.multi("RETR 1").await, b"Subject: a\r\n\r\n.dot\r\n");
    assert!(pop.cmd("DELE 1").await.starts_with("+OK"));
    assert_eq!(server.remaining(), 2, "deleted before QUIT");
    assert_eq!(pop.cmd("QUIT").await, "+OK bye");
    assert_eq!((server.remaining(), server.quits()), (1, 1));
    assert_eq!(server.bodies_of(USER), [b"b\r\n".to_vec()]);
    let commands = server.commands();
    assert_eq!(commands[..2], [format!("USER {USER}"), "PASS ***".into()]);
}

#[tokio::test]
async fn a_fault_replaces_the_answer_to_its_command() {
    let script = Script {
        faults: vec![Fault::on("RETR", Action::line("-ERR [IN-USE] busy")).arg(2)],
        ..Script::login(USER, "pw")
    };
    let server = ScriptedServer::start(script, vec![b"a\r\n".to_vec(), b"b\r\n".to_vec()]).await;
    let mut pop = login(&server).await;
    assert_eq!(pop.multi("RETR 1").await, b"a\r\n");
    assert_eq!(pop.cmd("RETR 2").await, "-ERR [IN-USE] busy");
    server.update_script(|s| s.faults.clear());
    assert_eq!(pop.multi("RETR 2").await, b"b\r\n");
}

/// XOAUTH2 as Office 365 takes it: the one-line form (SASL-IR) ends the
/// connection with its error, the two-step form is judged by the check,
/// and the token never appears in the command record.
#[tokio::test]
async fn xoauth2_is_two_step_only_and_judged_by_the_check() {
    use base64::Engine as _;
    use popline_testkit::scripted::TokenCheck;
    use std::sync::Arc;
    let script = Script {
        xoauth2: Some(TokenCheck(Arc::new(|user: &str, token: &str| {
            user == USER && token == "good-token"
        }))),
        ..Script::login(USER, "pw")
    };
    let server = ScriptedServer::start(script, vec![b"a\r\n".to_vec()]).await;
    let response = |token: &str| {
        base64::engine::general_purpose::STANDARD
            .encode(format!("user={USER}\x01auth=Bearer {token}\x01\x01"))
    };
    let connect = || async {
        let tcp = TcpStream::connect(("127.0.0.1", server.port))
            .await
            .unwrap();
        Pop3::greeting(tcp).await
    };

    let mut pop = connect().await;
    let one_line = format!("AUTH XOAUTH2 {}", response("good-token"));
    assert_eq!(
        pop.cmd(&one_line).await,
        "-ERR Protocol error. Connection is closed. 10"
    );
    assert!(pop.closed().await, "the connection ends after SASL-IR");

    let mut pop = connect().await;
    assert_eq!(pop.cmd("AUTH XOAUTH2").await, "+");
    assert!(
        pop.cmd(&response("bad-token"))
            .await
            .starts_with("-ERR Authentication failure")
    );
    assert_eq!(pop.cmd("AUTH XOAUTH2").await, "+");
    assert!(pop.cmd(&response("good-token")).await.starts_with("+OK"));
    assert_eq!(pop.multi("UIDL").await, b"1 uid-1\r\n");
    assert!(
        server
            .commands()
            .iter()
            .all(|c| !c.contains("good-token") && !c.contains(&response("good-token"))),
        "{:?}",
        server.commands()
    );
}
