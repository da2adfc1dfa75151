//! Proves the PostgreSQL harness with a real client (tokio-postgres): queries
//! over TCP with the superuser's password, a database made by
//! `create_database`, data kept across kill + restart and stop + restart, an
//! unprivileged server when the tests run as root, and TLS verified against
//! the test CA.

use std::time::Instant;

mod support;

use popline_testkit::{Postgres, PostgresOptions, Tls};
use rustls_pki_types::ServerName;
use support::connector;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};

fn start(opts: PostgresOptions) -> Postgres {
    let started = Instant::now();
    let postgres = Postgres::start(opts).expect("starting postgres");
    eprintln!("postgres started in {:?}", started.elapsed());
    postgres
}

async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

async fn sum(client: &Client) -> i64 {
    client
        .query_one("SELECT sum(n) FROM t", &[])
        .await
        .expect("reading the table")
        .get(0)
}

#[tokio::test]
async fn query_and_data_survive_kill_and_restart() {
    let postgres = start(PostgresOptions::default());
    let url = postgres.url("postgres");
    assert_eq!(
        url,
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/postgres",
            postgres.password(),
            postgres.port()
        )
    );
    assert!(postgres.ca_pem().is_none());
    let client = connect(&url).await.expect("connecting with the password");
    let row = client
        .query_one("SELECT 1 + 1, current_user::text", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 2);
    assert_eq!(row.get::<_, String>(1), "postgres");

    postgres.create_database("popline").unwrap();
    let db = connect(&postgres.url("popline")).await.unwrap();
    db.batch_execute("CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2)")
        .await
        .unwrap();

    // A crash: every process gone, the open session with it.
    let port = postgres.port();
    postgres.kill();
    assert!(!postgres.is_running());
    assert!(db.query_one("SELECT 1", &[]).await.is_err());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());

    postgres.restart().expect("restarting after kill");
    assert!(postgres.is_running());
    assert_eq!(postgres.port(), port);
    assert!(
        postgres.log().contains("was interrupted"),
        "crash recovery ran:\n{}",
        postgres.log()
    );
    let db = connect(&postgres.url("popline")).await.unwrap();
    assert_eq!(sum(&db).await, 3);
    db.batch_execute("INSERT INTO t VALUES (4)").await.unwrap();

    // A clean stop, then restart.
    postgres.stop();
    assert!(!postgres.is_running());
    postgres.restart().expect("restarting after stop");
    let db = connect(&postgres.url("popline")).await.unwrap();
    assert_eq!(sum(&db).await, 7);

    // Restart while running stops it first.
    postgres.restart().expect("restarting while running");
    assert_eq!(
        sum(&connect(&postgres.url("popline")).await.unwrap()).await,
        7
    );
}

#[tokio::test]
async fn wrong_password_refused_and_server_unprivileged() {
    let postgres = start(PostgresOptions::default());
    let wrong = postgres
        .url("postgres")
        .replace(postgres.password(), "not-the-password");
    let Err(err) = connect(&wrong).await else {
        panic!("a wrong password was accepted");
    };
    assert!(
        format!("{err:?}").contains("password authentication failed"),
        "{err:?}"
    );
    // Names are quoted for SQL and encoded in the URL.
    let odd = "odd \"name\"/x";
    postgres.create_database(odd).unwrap();
    let db = connect(&postgres.url(odd)).await.unwrap();
    let name: String = db
        .query_one("SELECT current_database()::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, odd);
    let err = postgres.create_database(odd).unwrap_err();
    assert!(format!("{err:#}").contains("already exists"), "{err:#}");

    // The backend serving us runs as the invoking user, or unprivileged under root.
    let client = connect(&postgres.url("postgres")).await.unwrap();
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap();
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if me == 0 {
        assert_ne!(uid, 0, "postgres runs unprivileged under root");
    } else {
        assert_eq!(uid, me);
    }
}

/// SSLRequest (PostgreSQL's STARTTLS), then a TLS handshake trusting only
/// `ca`; the stream is ready for the startup message.
async fn starttls(
    postgres: &Postgres,
    ca: &std::path::Path,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut tcp = TcpStream::connect(("127.0.0.1", postgres.port())).await?;
    // Length 8, code 80877103.
    tcp.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]).await?;
    let mut answer = [0];
    tcp.read_exact(&mut answer).await?;
    assert_eq!(answer[0], b'S', "the server offers TLS");
    let name = ServerName::try_from("127.0.0.1").unwrap();
    connector(ca).connect(name, tcp).await
}

#[tokio::test]
async fn tls_with_the_test_ca() {
    let postgres = start(PostgresOptions::default().tls(true));
    let ca = postgres.ca_pem().expect("a CA with tls(true)").to_owned();
    let tls = starttls(&postgres, &ca)
        .await
        .expect("TLS verified with the test CA");
    // The client's own TLS negotiation is done: it speaks plainly inside ours.
    let mut config: Config = postgres.url("postgres").parse().unwrap();
    config.ssl_mode(SslMode::Disable);
    let (client, connection) = config.connect_raw(tls, NoTls).await.unwrap();
    tokio::spawn(connection);
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl);

    let rogue = Tls::rogue_ca(&postgres.dir().join("rogue")).unwrap();
    let err = match starttls(&postgres, &rogue).await {
        Ok(_) => panic!("handshake succeeded with a CA that did not sign the server certificate"),
        Err(err) => err,
    };
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    // TLS survives a restart (the key stays readable by the server).
    postgres.kill();
    postgres.restart().unwrap();
    starttls(&postgres, &ca).await.expect("TLS after restart");
}
