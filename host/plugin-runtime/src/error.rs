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
        "plugin {plugin} ({path}) is not a valid WebAssembly component: {reason}; build it with `cargo build --target wasm32-wasip2` or `cargo component build`"
    )]
    Compile {
        plugin: String,
        path: PathBuf,
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
            | PluginError::Returned { plugin, .. }
            | PluginError::InvalidOutput { plugin, .. } => plugin,
        }
    }

    /// Classify an error that came out of a wasmtime call.
    pub(crate) fn from_call(plugin: &str, err: wasmtime::Error, stderr: String) -> PluginError {
        if let Some(LimitExceeded(limit)) = err.downcast_ref::<LimitExceeded>() {
            return PluginError::LimitExceeded {
                plugin: plugin.to_string(),
                limit: limit.clone(),
                stderr,
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
