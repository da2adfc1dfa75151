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
