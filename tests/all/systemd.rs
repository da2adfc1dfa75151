//! `popline run` under systemd's conventions, without systemd: the test
//! plays the service manager's side of `$NOTIFY_SOCKET` (readiness, reload,
//! watchdog, stopping), hands the password over as a credential
//! (`$CREDENTIALS_DIRECTORY`), and reloads the configuration with SIGHUP.

use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use popline_testkit::beta_replies;

use crate::ingest::{Setup, USER};

/// What the daemon told the notify socket, one datagram per entry.
#[derive(Clone, Default)]
struct Notes(Arc<Mutex<Vec<String>>>);

impl Notes {
    fn listen(socket: UnixDatagram) -> Notes {
        let notes = Notes::default();
        let sink = notes.clone();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match socket.recv(&mut buf) {
                    Ok(n) => sink
                        .0
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => return,
                }
            }
        });
        notes
    }

    fn count(&self, line: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.lines().any(|l| l == line))
            .count()
    }

    /// Wait until `line` has been sent `n` times in all.
    fn wait(&self, line: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.count(line) < n {
            assert!(
                Instant::now() < deadline,
                "no {n}× {line:?}; got {:?}",
                self.0.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn run_notifies_systemd_reloads_on_sighup_and_reads_credentials() {
    let s = Setup::new();
    s.dovecot.seed(USER, &beta_replies()[..2]).unwrap();
    // The password comes only from the credentials folder.
    let creds = s.path("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(
        creds.join("beta-pw"),
        std::fs::read(s.path("password")).unwrap(),
    )
    .unwrap();
    std::fs::remove_file(s.path("password")).unwrap();
    let config = |retention: &str| {
        let cfg = s.config(
            s.dovecot.tls_port(),
            "implicit",
            s.dovecot.ca_pem(),
            &format!("poll_interval = \"1s\"\nretention = \"{retention}\""),
        );
        let text = std::fs::read_to_string(&cfg).unwrap().replace(
            "password = { file = \"password\" }",
            "password = { credential = \"beta-pw\" }",
        );
        std::fs::write(&cfg, text).unwrap();
        cfg
    };
    let cfg = config("keep");

    let socket_path = s.path("notify");
    let notes = Notes::listen(UnixDatagram::bind(&socket_path).unwrap());
    // systemd names the service's pid in WATCHDOG_PID; `exec` keeps the
    // shell's pid for popline.
    let popline = crate::support::popline();
    let mut child = Daemon(
        std::process::Command::new("sh")
            .arg("-c")
            .arg("WATCHDOG_PID=$$ exec \"$0\" --config \"$1\" run")
            .arg(popline.get_program())
            .arg(&cfg)
            .envs(popline.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .env("NOTIFY_SOCKET", &socket_path)
            .env("WATCHDOG_USEC", "300000")
            .env("CREDENTIALS_DIRECTORY", &creds)
            .spawn()
            .unwrap(),
    );

    notes.wait("READY=1", 1);
    wait_until("the first two replies", || s.jsonl().len() == 2);
    // Kept on the server: the configuration says keep.
    assert_eq!(s.count(), 2);
    notes.wait("WATCHDOG=1", 2);

    // A new configuration (delete after commit) takes over on SIGHUP.
    config("delete");
    child.signal(1);
    notes.wait("RELOADING=1", 1);
    notes.wait("READY=1", 2);
    wait_until("deletion under the reloaded configuration", || {
        s.count() == 0
    });
    assert_eq!(s.jsonl().len(), 2, "a reload must not re-deliver");

    // A broken configuration is refused; the running one goes on.
    let good = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        good.replace("retention = \"delete\"", "retention = \"sometimes\""),
    )
    .unwrap();
    child.signal(1);
    notes.wait("RELOADING=1", 2);
    notes.wait("READY=1", 3);
    assert!(
        notes
            .all()
            .iter()
            .any(|d| d.contains("STATUS=reload refused")),
        "{:?}",
        notes.all()
    );
    s.dovecot.seed(USER, &beta_replies()[2..3]).unwrap();
    wait_until("the third reply under the running configuration", || {
        s.jsonl().len() == 3 && s.count() == 0
    });

    child.signal(15);
    let status = child.wait();
    assert!(status.success(), "{status:?}");
    notes.wait("STOPPING=1", 1);
}

/// The daemon under test; a failing assertion must not leave it running.
struct Daemon(std::process::Child);

impl Daemon {
    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.0.id() as i32, sig) }, 0);
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(st) = self.0.try_wait().unwrap() {
                return st;
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
