//! `popline run` as a systemd service (`Type=notify-reload`, or
//! `Type=notify` with `ExecReload=kill -HUP $MAINPID`): readiness, reloads,
//! stopping and the watchdog, told over `$NOTIFY_SOCKET`. Outside systemd
//! (no socket) every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

/// Tell systemd the daemon is up: the configuration is loaded and polling
/// has started.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tell systemd a reload has begun (it answers `systemctl reload` when the
/// daemon says [`ready`] again).
pub fn reloading() {
    let mut states = vec![NotifyState::Reloading];
    // Type=notify-reload wants the time the reload began.
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    send(&states);
}

/// Tell systemd the daemon is stopping.
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// When the unit sets `WatchdogSec=`, a task that pets the watchdog at half
/// the interval. It runs on the daemon's runtime, so a runtime that stops
/// making progress stops petting, and systemd restarts the service.
pub fn spawn_watchdog() -> Option<tokio::task::JoinHandle<()>> {
    let mut usec = 0;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return None;
    }
    let every = Duration::from_micros(usec) / 2;
    tracing::info!(every = ?every, "systemd watchdog enabled");
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            send(&[NotifyState::Watchdog]);
        }
    }))
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!("telling systemd ({states:?}): {e}");
    }
}
