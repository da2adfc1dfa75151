//! Reference POP3 dialogue plugin: RFC 1939 with CAPA (RFC 2449), STLS, SASL
//! logins performed by the host, and pipelining where the server allows it.
//!
//! It is the `popline-plugin` SDK's [`Pop3Dialogue`] with every default: the
//! SDK drives the dialogue (pipelining through `pop3_proto::Window`, mechanism
//! choice by `pop3_proto::choose_mechanism`), and `pop3-proto` does all
//! parsing. A dialogue for a server that needs one step done differently
//! overrides that method and keeps the rest.

use popline_plugin::Pop3Dialogue;

struct Standard;

impl Pop3Dialogue for Standard {}

popline_plugin::export_pop3_dialogue!(Standard);
