//! What a component is: which world, which contract version, what it imports
//! and exports. Used to refuse mismatches on load and by `popline plugin inspect`.

use std::fmt;

use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use super::error::PluginError;
use super::{Engine, PluginSource, WIT_PACKAGE, WIT_VERSION};

/// The two plugin worlds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorldKind {
    /// `feedback-mapper`: exports `popline:plugin/mapper`.
    Mapper,
    /// `pop3-dialogue`: exports `popline:plugin/dialogue`.
    Dialogue,
}

impl WorldKind {
    fn export_interface(self) -> &'static str {
        match self {
            WorldKind::Mapper => "mapper",
            WorldKind::Dialogue => "dialogue",
        }
    }
}

impl fmt::Display for WorldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorldKind::Mapper => "feedback-mapper",
            WorldKind::Dialogue => "pop3-dialogue",
        })
    }
}

/// A component's shape.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The world it implements, if it exports one of ours.
    pub world: Option<WorldKind>,
    /// The `popline:plugin` version it was built against.
    pub version: Option<String>,
    /// Imported instance names, e.g. `popline:plugin/log@0.1.0`.
    pub imports: Vec<String>,
    /// Exported instance names with their functions.
    pub exports: Vec<(String, Vec<String>)>,
}

impl Inspection {
    fn of(engine: &wasmtime::Engine, component: &Component) -> Inspection {
        let ty = component.component_type();
        let imports = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
        let mut exports = Vec::new();
        let mut world = None;
        let mut version = None;
        for (name, item) in ty.exports(engine) {
            let funcs = match &item.ty {
                ComponentItem::ComponentInstance(i) => {
                    i.exports(engine).map(|(n, _)| n.to_string()).collect()
                }
                _ => Vec::new(),
            };
            for kind in [WorldKind::Mapper, WorldKind::Dialogue] {
                let prefix = format!("{WIT_PACKAGE}/{}", kind.export_interface());
                if let Some(rest) = name.strip_prefix(&prefix) {
                    world = Some(kind);
                    version = rest.strip_prefix('@').map(str::to_string);
                }
            }
            exports.push((name.to_string(), funcs));
        }
        Inspection {
            world,
            version,
            imports,
            exports,
        }
    }
}

/// Inspect a plugin: a .wasm file or a builtin.
pub fn inspect_file(
    engine: &Engine,
    source: impl Into<PluginSource>,
) -> Result<Inspection, PluginError> {
    let (component, _, _) = engine.load_component(&source.into())?;
    Ok(Inspection::of(engine.wasmtime(), &component))
}

/// Refuse a component that implements another world or an incompatible
/// contract version, naming what was expected and what was found.
pub(crate) fn check_world(
    engine: &Engine,
    component: &Component,
    plugin: &str,
    expected: WorldKind,
) -> Result<(), PluginError> {
    let found = Inspection::of(engine.wasmtime(), component);
    let incompatible = |reason: String| PluginError::Incompatible {
        plugin: plugin.to_string(),
        reason,
    };
    match found.world {
        None => {
            return Err(incompatible(format!(
                "expected a {expected} plugin exporting {WIT_PACKAGE}/{}@{WIT_VERSION}, found exports [{}]",
                expected.export_interface(),
                found
                    .exports
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Some(w) if w != expected => {
            return Err(incompatible(format!(
                "expected a {expected} plugin, found a {w} plugin; check which config key names it"
            )));
        }
        Some(_) => {}
    }
    let version = found.version.unwrap_or_default();
    if !compatible(&version, WIT_VERSION) {
        return Err(incompatible(format!(
            "built against {WIT_PACKAGE}@{version}, this host implements {WIT_PACKAGE}@{WIT_VERSION}; rebuild the plugin against a compatible contract (same {}) or use a matching popline",
            compat_range(WIT_VERSION)
        )));
    }
    Ok(())
}

/// Semver compatibility as cargo defines it: same major, or same minor below 1.0.
pub fn compatible(found: &str, ours: &str) -> bool {
    match (parse(found), parse(ours)) {
        (Some(f), Some(o)) => {
            if o.0 == 0 {
                f.0 == 0 && f.1 == o.1 && f.2 <= o.2
            } else {
                f.0 == o.0 && (f.1, f.2) <= (o.1, o.2)
            }
        }
        _ => false,
    }
}

fn compat_range(v: &str) -> String {
    match parse(v) {
        Some((0, minor, _)) => format!("0.{minor}.x"),
        Some((major, _, _)) => format!("{major}.x"),
        None => v.to_string(),
    }
}

fn parse(v: &str) -> Option<(u64, u64, u64)> {
    let mut it = v.split('.').map(|p| p.parse::<u64>().ok());
    Some((it.next()??, it.next()??, it.next()??))
}

#[cfg(test)]
mod tests {
    use super::compatible;

    #[test]
    fn semver_rules() {
        assert!(compatible("0.1.0", "0.1.0"));
        assert!(compatible("0.1.0", "0.1.3"));
        // A plugin needing a newer patch than the host may use what we lack.
        assert!(!compatible("0.1.4", "0.1.3"));
        assert!(!compatible("0.2.0", "0.1.0"));
        assert!(!compatible("1.0.0", "0.1.0"));
        assert!(compatible("1.0.0", "1.2.0"));
        assert!(!compatible("2.0.0", "1.2.0"));
        assert!(!compatible("", "0.1.0"));
    }
}
