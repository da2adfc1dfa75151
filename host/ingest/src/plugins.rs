//! Plugins loaded once per source and limits, shared by every pipeline that
//! names them: a fleet host with 1,000 mailboxes holds one compiled copy of
//! each plugin, not 1,000. Builtin plugins (`builtin:NAME`) come from the
//! binary (`popline-builtin`).

use std::sync::Arc;

use popline_config::PluginRef;
use popline_plugin_runtime::{
    DialoguePlugin, Engine, Limits, MapperPlugin, PluginError, PluginSource,
};

/// Where the plugin `r` comes from: its file, or the bytes compiled into
/// the binary. Resolve a config file's relative path first
/// (`Config::plugin`).
pub fn source(r: &PluginRef) -> PluginSource {
    match r {
        PluginRef::File(path) => PluginSource::File(path.clone()),
        PluginRef::Builtin(name) => {
            // PluginRef only holds names from BUILTIN_PLUGINS, which a test
            // keeps equal to the embedded list.
            let p = popline_builtin::plugin(name)
                .unwrap_or_else(|| panic!("builtin:{name} is not compiled into this popline"));
            PluginSource::Embedded {
                name: p.name,
                stem: p.stem,
                wasm: p.wasm,
            }
        }
    }
}

/// The plugins loaded so far, by source and limits (a plugin carries its
/// limits, so the same file with other limits is another plugin).
#[derive(Default)]
pub struct LoadedPlugins {
    dialogues: Vec<(PluginSource, Limits, Arc<DialoguePlugin>)>,
    mappers: Vec<(PluginSource, Limits, Arc<MapperPlugin>)>,
}

impl LoadedPlugins {
    /// The dialogue plugin from `source` with `limits`, loaded on first use.
    pub fn dialogue(
        &mut self,
        engine: &Engine,
        source: &PluginSource,
        limits: &Limits,
    ) -> Result<Arc<DialoguePlugin>, PluginError> {
        shared(&mut self.dialogues, source, limits, |s, l| {
            DialoguePlugin::load(engine, s, l)
        })
    }

    /// The mapper plugin from `source` with `limits`, loaded on first use.
    pub fn mapper(
        &mut self,
        engine: &Engine,
        source: &PluginSource,
        limits: &Limits,
    ) -> Result<Arc<MapperPlugin>, PluginError> {
        shared(&mut self.mappers, source, limits, |s, l| {
            MapperPlugin::load(engine, s, l)
        })
    }
}

fn shared<P>(
    loaded: &mut Vec<(PluginSource, Limits, Arc<P>)>,
    source: &PluginSource,
    limits: &Limits,
    load: impl FnOnce(&PluginSource, Limits) -> Result<P, PluginError>,
) -> Result<Arc<P>, PluginError> {
    if let Some((_, _, p)) = loaded.iter().find(|(s, l, _)| s == source && l == limits) {
        return Ok(p.clone());
    }
    let plugin = Arc::new(load(source, limits.clone())?);
    loaded.push((source.clone(), limits.clone(), plugin.clone()));
    Ok(plugin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_knows_exactly_the_embedded_builtins() {
        assert_eq!(
            popline_builtin::names().collect::<Vec<_>>(),
            popline_config::BUILTIN_PLUGINS
        );
        for name in popline_config::BUILTIN_PLUGINS {
            let s = source(&PluginRef::Builtin(name.to_string()));
            assert_eq!(s.to_string(), format!("builtin:{name}"));
            assert_eq!(s.name(), name.replace('-', "_"));
        }
    }
}
