# popline task runner. `just --list` shows every recipe.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Guest crates built for wasm32-wasip2.
guests := "-p pop3-standard -p feedback-default -p test-mapper -p hostile-dialogue -p sdk-dialogue"
wasm := "target/wasm32-wasip2/plugin"

default:
    @just --list

# Build the plugins (WebAssembly components) with plain cargo.
plugins:
    cargo build --target wasm32-wasip2 --profile plugin {{guests}}

# The demo: a local Dovecot with sample beta-tester replies, one `popline once`, the records.
demo:
    scripts/demo.sh

# Map the sample .eml files with the reference mapper (no server needed).
demo-map:
    cargo build --quiet --bin popline
    target/debug/popline map examples/mail/*.eml --mapper builtin:feedback-default --set message-id-pattern='feedback-{id}@notify.beta.example.com'

# Install popline (with its reference plugins and plugin SDK compiled in) into ~/.cargo/bin.
install:
    cargo install --locked --path host/popline

# The Debian package (release build): target/debian/popline_VERSION_ARCH.deb.
deb:
    scripts/deb.sh

# Everything CI checks: the plugins, then the whole test suite.
test: plugins
    cargo test

# The reference mapper on the labelled corpus (corpus/): exact trimmed text, match accuracy, skip precision/recall.
quality:
    cargo test --test all quality -- --nocapture

# The reference mapper on public fixture sets kept outside the repository (one folder per source in DIR):
# exact-trim rate and containment checks per source, development and check halves; see tests/all/quality_external.rs.
# POPLINE_EXTERNAL_SHOW=unlabelled-dev lists the mapper's output for unlabelled development-half files.
quality-external dir:
    POPLINE_EXTERNAL_DIR="$(realpath '{{dir}}')" cargo test --test all quality_external -- --ignored --nocapture

# The reference plugins also build with cargo-component (what plugin authors use).
component-check:
    cargo component build --profile plugin -p pop3-standard -p feedback-default
    cargo build --quiet --bin popline
    for p in pop3_standard feedback_default; do target/debug/popline plugin inspect target/wasm32-wasip1/plugin/$p.wasm; done
    target/debug/popline map examples/mail/gmail-reply.eml --mapper target/wasm32-wasip1/plugin/feedback_default.wasm
    # A freshly scaffolded plugin builds with cargo-component and maps its sample.
    rm -rf target/scaffold-check
    target/debug/popline plugin new check-mapper --kind mapper --dir target/scaffold-check
    cd target/scaffold-check && CARGO_TARGET_DIR=../scaffold cargo component build --release
    target/debug/popline map target/scaffold-check/sample.eml --mapper target/scaffold/wasm32-wasip1/release/check_mapper.wasm | tee target/scaffold-check/out.jsonl
    grep -q '"target":"FB-42"' target/scaffold-check/out.jsonl

# Benchmarks (criterion): instantiate + map one message.
bench: plugins
    cargo bench --bench plugin

# Ingestion benchmark: popline once vs mpop on 2,000 messages, loopback and +20 ms RTT; then where the time goes (--timings).
bench-ingest:
    scripts/bench-ingest.sh

# Known vulnerabilities and unmaintained crates in Cargo.lock (cargo-audit).
# The advisory database: $POPLINE_ADVISORY_DB (a copy of github.com/rustsec/advisory-db), else fetched.
audit:
    #!/usr/bin/env bash
    set -euo pipefail
    db="${POPLINE_ADVISORY_DB:-}"
    if [ -z "$db" ] && [ -d ../shared/advisory-db ]; then db=../shared/advisory-db; fi
    if [ -n "$db" ]; then exec cargo audit --db "$db" --no-fetch -D warnings; fi
    if timeout 20 git ls-remote https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
        exec cargo audit -D warnings
    fi
    echo "audit: NOT RUN: no advisory database here and github.com unreachable; set POPLINE_ADVISORY_DB to a copy of github.com/rustsec/advisory-db"

# Fleet benchmark: 1,000 mailboxes over 1, 2 and 3 `popline run` hosts on PostgreSQL (release build).
# POPLINE_BENCH_MAILBOXES and POPLINE_BENCH_PER_MAILBOX change the size.
bench-fleet: plugins
    cargo test --release --test all bench_fleet -- --ignored --nocapture

# Regenerate the config reference and JSON Schema from the config structs.
docs:
    cargo build --quiet --bin popline
    target/debug/popline config reference > docs/config-reference.md
    target/debug/popline config schema > schema/popline-config.schema.json

# fmt + clippy for host and guests.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings
    cargo clippy --target wasm32-wasip2 {{guests}} -- -D warnings

# Needs nightly and `cargo install cargo-fuzz --locked`; ARGS go to `cargo fuzz run` (e.g. `-s none`).
# Fuzz the parsers (pop3_status, multiline, mime, config) for SECS seconds each, then replay fuzz/regressions.
fuzz secs="60" *args="":
    #!/usr/bin/env bash
    set -euo pipefail
    cd fuzz
    for t in pop3_status multiline mime config; do
        mkdir -p "corpus/$t"
        cargo +nightly fuzz run {{args}} "$t" "corpus/$t" "seeds/$t" -- -max_total_time={{secs}}
        if [ -d "regressions/$t" ]; then
            cargo +nightly fuzz run {{args}} "$t" "regressions/$t" -- -runs=0
        fi
    done

# ARGS go to cargo, e.g. `just load --release`.
# Load test: 200 mailboxes polled concurrently by one `popline once`; prints peak RSS and messages/s.
load *args="":
    cargo test {{args}} --test all load:: -- --ignored --nocapture
