//! What WASI a plugin gets: a short allow-list, the rest traps.
//!
//! Components built by toolchains for general-purpose languages import far
//! more WASI than they use (a `componentize-py` component imports every
//! `wasi:filesystem` and `wasi:sockets` interface). The host links only the
//! interfaces in [`GRANTED`], backed by the empty [`wasmtime_wasi::WasiCtx`]
//! of `state.rs` (no environment variables, no arguments, empty stdin,
//! stdout discarded, stderr captured). Every other WASI interface the
//! component imports is defined here with functions that trap when called
//! (and opaque resource types), so the component instantiates but can never
//! reach a file, a socket or a name lookup.
//!
//! Traps are defined per import, under the exact name and version the
//! component asks for: nothing real is linked under those names, so no
//! definition shadows another (wasmtime's `define_unknown_imports_as_traps`
//! shadowed real WASI whose patch version differed from the import's).

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasData, Linker, ResourceTable, ResourceType};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::p2::bindings::{cli, clocks, io, random};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};

/// WASI interfaces (without version) that plugins may use. Environment is
/// granted as an interface but holds nothing (no variables, no arguments).
pub const GRANTED: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/exit",
    "wasi:cli/environment",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
];

struct Io;

impl HasData for Io {
    type Data<'a> = &'a mut ResourceTable;
}

/// A resource type that never has a value: what denied interfaces' resources
/// (file descriptors, sockets) are in the sandbox.
struct Denied;

/// Link the granted WASI interfaces, then a trapping stand-in for every other
/// WASI interface `component` imports.
pub(crate) fn link_wasi<T: WasiView + 'static>(
    engine: &wasmtime::Engine,
    linker: &mut Linker<T>,
    component: &Component,
) -> wasmtime::Result<()> {
    let l = &mut *linker;
    io::error::add_to_linker::<T, Io>(l, |t| t.ctx().table)?;
    io::poll::add_to_linker::<T, Io>(l, |t| t.ctx().table)?;
    io::streams::add_to_linker::<T, Io>(l, |t| t.ctx().table)?;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, <T as WasiClocksView>::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, <T as WasiClocksView>::clocks)?;
    random::random::add_to_linker::<T, WasiRandom>(l, <T as WasiRandomView>::random)?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, <T as WasiRandomView>::random)?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, <T as WasiRandomView>::random)?;
    cli::exit::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;

    // Resources seen so far, in import order: a resource a later interface
    // `use`s (e.g. `input-stream` in `wasi:filesystem/types`) is the same
    // type and must not be redefined.
    let mut seen: Vec<ResourceType> = Vec::new();
    for (name, item) in component.component_type().imports(engine) {
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        let denied = name.starts_with("wasi:") && !is_granted(name);
        let mut stub = if denied {
            Some(linker.instance(name)?)
        } else {
            None
        };
        for (export, item) in instance.exports(engine) {
            if let ComponentItem::Resource(ty) = &item.ty {
                let alias = seen.contains(ty);
                if !alias {
                    seen.push(*ty);
                }
                if let (Some(stub), false) = (stub.as_mut(), alias) {
                    stub.resource(export, ResourceType::host::<Denied>(), |_, _| Ok(()))?;
                }
                continue;
            }
            let Some(stub) = stub.as_mut() else {
                continue;
            };
            // Type definitions need no linking; functions trap.
            if let ComponentItem::ComponentFunc(_) = item.ty {
                let what = format!("{name}#{export}");
                stub.func_new(export, move |_, _, _, _| {
                    Err(wasmtime::Error::msg(denied_message(&what)))
                })?;
            }
        }
    }
    Ok(())
}

/// Whether `import` (e.g. `wasi:cli/stdout@0.2.6`) names a granted interface.
pub fn is_granted(import: &str) -> bool {
    let interface = import.split_once('@').map_or(import, |(i, _)| i);
    GRANTED.contains(&interface)
}

/// The trap message when a plugin calls a denied WASI function.
pub fn denied_message(function: &str) -> String {
    format!(
        "the plugin called {function}, which popline does not grant: plugins get no filesystem, network or environment (pass data in through the mapper config or the message)"
    )
}

#[cfg(test)]
mod tests {
    use super::is_granted;

    #[test]
    fn granted_ignores_the_version_and_nothing_else() {
        assert!(is_granted("wasi:cli/stdout@0.2.6"));
        assert!(is_granted("wasi:io/streams@0.2.12"));
        assert!(!is_granted("wasi:filesystem/preopens@0.2.6"));
        assert!(!is_granted("wasi:sockets/tcp@0.2.9"));
        assert!(!is_granted("wasi:cli/stdoutx@0.2.6"));
    }
}
