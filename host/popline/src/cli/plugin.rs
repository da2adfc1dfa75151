//! `popline plugin ...`: inspect plugin files, scaffold new plugins.

use std::process::ExitCode;

use clap::Subcommand;

use popline_config::PluginRef;

use popline_plugin_runtime::inspect::{self, compatible};
use popline_plugin_runtime::{Engine, WIT_PACKAGE, WIT_VERSION};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Show a plugin's world, contract version, imports and exports.
    Inspect {
        /// The plugin: a .wasm component or a builtin (`builtin:pop3-standard`,
        /// `builtin:feedback-default`).
        #[arg(value_name = "PLUGIN")]
        plugin: PluginRef,
    },
    /// Write a ready-to-build plugin project: Rust on the popline-plugin SDK
    /// (or Python for componentize-py), with a README, a sample .eml and a test.
    New(super::scaffold::NewArgs),
}

pub fn run(engine: &Engine, cmd: PluginCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::New(args) => {
            super::scaffold::run(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Inspect { plugin } => {
            let i = inspect::inspect_file(engine, popline_ingest::plugins::source(&plugin))?;
            println!("plugin:  {plugin}");
            match (&i.world, &i.version) {
                (Some(w), Some(v)) => {
                    let ok = if compatible(v, WIT_VERSION) {
                        "loads in this host"
                    } else {
                        "NOT compatible with this host"
                    };
                    println!("world:   {w}");
                    println!("version: {WIT_PACKAGE}@{v} ({ok}, which implements {WIT_VERSION})");
                }
                _ => println!("world:   none of popline's (not a popline plugin)"),
            }
            println!("imports:");
            for name in &i.imports {
                println!("  {name}");
            }
            println!("exports:");
            for (name, funcs) in &i.exports {
                println!("  {name}");
                for f in funcs {
                    println!("    {f}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
