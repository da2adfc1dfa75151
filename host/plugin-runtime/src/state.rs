//! Per-instance store state shared by both plugin worlds: the empty WASI
//! context, resource table, limits, CPU accounting and the guest log sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use popline_core::text::{MAX_PLUGIN_TEXT, truncate_marked};
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::Limits;
use super::error::{Limit, LimitExceeded, PluginError};
use super::inspect::WorldKind;

/// Store data for one plugin instance. `X` holds what only one world needs
/// (the lent connection, the message's attachments).
pub(crate) struct PluginState<X> {
    wasi: WasiCtx,
    pub table: ResourceTable,
    pub plugin: Arc<str>,
    limiter: MemoryLimiter,
    /// The output limit, in bytes: also the hostcall fuel of every call.
    output_max: u64,
    log_left: u32,
    logs_dropped: u32,
    stderr: MemoryOutputPipe,
    cpu: CpuClock,
    /// Guest log lines kept for a [`CallReport`] (`popline map --verbose`).
    captured: Option<Vec<(Level, String)>>,
    pub ext: X,
}

/// What one call cost and said, for plugin authors (`popline map --verbose`).
#[derive(Debug, Clone, Default)]
pub struct CallReport {
    /// Guest CPU time, as the CPU limit counts it.
    pub cpu: Duration,
    /// Largest linear memory the instance asked for, in bytes.
    pub memory_peak: u64,
    /// Log lines the guest emitted within its budget, when captured.
    pub logs: Vec<(Level, String)>,
    /// Log lines dropped past the budget.
    pub logs_dropped: u32,
    /// What the guest wrote to stderr (bounded).
    pub stderr: String,
}

/// Guest CPU time, approximated as wall time inside the current call minus
/// time spent in host calls that wait on the network, minus time spent
/// queued in the async runtime after a cooperative yield (other tasks'
/// work must not be charged to this plugin).
struct CpuClock {
    limit: Duration,
    /// Wall-clock time one call may take, waits included.
    wall: Duration,
    call_started: Instant,
    in_host: Duration,
    /// Nanoseconds spent waiting to be scheduled again after yields.
    queued: Arc<AtomicU64>,
}

impl CpuClock {
    /// A trap once the call has run longer than its wall-clock limit.
    fn check_wall(&self) -> wasmtime::Result<()> {
        if self.call_started.elapsed() > self.wall {
            return Err(LimitExceeded(Limit::Wall(self.wall.as_secs())).into());
        }
        Ok(())
    }

    fn used(&self) -> Duration {
        self.call_started
            .elapsed()
            .saturating_sub(self.in_host)
            .saturating_sub(Duration::from_nanos(self.queued.load(Ordering::Relaxed)))
    }
}

/// Bounds the linear memory of one instance: all its memories together, so
/// a component with N memories does not get N times the limit.
struct MemoryLimiter {
    max: usize,
    /// Bytes of all the instance's memories, as granted so far.
    total: usize,
    /// The last growth granted, undone if the allocation then fails.
    last_growth: usize,
    peak: usize,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current);
        let total = self.total.saturating_add(growth);
        if total > self.max {
            // A trap with a typed cause rather than a failed `memory.grow`, so
            // the operator sees "memory limit" instead of an allocator abort.
            return Err(LimitExceeded(Limit::Memory(self.max as u64)).into());
        }
        self.total = total;
        self.last_growth = growth;
        self.peak = self.peak.max(total);
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.total -= std::mem::take(&mut self.last_growth);
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl<X: Send + 'static> PluginState<X> {
    /// A store with no WASI capabilities, limits applied and the CPU clock
    /// wired to the epoch ticker.
    pub fn new_store(
        engine: &wasmtime::Engine,
        plugin: Arc<str>,
        limits: &Limits,
        world: WorldKind,
        ext: X,
    ) -> Store<PluginState<X>> {
        let output_max = limits.output_bytes(world);
        let stderr = MemoryOutputPipe::new(limits.stderr_bytes);
        // Nothing granted: no preopens, env, args, network; stdout discarded.
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        let state = PluginState {
            wasi,
            table: ResourceTable::new(),
            plugin,
            limiter: MemoryLimiter {
                max: limits.memory_bytes(),
                total: 0,
                last_growth: 0,
                peak: 0,
            },
            output_max,
            log_left: limits.log_lines,
            logs_dropped: 0,
            stderr,
            cpu: CpuClock {
                limit: Duration::from_millis(limits.cpu_ms),
                wall: Duration::from_secs(limits.wall_secs),
                call_started: Instant::now(),
                in_host: Duration::ZERO,
                queued: Arc::new(AtomicU64::new(0)),
            },
            captured: None,
            ext,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);
        // wasmtime charges every string and list the guest hands the host
        // against this fuel *before* copying it, so the output limit is the
        // real bound on what one call makes the host allocate (aliased
        // strings included), not a check after the copy.
        store.set_hostcall_fuel(hostcall_fuel(output_max));
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            let cpu = &ctx.data().cpu;
            if cpu.used() > cpu.limit {
                return Err(LimitExceeded(Limit::Cpu(cpu.limit.as_millis() as u64)).into());
            }
            cpu.check_wall()?;
            // Yield so a busy guest never hogs a runtime worker thread, and
            // do not charge the guest for the time it then waits in the queue.
            let queued = cpu.queued.clone();
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(async move {
                    let t = Instant::now();
                    tokio::task::yield_now().await;
                    queued.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                }),
            ))
        });
        store
    }

    /// Start the CPU budget for the next guest call.
    pub fn start_call(&mut self) {
        self.cpu.call_started = Instant::now();
        self.cpu.in_host = Duration::ZERO;
        self.cpu.queued.store(0, Ordering::Relaxed);
    }

    /// Before a host call that may wait: a trap if the call's wall-clock
    /// time is spent (a guest between two waits may run too briefly for the
    /// epoch check to catch it).
    pub fn check_wall(&self) -> wasmtime::Result<()> {
        self.cpu.check_wall()
    }

    /// Exclude time spent waiting in a host call from the guest's budget.
    pub fn add_host_time(&mut self, d: Duration) {
        self.cpu.in_host += d;
    }

    /// Keep this instance's log lines for [`Self::report`] too.
    pub fn capture_logs(&mut self) {
        self.captured.get_or_insert_with(Vec::new);
    }

    /// The cost and output of the call started by [`Self::start_call`].
    pub fn report(&self) -> CallReport {
        CallReport {
            cpu: self.cpu.used(),
            memory_peak: self.limiter.peak as u64,
            logs: self.captured.clone().unwrap_or_default(),
            logs_dropped: self.logs_dropped,
            stderr: self.stderr(),
        }
    }

    /// The plugin error for a failed wasmtime call of this instance (a
    /// trap, a limit), with its stderr attached.
    pub fn error(&self, err: wasmtime::Error) -> PluginError {
        PluginError::from_call(&self.plugin, err, self.stderr(), self.output_max)
    }

    /// What the guest wrote to stderr (bounded), lossily decoded.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }

    /// A warning the host logs about this instance's requests (a refused
    /// command, say): it spends the instance's log budget like the guest's
    /// own lines, so a plugin cannot flood the log through the host either.
    pub fn host_warning(&mut self, message: &str) {
        if self.log_left == 0 {
            self.logs_dropped += 1;
            return;
        }
        self.log_left -= 1;
        tracing::warn!(plugin = %self.plugin, "{message}");
    }

    /// Forward one guest log line to `tracing`, within the line budget.
    pub fn log(&mut self, level: Level, message: &str) {
        if self.log_left == 0 {
            self.logs_dropped += 1;
            if self.logs_dropped == 1 {
                tracing::warn!(plugin = %self.plugin, "plugin log limit reached; dropping further lines from this instance");
            }
            return;
        }
        self.log_left -= 1;
        let plugin = &*self.plugin;
        let message = truncate_marked(message.to_string(), MAX_PLUGIN_TEXT);
        if let Some(c) = &mut self.captured {
            c.push((level, message.clone()));
        }
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, "{message}"),
            Level::Info => tracing::info!(target: "plugin", plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, "{message}"),
            Level::Error => tracing::error!(target: "plugin", plugin, "{message}"),
        }
    }
}

/// Slack over the output limit for the host-side shape of the data (the
/// fuel counts each list element at its size in host memory, which the
/// output limit, a count of text bytes, does not).
const FUEL_SLACK: usize = 256 * 1024;

fn hostcall_fuel(output_bytes: u64) -> usize {
    usize::try_from(output_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(FUEL_SLACK)
}

/// Guest log level, independent of either world's generated bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl<X: Send> WasiView for PluginState<X> {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module with two memories of 1 page, each grown by `grow`.
    const TWO_MEMORIES: &str = r#"
        (module
          (memory $a 1)
          (memory $b 1)
          (func (export "grow") (param $which i32) (param $pages i32) (result i32)
            (if (result i32) (local.get $which)
              (then (memory.grow $b (local.get $pages)))
              (else (memory.grow $a (local.get $pages))))))
    "#;

    /// Growth is summed across an instance's memories: with a 4 MiB limit,
    /// two memories cannot hold 4 MiB each.
    #[tokio::test]
    async fn the_memory_limit_is_for_all_memories_together() {
        let mut cfg = wasmtime::Config::new();
        cfg.epoch_interruption(true);
        let engine = wasmtime::Engine::new(&cfg).unwrap();
        let module = wasmtime::Module::new(&engine, wat::parse_str(TWO_MEMORIES).unwrap()).unwrap();
        let limits = Limits {
            memory_mib: 4,
            ..Limits::default()
        };
        let mut store =
            PluginState::new_store(&engine, "two".into(), &limits, WorldKind::Mapper, ());
        let instance = wasmtime::Instance::new_async(&mut store, &module, &[])
            .await
            .unwrap();
        let grow = instance
            .get_typed_func::<(i32, i32), i32>(&mut store, "grow")
            .unwrap();
        const PAGE: u64 = 64 * 1024;
        // 2 pages at start; memory a to 40 pages (2.5 MiB): granted.
        assert_eq!(grow.call_async(&mut store, (0, 39)).await.unwrap(), 1);
        // Memory b by as much again would make 5 MiB in all: refused.
        let err = grow.call_async(&mut store, (1, 39)).await.unwrap_err();
        match err.downcast_ref::<LimitExceeded>() {
            Some(LimitExceeded(Limit::Memory(m))) => assert_eq!(*m, 4 << 20),
            _ => panic!("expected the memory limit, got {err:#}"),
        }
        // What is left (4 MiB - 41 pages) still fits in memory b.
        let left = (4 << 20) / PAGE - 41;
        assert_eq!(
            grow.call_async(&mut store, (1, left as i32)).await.unwrap(),
            1
        );
        assert_eq!(store.data().report().memory_peak, 4 << 20);
    }
}
