//! # popline-plugin: the SDK for popline plugins
//!
//! popline runs two kinds of sandboxed WebAssembly plugins, defined by the WIT
//! package `popline:plugin@0.1.0` (the repository's `wit/` folder):
//!
//! - a **mapper** (world `feedback-mapper`) turns one parsed email into
//!   feedback records or a skip: implement [`Mapper`], then
//!   [`export_mapper!`];
//! - a **POP3 dialogue** (world `pop3-dialogue`) speaks the POP3 protocol over
//!   a connection the host lends it: implement [`Pop3Dialogue`] (every method
//!   has a working default), then [`export_pop3_dialogue!`].
//!
//! The bindings are generated from the repository's `wit/` folder itself (not
//! a copy), so the SDK always matches the contract of the host it was checked
//! out with. [`WIT_VERSION`] is the contract version plugins built with this
//! SDK declare; the host refuses incompatible versions on load.
//!
//! Logging goes through the [`log`] crate: the export macros install a
//! [`log::Log`] implementation that forwards every record to the host, which
//! prints it tagged with the plugin's name (`POPLINE_LOG=plugin=debug`).
//!
//! A complete mapper:
//!
//! ```no_run
//! use popline_plugin::{Config, Context, Email, Feedback, Mapper, Outcome};
//!
//! struct Upper;
//!
//! impl Mapper for Upper {
//!     fn map(email: &Email, _ctx: &Context, config: &Config) -> Result<Outcome, String> {
//!         let Some(author) = email.sender() else {
//!             return Ok(Outcome::skip("no From address"));
//!         };
//!         let prefix = config.get_or("prefix", "");
//!         let body = format!("{prefix}{}", email.text().to_uppercase());
//!         popline_plugin::log::debug!("mapped {} bytes", body.len());
//!         Ok(Feedback::new(author.clone(), body).from_email(email).into())
//!     }
//! }
//!
//! popline_plugin::export_mapper!(Upper);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release` or
//! `cargo component build --release`, then try it with
//! `popline map some.eml --mapper target/.../my_plugin.wasm`.

#![warn(missing_docs)]

mod logger;
pub mod mapper;
pub mod pop3;

pub use log;

pub use logger::init_logger;
pub use mapper::{
    Address, Attachment, Config, Context, Email, Feedback, FeedbackKind, Header, Mapper, MatchInfo,
    Outcome,
};
pub use pop3::Pop3Dialogue;

/// The `popline:plugin` contract version this SDK builds plugins against.
pub const WIT_VERSION: &str = "0.1.0";

/// The raw wit-bindgen bindings, one module per world. Prefer the typed
/// re-exports at the crate root; these are here for what the SDK does not
/// wrap.
pub mod bindings {
    /// The `feedback-mapper` world.
    #[allow(missing_docs)]
    pub mod mapper {
        wit_bindgen::generate!({
            path: "../../wit",
            world: "feedback-mapper",
            pub_export_macro: true,
            export_macro_name: "export_feedback_mapper",
            // So mappers' native tests can compare records.
            additional_derives: [PartialEq, Eq],
        });
    }

    /// The `pop3-dialogue` world.
    #[allow(missing_docs)]
    pub mod dialogue {
        wit_bindgen::generate!({
            path: "../../wit",
            world: "pop3-dialogue",
            pub_export_macro: true,
            export_macro_name: "export_pop3_dialogue",
            // One `log` binding for both worlds (same import).
            with: { "popline:plugin/log@0.1.0": crate::bindings::mapper::popline::plugin::log },
        });
    }
}

/// Export a [`Mapper`] implementation as the plugin's `popline:plugin/mapper`.
///
/// Use it once, at the top level of the plugin crate (a `cdylib`):
/// `popline_plugin::export_mapper!(MyMapper);`. It also installs the
/// [`log`] facade before each call.
#[macro_export]
macro_rules! export_mapper {
    ($ty:ty) => {
        const _: () = {
            type __PoplineMapperExport = $crate::mapper::Export<$ty>;
            $crate::bindings::mapper::export_feedback_mapper!(
                __PoplineMapperExport with_types_in $crate::bindings::mapper
            );
        };
    };
}

/// Export a [`Pop3Dialogue`] implementation as the plugin's
/// `popline:plugin/dialogue`.
///
/// Use it once, at the top level of the plugin crate (a `cdylib`):
/// `popline_plugin::export_pop3_dialogue!(MyDialogue);`. It also installs the
/// [`log`] facade before each call.
#[macro_export]
macro_rules! export_pop3_dialogue {
    ($ty:ty) => {
        const _: () = {
            type __PoplineDialogueExport = $crate::pop3::Export<$ty>;
            $crate::bindings::dialogue::export_pop3_dialogue!(
                __PoplineDialogueExport with_types_in $crate::bindings::dialogue
            );
        };
    };
}
