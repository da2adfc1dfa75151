//! Where a run's time goes, stage by stage (`popline once --timings`).
//!
//! Off by default: then a span costs one relaxed atomic load. When on,
//! each stage adds up its count, wall time and CPU time (the working
//! thread's own clock):
//! - a synchronous stage ([`span`]) runs on one thread with no `.await`;
//! - a stage that awaits ([`measure`]) is charged the CPU of its own polls
//!   (it may move between threads, and while it waits it uses none), and the
//!   CPU of blocking work it hands to another thread ([`blocking`]): a sink
//!   writing its file, SQLite committing the state;
//! - loading plugins is charged the whole process's CPU over its span, since
//!   a compile runs on several threads.
//!
//! Stages nest: a stage running inside another (a digest inside the MIME
//! parse, a record encoded inside a sink write) is charged to itself only,
//! so the CPU column adds up. A TLS read's wall time includes waiting for
//! the server; its CPU is decryption and the socket reads.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A stage of ingestion, in data-path order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading each configured plugin and compiling it, or mapping it from
    /// the compiled cache, before the first poll.
    PluginLoad,
    /// The dialogue plugin's calls (login, listing, retrieving, deleting):
    /// its guest code and host calls, the TLS reads and wire parsing it
    /// asks for excluded from its CPU (not from its wall time).
    Dialogue,
    /// Bytes from the server: waiting for them (wall), decrypting and
    /// reading the socket (CPU).
    TlsRead,
    /// Finding line ends and unstuffing dots in what arrived.
    WireParse,
    /// Turning raw bytes into the contract's email (mail-parser and
    /// conversion), digests excluded.
    MimeParse,
    /// SHA-256 of messages, bodies and attachments.
    Digest,
    /// A fresh mapper instance.
    MapperInstantiate,
    /// The mapper's `handle` call (guest code and its host calls).
    MapperCall,
    /// Records to JSON.
    RecordEncode,
    /// Every sink's `write_batch`, its file or database work included.
    SinkWrite,
    /// The state's commit of a batch, its database work included.
    StateCommit,
}

impl Stage {
    /// Every stage, in data-path order.
    pub const ALL: [Stage; 11] = [
        Stage::PluginLoad,
        Stage::Dialogue,
        Stage::TlsRead,
        Stage::WireParse,
        Stage::MimeParse,
        Stage::Digest,
        Stage::MapperInstantiate,
        Stage::MapperCall,
        Stage::RecordEncode,
        Stage::SinkWrite,
        Stage::StateCommit,
    ];

    /// The stage's name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Stage::PluginLoad => "plugin load",
            Stage::Dialogue => "dialogue",
            Stage::TlsRead => "TLS read",
            Stage::WireParse => "wire parse",
            Stage::MimeParse => "MIME parse",
            Stage::Digest => "digest",
            Stage::MapperInstantiate => "mapper instantiate",
            Stage::MapperCall => "mapper call",
            Stage::RecordEncode => "record encode",
            Stage::SinkWrite => "sink write",
            Stage::StateCommit => "state commit",
        }
    }

    /// Whether the stage runs synchronously on one thread, timed by a
    /// [`span`]. The others that are not process-wide are futures, timed by
    /// [`measure`].
    pub fn synchronous(self) -> bool {
        matches!(
            self,
            Stage::WireParse | Stage::MimeParse | Stage::Digest | Stage::RecordEncode
        )
    }

    /// Whether the stage's CPU time is the whole process's over its span:
    /// loading plugins, as a compile runs on several threads. Exact in
    /// `popline once`, which loads them all before its first poll.
    pub fn process_wide(self) -> bool {
        matches!(self, Stage::PluginLoad)
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);

struct Totals {
    count: AtomicU64,
    wall_ns: AtomicU64,
    cpu_ns: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: Totals = Totals {
    count: AtomicU64::new(0),
    wall_ns: AtomicU64::new(0),
    cpu_ns: AtomicU64::new(0),
};
static TOTALS: [Totals; Stage::ALL.len()] = [ZERO; Stage::ALL.len()];

/// Start collecting timings (for the rest of the process).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn charge(stage: Stage, wall: Duration, cpu: Duration, count: u64) {
    let t = &TOTALS[stage as usize];
    t.count.fetch_add(count, Ordering::Relaxed);
    t.wall_ns
        .fetch_add(wall.as_nanos() as u64, Ordering::Relaxed);
    t.cpu_ns.fetch_add(cpu.as_nanos() as u64, Ordering::Relaxed);
}

/// The calling thread's CPU time.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The whole process's CPU time so far (user + system).
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the struct we own; all-zero is a valid rusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// A stage at work on this thread.
struct Frame {
    stage: Stage,
    /// Since when its wall and CPU time are not charged yet.
    wall: Instant,
    cpu: Duration,
    /// A synchronous span: charged its wall time and a count when it ends.
    /// A poll or a blocking piece of work is charged its CPU only; the
    /// future it belongs to is charged its wall time and count once.
    whole: bool,
}

impl Frame {
    /// Charge the stage its CPU time until `cpu`, and its wall time until
    /// `wall` if it is a whole span.
    fn charge(&self, wall: Instant, cpu: Duration, count: u64) {
        let wall = if self.whole {
            wall - self.wall
        } else {
            Duration::ZERO
        };
        charge(self.stage, wall, cpu - self.cpu, count);
    }
}

thread_local! {
    /// The stages at work on this thread, innermost last.
    static OPEN: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// While alive, `stage` works on this thread, and the stage it interrupts
/// (if any) pauses.
struct Working;

impl Working {
    fn start(stage: Stage, whole: bool) -> Working {
        let (wall, cpu) = (Instant::now(), thread_cpu());
        OPEN.with(|open| {
            let mut open = open.borrow_mut();
            // The stage this one interrupts pauses.
            if let Some(outer) = open.last() {
                outer.charge(wall, cpu, 0);
            }
            open.push(Frame {
                stage,
                wall,
                cpu,
                whole,
            });
        });
        Working
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        let (wall, cpu) = (Instant::now(), thread_cpu());
        OPEN.with(|open| {
            let mut open = open.borrow_mut();
            let Some(frame) = open.pop() else { return };
            frame.charge(wall, cpu, u64::from(frame.whole));
            if let Some(outer) = open.last_mut() {
                outer.wall = wall;
                outer.cpu = cpu;
            }
        });
    }
}

/// A stage being timed; charged when dropped.
#[must_use = "the stage is timed until this is dropped"]
pub struct Span(Option<SpanKind>);

enum SpanKind {
    /// Charged as its `Working` drops.
    Synchronous(Working),
    /// The stage, when it started, and the process's CPU time then.
    ProcessWide(Stage, Instant, Duration),
}

/// Time `stage`, a synchronous or process-wide one, until the returned span
/// is dropped. A synchronous stage must end on the thread it started on,
/// with no `.await` in between; futures are timed by [`measure`].
pub fn span(stage: Stage) -> Span {
    if !enabled() {
        return Span(None);
    }
    debug_assert!(stage.synchronous() || stage.process_wide(), "{stage:?}");
    Span(Some(match stage.process_wide() {
        true => SpanKind::ProcessWide(stage, Instant::now(), process_cpu()),
        false => SpanKind::Synchronous(Working::start(stage, true)),
    }))
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(SpanKind::ProcessWide(stage, started, process)) = self.0 {
            charge(stage, started.elapsed(), process_cpu() - process, 1);
        }
    }
}

/// Await `fut`, timed as `stage`: its wall time from start to end, and as
/// CPU its polls' (stages timed inside a poll are charged to themselves)
/// plus the [`blocking`] work it hands off.
pub async fn measure<F: Future>(stage: Stage, fut: F) -> F::Output {
    if !enabled() {
        return fut.await;
    }
    let started = Instant::now();
    let mut fut = std::pin::pin!(fut);
    let out = std::future::poll_fn(|cx| {
        let _working = Working::start(stage, false);
        fut.as_mut().poll(cx)
    })
    .await;
    charge(stage, started.elapsed(), Duration::ZERO, 1);
    out
}

/// `f`, for `spawn_blocking`: its CPU time on the blocking thread is charged
/// to the stage working on the calling thread now (a [`measure`]d future
/// being polled), if any. Call it where the work is handed off.
pub fn blocking<T>(f: impl FnOnce() -> T + Send) -> impl FnOnce() -> T + Send {
    let stage = match enabled() {
        true => OPEN.with(|open| open.borrow().last().map(|f| f.stage)),
        false => None,
    };
    move || {
        let _working = stage.map(|stage| Working::start(stage, false));
        f()
    }
}

/// One stage's totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageTotals {
    pub stage: Stage,
    pub count: u64,
    pub wall: Duration,
    pub cpu: Duration,
}

/// The totals so far, every stage in data-path order.
pub fn totals() -> Vec<StageTotals> {
    Stage::ALL
        .iter()
        .map(|&stage| {
            let t = &TOTALS[stage as usize];
            StageTotals {
                stage,
                count: t.count.load(Ordering::Relaxed),
                wall: Duration::from_nanos(t.wall_ns.load(Ordering::Relaxed)),
                cpu: Duration::from_nanos(t.cpu_ns.load(Ordering::Relaxed)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Busy for `d` of this thread's CPU time.
    fn spin(d: Duration) {
        let t = thread_cpu();
        while thread_cpu() - t < d {
            std::hint::black_box(0u64);
        }
    }

    /// A runtime on the test's thread.
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    /// How much `stage`'s count and CPU time grew from `before` to `after`.
    fn grew(before: &[StageTotals], after: &[StageTotals], stage: Stage) -> (u64, Duration) {
        let (a, b) = (&after[stage as usize], &before[stage as usize]);
        (a.count - b.count, a.cpu - b.cpu)
    }

    /// A measured future is charged the CPU of its own polls: not what
    /// other tasks on its thread do while it waits.
    #[test]
    fn a_measured_future_is_charged_its_polls_only() {
        enable();
        let before = totals();
        let rt = runtime();
        let out = rt.block_on(async {
            // Runs on the same thread while the measured future sleeps.
            let other = tokio::spawn(async {
                tokio::time::sleep(Duration::from_millis(10)).await;
                spin(Duration::from_millis(100));
            });
            let out = measure(Stage::MapperCall, async {
                spin(Duration::from_millis(30));
                tokio::time::sleep(Duration::from_millis(150)).await;
                spin(Duration::from_millis(30));
                7
            })
            .await;
            other.await.unwrap();
            out
        });
        assert_eq!(out, 7);
        let (count, cpu) = grew(&before, &totals(), Stage::MapperCall);
        assert_eq!(count, 1);
        // Its two spins (60 ms), not the other task's 100 ms.
        assert!(cpu >= Duration::from_millis(60), "{cpu:?}");
        assert!(cpu < Duration::from_millis(130), "{cpu:?}");
    }

    /// Work a measured future hands to a blocking thread is charged to its
    /// stage; a synchronous stage inside one of its polls is charged to
    /// itself only.
    #[test]
    fn a_measured_future_is_charged_its_blocking_work_but_not_nested_stages() {
        enable();
        let before = totals();
        let rt = runtime();
        rt.block_on(measure(Stage::StateCommit, async {
            tokio::task::spawn_blocking(blocking(|| spin(Duration::from_millis(50))))
                .await
                .unwrap();
            let _encode = span(Stage::RecordEncode);
            spin(Duration::from_millis(40));
        }));
        // Handed off outside any measured stage: charged to none.
        rt.block_on(async {
            tokio::task::spawn_blocking(blocking(|| spin(Duration::from_millis(30))))
                .await
                .unwrap();
        });
        let after = totals();
        let (commits, commit_cpu) = grew(&before, &after, Stage::StateCommit);
        let (_, encode_cpu) = grew(&before, &after, Stage::RecordEncode);
        assert_eq!(commits, 1);
        // Its 50 ms on the blocking thread, not the 40 ms encode nor the
        // 30 ms handed off later (no other test uses this stage).
        assert!(commit_cpu >= Duration::from_millis(50), "{commit_cpu:?}");
        assert!(commit_cpu < Duration::from_millis(80), "{commit_cpu:?}");
        assert!(encode_cpu >= Duration::from_millis(40), "{encode_cpu:?}");
    }

    /// A nested synchronous stage is charged to itself only: the outer
    /// stage's CPU excludes it.
    #[test]
    fn nested_spans_charge_each_stage_its_own_time() {
        enable();
        let before = totals();
        {
            let _parse = span(Stage::MimeParse);
            spin(Duration::from_millis(20));
            {
                let _digest = span(Stage::Digest);
                spin(Duration::from_millis(60));
            }
            spin(Duration::from_millis(20));
        }
        let after = totals();
        let (parse_n, parse_cpu) = grew(&before, &after, Stage::MimeParse);
        let (digest_n, digest_cpu) = grew(&before, &after, Stage::Digest);
        assert_eq!((parse_n, digest_n), (1, 1));
        // Other tests may add digests concurrently; the lower bounds and
        // the ordering are certain (40 ms of parse, or 100 ms if the digest
        // were charged to it too).
        assert!(digest_cpu >= Duration::from_millis(60), "{digest_cpu:?}");
        assert!(parse_cpu >= Duration::from_millis(40), "{parse_cpu:?}");
        assert!(
            parse_cpu < digest_cpu,
            "the digest is not charged to the parse: {parse_cpu:?} vs {digest_cpu:?}"
        );
    }
}
