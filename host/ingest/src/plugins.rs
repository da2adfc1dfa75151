//! Plugins loaded once per file and limits, shared by every pipeline that
//! names them: a fleet host with 1,000 mailboxes holds one compiled copy of
//! each plugin, not 1,000.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use popline_plugin_runtime::{DialoguePlugin, Engine, Limits, MapperPlugin, PluginError};

/// The plugins loaded so far, by path and limits (a plugin carries its
/// limits, so the same file with other limits is another plugin).
#[derive(Default)]
pub struct LoadedPlugins {
    dialogues: Vec<(PathBuf, Limits, Arc<DialoguePlugin>)>,
    mappers: Vec<(PathBuf, Limits, Arc<MapperPlugin>)>,
}

impl LoadedPlugins {
    /// The dialogue plugin at `path` with `limits`, loaded on first use.
    pub fn dialogue(
        &mut self,
        engine: &Engine,
        path: &Path,
        limits: &Limits,
    ) -> Result<Arc<DialoguePlugin>, PluginError> {
        shared(&mut self.dialogues, path, limits, |p, l| {
            DialoguePlugin::load(engine, p, l)
        })
    }

    /// The mapper plugin at `path` with `limits`, loaded on first use.
    pub fn mapper(
        &mut self,
        engine: &Engine,
        path: &Path,
        limits: &Limits,
    ) -> Result<Arc<MapperPlugin>, PluginError> {
        shared(&mut self.mappers, path, limits, |p, l| {
            MapperPlugin::load(engine, p, l)
        })
    }
}

fn shared<P>(
    loaded: &mut Vec<(PathBuf, Limits, Arc<P>)>,
    path: &Path,
    limits: &Limits,
    load: impl FnOnce(&Path, Limits) -> Result<P, PluginError>,
) -> Result<Arc<P>, PluginError> {
    if let Some((_, _, p)) = loaded.iter().find(|(p, l, _)| p == path && l == limits) {
        return Ok(p.clone());
    }
    let plugin = Arc::new(load(path, limits.clone())?);
    loaded.push((path.to_path_buf(), limits.clone(), plugin.clone()));
    Ok(plugin)
}
