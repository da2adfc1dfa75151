//! Link settings for the WebAssembly build. Rust's wasm targets put the
//! shadow stack first (1 MiB) and start the heap at the end of the initial
//! memory, so every message's first allocation grew the memory: a
//! `memory.grow`, which the host pays for again (an `mprotect` pair) when it
//! reuses the instance's slot. An initial memory of 21 pages (the stack,
//! the ~40 KiB of static data, and 256 KiB of heap) holds a typical
//! message's work without growing; the benchmark mailbox's largest took
//! 160 KiB of heap. The stack keeps its default size, so a deeply nested
//! message has as much room as before.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg=--initial-memory={}", 21 * 65536);
    }
}
