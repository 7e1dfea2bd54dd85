#!/usr/bin/env bash
# Instruction counts per request of a server (default: ours, examples/server.rs), with
# callgrind.
#
#   bash bench/profile.sh [SCENARIO...]     (default: seq pipe; also conns, big)
#   SERVER=server-rmp-rpc bash bench/profile.sh seq      (or server-msgpack-rpc, server-limit)
#   SERVER_ARGS=--typed bash bench/profile.sh seq pipe    (our server with its typed Router)
#
# For each scenario: starts the server under `valgrind --tool=callgrind`, drives it with
# the load generator for a few seconds, stops it, and prints the instructions per request
# (the server's total minus an idle run's, divided by the requests answered) and the top
# functions (inclusive and self). Needs valgrind; uses CARGO_TARGET_DIR (default
# bench/target). Output files stay in $OUT (default /tmp/rmp-rpc-demo-profile).
set -euo pipefail
cd "$(dirname "$0")"
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
OUT=${OUT:-/tmp/rmp-rpc-demo-profile}
BIN=$TARGET/release
DURATION=${DURATION:-4}
SERVER=${SERVER:-server-ours}
# Arguments after the address (`--typed`), and the name the output files and lines use.
SERVER_ARGS=${SERVER_ARGS:-}
LABEL=$SERVER${SERVER_ARGS:+${SERVER_ARGS// /}}
mkdir -p "$OUT"
cargo build --release --quiet --bins
# Our server is built in ours/ (the root Cargo.lock's tokio-core 0.1.12), into the same target.
cargo build --release --quiet --bins --manifest-path ours/Cargo.toml --target-dir "$TARGET"
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 1; }

# run NAME SCENARIO SECONDS: prints "REQUESTS IR"
run() {
    local name=$1 sc=$2 secs=$3
    name=$LABEL.$name
    rm -f "$OUT/cg.$name.out" "$OUT/$name.addr"
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.$name.out" \
        "$BIN/$SERVER" 127.0.0.1:0 $SERVER_ARGS >"$OUT/$name.addr" 2>"$OUT/$name.vg" &
    local pid=$!
    for _ in $(seq 100); do grep -q listening "$OUT/$name.addr" 2>/dev/null && break; sleep 0.1; done
    local addr
    addr=$(grep -o 'listening on .*' "$OUT/$name.addr" | cut -d' ' -f3)
    local result
    result=$("$BIN/loadgen" --addr "$addr" --scenario "$sc" --duration "$secs" --warmup 0)
    sleep 0.3
    kill -TERM "$pid"
    wait "$pid" || true
    local requests ir
    requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$result")
    ir=$(sed -n 's/^summary: //p' "$OUT/cg.$name.out")
    echo "$requests $ir"
}

read -r _ base_ir < <(run idle seq 0.001)
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then scenarios=(seq pipe); fi
for s in "${scenarios[@]}"; do
    read -r requests ir < <(run "$s" "$s" "$DURATION")
    echo
    echo "== $LABEL, $s: $requests requests, $(( (ir - base_ir) / requests )) instructions per request (server, all threads; idle run: $base_ir)"
    callgrind_annotate --inclusive=yes "$OUT/cg.$LABEL.$s.out" 2>/dev/null | sed -n '1,200p' \
        | grep -E '^\s*[0-9,]+ ' | head -40 > "$OUT/$LABEL.$s.inclusive.txt" || true
    callgrind_annotate "$OUT/cg.$LABEL.$s.out" 2>/dev/null \
        | grep -E '^\s*[0-9,]+ ' | head -30 > "$OUT/$LABEL.$s.self.txt" || true
    echo "-- top functions, self cost:"
    cat "$OUT/$LABEL.$s.self.txt"
    echo "-- top functions, inclusive cost:"
    cat "$OUT/$LABEL.$s.inclusive.txt"
done
