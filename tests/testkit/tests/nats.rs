//! Proves the NATS harness over raw TCP: the `INFO` line a client gets on
//! connect says JetStream is on, and a stream with a message stored before a
//! kill is still there after restart on the same port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use popline_testkit::{Nats, NatsOptions};

/// A bare NATS client connection: enough for `INFO` and request/reply.
struct Conn {
    io: BufReader<TcpStream>,
    /// The `INFO {...}` line the server sent first.
    info: String,
}

impl Conn {
    fn open(nats: &Nats) -> Conn {
        let tcp = TcpStream::connect(("127.0.0.1", nats.port())).expect("connecting");
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut conn = Conn {
            io: BufReader::new(tcp),
            info: String::new(),
        };
        conn.info = conn.line();
        conn.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB reply.inbox 1\r\n");
        conn
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.io.read_line(&mut line).expect("reading a line");
        line.trim_end().to_owned()
    }

    fn send(&mut self, text: &str) {
        self.io.get_mut().write_all(text.as_bytes()).unwrap();
    }

    /// Publishes `payload` to `subject` with a reply subject and returns the reply.
    fn request(&mut self, subject: &str, payload: &str) -> String {
        self.send(&format!(
            "PUB {subject} reply.inbox {}\r\n{payload}\r\n",
            payload.len()
        ));
        loop {
            let line = self.line();
            if line == "PING" {
                self.send("PONG\r\n");
                continue;
            }
            assert!(line.starts_with("MSG reply.inbox 1 "), "{line}");
            let len: usize = line.rsplit(' ').next().unwrap().parse().unwrap();
            let mut body = vec![0; len + 2];
            self.io.read_exact(&mut body).unwrap();
            body.truncate(len);
            return String::from_utf8(body).unwrap();
        }
    }
}

#[test]
fn jetstream_on_and_store_survives_kill_and_restart() {
    let started = Instant::now();
    let nats = Nats::start(NatsOptions::default()).expect("starting nats-server");
    eprintln!("nats-server started in {:?}", started.elapsed());
    assert_eq!(nats.url(), format!("nats://127.0.0.1:{}", nats.port()));

    let mut conn = Conn::open(&nats);
    assert!(conn.info.starts_with("INFO {"), "{}", conn.info);
    assert!(conn.info.contains("\"jetstream\":true"), "{}", conn.info);
    let created = conn.request(
        "$JS.API.STREAM.CREATE.EVENTS",
        r#"{"name":"EVENTS","subjects":["events.>"],"storage":"file"}"#,
    );
    assert!(!created.contains("\"error\""), "{created}");
    let ack = conn.request("events.one", "hello");
    assert!(ack.contains("\"stream\":\"EVENTS\""), "{ack}");
    // The server runs as whoever runs the tests: it wrote its store as them.
    {
        use std::os::unix::fs::MetadataExt as _;
        let store = nats.dir().join("store/jetstream");
        let owner = std::fs::metadata(&store)
            .expect("the JetStream store")
            .uid();
        // SAFETY: geteuid has no preconditions.
        assert_eq!(owner, unsafe { libc::geteuid() }, "{}", store.display());
    }

    let port = nats.port();
    nats.kill();
    assert!(!nats.is_running());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());

    nats.restart().expect("restarting after kill");
    assert!(nats.is_running());
    assert_eq!(nats.port(), port);
    let mut conn = Conn::open(&nats);
    assert!(conn.info.contains("\"jetstream\":true"), "{}", conn.info);
    let info = conn.request("$JS.API.STREAM.INFO.EVENTS", "");
    assert!(info.contains("\"messages\":1"), "{info}");

    // Restart while running stops it cleanly first.
    nats.restart().expect("restarting while running");
    let info = Conn::open(&nats).request("$JS.API.STREAM.INFO.EVENTS", "");
    assert!(info.contains("\"messages\":1"), "{info}");
}
