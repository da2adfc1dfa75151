//! A real NATS server with JetStream in a temporary directory, one per test.
//!
//! Runs Debian's `nats-server` (2.9) as an ordinary child process:
//! `nats-server -a 127.0.0.1 -p PORT -js -sd DIR/store`, client connections
//! only (monitoring, cluster, gateway, leaf node, websocket and MQTT
//! listeners are off unless configured, and nothing configures them).
//! Nothing touches the system's `nats-server` service.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use std::os::unix::process::CommandExt;
use tempfile::TempDir;

use crate::process::{
    append_log, free_port, log_len, read_lossy, spawn_tied_to_process, stop_group, wait_ready,
};
use crate::{MISSING_NATS, which_nats};

/// How long a start (including JetStream recovering its store) may take.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// What `nats-server` logs once it accepts clients.
const READY: &str = "Server is ready";

/// What [`Nats::start`] sets up: nothing to choose yet (JetStream is always
/// on, listening on 127.0.0.1 only).
///
/// ```no_run
/// # use popline_testkit::{Nats, NatsOptions};
/// let nats = Nats::start(NatsOptions::default())?;
/// // connect to nats.url() ...
/// # anyhow::Ok(())
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct NatsOptions {}

/// A running `nats-server -js` from a temporary directory.
///
/// Dropping it stops the server (SIGTERM, SIGKILL after 2 s), waits for it
/// and removes the directory. If the test process dies without dropping it,
/// the server still gets SIGTERM (Linux parent-death signal).
pub struct Nats {
    binary: PathBuf,
    port: u16,
    /// `None` after [`Nats::stop`] or [`Nats::kill`].
    child: Mutex<Option<Child>>,
    // Last field: removed only after `Drop::drop` has stopped the process.
    dir: TempDir,
}

impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nats")
            .field("binary", &self.binary)
            .field("dir", &self.dir.path())
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Nats {
    /// Starts `nats-server` with JetStream on a free port of 127.0.0.1, its
    /// store in a fresh temporary directory, and waits (up to 20 s) until it
    /// logs that it is ready and accepts TCP connections. On failure the error
    /// includes the log's tail.
    pub fn start(opts: NatsOptions) -> Result<Nats> {
        let NatsOptions {} = opts;
        let binary = which_nats().ok_or_else(|| anyhow!(MISSING_NATS))?;
        let dir = tempfile::Builder::new()
            .prefix("popline-nats-")
            .tempdir()
            .context("creating a temporary directory")?;
        let mut nats = Nats {
            binary,
            port: 0,
            child: Mutex::new(None),
            dir,
        };
        // A free port can be taken by another process before the server
        // binds it: retry a few times with another one.
        let mut attempt = 0;
        loop {
            attempt += 1;
            nats.port = free_port()?;
            let launched = nats.launch(&mut nats.lock());
            match launched {
                Err(e)
                    if attempt < 3
                        && format!("{e:#}")
                            .to_lowercase()
                            .contains("address already in use") => {}
                Err(e) => return Err(e),
                Ok(()) => return Ok(nats),
            }
        }
    }

    /// The client port on 127.0.0.1 (the same after [`Nats::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server cleanly (SIGTERM). Does nothing if it is not running.
    pub fn stop(&self) {
        if let Some(mut child) = self.lock().take() {
            stop_group(&mut child, libc::SIGTERM, Duration::from_secs(10));
        }
    }

    /// Kills the server with SIGKILL, as a crash would, and waits for it.
    /// What JetStream had stored is still there for [`Nats::restart`].
    pub fn kill(&self) {
        if let Some(mut child) = self.lock().take() {
            stop_group(&mut child, libc::SIGKILL, Duration::ZERO);
        }
    }

    /// Starts the server again on the same port and store directory (so
    /// JetStream streams and messages survive), after stopping it cleanly if
    /// it is still running.
    pub fn restart(&self) -> Result<()> {
        let mut child = self.lock();
        if let Some(mut running) = child.take() {
            stop_group(&mut running, libc::SIGTERM, Duration::from_secs(10));
        }
        self.launch(&mut child)
    }

    /// Whether the server is running.
    pub fn is_running(&self) -> bool {
        match self.lock().as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The temporary directory: `store/` (JetStream) and `nats.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log so far (every start, in order).
    pub fn log(&self) -> String {
        read_lossy(&self.log_path())
    }

    fn log_path(&self) -> PathBuf {
        self.dir().join("nats.log")
    }

    fn lock(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Spawns the server into `slot` and waits until it is ready; on failure
    /// it is killed and `slot` left empty.
    fn launch(&self, slot: &mut Option<Child>) -> Result<()> {
        let log = self.log_path();
        let from = log_len(&log);
        let (stdout, stderr) = append_log(&log)?;
        let mut cmd = Command::new(&self.binary);
        cmd.args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-n", "popline-test", "-js", "-sd"])
            .arg(self.dir().join("store"))
            .current_dir(self.dir())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        let child = slot.insert(spawn_tied_to_process(cmd).context("running nats-server")?);
        let ready = wait_ready(
            child,
            "nats-server",
            self.port,
            &log,
            from,
            READY,
            START_TIMEOUT,
        );
        if ready.is_err() {
            let mut child = slot.take().expect("just inserted");
            stop_group(&mut child, libc::SIGKILL, Duration::ZERO);
        }
        ready
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        if let Some(child) = self.child.get_mut().unwrap_or_else(|e| e.into_inner()) {
            stop_group(child, libc::SIGTERM, Duration::from_secs(2));
        }
    }
}
