#!/usr/bin/env bash
# One node's call throughput by how it uses the 2 cores (a lead for issue 15): the release xif on
# SQLite, `Greet` under wrk (32 connections, 6 s) in three set-ups, one run:
#   both cores, 2 tokio workers (the default) · both cores, 1 tokio worker (TOKIO_WORKER_THREADS=1)
#   · the server pinned to core 0 and wrk to core 1 (taskset).
# Needs the release xif (cargo build --release -p xif) and wrk.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
xif=$root/target/release/xif
. "$root/scripts/bench-common.sh"
w=/tmp/corebench; rm -rf $w; mkdir -p $w
bench_package $w
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
run() { # label, server cpus, extra env, wrk prefix, wrk threads
  local port; port=$(bench_free_port)
  rm -rf $w/data
  env XIF_ADMIN_PASSWORD=bench-admin-password XIF_LOG=warn $3 taskset -c "$2" $xif serve --data $w/data --listen 127.0.0.1:$port >/dev/null 2>&1 &
  local spid=$!
  bench_wait $port
  local token v out
  token=$(bench_login $port)
  v=$(bench_upload $port "$token" $w/Greetings.xif)
  curl -sf -X POST -H "authorization: Bearer $token" http://127.0.0.1:$port/api/v1/extensions/Greetings/versions/$v/publish >/dev/null
  bench_lua $w/g.lua "$token"
  out=$($4 wrk -t$5 -c32 -d6s --latency -s $w/g.lua http://127.0.0.1:$port/api/v1/extensions/Greetings/actions/Greet)
  echo "$out" | grep -q Non-2xx && { echo "$1: some calls failed"; echo "$out"; }
  echo "| $1 | $(echo "$out" | awk '/Requests\/sec/{print $2}') req/s | $(echo "$out" | awk '$1=="50%"{print $2}') / $(echo "$out" | awk '$1=="99%"{print $2}') |"
  kill $spid 2>/dev/null || true; wait $spid 2>/dev/null || true
}
echo "| set-up | Greet over HTTP | p50 / p99 |"
echo "|---|---|---|"
run "both cores, 2 tokio workers (default); wrk -t2" 0,1 "" "" 2
run "both cores, 1 tokio worker (TOKIO_WORKER_THREADS=1); wrk -t2" 0,1 "TOKIO_WORKER_THREADS=1" "" 2
run "server on core 0, wrk -t1 on core 1 (taskset)" 0 "" "taskset -c 1" 1
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
