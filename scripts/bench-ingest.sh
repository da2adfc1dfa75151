#!/usr/bin/env bash
# `just bench-ingest`: 2,000 mixed messages in a local Dovecot; time
# `popline once` (keep mode: fetch, parse, map, commit) against Debian's mpop
# (fetch into a maildir) over the same TLS port, on loopback and through a
# 20 ms round-trip delay proxy. Prints medians of 3 runs and the ratios.
#
# BASELINE=DIR also times another popline on the same mailbox in the same run
# (DIR holds its `popline`, `pop3_standard.wasm` and `feedback_default.wasm`,
# e.g. a release build of an older commit) and prints this one's ratio to it.
#
# Then CPU per message and peak RSS of one `popline once` (getrusage of the
# child), and peak RSS on 100-, 1,000- and 10,000-message mailboxes, with
# popline's malloc settings and with glibc's own arena limit (generated at
# run time, never stored). RSS=0 skips that last part.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
RUNS=${RUNS:-3}
command -v mpop >/dev/null || { echo "needs mpop: apt-get install mpop" >&2; exit 1; }

cargo build --quiet --release -p popline -p popline-testkit
cargo build --quiet --target wasm32-wasip2 --profile plugin -p pop3-standard -p feedback-default
bin=target/release
work=target/bench-ingest
rm -rf "$work" && mkdir -p "$work"

$bin/popline-testkit dovecot --seed "bench:$N" --state "$work/dovecot.toml" > "$work/dovecot.out" &
server=$!
proxy=
cleanup() { kill $server $proxy 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 600); do [ -f "$work/dovecot.toml" ] && break; sleep 0.1; done
val() { sed -n "s/^$1 = \"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$work/dovecot.toml"; }
tls_port=$(val tls_port); ca=$(val ca_pem); user=$(val user)
printf '%s\n' "$(val password)" > "$work/password"
echo "mailbox: $(val messages) messages, $(( $(val bytes) / 1048576 )) MiB"

delay_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$bin/delay-proxy "$delay_port" "$tls_port" 10 > /dev/null &
proxy=$!
sleep 0.3

wasm="$PWD/target/wasm32-wasip2/plugin"
config() { # $1 = port, $2 = dir, [$3 = plugin folder]; $WORKERS sets workers
  local plugins=${3:-$wasm}
  mkdir -p "$2"
  cat > "$2/popline.toml" <<TOML
${WORKERS:+workers = $WORKERS}
[state]
path = "state.db"
[plugins]
cache_dir = "$PWD/$work/cache"
[sinks.out]
type = "jsonl"
path = "feedback.jsonl"
[mailboxes.bench]
host = "localhost"
port = $1
ca_file = "$ca"
user = "$user"
password = { file = "$PWD/$work/password" }
dialogue = "$plugins/pop3_standard.wasm"
mapper = { plugin = "$plugins/feedback_default.wasm", config = { unmatched = "new" } }
sinks = ["out"]
retention = "keep"
batch_size = 100
TOML
}
mpoprc() { # $1 = port, $2 = file, $3 = pipelining on|off
  cat > "$2" <<RC
defaults
tls on
tls_starttls off
tls_trust_file $ca
tls_host_override localhost
auth user
keep on
only_new off
pipelining $3
received_header off
account bench
host 127.0.0.1
port $1
user $user
passwordeval "cat $PWD/$work/password"
delivery maildir $PWD/$work/maildir
RC
  chmod 600 "$2"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
# Run a command; print "<user+sys CPU seconds> <peak RSS KiB>" of it. Its
# stdout goes to $work/usage.out.
usage() { python3 -c 'import resource,subprocess,sys
subprocess.run(sys.argv[2:], check=True, stdout=open(sys.argv[1], "w"))
r=resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime+r.ru_stime, r.ru_maxrss)' "$work/usage.out" "$@"; }

time_popline() { # $1 = port, [$2 = popline binary, $3 = plugin folder]
  local popline=${2:-$bin/popline}
  for i in $(seq "$RUNS"); do
    rm -rf "$work/p"; config "$1" "$work/p" "${3:-}"
    local s=$(now)
    $popline --log warn --config "$work/p/popline.toml" once > "$work/p/out.txt"
    local e=$(now)
    awk -v a="$s" -v b="$e" 'BEGIN{print b-a}'
  done | median
}
time_bare() { # $1 = port: the server's bound (scripts/bare-reader.py)
  for i in $(seq "$RUNS"); do
    local s=$(now)
    python3 scripts/bare-reader.py 127.0.0.1 "$1" "$ca" "$user" "$work/password" "$(val messages)" > /dev/null
    local e=$(now)
    awk -v a="$s" -v b="$e" 'BEGIN{print b-a}'
  done | median
}
time_mpop() { # $1 = port, $2 = pipelining
  mpoprc "$1" "$work/mpoprc" "$2"
  for i in $(seq "$RUNS"); do
    rm -rf "$work/maildir"; mkdir -p "$work/maildir"/{new,cur,tmp}
    local s=$(now)
    mpop -q -C "$work/mpoprc" bench > /dev/null
    local e=$(now)
    awk -v a="$s" -v b="$e" 'BEGIN{print b-a}'
  done | median
}

# Warm the compiled-plugin cache so popline's figures are steady-state.
config "$tls_port" "$work/warm"; $bin/popline --log warn --config "$work/warm/popline.toml" check > /dev/null

p_loop=$(time_popline "$tls_port")
cat "$work/p/out.txt"
p_loop_1=$(WORKERS=1 time_popline "$tls_port")
m_loop=$(time_mpop "$tls_port" on)
m_loop_np=$(time_mpop "$tls_port" off)
p_delay=$(time_popline "$delay_port")
m_delay=$(time_mpop "$delay_port" on)
b_loop=$(time_bare "$tls_port")
b_delay=$(time_bare "$delay_port")
if [ -n "${BASELINE:-}" ]; then
  base=$(cd "$BASELINE" && pwd)
  config "$tls_port" "$work/warm-base" "$base"
  "$base/popline" --log warn --config "$work/warm-base/popline.toml" check > /dev/null
  base_loop=$(time_popline "$tls_port" "$base/popline" "$base")
  base_delay=$(time_popline "$delay_port" "$base/popline" "$base")
fi

printf '\n%-44s %8s\n' "run (median of $RUNS)" "seconds"
printf '%-44s %8.2f\n' "popline once, loopback TLS" "$p_loop"
printf '%-44s %8.2f\n' "popline once, workers = 1, loopback TLS" "$p_loop_1"
printf '%-44s %8.2f\n' "mpop pipelined, loopback TLS" "$m_loop"
printf '%-44s %8.2f\n' "mpop not pipelined, loopback TLS" "$m_loop_np"
printf '%-44s %8.2f\n' "popline once, +20 ms RTT" "$p_delay"
printf '%-44s %8.2f\n' "mpop pipelined, +20 ms RTT" "$m_delay"
printf '%-44s %8.2f\n' "bare pipelined reader, loopback TLS" "$b_loop"
printf '%-44s %8.2f\n' "bare pipelined reader, +20 ms RTT" "$b_delay"
awk -v a="$p_loop" -v b="$p_loop_1" -v n="$(nproc)" \
  'BEGIN{printf "\nworkers = cores (%d) / workers = 1: %.2f\n", n, a/b}'
awk -v a="$p_loop" -v b="$m_loop" -v c="$p_delay" -v d="$m_delay" \
  'BEGIN{printf "popline / mpop: loopback %.2f, +20 ms RTT %.2f\n", a/b, c/d}'
awk -v a="$p_loop" -v b="$b_loop" -v c="$p_delay" -v d="$b_delay" \
  'BEGIN{printf "popline / bare reader (the server bound): loopback %.2f, +20 ms RTT %.2f\n", a/b, c/d}'
if [ -n "${BASELINE:-}" ]; then
  printf '%-44s %8.2f\n' "baseline popline once, loopback TLS" "$base_loop"
  printf '%-44s %8.2f\n' "baseline popline once, +20 ms RTT" "$base_delay"
  awk -v a="$p_loop" -v b="$base_loop" -v c="$p_delay" -v d="$base_delay" \
    'BEGIN{printf "popline / baseline: loopback %.2f, +20 ms RTT %.2f\n", a/b, c/d}'
fi

# CPU per message and peak memory of one loopback run.
rm -rf "$work/u"; config "$tls_port" "$work/u"
read -r cpu rss < <(usage $bin/popline --log warn --config "$work/u/popline.toml" once)
awk -v c="$cpu" -v n="$(val messages)" -v r="$rss" \
  'BEGIN{printf "\nCPU per message (whole process, once): %.3f ms (bound 0.4 ms: %.2f× it); peak RSS %d MiB\n", c*1000/n, c*1000/n/0.4, r/1024}'

if [ "${RSS:-1}" != 0 ]; then
  # Peak RSS against mailbox size: 100, 1,000 and 10,000 messages, each its
  # own Dovecot. 100 messages are one batch; from 1,000 on the pipeline reads
  # the next batch while the last is mapped, so 10,000 / 1,000 shows whether
  # memory grows with the mailbox.
  for n in 100 1000 10000; do
    $bin/popline-testkit dovecot --seed "bench:$n" --state "$work/dovecot-$n.toml" > "$work/dovecot-$n.out" &
    echo $! >> "$work/extra.pids"
  done
  trap 'kill $server $proxy $(cat "$work/extra.pids" 2>/dev/null) 2>/dev/null || true; wait 2>/dev/null || true' EXIT
  fresh() { # $1 = messages, $2 = port, $3 = CA: a new config and state folder
    rm -rf "$work/r$1"; config "$2" "$work/r$1"
    sed -i "s|^ca_file = .*|ca_file = \"$3\"|" "$work/r$1/popline.toml"
  }
  wrote() { # $1 = messages: the run must have fetched them all, and failed none
    grep -q "listed $1, fetched $1, .*, failed 0," "$work/usage.out" ||
      { echo "RSS run on $1 messages did not process them all: $(cat "$work/usage.out")" >&2; exit 1; }
  }
  for n in 100 1000 10000; do
    for _ in $(seq 3000); do [ -f "$work/dovecot-$n.toml" ] && break; sleep 0.1; done
    port=$(sed -n 's/^tls_port = \(.*\)$/\1/p' "$work/dovecot-$n.toml")
    ca_n=$(sed -n 's/^ca_pem = "\(.*\)"$/\1/p' "$work/dovecot-$n.toml")
    fresh "$n" "$port" "$ca_n"
    read -r _ rss_n < <(usage $bin/popline --log warn --config "$work/r$n/popline.toml" once)
    wrote "$n"; eval "rss_$n=$rss_n"
    # With glibc's own arena limit (8 per core) instead of popline's one
    # arena. A fresh state folder: on the first run's state (keep mode) it
    # would fetch nothing.
    fresh "$n" "$port" "$ca_n"
    read -r _ rss_n < <(MALLOC_ARENA_MAX=$((8 * $(nproc))) usage $bin/popline --log warn --config "$work/r$n/popline.toml" once)
    wrote "$n"; eval "rss2_$n=$rss_n"
  done
  rss_row() { # $1 = label, then the three peaks in KiB
    awk -v l="$1" -v a="$2" -v k="$3" -v b="$4" \
      'BEGIN{printf "peak RSS, %s: 100 messages %d MiB, 1,000 %d MiB, 10,000 %d MiB; 10,000/100 %.2f× (bound 1.2×), 10,000/1,000 %.2f×\n", l, a/1024, k/1024, b/1024, b/a, b/k}'
  }
  rss_row "popline's malloc settings (mmap threshold, one arena)" "$rss_100" "$rss_1000" "$rss_10000"
  rss_row "glibc's arena limit (MALLOC_ARENA_MAX=$((8 * $(nproc))))" "$rss2_100" "$rss2_1000" "$rss2_10000"
fi

# Where popline's time goes: one more loopback run, stage by stage.
rm -rf "$work/t"; config "$tls_port" "$work/t"
echo
$bin/popline --log warn --config "$work/t/popline.toml" once --timings 2>&1 >/dev/null
