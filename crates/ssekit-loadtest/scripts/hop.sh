#!/usr/bin/env bash
# Hop cost: loadgen -> [hop] -> bench-server (ssekit), N streams of RATE events/s each.
# usage: scripts/hop.sh HOP(direct|proxy|relay|nginx|tcp) RATE CONNECTIONS SECONDS
# (tcp: bytes copied both ways by tcp-hop, which knows nothing of HTTP: the floor of a hop)
# Prints loadgen's JSON; its "server" CPU and memory figures are the hop's (the upstream's
# for direct).
set -eu
. "$(dirname "$0")/common.sh"
HOP=$1 RATE=$2 N=$3 S=$4
"$BIN/bench-server" --impl ssekit --addr 127.0.0.1:0 --rate "$RATE" --pad 100 2> "$LOGS/up" &
PIDS=$!
UP=$(wait_url "$LOGS/up")
MEASURED=$PIDS
case $HOP in
  direct) URL=$UP/sub ;;
  proxy)
    "$BIN/ssekit" proxy --listen 127.0.0.1:0 --upstream "$UP" 2> "$LOGS/hop" &
    MEASURED=$!; PIDS="$PIDS $!"; URL=$(wait_url "$LOGS/hop")/sub ;;
  relay)
    "$BIN/ssekit" relay --listen 127.0.0.1:0 --upstream "$UP/sub" 2> "$LOGS/hop" &
    MEASURED=$!; PIDS="$PIDS $!"; URL=$(wait_url "$LOGS/hop")/sub ;;
  tcp)
    "$BIN/tcp-hop" --listen 127.0.0.1:0 --upstream "${UP#http://}" 2> "$LOGS/hop" &
    MEASURED=$!; PIDS="$PIDS $!"; URL=$(wait_url "$LOGS/hop")/sub ;;
  nginx)
    start_nginx "${UP#http://}"
    MEASURED=$NGINX_WORKER; PIDS="$PIDS $NGINX_MASTER"; URL=$NGINX_URL/sub ;;
  *) echo "unknown hop $HOP" >&2; exit 2 ;;
esac
"$BIN/loadgen" --url "$URL" --connections "$N" --seconds "$S" --rate "$RATE" \
  --connect-rate 4000 --server-pid "$MEASURED"
kill $PIDS 2>/dev/null; wait 2>/dev/null || true
