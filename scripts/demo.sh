#!/usr/bin/env bash
# The main job, from a fresh machine: set up, build xif, start a Platform Server on the embedded
# default (SQLite and a data folder in .xif-demo/, in the background), create the example
# extension, 1-Click Publish it to that server, call its actions (Greet, and the guest book kept in
# an entity on the server), read the entity's records over HTTP, and say where the Service Center
# is and how to stop the server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p xif
xif=$PWD/target/release/xif
demo=$PWD/.xif-demo
# A server left by an earlier run stops first.
if [ -f "$demo/server.pid" ]; then kill "$(cat "$demo/server.pid")" 2>/dev/null || true; sleep 1; fi
rm -rf "$demo" && mkdir -p "$demo"
export XIF_TARGET_DIR=$PWD/target/xif-ext
# The demo keeps its login in its own folder, not in your ~/.config/xif.
export XDG_CONFIG_HOME=$demo/config
unset XIF_SERVER XIF_TOKEN

# The Platform Server, on a free loopback port.
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
(umask 077 && printf '%s\n' "$password" > "$demo/admin-password")
XIF_ADMIN_PASSWORD=$password nohup "$xif" serve --listen 127.0.0.1:0 --data "$demo/data" \
  > "$demo/server.log" 2>&1 &
echo $! > "$demo/server.pid"
for _ in $(seq 300); do grep -q 'Listening on' "$demo/server.log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$demo/server.log" | head -1)
[ -n "$url" ] || { cat "$demo/server.log" >&2; echo "the server did not start" >&2; exit 1; }

"$xif" login "$url" --user admin --password-stdin < "$demo/admin-password"
cd "$demo"
"$xif" new Greetings
cd Greetings
"$xif" publish
"$xif" call Greetings Greet '{"Who": {"Name": "Ada", "Age": 36}}'
# The guest book: the Visit entity's table lives on the server.
"$xif" call Greetings SignGuestBook '{"Who": "Ada"}'
"$xif" call Greetings SignGuestBook '{"Who": "Grace"}'
"$xif" call Greetings GuestBook '{}'
# The same records over the HTTP API, with the token `xif login` keeps.
python3 - "$XDG_CONFIG_HOME/xif/servers.json" "$url/api/v1/extensions/Greetings/entities/Visit" <<'PY'
import json, sys, urllib.request
token = next(s["token"] for s in json.load(open(sys.argv[1]))["servers"] if s.get("token"))
req = urllib.request.Request(sys.argv[2], headers={"Authorization": "Bearer " + token})
print("GET", sys.argv[2])
print(json.dumps(json.load(urllib.request.urlopen(req)), indent=2))
PY

cat <<MSG

The Platform Server runs in the background (log: .xif-demo/server.log).
  Service Center:  $url/   (user admin, password in .xif-demo/admin-password)
  From your shell: xif login $url --user admin
  Stop it:         kill \$(cat .xif-demo/server.pid)
MSG
