#!/usr/bin/env bash
# `just demo`: a local Dovecot seeded with sample beta-tester replies, one
# `popline once` pass with the reference plugins, and the resulting records.
# Runs as any user (Dovecot then runs as that user). As root with Postfix
# (installed here if missing), one more reply matches nothing, and the demo
# shows the notice Postfix delivered to its sender.
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

smtp=
if [ "$(id -u)" = 0 ]; then
  if [ ! -x /usr/sbin/postfix ]; then
    echo "== installing Postfix (for the notice to a tester)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
  fi
  smtp=--smtp
else
  echo "(not root: Postfix needs root, so this demo sends no notice to a tester; the rest runs as $(id -un))"
fi

cargo build --quiet -p popline -p popline-testkit
demo=target/demo
rm -rf "$demo" && mkdir -p "$demo"

target/debug/popline-testkit dovecot --seed demo $smtp --state "$demo/dovecot.toml" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -f "$demo/dovecot.toml" ] && break; sleep 0.1; done
[ -f "$demo/dovecot.toml" ] || { echo "Dovecot did not start" >&2; exit 1; }

val() { sed -n "s/^$1 = \"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$demo/dovecot.toml"; }
printf '%s\n' "$(val password)" > "$demo/password"
chmod 600 "$demo/password"
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
dialogue = "builtin:pop3-standard"
mapper = { plugin = "builtin:feedback-default", config = { message-id-pattern = "feedback-{id}@notify.beta.example.com" } }
sinks = ["feedback"]
retention = "delete"
TOML
if [ -n "$smtp" ]; then
  cat >> "$demo/popline.toml" <<TOML
notices = { via = "demo", on = ["no-match", "dead-letter", "expired-token", "oversize"] }

[notices.demo]
host = "127.0.0.1"
port = $(val smtp_port)
ca_file = "$(val smtp_ca_pem)"
from = "Lumen Beta <$(val user)>"
password = { file = "password" }
TOML
fi

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
if [ -n "$smtp" ]; then
  maildir="$(val notices_maildir)"
  for _ in $(seq 100); do ls "$maildir"/new/* >/dev/null 2>&1 && break; sleep 0.1; done
  echo
  echo "== the notice Postfix delivered to the tester whose reply matched nothing ($maildir)"
  notice=$(ls "$maildir"/new/* 2>/dev/null | head -1)
  [ -n "$notice" ] || { echo "no notice delivered" >&2; exit 1; }
  grep -v -E '^(Received|Return-Path|Delivered-To):|^\s' "$notice" | sed -n '1,/^$/p'
  python3 - "$notice" <<'PY'
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
print(m.get_body(("plain",)).get_content())
PY
fi
