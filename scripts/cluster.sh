#!/usr/bin/env bash
# Several nodes on one PostgreSQL, from a fresh machine: set up (PostgreSQL included), build xif,
# start a private PostgreSQL in .xif-cluster/pg (a temporary cluster on a free loopback port, its
# own socket folder), start three `xif serve` nodes on free ports sharing that database and one
# secret key, 1-Click Publish the example through node A, call it through nodes B and C, change a
# setting on B and read it on C, and say how to stop it all.
#
#   scripts/cluster.sh         start (a cluster left by an earlier run is stopped first)
#   scripts/cluster.sh stop    stop the three nodes and PostgreSQL, and remove .xif-cluster
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD/.xif-cluster

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

stop() {
  for pid in "$root"/node-*.pid; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
  done
  if [ -f "$root/pg/data/postmaster.pid" ]; then
    as_pg "$(pg_bin)/pg_ctl" -D "$root/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$root"
}

if [ "${1:-}" = stop ]; then stop; echo "stopped"; exit 0; fi

scripts/setup.sh
cargo build --release --locked -p xif
xif=$PWD/target/release/xif
stop
mkdir -p "$root/pg"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# PostgreSQL: a private cluster (initdb refuses root, so it runs as `postgres` when we are root).
bin=$(pg_bin)
[ -n "$bin" ] || { echo "no PostgreSQL binaries in /usr/lib/postgresql/*/bin (scripts/setup.sh installs them)" >&2; exit 1; }
[ "$(id -u)" = 0 ] && chown postgres "$root/pg"
as_pg "$bin/initdb" -D "$root/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
pg_port=$(free_port)
as_pg "$bin/pg_ctl" -D "$root/pg/data" -l "$root/pg/postgres.log" -w \
  -o "-p $pg_port -k $root/pg -c listen_addresses=127.0.0.1" start >/dev/null
as_pg "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -q -c "CREATE DATABASE xif" postgres
database=postgres://postgres@127.0.0.1:$pg_port/xif

# Three nodes: the same database, the same secret key and administrator password.
export XDG_CONFIG_HOME=$root/config XIF_TARGET_DIR=$PWD/target/xif-ext
unset XIF_SERVER XIF_TOKEN
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
(umask 077 && printf '%s\n' "$password" > "$root/admin-password" && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$root/secret.key")
declare -A url
for node in a b c; do
  XIF_ADMIN_PASSWORD=$password nohup "$xif" serve --listen "127.0.0.1:$(free_port)" --data "$root/node-$node" \
    --database "$database" --secret-key-file "$root/secret.key" > "$root/node-$node.log" 2>&1 &
  echo $! > "$root/node-$node.pid"
done
for node in a b c; do
  for _ in $(seq 300); do grep -qs 'Listening on' "$root/node-$node.log" && break; sleep 0.1; done
  url[$node]=$(grep -o 'http://[0-9.:]*' "$root/node-$node.log" | head -1)
  [ -n "${url[$node]}" ] || { cat "$root/node-$node.log" >&2; echo "node $node did not start" >&2; exit 1; }
  "$xif" login "${url[$node]}" --user admin --password-stdin < "$root/admin-password" >/dev/null
done

# Publish through A (the example, made with `xif new`), call through B and C.
cd "$root"
"$xif" new Greetings >/dev/null
cd Greetings
"$xif" publish --server "${url[a]}"
# A node follows another's publish within a second (LISTEN/NOTIFY); wait for it, up to 10 s.
for node in b c; do
  for _ in $(seq 100); do
    "$xif" call --server "${url[$node]}" Greetings Greet '{"Who": {"Name": "Ada", "Age": 36}}' >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "node $node (${url[$node]}):"
  "$xif" call --server "${url[$node]}" Greetings Greet '{"Who": {"Name": "Ada", "Age": 36}}'
done
"$xif" call --server "${url[b]}" Greetings SignGuestBook '{"Who": "Ada"}' >/dev/null
echo "the guest book signed on node B, read on node C:"
"$xif" call --server "${url[c]}" Greetings GuestBook '{}'

cat <<MSG

Three nodes share PostgreSQL ($database, its files in .xif-cluster/pg):
  node A  ${url[a]}/   (log .xif-cluster/node-a.log)
  node B  ${url[b]}/   (log .xif-cluster/node-b.log)
  node C  ${url[c]}/   (log .xif-cluster/node-c.log)
  Service Center on any of them: user admin, password in .xif-cluster/admin-password
  Ready (database reachable):    curl ${url[a]}/api/v1/ready
  Stop it all:                   scripts/cluster.sh stop
MSG
