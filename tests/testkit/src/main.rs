//! `popline-testkit dovecot`: a seeded Dovecot in the foreground, for
//! `just demo` and the ingestion benchmark.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use popline_testkit::{
    Dovecot, DovecotOptions, Postfix, PostfixOptions, State, UNMATCHED_SENDER, beta_replies,
    mixed_corpus, unmatched_reply,
};

#[derive(Parser)]
#[command(name = "popline-testkit", about = "Test servers for popline")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start Dovecot, seed one mailbox, write the state file, print one line,
    /// and serve until SIGTERM or SIGINT (then stop Dovecot and clean up).
    Dovecot {
        /// `demo` (the six sample beta replies) or `bench:N` (N generated
        /// messages, ~34 KB on average, deterministic).
        #[arg(long)]
        seed: String,
        /// The mailbox's login name.
        #[arg(long, default_value = "replies@beta.example.com")]
        user: String,
        /// The mailbox's password.
        #[arg(long, default_value = "lumen-beta")]
        password: String,
        /// Where to write the state (TOML: ports, CA, user, password, PIDs).
        /// Written atomically once Dovecot is ready, removed on exit.
        #[arg(long)]
        state: PathBuf,
        /// Also run Postfix for SMTP submission (logins checked by this
        /// Dovecot) delivering to the sender of one more seeded reply that
        /// matches nothing (needs root and `postfix`).
        #[arg(long)]
        smtp: bool,
    },
}

/// Set by the SIGTERM/SIGINT handler; the main loop polls it.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn main() -> Result<()> {
    let Cmd::Dovecot {
        seed,
        user,
        password,
        state,
        smtp,
    } = Cli::parse().command;
    let mut messages = match seed.as_str() {
        "demo" => beta_replies(),
        bench => match bench.strip_prefix("bench:").map(str::parse::<usize>) {
            Some(Ok(n)) => mixed_corpus(n, 1),
            _ => bail!("--seed must be demo or bench:N, not {seed:?}"),
        },
    };

    // Before starting Dovecot, so an early signal still cleans up.
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }

    let started = Instant::now();
    let dovecot = Dovecot::start(
        DovecotOptions::default()
            .user(&user, &password)
            .smtp_auth(smtp),
    )?;
    let postfix = match dovecot.auth_port() {
        Some(auth_port) => {
            messages.push(unmatched_reply());
            Some(Postfix::start(PostfixOptions {
                auth_port,
                recipients: vec![UNMATCHED_SENDER.to_string()],
            })?)
        }
        None => None,
    };
    let ready_in = started.elapsed();
    dovecot.seed(&user, &messages)?;
    let info = State {
        pid: std::process::id(),
        dovecot_pid: dovecot.pid(),
        dir: dovecot.dir().to_owned(),
        ca_pem: dovecot.ca_pem().to_owned(),
        host: "127.0.0.1".into(),
        plain_port: dovecot.plain_port(),
        tls_port: dovecot.tls_port(),
        nonlocal_plain_port: dovecot.nonlocal_plain_port(),
        user,
        password,
        messages: messages.len(),
        bytes: messages.iter().map(|m| m.len() as u64).sum(),
        smtp_port: postfix.as_ref().map(Postfix::port),
        smtp_ca_pem: postfix.as_ref().map(|p| p.ca_pem().to_owned()),
        notices_maildir: postfix.as_ref().map(|p| p.maildir(UNMATCHED_SENDER)),
    };
    info.write(&state)?;
    println!(
        "dovecot ready in {ready_in:.2?}: pop3s 127.0.0.1:{} (pop3+STLS :{}), user {}, {} messages ({} bytes), CA {}, state {}",
        info.tls_port,
        info.plain_port,
        info.user,
        info.messages,
        info.bytes,
        info.ca_pem.display(),
        state.display()
    );

    let result = loop {
        if STOP.load(Ordering::SeqCst) {
            break Ok(());
        }
        if !dovecot.is_running() {
            break Err(anyhow::anyhow!(
                "dovecot exited unexpectedly; log:\n{}",
                dovecot.log()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = std::fs::remove_file(&state);
    drop(postfix);
    drop(dovecot);
    result
}
