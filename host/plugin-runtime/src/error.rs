//! The errors a plugin can cause, as operators and plugin authors see them.

use std::fmt;
use std::path::PathBuf;

/// A limit the host enforces on a plugin instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// Linear memory, in bytes.
    Memory(u64),
    /// Guest CPU time per call, in milliseconds.
    Cpu(u64),
    /// Output size, in bytes.
    Output(u64),
    /// Wall-clock time per call, in seconds.
    Wall(u64),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Memory(b) => write!(f, "memory limit of {} MiB", b / (1024 * 1024)),
            Limit::Cpu(ms) => write!(f, "CPU limit of {ms} ms per call"),
            Limit::Output(b) => write!(f, "output limit of {} KiB", b / 1024),
            Limit::Wall(s) => write!(f, "wall-clock limit of {s} s per call"),
        }
    }
}

/// Raised inside the store (from the limiter or the epoch callback) and
/// recognised again when the call returns.
#[derive(Debug, thiserror::Error)]
#[error("{0} exceeded")]
pub(crate) struct LimitExceeded(pub Limit);

/// Everything that can go wrong loading or running a plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("cannot read plugin {path}: {source}; check the path in the configuration")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "plugin {plugin} ({location}) is not a valid WebAssembly component: {reason}; build it with `cargo build --target wasm32-wasip2` or `cargo component build`"
    )]
    Compile {
        plugin: String,
        /// The file, or `builtin:NAME`.
        location: String,
        reason: String,
    },
    #[error("plugin {plugin} does not fit this host: {reason}")]
    Incompatible { plugin: String, reason: String },
    #[error("plugin {plugin} exceeded its {limit}{}", stderr_suffix(.stderr))]
    LimitExceeded {
        plugin: String,
        limit: Limit,
        stderr: String,
    },
    #[error("plugin {plugin} crashed: {reason}{}", stderr_suffix(.stderr))]
    Trap {
        plugin: String,
        reason: String,
        stderr: String,
    },
    /// The host could not start an instance: every slot of the instance
    /// pool is taken. A host condition, not the plugin's or the message's
    /// fault: the poll ends and is retried.
    #[error(
        "no instance of plugin {plugin} could be started: {reason}; the host is at its limit of live plugin instances ([plugins] max_instances); the poll is retried"
    )]
    Unavailable { plugin: String, reason: String },
    #[error("plugin {plugin} returned an error: {message}")]
    Returned { plugin: String, message: String },
    #[error("plugin {plugin} returned invalid output: {reason}")]
    InvalidOutput { plugin: String, reason: String },
}

fn stderr_suffix(stderr: &str) -> String {
    let s = stderr.trim();
    if s.is_empty() {
        String::new()
    } else {
        format!("; its stderr said: {s}")
    }
}

impl PluginError {
    /// The plugin's name, for logs and dead-letter records.
    pub fn plugin(&self) -> &str {
        match self {
            PluginError::Read { path, .. } => path.to_str().unwrap_or("?"),
            PluginError::Compile { plugin, .. }
            | PluginError::Incompatible { plugin, .. }
            | PluginError::LimitExceeded { plugin, .. }
            | PluginError::Trap { plugin, .. }
            | PluginError::Unavailable { plugin, .. }
            | PluginError::Returned { plugin, .. }
            | PluginError::InvalidOutput { plugin, .. } => plugin,
        }
    }

    /// Whether the host, not the plugin or the message, is at fault: retry
    /// later, and do not hold the message against the plugin.
    pub fn is_host_condition(&self) -> bool {
        matches!(self, PluginError::Unavailable { .. })
    }

    /// Classify an error that came out of a wasmtime call of an instance
    /// whose output limit is `output_max` bytes.
    pub(crate) fn from_call(
        plugin: &str,
        err: wasmtime::Error,
        stderr: String,
        output_max: u64,
    ) -> PluginError {
        let limit = if let Some(LimitExceeded(limit)) = err.downcast_ref::<LimitExceeded>() {
            Some(limit.clone())
        } else if is_hostcall_fuel(&err) {
            Some(Limit::Output(output_max))
        } else {
            None
        };
        if let Some(limit) = limit {
            return PluginError::LimitExceeded {
                plugin: plugin.to_string(),
                limit,
                stderr,
            };
        }
        if let Some(e) = err.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
            return PluginError::Unavailable {
                plugin: plugin.to_string(),
                reason: e.to_string(),
            };
        }
        let reason = match err.downcast_ref::<wasmtime::Trap>() {
            Some(trap) => trap.to_string(),
            None => format!("{err:#}"),
        };
        PluginError::Trap {
            plugin: plugin.to_string(),
            reason,
            stderr,
        }
    }
}

/// Whether wasmtime refused to copy more of a call's data because the
/// store's hostcall fuel (set from the output limit) ran out. wasmtime's
/// error type for it is private, so it is recognised by its message; the
/// aliased-output tests fail if that message ever changes.
fn is_hostcall_fuel(err: &wasmtime::Error) -> bool {
    err.chain()
        .any(|e| e.to_string().contains("fuel allocated for hostcalls"))
}
