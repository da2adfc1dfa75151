//! A real PostgreSQL server in a temporary directory, one per test.
//!
//! `initdb` makes a fresh cluster (superuser `postgres` with a random
//! password, SCRAM for TCP, trust on the private Unix socket), then `postgres`
//! runs it as an ordinary child process on a free port of 127.0.0.1. Nothing
//! touches the system's PostgreSQL service or its clusters.
//!
//! PostgreSQL refuses to run as root. When the tests run as root (as CI does),
//! the cluster belongs to `nobody` and `initdb` and `postgres` run as that
//! user: the child process drops to it (groups cleared, then gid, then uid)
//! before exec, as `setpriv --reuid --regid --clear-groups` would, so the
//! process this handle holds is the postmaster itself. Otherwise everything
//! runs as the invoking user.

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use rand_core::{OsRng, RngCore as _};
use tempfile::TempDir;

use crate::process::{
    append_log, free_port, log_len, read_lossy, spawn_tied_to_process, stop_group, wait_ready,
};
use crate::{MISSING_POSTGRES, Tls, which_postgres};

/// The superuser `initdb` creates.
const SUPERUSER: &str = "postgres";
/// How long a start (including crash recovery after [`Postgres::kill`]) may take.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// What the postmaster logs once it accepts connections.
const READY: &str = "database system is ready to accept connections";

/// What [`Postgres::start`] sets up.
///
/// ```no_run
/// # use popline_testkit::{Postgres, PostgresOptions};
/// let postgres = Postgres::start(PostgresOptions::default().tls(true))?;
/// # anyhow::Ok(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct PostgresOptions {
    /// Serve TLS (`ssl = on`) with a server certificate from a fresh test CA
    /// ([`Tls`]); clients verify it against [`Postgres::ca_pem`]. Plaintext
    /// connections are still accepted.
    pub tls: bool,
}

impl PostgresOptions {
    /// Sets [`PostgresOptions::tls`].
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }
}

/// A running PostgreSQL (`postgres -D ...`) from a temporary directory.
///
/// Dropping it shuts PostgreSQL down (immediate shutdown, SIGKILL to its
/// process group after 5 s), waits for it and removes the directory. If the
/// test process dies without dropping it, the postmaster still gets SIGTERM
/// (Linux parent-death signal).
pub struct Postgres {
    bin: PathBuf,
    /// `(uid, gid)` of `nobody` when running as root.
    run_as: Option<(u32, u32)>,
    port: u16,
    password: String,
    tls: Option<Tls>,
    /// `None` after [`Postgres::stop`] or [`Postgres::kill`].
    child: Mutex<Option<Child>>,
    // Last field: removed only after `Drop::drop` has stopped the process.
    dir: TempDir,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("bin", &self.bin)
            .field("dir", &self.dir.path())
            .field("port", &self.port)
            .field("run_as", &self.run_as)
            .finish_non_exhaustive()
    }
}

impl Postgres {
    /// Runs `initdb` into a fresh temporary directory, starts PostgreSQL on a
    /// free port and waits (up to 30 s) until it logs that it is ready and
    /// accepts TCP connections. On failure the error includes the log's tail.
    pub fn start(opts: PostgresOptions) -> Result<Postgres> {
        let bin = which_postgres().ok_or_else(|| anyhow!(MISSING_POSTGRES))?;
        let run_as = unprivileged_user()?;
        let dir = tempfile::Builder::new()
            .prefix("popline-postgres-")
            .tempdir()
            .context("creating a temporary directory")?;
        let root = dir.path();
        // tempfile makes 0700 folders, which `nobody` could not enter.
        fs::set_permissions(root, fs::Permissions::from_mode(0o755))?;
        let give = |path: &Path, mode: u32| -> Result<()> {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
            if let Some((uid, gid)) = run_as {
                chown(path, Some(uid), Some(gid))
                    .with_context(|| format!("chown {}", path.display()))?;
            }
            Ok(())
        };
        // initdb wants an empty data dir it owns; the socket dir is open to
        // all so clients (run as the invoking user) can reach the socket.
        for (name, mode) in [("data", 0o700), ("run", 0o755)] {
            fs::create_dir(root.join(name))?;
            give(&root.join(name), mode)?;
        }
        let tls = if opts.tls {
            let tls = Tls::generate(&root.join("tls"))?;
            // PostgreSQL wants its key owned by the server's user, 0600.
            give(&tls.server_key, 0o600)?;
            Some(tls)
        } else {
            None
        };

        let mut bytes = [0; 16];
        OsRng.fill_bytes(&mut bytes);
        let password = hex::encode(bytes);
        let pwfile = root.join("pwfile");
        fs::write(&pwfile, format!("{password}\n"))?;
        give(&pwfile, 0o600)?;
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(root.join("data"))
            .args([
                "-U",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            // Unsynced files are lost only if the machine crashes, and the
            // cluster is thrown away anyway: no need to wait for the disk.
            .args(["--encoding=UTF8", "--locale=C", "--no-sync"]);
        let output = as_user(&mut initdb, run_as, root)
            .output()
            .with_context(|| format!("running {}", bin.join("initdb").display()))?;
        fs::remove_file(&pwfile)?;
        if !output.status.success() {
            bail!(
                "initdb failed ({})\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }

        let mut postgres = Postgres {
            bin,
            run_as,
            port: 0,
            password,
            tls,
            child: Mutex::new(None),
            dir,
        };
        // A free port can be taken by another process before PostgreSQL
        // binds it: retry a few times with another one.
        let mut attempt = 0;
        loop {
            attempt += 1;
            postgres.port = free_port()?;
            let launched = postgres.launch(&mut postgres.lock());
            match launched {
                Err(e)
                    if attempt < 3
                        && format!("{e:#}").contains("could not create any TCP/IP sockets") => {}
                Err(e) => return Err(e),
                Ok(()) => return Ok(postgres),
            }
        }
    }

    /// The TCP port on 127.0.0.1 (the same after [`Postgres::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser's name, `postgres`.
    pub fn user(&self) -> &str {
        SUPERUSER
    }

    /// The superuser's password (random, hex).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// `postgres://postgres:PASSWORD@127.0.0.1:PORT/DATABASE`. The database
    /// `postgres` always exists; make others with [`Postgres::create_database`].
    pub fn url(&self, database: &str) -> String {
        let mut url = url::Url::parse(&format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}",
            self.password, self.port
        ))
        .expect("a valid URL");
        url.path_segments_mut()
            .expect("a URL with a host")
            .push(database);
        url.into()
    }

    /// Creates database `name` (owned by the superuser), with `createdb` from
    /// PostgreSQL's own bin dir over the Unix socket.
    pub fn create_database(&self, name: &str) -> Result<()> {
        let createdb = self.bin.join("createdb");
        if !createdb.is_file() {
            bail!(
                "{} not found: apt-get install postgresql-client-15",
                createdb.display()
            );
        }
        let output = Command::new(&createdb)
            .arg("-h")
            .arg(self.dir().join("run"))
            .args(["-p", &self.port.to_string(), "-U", SUPERUSER, "--", name])
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", createdb.display()))?;
        if !output.status.success() {
            bail!(
                "createdb {name} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// The test CA certificate (PEM) that signed the server certificate, if
    /// started with [`PostgresOptions::tls`]. The certificate names
    /// `IP:127.0.0.1` and `DNS:localhost`.
    pub fn ca_pem(&self) -> Option<&Path> {
        self.tls.as_ref().map(|tls| tls.ca_pem.as_path())
    }

    /// Stops PostgreSQL cleanly (fast shutdown: open sessions are ended, a
    /// checkpoint is written). Does nothing if it is not running.
    pub fn stop(&self) {
        if let Some(mut child) = self.lock().take() {
            stop_group(&mut child, libc::SIGINT, Duration::from_secs(30));
        }
    }

    /// Kills every PostgreSQL process with SIGKILL, as a crash would, and
    /// waits until they are gone. Committed data survives; the next
    /// [`Postgres::restart`] runs crash recovery.
    pub fn kill(&self) {
        if let Some(mut child) = self.lock().take() {
            let shm = self.shm_segment();
            stop_group(&mut child, libc::SIGKILL, Duration::ZERO);
            // Killed backends may still be exiting; a new postmaster refuses
            // to start while they are attached to the old shared memory.
            if let Some(id) = shm {
                let deadline = Instant::now() + Duration::from_secs(5);
                while shm_attached(id).is_some_and(|n| n > 0) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }

    /// Starts PostgreSQL again on the same port and data directory, after
    /// stopping it cleanly if it is still running.
    pub fn restart(&self) -> Result<()> {
        let mut child = self.lock();
        if let Some(mut running) = child.take() {
            stop_group(&mut running, libc::SIGINT, Duration::from_secs(30));
        }
        self.launch(&mut child)
    }

    /// Whether the postmaster is running.
    pub fn is_running(&self) -> bool {
        match self.lock().as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The temporary directory: `data/` (the cluster), `run/` (the Unix
    /// socket), `postgres.log`, and `tls/` if enabled.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// PostgreSQL's log so far (every start, in order).
    pub fn log(&self) -> String {
        read_lossy(&self.log_path())
    }

    fn log_path(&self) -> PathBuf {
        self.dir().join("postgres.log")
    }

    fn lock(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Spawns the postmaster into `slot` and waits until it is ready; on
    /// failure it is stopped and `slot` left empty.
    fn launch(&self, slot: &mut Option<Child>) -> Result<()> {
        let root = self.dir();
        let log = self.log_path();
        let from = log_len(&log);
        let (stdout, stderr) = append_log(&log)?;
        let mut cmd = Command::new(self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(root.join("data"))
            .args(["-p", &self.port.to_string()])
            .arg("-k")
            .arg(root.join("run"))
            .args(["-c", "listen_addresses=127.0.0.1"])
            // Small and self-contained: dynamic shared memory lives in the
            // data dir, so nothing is left in /dev/shm after a kill.
            .args(["-c", "shared_buffers=16MB", "-c", "max_connections=200"])
            .args(["-c", "dynamic_shared_memory_type=mmap"]);
        if let Some(tls) = &self.tls {
            cmd.args(["-c", "ssl=on"])
                .arg("-c")
                .arg(format!("ssl_cert_file={}", tls.server_cert.display()))
                .arg("-c")
                .arg(format!("ssl_key_file={}", tls.server_key.display()));
        }
        as_user(&mut cmd, self.run_as, root)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            // Its own process group, so stop and kill reach every backend.
            .process_group(0);
        let child = slot.insert(spawn_tied_to_process(cmd).context("running postgres")?);
        let ready = wait_ready(
            child,
            "postgres",
            self.port,
            &log,
            from,
            READY,
            START_TIMEOUT,
        );
        if ready.is_err() {
            let mut child = slot.take().expect("just inserted");
            stop_group(&mut child, libc::SIGQUIT, Duration::from_secs(5));
        }
        ready
    }

    /// The System V shared memory segment of the cluster, from
    /// `postmaster.pid` (line 7: key and id). The file stays after a kill.
    fn shm_segment(&self) -> Option<libc::c_int> {
        let pidfile = read_lossy(&self.dir().join("data/postmaster.pid"));
        pidfile
            .lines()
            .nth(6)?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(child) = self.child.get_mut().unwrap_or_else(|e| e.into_inner()) {
            // Immediate shutdown: quick, and it still releases shared memory.
            stop_group(child, libc::SIGQUIT, Duration::from_secs(5));
        }
        // After a kill, the small System V segment outlives the processes;
        // nothing attached means nothing else uses it.
        if let Some(id) = self.shm_segment().filter(|&id| shm_attached(id) == Some(0)) {
            // SAFETY: IPC_RMID takes no buffer.
            unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        }
    }
}

/// How many processes are attached to shared memory segment `id`; `None` if
/// it does not exist.
fn shm_attached(id: libc::c_int) -> Option<u64> {
    // SAFETY: shmid_ds is plain data; IPC_STAT fills it.
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: `ds` is a valid, writable shmid_ds.
    let rc = unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) };
    (rc == 0).then_some(ds.shm_nattch as u64)
}

/// `nobody`'s uid and gid when this process is root (PostgreSQL refuses to
/// run as root), else `None`.
fn unprivileged_user() -> Result<Option<(u32, u32)>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"nobody"))
                .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
                .flatten()
        })
        .map(Some)
        .ok_or_else(|| {
            anyhow!(
                "PostgreSQL refuses to run as root, and there is no `nobody` user in \
                 /etc/passwd to run it as"
            )
        })
}

/// Runs `cmd` from `dir`, as `run_as` if set: std clears the supplementary
/// groups, then sets the gid and uid in the child before exec.
fn as_user<'a>(cmd: &'a mut Command, run_as: Option<(u32, u32)>, dir: &Path) -> &'a mut Command {
    cmd.current_dir(dir);
    if let Some((uid, gid)) = run_as {
        cmd.uid(uid).gid(gid);
    }
    cmd
}
