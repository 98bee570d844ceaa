#!/usr/bin/env bash
# One node's call throughput by how it uses the 2 cores (a lead for issue 15): the release xif on
# SQLite, `Greet` under wrk (32 connections, 6 s) in three set-ups, one run:
#   both cores, 2 tokio workers (the default) · both cores, 1 tokio worker (TOKIO_WORKER_THREADS=1)
#   · the server pinned to core 0 and wrk to core 1 (taskset).
# Needs the release xif (cargo build --release -p xif) and wrk.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
xif=$root/target/release/xif
w=/tmp/corebench; rm -rf $w; mkdir -p $w
$xif new Greetings --path $w >/dev/null
$xif compile --path $w/Greetings --target-dir $root/target/xif-ext >/dev/null 2>&1
$xif save --path $w/Greetings -o $w/Greetings.xif >/dev/null
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
run() { # label, server cpus, extra env, wrk prefix, wrk threads
  local port; port=$(free_port)
  rm -rf $w/data
  env XIF_ADMIN_PASSWORD=bench-admin-password XIF_LOG=warn $3 taskset -c "$2" $xif serve --data $w/data --listen 127.0.0.1:$port >/dev/null 2>&1 &
  local spid=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/api/v1/health >/dev/null && break; sleep 0.1; done
  local token v out
  token=$(curl -sf -X POST -H 'content-type: application/json' -d '{"user":"admin","password":"bench-admin-password"}' http://127.0.0.1:$port/api/v1/login | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])')
  v=$(curl -sf -X POST -H "authorization: Bearer $token" --data-binary @$w/Greetings.xif http://127.0.0.1:$port/api/v1/extensions/Greetings/versions | python3 -c 'import sys,json;print(json.load(sys.stdin)["version"])')
  curl -sf -X POST -H "authorization: Bearer $token" http://127.0.0.1:$port/api/v1/extensions/Greetings/versions/$v/publish >/dev/null
  cat > $w/g.lua <<LUA
wrk.method = "POST"
wrk.body = '{"Who": {"Name": "Ada", "Age": 36}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA
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
