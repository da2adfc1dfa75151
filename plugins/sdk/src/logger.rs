//! A [`log::Log`] implementation that forwards records to the host's
//! `popline:plugin/log` import.

use crate::bindings::mapper::popline::plugin::log::{Level, log};

struct HostLogger;

static LOGGER: HostLogger = HostLogger;

impl log::Log for HostLogger {
    fn enabled(&self, _metadata: &log::Metadata<'_>) -> bool {
        // The host filters (POPLINE_LOG=plugin=LEVEL) and budgets lines.
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let level = match record.level() {
            log::Level::Error => Level::Error,
            log::Level::Warn => Level::Warn,
            log::Level::Info => Level::Info,
            log::Level::Debug => Level::Debug,
            log::Level::Trace => Level::Trace,
        };
        log(level, &record.args().to_string());
    }

    fn flush(&self) {}
}

/// Route the [`log`] crate's macros (`log::info!` ...) to the host. The export
/// macros call this before every call into the plugin; calling it again is
/// harmless. Lines count against the host's per-instance log budget whatever
/// the host's filter shows, so keep `trace!`/`debug!` lines few per message.
pub fn init_logger() {
    // Err only means a logger is already installed (ours, or the plugin's own).
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn init_is_idempotent() {
        // Natively the import is never called: only installation is tested.
        super::init_logger();
        super::init_logger();
        assert_eq!(log::max_level(), log::LevelFilter::Trace);
    }
}
