//! A real Dovecot 2.3 POP3 server in a temporary directory, one per test.
//!
//! The configuration follows `/work/shared/reference/dovecot.md` (a setup known
//! to work); the comments here say why each unusual step is needed.
//!
//! As root, Dovecot drops privileges as a system install does: mail is read
//! as Debian's `mail` user (8:8), the users file as `dovecot`. As any other
//! user, it runs Dovecot's rootless setup: every process is the invoking
//! user (`default_internal_user`, `default_login_user` and
//! `default_internal_group`), the login services and `anvil` are not
//! chrooted, and the maildirs, users file and passwd-file uid:gid are the
//! invoking user's own.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use tempfile::TempDir;

use crate::process::{self, read_lossy, spawn_tied_to_process, stop_group};
use crate::{MISSING_DOVECOT, Tls, which_dovecot};

/// Debian's `mail` user and group: as root, Dovecot reads and writes the
/// maildirs as this uid/gid (`first_valid_uid = 8` in the config).
const MAIL_ID: u32 = 8;
/// How long [`Dovecot::start`] waits for the listeners.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// The loopback address that differs from the client's 127.0.0.1, so Dovecot
/// treats connections to it as not secure (see [`Dovecot::nonlocal_plain_port`]).
const NONLOCAL: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// What [`Dovecot::start`] sets up.
///
/// ```no_run
/// # use popline_testkit::{Dovecot, DovecotOptions};
/// let dovecot = Dovecot::start(DovecotOptions::default().user("alice@contoso.example", "secret"))?;
/// # anyhow::Ok(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct DovecotOptions {
    /// Mailboxes as `(address, password)`. Each gets an empty maildir; log in
    /// with the full address as the user name.
    pub users: Vec<(String, String)>,
    /// If set, bearer tokens (XOAUTH2, OAUTHBEARER) are checked by Dovecot's
    /// `oauth2` passdbs against this RFC 7662 introspection endpoint (POST),
    /// e.g. [`crate::idp::Idp::introspection_url`]. It must answer
    /// `{"active":true,"username":"ADDRESS","scope":"POP.AccessAsUser.All"}`
    /// for a delegated token, `{"active":true,"username":"ANY@DOMAIN",
    /// "scope":"POP.AccessAsApp"}` for an app-only token valid for every
    /// mailbox of `DOMAIN`, and `{"active":false}` otherwise.
    /// Without it, Dovecot offers only `SASL PLAIN LOGIN` (and USER/PASS); with
    /// it, also `XOAUTH2 OAUTHBEARER`. (Offering them without an `oauth2`
    /// passdb would answer every attempt with `-ERR [SYS/TEMP]` after 0.5 s.)
    pub oauth2_introspection_url: Option<String>,
    /// Also serve Dovecot's authentication to an SMTP server (Postfix's
    /// `smtpd_sasl_type = dovecot`) on a loopback TCP port,
    /// [`Dovecot::auth_port`]. With an introspection URL, bearer tokens
    /// for SMTP are checked like POP's, with Exchange's SMTP scopes:
    /// delegated `SMTP.Send` for the token's own user, app-only role
    /// `SMTP.SendAsApp` for any address of the token's domain.
    pub smtp_auth: bool,
}

impl DovecotOptions {
    /// Sets [`DovecotOptions::smtp_auth`].
    pub fn smtp_auth(mut self, on: bool) -> Self {
        self.smtp_auth = on;
        self
    }

    /// Adds a mailbox.
    pub fn user(mut self, address: impl Into<String>, password: impl Into<String>) -> Self {
        self.users.push((address.into(), password.into()));
        self
    }

    /// Sets [`DovecotOptions::oauth2_introspection_url`].
    pub fn oauth2_introspection_url(mut self, url: impl Into<String>) -> Self {
        self.oauth2_introspection_url = Some(url.into());
        self
    }
}

/// A running Dovecot (`dovecot -F`) serving POP3 from a temporary directory.
///
/// Dropping it stops Dovecot (SIGTERM to its process group, SIGKILL after
/// 250 ms), waits for it, and removes the directory. If the test process dies without dropping it,
/// Dovecot still gets SIGTERM (Linux parent-death signal).
///
/// Runs as root (Dovecot's processes drop to `mail` and `dovecot`) or as
/// the invoking user (every process and file that user's), whichever the
/// test process is.
pub struct Dovecot {
    child: Mutex<Child>,
    pid: u32,
    plain_port: u16,
    tls_port: u16,
    nonlocal_plain_port: u16,
    auth_port: Option<u16>,
    tls: Tls,
    users: Vec<String>,
    /// Who owns the maildirs and their messages.
    identity: Identity,
    // Last field: removed only after `Drop::drop` has stopped the process.
    dir: TempDir,
}

impl std::fmt::Debug for Dovecot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dovecot")
            .field("pid", &self.pid)
            .field("dir", &self.dir.path())
            .field("plain_port", &self.plain_port)
            .field("tls_port", &self.tls_port)
            .field("nonlocal_plain_port", &self.nonlocal_plain_port)
            .finish_non_exhaustive()
    }
}

impl Dovecot {
    /// Writes a configuration, users and TLS files into a fresh temporary
    /// directory, starts Dovecot on free ports and waits (up to 10 s) until its
    /// listeners answer. On failure the error includes the tail of Dovecot's log.
    pub fn start(opts: DovecotOptions) -> Result<Dovecot> {
        let binary = which_dovecot().ok_or_else(|| anyhow!(MISSING_DOVECOT))?;
        let identity = Identity::current()?;
        for (address, password) in &opts.users {
            // Both go into a `:`-separated passwd-file line; the address is also a folder name.
            let bad = |s: &str| s.is_empty() || s.contains([':', '\n', '\r', '/', '\0']);
            if bad(address) || password.contains([':', '\n', '\r', '\0']) || address == ".." {
                bail!("unusable user or password for the passwd-file: {address:?}");
            }
        }
        // Free ports are found by binding port 0 and releasing it, so another
        // process can take one before Dovecot binds it: retry a few times.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match start_once(&binary, &opts, &identity) {
                Err(e) if attempt < 3 && format!("{e:#}").contains("Address already in use") => {
                    continue;
                }
                result => return result,
            }
        }
    }

    /// The authentication service's TCP port on 127.0.0.1 for an SMTP
    /// server, with [`DovecotOptions::smtp_auth`].
    pub fn auth_port(&self) -> Option<u16> {
        self.auth_port
    }

    /// The plaintext POP3 listener on 127.0.0.1 (offers STLS). Dovecot allows
    /// USER/PASS here without TLS because client and server address are equal.
    pub fn plain_port(&self) -> u16 {
        self.plain_port
    }

    /// The implicit-TLS (pop3s) listener on 127.0.0.1.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// A plaintext POP3 listener on 127.0.0.2 (offers STLS). A client on
    /// 127.0.0.1 connecting here is "not local" to Dovecot, which then refuses
    /// plaintext logins: `-ERR [AUTH] Plaintext authentication disallowed on
    /// non-secure (SSL/TLS) connections.` Use it for "TLS required" tests.
    pub fn nonlocal_plain_port(&self) -> u16 {
        self.nonlocal_plain_port
    }

    /// The CA certificate (PEM) that signed the server certificate.
    pub fn ca_pem(&self) -> &Path {
        &self.tls.ca_pem
    }

    /// All TLS files of this server.
    pub fn tls(&self) -> &Tls {
        &self.tls
    }

    /// The temporary directory holding configuration, mail and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The Dovecot master process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Dovecot's log so far (`dovecot.log`; `auth_verbose` is on).
    pub fn log(&self) -> String {
        read_lossy(&self.dir().join("dovecot.log"))
    }

    /// Whether the Dovecot process is still running.
    pub fn is_running(&self) -> bool {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        matches!(child.try_wait(), Ok(None))
    }

    /// The maildir of `user` (one of [`DovecotOptions::users`]).
    pub fn maildir(&self, user: &str) -> Result<PathBuf> {
        if !self.users.iter().any(|u| u == user) {
            bail!("{user} is not a user of this Dovecot");
        }
        Ok(self.dir().join("mail").join(user))
    }

    /// Delivers `messages` to `user`'s maildir `new/`, in order (POP3 message
    /// 1 is the first one seeded). Each is written to `tmp/` and renamed, owned
    /// by mail (8:8) as root, else by the invoking user.
    ///
    /// CRLF line endings are stored as LF, as Dovecot stores mail; it turns
    /// them back into CRLF when serving RETR, so a message seeded with CRLF
    /// comes back byte for byte. The file name carries the size on disk (`S=`)
    /// and the size as served (`W=`), as Dovecot's own deliveries do, so
    /// Dovecot need not read every message to answer STAT or LIST.
    pub fn seed<M: AsRef<[u8]>>(&self, user: &str, messages: &[M]) -> Result<()> {
        // Dovecot gives new mail UIDs in file-name order; names start with the
        // same time and end with a global counter, so seeding order is kept.
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let maildir = self.maildir(user)?;
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?;
        for message in messages {
            let (data, served_size) = to_stored(message.as_ref());
            let name = format!(
                "{}.M{:06}P{}Q{:010}.popline-testkit,S={},W={}",
                now.as_secs(),
                now.subsec_micros(),
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed),
                data.len(),
                served_size,
            );
            let tmp = maildir.join("tmp").join(&name);
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            file.write_all(&data)?;
            drop(file);
            self.identity.give_mail(&tmp)?;
            fs::rename(&tmp, maildir.join("new").join(&name))?;
        }
        Ok(())
    }

    /// How many messages `user`'s maildir holds (`new/` plus `cur/`): drops
    /// after a client's `DELE` + `QUIT`.
    pub fn count(&self, user: &str) -> Result<usize> {
        let maildir = self.maildir(user)?;
        let mut n = 0;
        for sub in ["new", "cur"] {
            for entry in fs::read_dir(maildir.join(sub))? {
                if !entry?.file_name().as_encoded_bytes().starts_with(b".") {
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM to the master alone takes it ~1.1 s to shut down; to its
        // whole process group (every Dovecot process) ~10 ms, and the master
        // still reaps its children. Right after a login, shutdown still takes
        // 1 s, so SIGKILL whatever is left after a short grace: the directory
        // is deleted anyway.
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        stop_group(child, libc::SIGTERM, Duration::from_millis(250));
    }
}

/// Whose ids Dovecot's processes and files use.
#[derive(Clone, Debug)]
enum Identity {
    /// The tests run as root: Dovecot's own users (`dovenull`, `dovecot`) for
    /// its processes, `mail` (8:8) for the maildirs, the users file
    /// `root:dovecot` (gid here) so the auth process can read it.
    Root { dovecot_gid: u32 },
    /// The tests run as this user: Dovecot runs rootless as it.
    Invoking {
        uid: u32,
        gid: u32,
        user: String,
        group: String,
    },
}

impl Identity {
    fn current() -> Result<Identity> {
        // SAFETY: geteuid and getegid have no preconditions.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if uid == 0 {
            return Ok(Identity::Root {
                dovecot_gid: group_id("dovecot")?,
            });
        }
        // Dovecot's settings take names, so the ids must have them.
        let user = process::user_name(uid)?.ok_or_else(|| {
            anyhow!(
                "uid {uid} has no user name (not in /etc/passwd or NSS); Dovecot's \
                 default_internal_user needs one: run the tests as a user that has a name"
            )
        })?;
        let group = process::group_name(gid)?.ok_or_else(|| {
            anyhow!(
                "gid {gid} has no group name (not in /etc/group or NSS); Dovecot's \
                 default_internal_group needs one: run the tests with a named group"
            )
        })?;
        Ok(Identity::Invoking {
            uid,
            gid,
            user,
            group,
        })
    }

    /// The uid and gid the maildirs belong to and the passwd-file names.
    fn mail_ids(&self) -> (u32, u32) {
        match self {
            Identity::Root { .. } => (MAIL_ID, MAIL_ID),
            Identity::Invoking { uid, gid, .. } => (*uid, *gid),
        }
    }

    /// Gives a maildir folder or message to the mail user (as root; the
    /// invoking user already owns what it creates).
    fn give_mail(&self, path: &Path) -> Result<()> {
        if let Identity::Root { .. } = self {
            chown(path, Some(MAIL_ID), Some(MAIL_ID))
                .with_context(|| format!("chown {} to mail (8:8)", path.display()))?;
        }
        Ok(())
    }

    /// The settings that differ between the two: the mail ids, and for a
    /// rootless instance who every process runs as and no chroot (which
    /// needs root) for the services that have one by default.
    fn settings(&self) -> String {
        let (uid, gid) = self.mail_ids();
        let mut out = format!("first_valid_uid = {uid}\nfirst_valid_gid = {gid}\n");
        if let Identity::Invoking { user, group, .. } = self {
            out.push_str(&format!(
                "# Rootless: every process runs as the invoking user, nothing chroots.
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
last_valid_uid = {uid}
last_valid_gid = {gid}
service pop3-login {{
  chroot =
}}
service anvil {{
  chroot =
}}
service ipc {{
  chroot =
}}
"
            ));
        }
        out
    }
}

fn start_once(binary: &Path, opts: &DovecotOptions, identity: &Identity) -> Result<Dovecot> {
    let dir = tempfile::Builder::new()
        .prefix("popline-dovecot-")
        .tempdir()
        .context("creating a temporary directory")?;
    let root = dir.path();
    // tempfile makes 0700 folders, which the dovecot and mail users cannot
    // enter as root: auth then fails with "missing +x perm".
    fs::set_permissions(root, fs::Permissions::from_mode(0o755))?;
    let tls = Tls::generate(&root.join("tls"))?;

    let mail = root.join("mail");
    fs::create_dir(&mail)?;
    fs::set_permissions(&mail, fs::Permissions::from_mode(0o755))?;
    let mut passwd = String::new();
    let (uid, gid) = identity.mail_ids();
    for (address, password) in &opts.users {
        let home = mail.join(address);
        for sub in ["", "cur", "new", "tmp"] {
            let d = home.join(sub);
            fs::create_dir_all(&d)?;
            fs::set_permissions(&d, fs::Permissions::from_mode(0o700))?;
            identity.give_mail(&d)?;
        }
        writeln!(
            passwd,
            "{address}:{{PLAIN}}{password}:{uid}:{gid}::{}::",
            home.display()
        )?;
    }
    let users_file = root.join("users.passwd");
    fs::write(&users_file, passwd)?;
    match identity {
        // Dovecot's auth process reads this as the dovecot user.
        Identity::Root { dovecot_gid } => {
            fs::set_permissions(&users_file, fs::Permissions::from_mode(0o640))?;
            chown(&users_file, Some(0), Some(*dovecot_gid))?;
        }
        Identity::Invoking { .. } => {
            fs::set_permissions(&users_file, fs::Permissions::from_mode(0o600))?;
        }
    }

    let (plain_port, tls_port, nonlocal_plain_port) = free_ports()?;
    let auth_port = if opts.smtp_auth {
        Some(process::free_port()?)
    } else {
        None
    };
    let instance = format!(
        "popline-test-{}",
        root.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut conf = config(
        root,
        &tls,
        &instance,
        opts,
        identity,
        [plain_port, tls_port, nonlocal_plain_port],
    )?;
    if let Some(port) = auth_port {
        // Postfix asks over TCP (`smtpd_sasl_path = inet:127.0.0.1:PORT`).
        write!(
            conf,
            "service auth {{
  inet_listener sasl {{
    address = 127.0.0.1
    port = {port}
  }}
}}
"
        )?;
    }
    let conf_path = root.join("dovecot.conf");
    fs::write(&conf_path, conf)?;

    // Errors found before the log is set up (config syntax) go to stderr.
    let output = fs::File::create(root.join("dovecot.out"))?;
    let mut cmd = Command::new(binary);
    cmd.arg("-F")
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output)
        // Its own process group, so Drop can stop every Dovecot process at once.
        .process_group(0);
    let child = spawn_tied_to_process(cmd).context("running dovecot")?;
    let dovecot = Dovecot {
        pid: child.id(),
        child: Mutex::new(child),
        plain_port,
        tls_port,
        nonlocal_plain_port,
        auth_port,
        tls,
        users: opts.users.iter().map(|(u, _)| u.clone()).collect(),
        identity: identity.clone(),
        dir,
    };
    wait_ready(&dovecot)?;
    Ok(dovecot)
}

/// The `passdb` blocks. Bearer tokens go to two `oauth2` passdbs, passwords
/// (USER/PASS, PLAIN, LOGIN) to the passwd-file.
///
/// The first `oauth2` passdb takes delegated tokens: the introspected
/// `username` must be the login name (`%Lu`) and `scope` must list
/// `POP.AccessAsUser.All`. The second takes app-only tokens (client
/// credentials, role `POP.AccessAsApp`) for any mailbox of the token's domain:
/// Dovecot applies `username_format` to both the login name and the
/// introspected `username` and compares the results, so with `%Ld` only the
/// domains must match (the identity stand-in names app tokens
/// `{client_id}@{domain}`). Its `scope` check keeps delegated tokens of one
/// user out of other mailboxes. A token that fails the first passdb falls
/// through to the second (Dovecot's default `result_failure = continue`), so
/// a refused bearer login costs two introspection requests.
///
/// Dovecot 2.3.19 in `post` mode sends `token`, `client_id` and
/// `client_secret` as form fields (and HTTP Basic too if the URL has
/// `user:password@`); `client_id`/`client_secret` are what
/// [`crate::idp::Idp`] expects by default.
fn passdbs(root: &Path, opts: &DovecotOptions) -> Result<String> {
    use crate::idp::{DOVECOT_CLIENT_ID, DOVECOT_CLIENT_SECRET, POP_APP_ROLE};
    let mut out = String::new();
    if let Some(url) = &opts.oauth2_introspection_url {
        // With SMTP, each service's tokens need that service's scope, as at
        // Exchange: the passdbs are filtered by the client's service
        // (`protocol pop3` for POP logins, `protocol smtp` for Postfix's).
        let mut kinds = vec![
            ("oauth2.conf.ext", "%Lu", "POP.AccessAsUser.All", "pop3"),
            ("oauth2-app.conf.ext", "%Ld", POP_APP_ROLE, "pop3"),
        ];
        if opts.smtp_auth {
            kinds.push(("oauth2-smtp.conf.ext", "%Lu", "SMTP.Send", "smtp"));
            kinds.push((
                "oauth2-smtp-app.conf.ext",
                "%Ld",
                crate::idp::SMTP_APP_ROLE,
                "smtp",
            ));
        }
        for (name, username_format, scope, protocol) in kinds {
            let ext = root.join(name);
            fs::write(
                &ext,
                format!(
                    "introspection_url = {url}
introspection_mode = post
client_id = {DOVECOT_CLIENT_ID}
client_secret = {DOVECOT_CLIENT_SECRET}
username_attribute = username
username_format = {username_format}
active_attribute = active
active_value = true
scope = {scope}
timeout_msecs = 5000
"
                ),
            )?;
            let passdb = format!(
                "passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {}
}}
",
                ext.display()
            );
            if opts.smtp_auth {
                write!(out, "protocol {protocol} {{\n{passdb}}}\n")?;
            } else {
                out.push_str(&passdb);
            }
        }
    }
    write!(
        out,
        "passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {}
}}
",
        root.join("users.passwd").display()
    )?;
    Ok(out)
}

fn config(
    root: &Path,
    tls: &Tls,
    instance: &str,
    opts: &DovecotOptions,
    identity: &Identity,
    ports: [u16; 3],
) -> Result<String> {
    let dir = root.display();
    let passdbs = passdbs(root, opts)?;
    let mechanisms = if opts.oauth2_introspection_url.is_some() {
        "plain login xoauth2 oauthbearer"
    } else {
        "plain login"
    };
    let [plain, pop3s, nonlocal] = ports;
    Ok(format!(
        "# Written by popline-testkit; see /work/shared/reference/dovecot.md.
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = {instance}
protocols = pop3
listen = 127.0.0.1
log_path = {dir}/dovecot.log
auth_verbose = yes
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = {mechanisms}
# Else every failed login costs 2 s (Dovecot 2.3 keeps a 0.5 s floor).
auth_failure_delay = 0
mail_location = maildir:{dir}/mail/%u
{identity}pop3_uidl_format = %08Xu%08Xv
{passdbs}userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/users.passwd
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {plain}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
    ssl = yes
  }}
  # Client 127.0.0.1 != server 127.0.0.2, so plaintext auth is refused here.
  inet_listener pop3-nonlocal {{
    address = {NONLOCAL}
    port = {nonlocal}
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    # No escalating per-IP penalty (2, 4, 8, 15 s) across tests.
    mode = 0
  }}
}}
",
        cert = tls.server_cert.display(),
        key = tls.server_key.display(),
        identity = identity.settings(),
    ))
}

/// Three distinct free ports: plain and pop3s on 127.0.0.1, one on 127.0.0.2.
fn free_ports() -> Result<(u16, u16, u16)> {
    // All three are held at once so they differ, then released for Dovecot.
    let a = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let b = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let c = TcpListener::bind((NONLOCAL, 0)).context("binding 127.0.0.2")?;
    Ok((
        a.local_addr()?.port(),
        b.local_addr()?.port(),
        c.local_addr()?.port(),
    ))
}

/// Polls until every listener accepts and the plain one greets with `+OK`
/// (which proves a pop3-login process is serving), or Dovecot exits, or time runs out.
fn wait_ready(d: &Dovecot) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    let addrs = [
        SocketAddr::from((Ipv4Addr::LOCALHOST, d.plain_port)),
        SocketAddr::from((Ipv4Addr::LOCALHOST, d.tls_port)),
        SocketAddr::from((NONLOCAL, d.nonlocal_plain_port)),
    ];
    let mut next = 0;
    loop {
        if let Some(status) = d.child.lock().unwrap().try_wait()? {
            bail!("dovecot exited with {status} while starting\n{}", tail(d));
        }
        if next == addrs.len() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "dovecot did not accept connections on {} within {START_TIMEOUT:?}\n{}",
                addrs[next],
                tail(d)
            );
        }
        match TcpStream::connect_timeout(&addrs[next], Duration::from_millis(500)) {
            Ok(stream) if next == 0 => {
                stream.set_read_timeout(Some(Duration::from_secs(2)))?;
                let mut line = String::new();
                let _ = BufReader::new(stream).read_line(&mut line);
                if line.starts_with("+OK") {
                    next += 1;
                    continue;
                }
            }
            Ok(_) => {
                next += 1;
                continue;
            }
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The last lines of Dovecot's log and its own output, for error messages.
fn tail(d: &Dovecot) -> String {
    let mut out = String::new();
    for name in ["dovecot.out", "dovecot.log"] {
        out.push_str(&process::tail(name, &read_lossy(&d.dir().join(name))));
    }
    if out.contains("pop3") && out.contains("No such file") {
        out.push_str("hint: apt-get install dovecot-core dovecot-pop3d\n");
    }
    out
}

/// The gid of `name` from /etc/group.
fn group_id(name: &str) -> Result<u32> {
    let groups = fs::read_to_string("/etc/group").context("reading /etc/group")?;
    groups
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            (fields.next() == Some(name))
                .then(|| fields.nth(1)?.parse().ok())
                .flatten()
        })
        .ok_or_else(|| anyhow!("group {name} not found; {MISSING_DOVECOT}"))
}

/// Converts a message to how Dovecot stores it (CRLF → LF) and returns it with
/// the size Dovecot serves it at (every LF not preceded by CR counts as CRLF).
fn to_stored(message: &[u8]) -> (Vec<u8>, usize) {
    let mut stored = Vec::with_capacity(message.len());
    let mut served = 0;
    // Fast path: `str::split(char)` uses std's optimised newline search (this
    // runs over 70 MB for the benchmark, often in debug builds).
    if let Ok(text) = std::str::from_utf8(message) {
        let mut lines = text.split('\n').peekable();
        while let Some(line) = lines.next() {
            if lines.peek().is_none() {
                stored.extend_from_slice(line.as_bytes());
                served += line.len();
                break;
            }
            let line = line.strip_suffix('\r').unwrap_or(line);
            stored.extend_from_slice(line.as_bytes());
            stored.push(b'\n');
            served += line.len() + if line.ends_with('\r') { 1 } else { 2 };
        }
        return (stored, served);
    }
    let mut i = 0;
    while i < message.len() {
        if message[i] == b'\r' && message.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        stored.push(message[i]);
        i += 1;
    }
    let bare_lf = stored
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || stored[i - 1] != b'\r'))
        .count();
    served = stored.len() + bare_lf;
    (stored, served)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_and_served_size() {
        for (input, stored, served) in [
            (&b"a\r\nb\nc\r\n"[..], &b"a\nb\nc\n"[..], 9),
            (b"lone\rcr\r", b"lone\rcr\r", 8),
            (b"\r\r\nx", b"\r\nx", 3),
            (b"no newline", b"no newline", 10),
            (b"\n\n", b"\n\n", 4),
            (b"", b"", 0),
        ] {
            assert_eq!(to_stored(input), (stored.to_vec(), served), "{input:?}");
            // The byte-by-byte path for non-UTF-8 mail agrees.
            let mut latin1 = input.to_vec();
            latin1.push(0xE9);
            let (s, n) = to_stored(&latin1);
            assert_eq!((&s[..s.len() - 1], n - 1), (stored, served), "{input:?}");
        }
    }
}
