//! The `feedback-mapper` world: one fresh instance per message.

use popline_core::timing::{self, Stage};
use std::sync::Arc;

use popline_core::text::{MAX_PLUGIN_TEXT, truncate_marked};
use wasmtime::component::{HasSelf, Linker};

use super::error::{Limit, PluginError};
use super::state::{CallReport, Level, PluginState};
use super::{Engine, Limits, PluginSource, inspect};

pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "feedback-mapper",
        imports: { default: trappable },
        exports: { default: async },
    });
}

/// The mapper's input and output types, as generated from the WIT.
pub mod wit {
    pub use super::bindings::popline::plugin::mail::*;
}

pub use bindings::popline::plugin::log;
use bindings::popline::plugin::{attachments, mail};

/// Per-instance data: the decoded attachment bytes of the message being mapped.
pub(crate) struct MapperExt {
    attachments: Arc<Vec<popline_core::spool::Spooled>>,
}

type State = PluginState<MapperExt>;

/// A loaded, type-checked mapper plugin. Cheap to share across tasks.
pub struct MapperPlugin {
    engine: Engine,
    pre: bindings::FeedbackMapperPre<State>,
    name: Arc<str>,
    digest: String,
    limits: Limits,
}

/// What a mapper made of one message.
#[derive(Debug, Clone)]
pub enum MapOutcome {
    Feedback(Vec<wit::Feedback>),
    Skip(String),
}

/// One message as the mapper receives it.
pub struct MapperInput<'a> {
    pub email: &'a wit::Email,
    pub attachments: Arc<Vec<popline_core::spool::Spooled>>,
    pub context: &'a wit::Context,
    pub config: &'a [(String, String)],
}

impl MapperPlugin {
    /// Load a mapper: compile (or take from cache), check its WIT version and
    /// world, and link it against an empty sandbox.
    pub fn load(
        engine: &Engine,
        source: impl Into<PluginSource>,
        limits: Limits,
    ) -> Result<MapperPlugin, PluginError> {
        let (component, name, digest) = engine.load_component(&source.into())?;
        inspect::check_world(engine, &component, &name, inspect::WorldKind::Mapper)?;
        let mut linker = Linker::<State>::new(engine.wasmtime());
        let incompatible = |e: wasmtime::Error| PluginError::Incompatible {
            plugin: name.clone(),
            reason: format!("{e:#}"),
        };
        super::sandbox::link_wasi(engine.wasmtime(), &mut linker, &component)
            .map_err(incompatible)?;
        bindings::FeedbackMapper::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(incompatible)?;
        let pre = linker.instantiate_pre(&component).map_err(incompatible)?;
        let pre = bindings::FeedbackMapperPre::new(pre).map_err(incompatible)?;
        Ok(MapperPlugin {
            engine: engine.clone(),
            pre,
            name: name.into(),
            digest,
            limits,
        })
    }

    /// The plugin's name (file stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// SHA-256 of the plugin's .wasm: the exact version that ran.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Map one message in a fresh instance; a trap or limit ends only this call.
    pub async fn map(&self, input: MapperInput<'_>) -> Result<MapOutcome, PluginError> {
        self.map_reported(input, false).await.0
    }

    /// [`Self::map`], and what the call cost (CPU, memory) and, with
    /// `capture_logs`, the guest's log lines: for plugin authors.
    pub async fn map_reported(
        &self,
        input: MapperInput<'_>,
        capture_logs: bool,
    ) -> (Result<MapOutcome, PluginError>, CallReport) {
        let ext = MapperExt {
            attachments: input.attachments,
        };
        let mut store = State::new_store(
            self.engine.wasmtime(),
            self.name.clone(),
            &self.limits,
            inspect::WorldKind::Mapper,
            ext,
        );
        if capture_logs {
            store.data_mut().capture_logs();
        }
        store.data_mut().start_call();
        let started = std::time::Instant::now();
        let result = async {
            let inst = timing::measure(
                Stage::MapperInstantiate,
                self.pre.instantiate_async(&mut store),
            )
            .await?;
            popline_core::failpoint::hit("in-mapper");
            let call = inst.popline_plugin_mapper().call_handle(
                &mut store,
                input.email,
                input.context,
                input.config,
            );
            timing::measure(Stage::MapperCall, call).await
        }
        .await;
        popline_metrics::record_call(&self.name, started.elapsed());
        let report = store.data().report();
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                return (Err(store.data().error(e)), report);
            }
        };
        (self.check_output(input.email, out), report)
    }

    /// The guest's answer, checked against the output limit and validated.
    fn check_output(
        &self,
        email: &wit::Email,
        out: Result<wit::Outcome, String>,
    ) -> Result<MapOutcome, PluginError> {
        match out {
            // Bounded: the text goes into logs, state and dead letters.
            Err(message) => Err(PluginError::Returned {
                plugin: self.name.to_string(),
                message: truncate_marked(message, MAX_PLUGIN_TEXT),
            }),
            Ok(outcome) => {
                let size = outcome_size(&outcome);
                let max = self.limits.output_bytes(inspect::WorldKind::Mapper);
                if size > max {
                    return Err(PluginError::LimitExceeded {
                        plugin: self.name.to_string(),
                        limit: Limit::Output(max),
                        stderr: String::new(),
                    });
                }
                let outcome = match outcome {
                    wit::Outcome::Feedback(f) => MapOutcome::Feedback(f),
                    wit::Outcome::Skip(reason) => {
                        MapOutcome::Skip(truncate_marked(reason, MAX_PLUGIN_TEXT))
                    }
                };
                validate(&self.name, email, &outcome)?;
                Ok(outcome)
            }
        }
    }
}

/// Reject output the host cannot turn into records.
fn validate(plugin: &str, email: &wit::Email, outcome: &MapOutcome) -> Result<(), PluginError> {
    let invalid = |reason: String| PluginError::InvalidOutput {
        plugin: plugin.to_string(),
        reason,
    };
    if let MapOutcome::Feedback(records) = outcome {
        if records.is_empty() {
            return Err(invalid(
                "an empty feedback list; return a skip with a reason instead".into(),
            ));
        }
        for (i, r) in records.iter().enumerate() {
            if let Some(&bad) = r
                .attachments
                .iter()
                .find(|&&a| a as usize >= email.attachments.len())
            {
                return Err(invalid(format!(
                    "record {i} references attachment {bad}, but the message has {}",
                    email.attachments.len()
                )));
            }
        }
    }
    Ok(())
}

/// Bytes of text in a mapper's output, the measure the output limit applies to.
fn outcome_size(o: &wit::Outcome) -> u64 {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let n = match o {
        wit::Outcome::Skip(r) => r.len(),
        wit::Outcome::Feedback(list) => list
            .iter()
            .map(|f| {
                opt(&f.target)
                    + opt(&f.author.name)
                    + f.author.address.len()
                    + opt(&f.subject)
                    + f.body_text.len()
                    + opt(&f.body_html)
                    + opt(&f.elided_text)
                    + f.attachments.len() * 4
                    + opt(&f.received_at)
                    + opt(&f.source_message_id)
                    + f.match_
                        .as_ref()
                        .map_or(0, |m| m.method.len() + m.value.len())
                    + f.fields
                        .iter()
                        .map(|(k, v)| k.len() + v.len())
                        .sum::<usize>()
            })
            .sum(),
    };
    n as u64
}

impl<X: Send + 'static> log::Host for PluginState<X> {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        PluginState::log(self, level.into(), &message);
        Ok(())
    }
}

impl From<log::Level> for Level {
    fn from(l: log::Level) -> Level {
        match l {
            log::Level::Trace => Level::Trace,
            log::Level::Debug => Level::Debug,
            log::Level::Info => Level::Info,
            log::Level::Warn => Level::Warn,
            log::Level::Error => Level::Error,
        }
    }
}

impl mail::Host for State {}

impl attachments::Host for State {
    fn read(
        &mut self,
        index: u32,
        offset: u64,
        len: u32,
    ) -> wasmtime::Result<Result<Vec<u8>, String>> {
        let Some(bytes) = self.ext.attachments.get(index as usize) else {
            return Ok(Err(format!(
                "no attachment {index}; the message has {}",
                self.ext.attachments.len()
            )));
        };
        let start = (offset as usize).min(bytes.len());
        let end = start.saturating_add(len as usize).min(bytes.len());
        Ok(Ok(bytes[start..end].to_vec()))
    }
}
