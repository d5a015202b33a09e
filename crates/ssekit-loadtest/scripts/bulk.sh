#!/usr/bin/env bash
# Bulk throughput of a hop on one stream: bench-server's /bulk (EVENTS events of SIZE bytes,
# as fast as the connection takes them) read to its end by loadgen --bulk.
# usage: scripts/bulk.sh HOP(direct|proxy|relay|nginx) EVENTS SIZE
set -eu
. "$(dirname "$0")/common.sh"
HOP=$1 EVENTS=$2 SIZE=$3
"$BIN/bench-server" --impl ssekit --addr 127.0.0.1:0 --rate 0 2> "$LOGS/up" &
PIDS=$!
UP=$(wait_url "$LOGS/up")
QUERY="/bulk?events=$EVENTS&size=$SIZE"
case $HOP in
  direct) URL=$UP$QUERY ;;
  proxy)
    "$BIN/ssekit" proxy --listen 127.0.0.1:0 --upstream "$UP" 2> "$LOGS/hop" &
    PIDS="$PIDS $!"; URL=$(wait_url "$LOGS/hop")$QUERY ;;
  relay)
    "$BIN/ssekit" relay --listen 127.0.0.1:0 --upstream "$UP$QUERY" 2> "$LOGS/hop" &
    PIDS="$PIDS $!"; URL=$(wait_url "$LOGS/hop")/ ;;
  nginx)
    start_nginx "${UP#http://}"
    PIDS="$PIDS $NGINX_MASTER"; URL=$NGINX_URL$QUERY ;;
  *) echo "unknown hop $HOP" >&2; exit 2 ;;
esac
"$BIN/loadgen" --url "$URL" --bulk true
kill $PIDS 2>/dev/null; wait 2>/dev/null || true
