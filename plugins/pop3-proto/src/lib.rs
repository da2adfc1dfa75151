//! POP3 response parsing and dialogue decisions for popline's POP3 plugins.
//!
//! Everything here is pure: no I/O and no host. The `pop3-standard` guest
//! component feeds it the lines and bodies it reads through the host's
//! connection and acts on the results, so the protocol logic can be tested
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
