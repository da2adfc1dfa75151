//! Link settings for the WebAssembly build. Rust's wasm targets put the
//! shadow stack first (1 MiB by default) and start the heap at the end of
//! the initial memory, so every message's first allocation grew the memory
//! (a `memory.grow`, which the host pays for again when it resets the
//! instance). The shadow stack holds only address-taken locals: mapping the
//! benchmark mailbox touches one 4 KiB page of it. A 256 KiB stack leaves
//! the rest of the same 17 pages (1088 KiB) of initial memory to the heap,
//! enough for a typical message without growing. An overflow still traps
//! (below address 0), failing only that message.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg=-zstack-size=262144");
        println!("cargo:rustc-link-arg=--initial-memory=1114112");
    }
}
