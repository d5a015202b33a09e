#!/usr/bin/env bash
# Server under load: bench-server (ssekit's hub, or the axum peer) and loadgen.
# usage: scripts/server.sh IMPL(ssekit|axum) RATE CONNECTIONS SECONDS
# Prints loadgen's JSON (latency, delivered share, CPU, server memory per connection).
set -eu
. "$(dirname "$0")/common.sh"
IMPL=$1 RATE=$2 N=$3 S=$4
"$BIN/bench-server" --impl "$IMPL" --addr 127.0.0.1:0 --rate "$RATE" --pad 100 2> "$LOGS/server" &
SERVER=$!
PIDS=$SERVER
URL=$(wait_url "$LOGS/server")/sub
"$BIN/loadgen" --url "$URL" --connections "$N" --seconds "$S" --rate "$RATE" \
  --connect-rate 4000 --server-pid "$SERVER"
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
