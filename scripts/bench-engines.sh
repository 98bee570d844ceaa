#!/usr/bin/env bash
# Publish (cold, cached) and call throughput of the release xif on SQLite and on PostgreSQL, one run.
# Needs the release xif (cargo build --release -p xif), wrk, and PostgreSQL 15 binaries; run as root.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
xif=$root/target/release/xif
. "$root/scripts/bench-common.sh"
w=/tmp/engbench; rm -rf $w; mkdir -p $w
bench_package $w
pgdir=$w/pg; mkdir -p $pgdir; chown postgres $pgdir
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
runuser -u postgres -- $bin/initdb -D $pgdir/data -A trust -U postgres >/dev/null
pport=$(bench_free_port)
runuser -u postgres -- $bin/pg_ctl -D $pgdir/data -o "-p $pport -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" -l $pgdir/log start >/dev/null
trap 'runuser -u postgres -- $bin/pg_ctl -D $pgdir/data stop -m immediate >/dev/null 2>&1 || true; kill $(jobs -p) 2>/dev/null || true' EXIT
runuser -u postgres -- $bin/createdb -h 127.0.0.1 -p $pport -U postgres bench
for engine in sqlite postgres; do
  port=$(bench_free_port)
  db=(); [ $engine = postgres ] && db=(--database "postgres://postgres@127.0.0.1:$pport/bench")
  XIF_ADMIN_PASSWORD=bench-admin-password XIF_LOG=warn $xif serve --data $w/data-$engine --listen 127.0.0.1:$port "${db[@]}" >/dev/null 2>&1 &
  spid=$!
  bench_wait $port
  token=$(bench_login $port)
  v=$(bench_upload $port "$token" $w/Greetings.xif)
  ms() { curl -sf -X POST -H "authorization: Bearer $token" http://127.0.0.1:$port/api/v1/extensions/Greetings/versions/$v/publish | python3 -c 'import sys,json;print(json.load(sys.stdin)["summary"]["ms"])'; }
  cold=$(ms); cached=$(for i in 1 2 3 4 5; do ms; done | sort -n | sed -n 3p)
  bench_lua $w/g.lua "$token"
  out=$(wrk -t2 -c32 -d8s --latency -s $w/g.lua http://127.0.0.1:$port/api/v1/extensions/Greetings/actions/Greet)
  echo "$out" | grep -q Non-2xx && { echo "$engine: some calls failed"; echo "$out"; }
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}'); p50=$(echo "$out" | awk '$1=="50%"{print $2}'); p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  echo "| $engine | $cold ms | $cached ms | $rps req/s | $p50 / $p99 |"
  kill $spid 2>/dev/null || true; wait $spid 2>/dev/null || true
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
