# Shared by the bench-*.sh scripts (sourced): the example's package, a login, a publish, wrk's script.
# bench_package DIR: `xif new Greetings` in DIR, compiled and saved to DIR/Greetings.xif.
bench_package() {
  $xif new Greetings --path "$1" >/dev/null
  $xif compile --path "$1/Greetings" --target-dir "$root/target/xif-ext" >/dev/null 2>&1
  $xif save --path "$1/Greetings" -o "$1/Greetings.xif" >/dev/null
}
# bench_free_port: a free loopback port.
bench_free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# bench_wait PORT: until the server on PORT answers its health route (10 s at most).
bench_wait() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/api/v1/health" >/dev/null && return; sleep 0.1; done; }
# bench_login PORT: an admin token (password bench-admin-password).
bench_login() {
  curl -sf -X POST -H 'content-type: application/json' -d '{"user":"admin","password":"bench-admin-password"}' \
    "http://127.0.0.1:$1/api/v1/login" | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])'
}
# bench_upload PORT TOKEN PACKAGE: the new version's number.
bench_upload() {
  curl -sf -X POST -H "authorization: Bearer $2" --data-binary "@$3" "http://127.0.0.1:$1/api/v1/extensions/Greetings/versions" \
    | python3 -c 'import sys,json;print(json.load(sys.stdin)["version"])'
}
# bench_lua FILE TOKEN: a wrk script posting Greet's input with TOKEN.
bench_lua() {
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.body = '{"Who": {"Name": "Ada", "Age": 36}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $2"
LUA
}
