//! What travels inside the popline binary, so an installed `popline` needs
//! no source tree:
//!
//! - the reference plugins, compiled to WebAssembly by `build.rs` (a nested
//!   `cargo build --target wasm32-wasip2 --profile plugin`): a config names
//!   them `builtin:pop3-standard` and `builtin:feedback-default`;
//! - the plugin SDK's sources (`wit/`, `plugins/sdk`, `plugins/pop3-proto`),
//!   which `popline plugin new` writes into a new project so it builds
//!   without a popline checkout.
//!
//! A crate of its own, used only by the layers that load plugins or write
//! projects (`ingest`, `popline`): the configuration knows the builtin
//! names but not the bytes, so parsing a config never builds wasm.

/// One reference plugin compiled into the binary.
#[derive(Debug)]
pub struct Plugin {
    /// Its name after `builtin:` (the crate name), e.g. `feedback-default`.
    pub name: &'static str,
    /// The .wasm file stem the same plugin has on disk, e.g.
    /// `feedback_default`: its display name in records and metrics.
    pub stem: &'static str,
    /// The component.
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// The builtin plugin called `name` (without the `builtin:` prefix).
pub fn plugin(name: &str) -> Option<&'static Plugin> {
    PLUGINS.iter().find(|p| p.name == name)
}

/// The builtin plugins' names.
pub fn names() -> impl Iterator<Item = &'static str> {
    PLUGINS.iter().map(|p| p.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_reference_plugins_are_components() {
        assert_eq!(
            names().collect::<Vec<_>>(),
            ["pop3-standard", "feedback-default"]
        );
        for p in PLUGINS {
            // A component's preamble: magic, then version 0x0d and layer 1.
            assert_eq!(&p.wasm[..8], b"\0asm\x0d\0\x01\0", "{}", p.name);
        }
        assert!(plugin("feedback-default").is_some() && plugin("nope").is_none());
    }

    #[test]
    fn the_sdk_travels_with_its_contract() {
        let paths: Vec<&str> = SDK_FILES.iter().map(|(p, _)| *p).collect();
        for want in [
            "wit/mapper.wit",
            "wit/pop3.wit",
            "wit/log.wit",
            "plugins/sdk/Cargo.toml",
            "plugins/sdk/src/lib.rs",
            "plugins/pop3-proto/Cargo.toml",
            "plugins/pop3-proto/src/lib.rs",
        ] {
            assert!(paths.contains(&want), "{want} missing from {paths:?}");
        }
    }
}
