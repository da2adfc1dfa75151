//! A real Postfix 3.7 accepting submission on a loopback port, one per
//! test, delivering into maildirs the test reads.
//!
//! The setup follows `/work/shared/reference/servers.md`: its own config
//! folder (listed in the system's `alternate_config_directories`, which
//! Postfix insists on), queue and data folders in a temporary directory,
//! services without chroot, `tlsmgr` for STARTTLS, submission with
//! STARTTLS required (certificate from a test CA) and SASL through a
//! [`crate::Dovecot`]'s authentication service, so passwords and XOAUTH2
//! tokens are checked exactly as POP logins are. Mail for the configured
//! recipients goes to `mail/ADDRESS/` (maildir) through Postfix's
//! `virtual` agent. The master process needs root.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tempfile::TempDir;

use crate::process::{
    append_log, free_port, log_len, read_lossy, spawn_tied_to_process, stop_group, wait_ready,
};
use crate::{MISSING_POSTFIX, Tls, which_postfix};

/// Debian's `mail` user: the virtual agent writes maildirs as this uid.
const MAIL_ID: u32 = 8;
/// How long a start may take.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// What the master logs once it runs.
const READY: &str = "daemon started";

/// What [`Postfix::start`] sets up.
#[derive(Clone, Debug, Default)]
pub struct PostfixOptions {
    /// Dovecot's authentication port ([`crate::Dovecot::auth_port`]).
    pub auth_port: u16,
    /// Addresses delivered to a maildir under [`Postfix::maildir`].
    pub recipients: Vec<String>,
}

/// A running Postfix (`postfix start-fg`). Dropping it stops it and removes
/// its folder.
pub struct Postfix {
    child: Mutex<Option<Child>>,
    port: u16,
    tls: Tls,
    conf: PathBuf,
    // Last field: removed only after `Drop::drop` has stopped the process.
    dir: TempDir,
}

impl std::fmt::Debug for Postfix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postfix")
            .field("dir", &self.dir.path())
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Postfix {
    /// Writes the config, registers it with the system's Postfix config
    /// (`alternate_config_directories`), starts the master and waits until
    /// submission answers.
    pub fn start(opts: PostfixOptions) -> Result<Postfix> {
        let postfix = which_postfix().ok_or_else(|| anyhow!(MISSING_POSTFIX))?;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            bail!(
                "Postfix's master process must run as root: run as root to test notices by SMTP \
                 (without root, leave Postfix out)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("popline-postfix-")
            .tempdir()
            .context("creating a temporary directory")?;
        let root = dir.path();
        fs::set_permissions(root, fs::Permissions::from_mode(0o755))?;
        let tls = Tls::generate(&root.join("tls"))?;
        let conf = root.join("etc");
        let mail = root.join("mail");
        for d in [&conf, &root.join("queue"), &mail] {
            fs::create_dir_all(d)?;
            fs::set_permissions(d, fs::Permissions::from_mode(0o755))?;
        }
        let data = root.join("data");
        fs::create_dir_all(&data)?;
        let (uid, gid) = user_ids("postfix")?;
        chown(&data, Some(uid), Some(gid))?;
        chown(&mail, Some(MAIL_ID), Some(MAIL_ID))?;
        let mut vmailbox = String::new();
        for r in &opts.recipients {
            if r.contains(['/', ' ', '\n']) || !r.contains('@') {
                bail!("unusable recipient {r:?}");
            }
            writeln!(vmailbox, "{r} {r}/")?;
        }
        fs::write(root.join("vmailbox"), vmailbox)?;
        let domains: Vec<&str> = opts
            .recipients
            .iter()
            .filter_map(|r| r.rsplit_once('@').map(|(_, d)| d))
            .collect();
        let port = free_port()?;
        fs::write(
            conf.join("main.cf"),
            main_cf(root, &tls, opts.auth_port, &domains),
        )?;
        fs::write(conf.join("master.cf"), master_cf(port))?;
        register(&postfix, &conf)?;
        let status = Command::new(&postfix)
            .arg("-c")
            .arg(&conf)
            .arg("set-permissions")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .context("running postfix set-permissions")?;
        if !status.status.success() {
            bail!(
                "postfix set-permissions failed: {}",
                String::from_utf8_lossy(&status.stderr)
            );
        }
        let p = Postfix {
            child: Mutex::new(None),
            port,
            tls,
            conf,
            dir,
        };
        p.launch(&mut p.lock())?;
        Ok(p)
    }

    fn lock(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postfix.log")
    }

    fn launch(&self, slot: &mut Option<Child>) -> Result<()> {
        let postfix = which_postfix().ok_or_else(|| anyhow!(MISSING_POSTFIX))?;
        let log = self.log_path();
        let from = log_len(&log);
        let (out, err) = append_log(&log)?;
        let mut cmd = Command::new(postfix);
        cmd.arg("-c")
            .arg(&self.conf)
            .arg("start-fg")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let mut child = spawn_tied_to_process(cmd).context("running postfix start-fg")?;
        wait_ready(
            &mut child,
            "postfix",
            self.port,
            &log,
            from,
            READY,
            START_TIMEOUT,
        )?;
        *slot = Some(child);
        Ok(())
    }

    /// The submission port on 127.0.0.1 (STARTTLS required, then AUTH).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA that signed the server certificate.
    pub fn ca_pem(&self) -> &Path {
        &self.tls.ca_pem
    }

    /// Postfix's log so far (every start).
    pub fn log(&self) -> String {
        read_lossy(&self.log_path())
    }

    /// Stops Postfix (an outage); [`Postfix::restart`] brings it back on the
    /// same port with the same queue.
    pub fn stop(&self) {
        if let Some(child) = self.lock().take() {
            self.shut_down(child);
        }
    }

    /// `postfix stop` (the master runs in its own session, so signalling
    /// our child's group would miss it), then reap the child.
    fn shut_down(&self, mut child: Child) {
        if let Some(postfix) = which_postfix() {
            let _ = Command::new(postfix)
                .arg("-c")
                .arg(&self.conf)
                .arg("stop")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        stop_group(&mut child, libc::SIGTERM, Duration::from_secs(5));
    }

    /// Starts Postfix again after [`Postfix::stop`].
    pub fn restart(&self) -> Result<()> {
        let mut slot = self.lock();
        if let Some(running) = slot.take() {
            self.shut_down(running);
        }
        self.launch(&mut slot)
    }

    /// The maildir of `address`.
    pub fn maildir(&self, address: &str) -> PathBuf {
        self.dir.path().join("mail").join(address)
    }

    /// Every message delivered to `address` so far, oldest first.
    pub fn delivered(&self, address: &str) -> Result<Vec<Vec<u8>>> {
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            let d = self.maildir(address).join(sub);
            let Ok(entries) = fs::read_dir(&d) else {
                continue;
            };
            for e in entries {
                let e = e?;
                files.push((e.metadata()?.modified()?, e.path()));
            }
        }
        files.sort();
        files
            .into_iter()
            .map(|(_, p)| fs::read(&p).with_context(|| format!("reading {}", p.display())))
            .collect()
    }

    /// Wait (up to `timeout`) until Postfix has moved every message it
    /// accepted out of its incoming and active queues: mail a client saw
    /// accepted with `250` is then delivered (or deferred). Delivery after
    /// `250` is asynchronous, so a test counts deliveries after this.
    pub fn settle(&self, timeout: Duration) -> Result<()> {
        fn files(dir: &Path) -> usize {
            let Ok(entries) = fs::read_dir(dir) else {
                return 0;
            };
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => files(&e.path()),
                    _ => 1,
                })
                .sum()
        }
        let queue = self.dir.path().join("queue");
        let deadline = Instant::now() + timeout;
        loop {
            let pending: usize = ["maildrop", "incoming", "active"]
                .iter()
                .map(|q| files(&queue.join(q)))
                .sum();
            if pending == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{pending} message(s) still queued after {timeout:?}\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `address` has at least `n` messages, up to `timeout`.
    pub fn wait_delivered(
        &self,
        address: &str,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.delivered(address)?;
            if got.len() >= n {
                return Ok(got);
            }
            if Instant::now() > deadline {
                bail!(
                    "{} message(s) delivered to {address} within {timeout:?}, wanted {n}\n{}",
                    got.len(),
                    crate::process::tail("postfix.log", &self.log())
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if let Some(child) = self.lock().take() {
            self.shut_down(child);
        }
    }
}

/// The uid and gid of a system user.
fn user_ids(name: &str) -> Result<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&name) && f.len() > 3)
                .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
                .flatten()
        })
        .ok_or_else(|| anyhow!("no {name} user: apt-get install postfix"))
}

/// Adds `conf` to the system config's `alternate_config_directories`
/// (Postfix refuses a config folder it does not list).
fn register(postfix: &Path, conf: &Path) -> Result<()> {
    let postconf = postfix.with_file_name("postconf");
    let current = Command::new(&postconf)
        .args(["-h", "alternate_config_directories"])
        .output()
        .context("running postconf")?;
    let current = String::from_utf8_lossy(&current.stdout).trim().to_string();
    // Folders of earlier tests that are gone are dropped, so the list stays short.
    let mut dirs: Vec<String> = current
        .split([',', ' '])
        .filter(|d| !d.is_empty() && Path::new(d).exists())
        .map(str::to_string)
        .collect();
    dirs.push(conf.display().to_string());
    let status = Command::new(&postconf)
        .arg("-e")
        .arg(format!("alternate_config_directories = {}", dirs.join(" ")))
        .status()
        .context("running postconf -e")?;
    if !status.success() {
        bail!("postconf -e alternate_config_directories failed");
    }
    Ok(())
}

fn main_cf(root: &Path, tls: &Tls, auth_port: u16, domains: &[&str]) -> String {
    let dir = root.display();
    let mut domains = domains.to_vec();
    domains.sort();
    domains.dedup();
    format!(
        "# Written by popline-testkit; see /work/shared/reference/servers.md.
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = /dev/stdout
myhostname = smtp.popline.test
mydomain = popline.test
myorigin = popline.test
mydestination =
relayhost =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtputf8_enable = no
# An access token is ~2 KB: lettre sends `AUTH XOAUTH2 <base64>` on one line.
line_length_limit = 16384
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:{auth_port}
smtpd_sasl_auth_enable = no
virtual_mailbox_domains = {domains}
virtual_mailbox_base = {dir}/mail
virtual_mailbox_maps = texthash:{dir}/vmailbox
virtual_uid_maps = static:{MAIL_ID}
virtual_gid_maps = static:{MAIL_ID}
virtual_minimum_uid = {MAIL_ID}
",
        cert = tls.server_cert.display(),
        key = tls.server_key.display(),
        domains = domains.join(" "),
    )
}

/// Every service without chroot (5th column `n`), `tlsmgr` for STARTTLS,
/// and the submission listener on `port`.
fn master_cf(port: u16) -> String {
    format!(
        "# Written by popline-testkit.
127.0.0.1:{port} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
proxywrite unix - - n -    1 proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
local     unix  - n n -    - local
virtual   unix  - n n -    - virtual
lmtp      unix  - - n -    - lmtp
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
"
    )
}
