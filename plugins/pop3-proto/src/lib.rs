//! POP3 response parsing and dialogue decisions for popline's POP3 plugins.
//!
//! Everything here is pure: no I/O and no host. The SDK's dialogue defaults
//! (`popline-plugin`'s `Pop3Dialogue`, which the `pop3-standard` guest uses
//! unchanged) feed it the lines and bodies they read through the host's
//! connection and act on the results, so the protocol logic can be tested
//! natively.

mod capa;
mod error;
mod lines;
mod listing;
mod mechanism;
mod pipeline;
mod status;

pub use capa::Capabilities;
pub use error::{Error, ErrorKind, quote_line};
pub use listing::{Listing, Listings, join_listings, parse_list, parse_uidl};
pub use mechanism::{CredentialKind, Mechanism, choose_mechanism};
pub use pipeline::{PIPELINE_WINDOW, Window};
pub use status::{ErrResponse, ResponseCode, Status};
