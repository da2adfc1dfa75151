//! The WebAssembly plugin runtime: one wasmtime [`Engine`] for the process,
//! components compiled once and cached on disk, a fresh sandboxed instance per
//! mapper call or dialogue session, and limits on memory, CPU, output and logs.
//!
//! Plugins get WASI linked with an empty context: no directories, no
//! environment, no sockets, no stdin; stdout is discarded and stderr is
//! captured (bounded) so a panic message can be attached to the error.

mod cache;
pub mod dialogue;
mod error;
pub mod inspect;
pub mod mapper;
pub mod sandbox;
mod state;

pub use dialogue::DialoguePlugin;
pub use error::{Limit, PluginError};
pub use mapper::MapperPlugin;
pub use state::{CallReport, Level as LogLevel};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Deserialize;

/// The WIT package every plugin must be built against.
pub const WIT_PACKAGE: &str = "popline:plugin";
/// The contract version this host implements. A plugin built against a
/// semver-compatible version (same `0.MINOR` while below 1.0) loads.
pub const WIT_VERSION: &str = "0.1.0";

/// How often the epoch ticker advances; the granularity of CPU limits.
const TICK: Duration = Duration::from_millis(10);

/// Resource limits for one plugin. Every field has a default, so a pipeline
/// only names the limits it wants to change.
#[derive(Debug, Clone, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Maximum linear memory of one instance, in MiB.
    pub memory_mib: u64,
    /// Guest CPU time allowed per call (mapper: per message; dialogue: per
    /// operation, not counting time spent waiting on the network), in ms.
    pub cpu_ms: u64,
    /// Most data one call may hand the host, in KiB: a mapper's records
    /// (all text added up), a dialogue's listing, server info or error.
    /// wasmtime counts it while copying, so nothing larger is ever copied.
    /// Default 4096 for a mapper, 32768 for a dialogue (the listing of a
    /// mailbox of some 300,000 messages).
    pub output_kib: Option<u64>,
    /// Log lines one instance may emit; the rest are dropped and counted.
    pub log_lines: u32,
    /// Bytes of guest stderr kept for error reports (panic messages).
    pub stderr_bytes: usize,
    /// Wall-clock time one call may take, network waits included, in
    /// seconds: a dialogue that keeps the server talking (a `NOOP` loop)
    /// spends no CPU of its own, and is stopped by this instead.
    pub wall_secs: u64,
    /// Dialogue: server answers (messages) the host may hold for one
    /// session at once, in MiB; a dialogue that reads messages and keeps
    /// every handle is refused more. Raise it with large batches of large
    /// messages.
    pub held_mib: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: 64,
            cpu_ms: 1000,
            output_kib: None,
            log_lines: 1000,
            stderr_bytes: 16 * 1024,
            wall_secs: 600,
            held_mib: 2048,
        }
    }
}

impl Limits {
    fn memory_bytes(&self) -> usize {
        (self.memory_mib as usize).saturating_mul(1024 * 1024)
    }

    /// The output limit in bytes, for a plugin of `world`.
    pub(crate) fn output_bytes(&self, world: inspect::WorldKind) -> u64 {
        let default = match world {
            inspect::WorldKind::Mapper => 4096,
            inspect::WorldKind::Dialogue => 32 * 1024,
        };
        self.output_kib.unwrap_or(default).saturating_mul(1024)
    }
}

/// Process-wide plugin engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    engine: wasmtime::Engine,
    cache_dir: Option<PathBuf>,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for EngineInner {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Options for building the [`Engine`].
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Where compiled plugins are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Instances that may be alive at once (pooling allocator slots).
    pub max_instances: Option<u32>,
    /// Write `/tmp/perf-PID.map` so `perf report` names plugin functions
    /// (build the plugin with its name section: `strip = false`).
    pub perf_map: bool,
}

impl EngineOptions {
    /// Whether `POPLINE_PERF_MAP` asks for [`EngineOptions::perf_map`]
    /// (any value but empty or `0`).
    pub fn perf_map_from_env() -> bool {
        std::env::var("POPLINE_PERF_MAP").is_ok_and(|v| !v.is_empty() && v != "0")
    }
}

impl Engine {
    /// Build the engine. Uses the pooling allocator when the OS grants its
    /// address-space reservation, and falls back to on-demand allocation.
    pub fn new(opts: EngineOptions) -> anyhow::Result<Engine> {
        let engine = match build_engine(&opts, true) {
            Ok(e) => e,
            Err(err) => {
                tracing::warn!(error = %err, "pooling allocator unavailable; using on-demand instance allocation");
                build_engine(&opts, false)?
            }
        };
        let ticker_stop = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = ticker_stop.clone();
            std::thread::Builder::new()
                .name("popline-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                })?;
        }
        Ok(Engine {
            inner: Arc::new(EngineInner {
                engine,
                cache_dir: opts.cache_dir,
                ticker_stop,
            }),
        })
    }

    /// The default on-disk cache location: `$POPLINE_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/popline`, else `~/.cache/popline`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        if let Some(d) = std::env::var_os("POPLINE_CACHE_DIR") {
            return Some(PathBuf::from(d));
        }
        if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
            return Some(PathBuf::from(d).join("popline"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/popline"))
    }

    pub(crate) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.engine
    }

    /// Read and compile (or fetch from the cache) a component. Returns it
    /// with the plugin's name and the SHA-256 of the .wasm (its version).
    pub(crate) fn load_component(
        &self,
        source: &PluginSource,
    ) -> Result<(wasmtime::component::Component, String, String), PluginError> {
        let load = popline_core::timing::span(popline_core::timing::Stage::PluginLoad);
        let name = source.name();
        let file;
        let bytes: &[u8] = match source {
            PluginSource::File(path) => {
                file = std::fs::read(path).map_err(|source| PluginError::Read {
                    path: path.clone(),
                    source,
                })?;
                &file
            }
            PluginSource::Embedded { wasm, .. } => wasm,
        };
        let component = cache::compile(&self.inner.engine, self.inner.cache_dir.as_deref(), bytes)
            .map_err(|e| PluginError::Compile {
                plugin: name.clone(),
                location: source.to_string(),
                reason: format!("{e:#}"),
            })?;
        // The digest is a stage of its own.
        drop(load);
        Ok((component, name, popline_core::digest::sha256_hex(bytes)))
    }
}

/// Where a plugin's component comes from.
#[derive(Debug, Clone)]
pub enum PluginSource {
    /// A .wasm file.
    File(PathBuf),
    /// A component compiled into the binary, named `builtin:NAME` in a
    /// configuration (the binary crate supplies the bytes).
    Embedded {
        /// The name after `builtin:`, e.g. `feedback-default`.
        name: &'static str,
        /// The plugin's display name: the stem its .wasm file has on disk
        /// (`feedback_default`), so records read the same either way.
        stem: &'static str,
        /// The component.
        wasm: &'static [u8],
    },
}

impl PluginSource {
    /// The plugin's display name: the file stem, for records, logs and
    /// metrics.
    pub fn name(&self) -> String {
        match self {
            PluginSource::File(path) => plugin_name(path),
            PluginSource::Embedded { stem, .. } => stem.to_string(),
        }
    }
}

/// Two sources are the same plugin when they name the same file or the
/// same builtin (comparing the bytes of a builtin would be wasted work).
impl PartialEq for PluginSource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (PluginSource::File(a), PluginSource::File(b)) => a == b,
            (PluginSource::Embedded { name: a, .. }, PluginSource::Embedded { name: b, .. }) => {
                a == b
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::File(path) => write!(f, "{}", path.display()),
            PluginSource::Embedded { name, .. } => write!(f, "builtin:{name}"),
        }
    }
}

impl From<&Path> for PluginSource {
    fn from(path: &Path) -> Self {
        PluginSource::File(path.to_path_buf())
    }
}

impl From<&PathBuf> for PluginSource {
    fn from(path: &PathBuf) -> Self {
        PluginSource::File(path.clone())
    }
}

impl From<PathBuf> for PluginSource {
    fn from(path: PathBuf) -> Self {
        PluginSource::File(path)
    }
}

impl From<&PluginSource> for PluginSource {
    fn from(source: &PluginSource) -> Self {
        source.clone()
    }
}

/// What one component instance may take from the instance pool.
struct PerComponent {
    core_instances: u32,
    memories: u32,
    tables: u32,
}

/// Rust components use one memory and a few core instances; a
/// `componentize-py` component links a dozen libraries into one memory.
const PER_COMPONENT: PerComponent = PerComponent {
    core_instances: 32,
    memories: 2,
    tables: 8,
};

/// Bytes of a freed instance slot's linear memory kept resident (see
/// `build_engine`): a typical reply's mapper uses ~1.5 MiB (stack, data and
/// its heap); what a large message grows beyond this goes back to the kernel.
const KEEP_RESIDENT_MEMORY: usize = 4 << 20;
/// The same for a slot's tables (a few KiB for a Rust component).
const KEEP_RESIDENT_TABLE: usize = 64 << 10;

fn build_engine(opts: &EngineOptions, pooling: bool) -> anyhow::Result<wasmtime::Engine> {
    let mut cfg = wasmtime::Config::new();
    cfg.epoch_interruption(true);
    cfg.wasm_component_model(true);
    if opts.perf_map {
        cfg.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if pooling {
        let n = opts.max_instances.unwrap_or(1000);
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(n);
        // Per component, so one plugin cannot take the slots every other
        // instance needs (a dialogue holding them would stop all mappers);
        // totals sized so that `n` instances at these bounds always fit.
        // A component over a bound is refused when it is loaded.
        pool.max_core_instances_per_component(PER_COMPONENT.core_instances);
        pool.max_memories_per_component(PER_COMPONENT.memories);
        pool.max_tables_per_component(PER_COMPONENT.tables);
        pool.total_core_instances(n.saturating_mul(PER_COMPONENT.core_instances));
        pool.total_memories(n.saturating_mul(PER_COMPONENT.memories));
        pool.total_tables(n.saturating_mul(PER_COMPONENT.tables));
        pool.max_memory_size(1 << 30);
        // Every message gets a fresh instance. By default a freed slot's
        // memory is returned to the kernel, so the next instance page-faults
        // on each page it touches again (~25 faults per message, a quarter
        // of a mapper call on the benchmark mailbox). Where the kernel can
        // say which pages were written (PAGEMAP_SCAN, Linux 6.7+), only
        // those are zeroed and the slot stays resident. Without it the reset
        // would memset the whole kept region per instance, which costs more
        // than the faults it saves, so the default stays.
        if wasmtime::PoolingAllocationConfig::is_pagemap_scan_available() {
            pool.pagemap_scan(wasmtime::Enabled::Yes);
            pool.linear_memory_keep_resident(KEEP_RESIDENT_MEMORY);
            pool.table_keep_resident(KEEP_RESIDENT_TABLE);
        }
        cfg.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    Ok(wasmtime::Engine::new(&cfg)?)
}

/// A plugin's display name: its file stem (`feedback_default.wasm` →
/// `feedback_default`).
pub fn plugin_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
