#!/usr/bin/env bash
# Every figure of docs/performance.md's server and hop sections, in one run, one JSON
# object per line on stdout, each preceded by a "# what" line.
# usage: crates/ssekit-loadtest/scripts/all.sh > results.txt   (from the repository root)
set -u
D=$(dirname "$0")
run() { echo "# $*"; "$@" | tail -1; }
for n_rate in "1000 100" "5000 100" "10000 10"; do
  set -- $n_rate
  for impl in ssekit axum ssekit-hyper; do run "$D/server.sh" "$impl" "$2" "$1" 10; done
done
for impl in ssekit axum ssekit-hyper bare bare-direct; do run "$D/server.sh" "$impl" 0 19000 1; done
for impl in ssekit broadcast; do
  run "${BIN:-target/release}/hub-publish" --impl "$impl" --subscribers 1000 --events 20000
done
for rate in 10 100; do
  for hop in direct proxy relay nginx tcp; do run "$D/hop.sh" "$hop" "$rate" 1000 10; done
done
for events_size in "6000000 100" "2000000 1024"; do
  set -- $events_size
  for hop in direct proxy relay nginx; do run "$D/bulk.sh" "$hop" "$1" "$2"; done
done
