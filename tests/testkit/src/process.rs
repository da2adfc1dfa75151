//! What the real servers (Dovecot, PostgreSQL, NATS) share: spawning a server
//! so it dies with the test process, free ports, and reading their logs.

use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Spawns `cmd` so that the child gets SIGTERM when this process dies, even by
/// SIGKILL, instead of leaving an orphaned server behind.
///
/// Linux delivers the parent-death signal when the *thread* that forked the
/// child exits, so children are forked by one thread that lives as long as the
/// process (a server kept in a `static` must survive its creating test).
/// The signal is set after [`CommandExt::uid`] takes effect (a change of user
/// would clear it), so it also holds for servers run as another user.
pub(crate) fn spawn_tied_to_process(mut cmd: Command) -> std::io::Result<Child> {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("popline-testkit-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawning the popline-testkit spawner thread");
        tx
    });
    // SAFETY: the closure only makes a raw, async-signal-safe syscall.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel();
    spawner
        .send((cmd, tx))
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?
}

/// Sends `signal` to the process group led by `child` (spawned with
/// `process_group(0)`), waits up to `grace` for it to exit, then SIGKILLs the
/// group and reaps the child. Does nothing if it has already exited.
pub(crate) fn stop_group(child: &mut Child, signal: libc::c_int, grace: Duration) {
    if let Ok(None) = child.try_wait() {
        let group = -(child.id() as libc::pid_t);
        // SAFETY: kill has no memory-safety preconditions. The group id is
        // our unreaped child's pid, so it cannot have been reused.
        unsafe { libc::kill(group, signal) };
        let deadline = Instant::now() + grace;
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Ok(None) = child.try_wait() {
            // SAFETY: as above.
            unsafe { libc::kill(group, libc::SIGKILL) };
        }
    }
    let _ = child.wait();
}

/// A free TCP port on 127.0.0.1. It is released before the server binds it,
/// so another process may take it first: callers retry on "address in use".
pub(crate) fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// A file's contents, invalid UTF-8 replaced, empty if it cannot be read.
pub(crate) fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The last 30 lines of `text` under a `--- name (last lines) ---` heading,
/// for error messages; empty if `text` is.
pub(crate) fn tail(name: &str, text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    if !lines.is_empty() {
        let _ = writeln!(out, "--- {name} (last lines) ---");
        for line in &lines[lines.len().saturating_sub(30)..] {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// Polls until `child` has written `ready` to its `log` (after byte `from`,
/// where this start's output begins) and 127.0.0.1:`port` accepts a TCP
/// connection. Fails if the child exits or `timeout` passes, with the log's
/// tail in the error (which then says "address already in use" if the port
/// was taken).
pub(crate) fn wait_ready(
    child: &mut Child,
    what: &str,
    port: u16,
    log: &Path,
    from: u64,
    ready: &str,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let this_start = || {
        let text = read_lossy(log);
        text.get(from as usize..).unwrap_or_default().to_owned()
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "{what} exited with {status} while starting\n{}",
                tail(&log.display().to_string(), &this_start())
            );
        }
        if this_start().contains(ready)
            && TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{what} was not ready on {addr} within {timeout:?}\n{}",
                tail(&log.display().to_string(), &this_start())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The current length of `path` (0 if it does not exist yet): where the next
/// start's output will begin in an append-only log.
pub(crate) fn log_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Opens `path` for appending (created if missing), for a child's stdout and
/// stderr: a restarted server keeps adding to the same log.
pub(crate) fn append_log(path: &Path) -> Result<(Stdio, Stdio)> {
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    Ok((file.try_clone()?.into(), file.into()))
}

/// Where `name` is: the first directory of `$PATH` that has it, then `extra`.
pub(crate) fn which(name: &str, extra: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The name of user `uid` (`/etc/passwd` or another NSS source), `None` if
/// it has none.
pub(crate) fn user_name(uid: u32) -> Result<Option<String>> {
    nss_name("uid", uid, |buf| {
        // SAFETY: all-zero is a valid `passwd` (null pointers, zero ids).
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call and `buf.len()` is the
        // buffer's real size; the strings `entry` points to live in `buf`.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut entry,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        (rc, (!found.is_null()).then_some(entry.pw_name))
    })
}

/// The name of group `gid` (`/etc/group` or another NSS source), `None` if
/// it has none.
pub(crate) fn group_name(gid: u32) -> Result<Option<String>> {
    nss_name("gid", gid, |buf| {
        // SAFETY: all-zero is a valid `group` (null pointers, zero id).
        let mut entry: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        // SAFETY: as in `user_name`.
        let rc = unsafe {
            libc::getgrgid_r(
                gid,
                &mut entry,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        (rc, (!found.is_null()).then_some(entry.gr_name))
    })
}

/// A `get*id_r` lookup: `lookup` fills `buf` and returns its error code and,
/// if found, the name (a NUL-terminated string inside `buf`). The buffer
/// grows while the call says it is too small.
fn nss_name(
    what: &str,
    id: u32,
    mut lookup: impl FnMut(&mut [u8]) -> (libc::c_int, Option<*const libc::c_char>),
) -> Result<Option<String>> {
    let mut buf = vec![0u8; 4096];
    loop {
        let (rc, name) = lookup(&mut buf);
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 {
            bail!(
                "looking up {what} {id}: {}",
                std::io::Error::from_raw_os_error(rc)
            );
        }
        // SAFETY: on success the name is a NUL-terminated string in `buf`,
        // which is alive and unchanged here.
        return Ok(name.map(|n| {
            unsafe { std::ffi::CStr::from_ptr(n) }
                .to_string_lossy()
                .into_owned()
        }));
    }
}
