#!/usr/bin/env bash
# `just demo`: a local Dovecot seeded with sample beta-tester replies, one
# `popline once` pass with the reference plugins, and the resulting records.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing Dovecot (dovecot-core dovecot-pop3d)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-core dovecot-pop3d >/dev/null
  else
    echo "The demo needs Dovecot: sudo apt-get install dovecot-core dovecot-pop3d" >&2
    exit 1
  fi
fi

cargo build --quiet -p popline -p popline-testkit
demo=target/demo
rm -rf "$demo" && mkdir -p "$demo"

target/debug/popline-testkit dovecot --seed demo --state "$demo/dovecot.toml" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -f "$demo/dovecot.toml" ] && break; sleep 0.1; done
[ -f "$demo/dovecot.toml" ] || { echo "Dovecot did not start" >&2; exit 1; }

val() { sed -n "s/^$1 = \"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$demo/dovecot.toml"; }
printf '%s\n' "$(val password)" > "$demo/password"
chmod 600 "$demo/password"
wasm="$PWD/target/wasm32-wasip2/plugin"
cat > "$demo/popline.toml" <<TOML
[state]
path = "state.db"

[sinks.feedback]
type = "jsonl"
path = "feedback.jsonl"

[mailboxes.beta]
host = "localhost"
port = $(val tls_port)
tls = "implicit"
ca_file = "$(val ca_pem)"
user = "$(val user)"
password = { file = "password" }
dialogue = "$wasm/pop3_standard.wasm"
mapper = { plugin = "$wasm/feedback_default.wasm", config = { message-id-pattern = "feedback-{id}@notify.beta.example.com" } }
sinks = ["feedback"]
retention = "delete"
TOML

echo "== config ($demo/popline.toml)"
cat "$demo/popline.toml"
echo
echo "== popline once"
target/debug/popline --config "$demo/popline.toml" once
echo
echo "== feedback records ($demo/feedback.jsonl)"
python3 - "$demo/feedback.jsonl" <<'PY'
import json, sys, textwrap
for line in open(sys.argv[1]):
    r = json.loads(line)
    m = r.get("match") or {}
    print(f"- item {r['target']!s:8} via {m.get('method', '-'):13} from {r['author']['address']}")
    print(textwrap.indent(textwrap.shorten(r["body_text"], 160), "    "))
PY
