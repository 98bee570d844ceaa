#!/usr/bin/env bash
# Publish (cold, cached) and call throughput of the release xif on SQLite and on PostgreSQL, one run.
# Needs the release xif (cargo build --release -p xif), wrk, and PostgreSQL 15 binaries; run as root.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
xif=$root/target/release/xif
w=/tmp/engbench; rm -rf $w; mkdir -p $w
$xif new Greetings --path $w >/dev/null
$xif compile --path $w/Greetings --target-dir $root/target/xif-ext >/dev/null 2>&1
$xif save --path $w/Greetings -o $w/Greetings.xif >/dev/null
pgdir=$w/pg; mkdir -p $pgdir; chown postgres $pgdir
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
runuser -u postgres -- $bin/initdb -D $pgdir/data -A trust -U postgres >/dev/null
pport=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
runuser -u postgres -- $bin/pg_ctl -D $pgdir/data -o "-p $pport -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" -l $pgdir/log start >/dev/null
trap 'runuser -u postgres -- $bin/pg_ctl -D $pgdir/data stop -m immediate >/dev/null 2>&1 || true; kill $(jobs -p) 2>/dev/null || true' EXIT
runuser -u postgres -- $bin/createdb -h 127.0.0.1 -p $pport -U postgres bench
for engine in sqlite postgres; do
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  db=(); [ $engine = postgres ] && db=(--database "postgres://postgres@127.0.0.1:$pport/bench")
  XIF_ADMIN_PASSWORD=bench-admin-password XIF_LOG=warn $xif serve --data $w/data-$engine --listen 127.0.0.1:$port "${db[@]}" >/dev/null 2>&1 &
  spid=$!
  for i in $(seq 100); do curl -sf http://127.0.0.1:$port/api/v1/health >/dev/null && break; sleep 0.1; done
  token=$(curl -sf -X POST -H 'content-type: application/json' -d '{"user":"admin","password":"bench-admin-password"}' http://127.0.0.1:$port/api/v1/login | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])')
  v=$(curl -sf -X POST -H "authorization: Bearer $token" --data-binary @$w/Greetings.xif http://127.0.0.1:$port/api/v1/extensions/Greetings/versions | python3 -c 'import sys,json;print(json.load(sys.stdin)["version"])')
  ms() { curl -sf -X POST -H "authorization: Bearer $token" http://127.0.0.1:$port/api/v1/extensions/Greetings/versions/$v/publish | python3 -c 'import sys,json;print(json.load(sys.stdin)["summary"]["ms"])'; }
  cold=$(ms); cached=$(for i in 1 2 3 4 5; do ms; done | sort -n | sed -n 3p)
  cat > $w/g.lua <<LUA
wrk.method = "POST"
wrk.body = '{"Who": {"Name": "Ada", "Age": 36}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA
  out=$(wrk -t2 -c32 -d8s --latency -s $w/g.lua http://127.0.0.1:$port/api/v1/extensions/Greetings/actions/Greet)
  echo "$out" | grep -q Non-2xx && { echo "$engine: some calls failed"; echo "$out"; }
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}'); p50=$(echo "$out" | awk '$1=="50%"{print $2}'); p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  echo "| $engine | $cold ms | $cached ms | $rps req/s | $p50 / $p99 |"
  kill $spid 2>/dev/null || true; wait $spid 2>/dev/null || true
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
