//! The terminal progress bars `popline once` draws from
//! `popline_ingest::progress` snapshots, and the tracing writer that
//! suspends them while a log line is written so the two never overwrite
//! each other.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use indicatif::{BinaryBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use popline_ingest::progress::{Snapshot, reset, snapshot};

/// The bar's text after the message counter: bytes so far of the total.
pub fn bytes_text(s: &Snapshot) -> String {
    format!(
        "{} / {}",
        BinaryBytes(s.fetched_bytes),
        BinaryBytes(s.planned_bytes)
    )
}

/// The bars being drawn, if any: log lines suspend them while written.
fn active() -> &'static RwLock<Option<MultiProgress>> {
    static ACTIVE: OnceLock<RwLock<Option<MultiProgress>>> = OnceLock::new();
    ACTIVE.get_or_init(Default::default)
}

/// Run `f` (which writes to the terminal) with the progress bars, if any,
/// hidden for the time it takes.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let bars = active().read().unwrap().clone();
    match bars {
        Some(mp) => mp.suspend(f),
        None => f(),
    }
}

/// The tracing writer: stderr, written around any progress bars.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // tracing's fmt layer hands over one whole formatted event per call.
        suspend(|| std::io::stderr().lock().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// One progress bar per mailbox on stderr, refreshed from [`snapshot`]s
/// until each is finished. Dropping it clears what is left.
pub struct Bars {
    mp: MultiProgress,
    bars: Arc<Mutex<BTreeMap<String, ProgressBar>>>,
    ticker: tokio::task::JoinHandle<()>,
}

impl Bars {
    /// Start bars for `mailboxes` on stderr (call only when it is a terminal).
    pub fn start(mailboxes: &[String]) -> Bars {
        let mp = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let width = mailboxes.iter().map(|m| m.len()).max().unwrap_or(0);
        let mut bars = BTreeMap::new();
        for name in mailboxes {
            reset(name);
            let bar = mp.add(ProgressBar::new_spinner());
            bar.set_style(waiting_style(width));
            bar.set_prefix(name.clone());
            bar.set_message("connecting");
            bars.insert(name.clone(), bar);
        }
        *active().write().unwrap() = Some(mp.clone());
        let bars = Arc::new(Mutex::new(bars));
        let ticker = {
            let bars = bars.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                loop {
                    tick.tick().await;
                    for (name, bar) in bars.lock().unwrap().iter() {
                        let s = snapshot(name);
                        if !s.listed {
                            bar.tick();
                            continue;
                        }
                        if bar.length().is_none() {
                            bar.set_style(bar_style(width));
                            bar.set_length(s.planned);
                        }
                        bar.set_length(s.planned.max(s.fetched));
                        bar.set_position(s.fetched);
                        bar.set_message(bytes_text(&s));
                    }
                }
            })
        };
        Bars { mp, bars, ticker }
    }

    /// `mailbox`'s poll is over: remove its bar and print `line` (to stdout)
    /// in its place.
    pub fn finish(&self, mailbox: &str, line: &str) {
        if let Some(bar) = self.bars.lock().unwrap().remove(mailbox) {
            bar.finish_and_clear();
            self.mp.remove(&bar);
        }
        self.mp.suspend(|| println!("{line}"));
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.ticker.abort();
        *active().write().unwrap() = None;
        for (_, bar) in std::mem::take(&mut *self.bars.lock().unwrap()) {
            bar.finish_and_clear();
        }
        let _ = self.mp.clear();
    }
}

fn waiting_style(width: usize) -> ProgressStyle {
    ProgressStyle::with_template(&format!("{{prefix:>{width}}} {{spinner}} {{msg}}"))
        .expect("a valid progress template")
}

fn bar_style(width: usize) -> ProgressStyle {
    ProgressStyle::with_template(&format!(
        "{{prefix:>{width}}} [{{bar:30}}] {{pos}}/{{len}} messages, {{msg}}"
    ))
    .expect("a valid progress template")
    .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_as_binary_units() {
        let s = Snapshot {
            fetched_bytes: 2024,
            planned_bytes: 3000,
            ..Snapshot::default()
        };
        assert_eq!(bytes_text(&s), "1.98 KiB / 2.93 KiB");
    }

    #[test]
    fn templates_are_valid() {
        let _ = waiting_style(8);
        let _ = bar_style(8);
    }
}
