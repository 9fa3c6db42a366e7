#!/usr/bin/env bash
# The API against its own OpenAPI document: schemathesis (from PyPI, pinned) generates
# requests for every operation of /api/openapi.json and checks every answer against it (status
# codes, schemas, content types, refusal of invalid input, acceptance of valid input), against
# a fresh `bearmon up` with a write token, with a fixed seed and a bounded time. One worker:
# with two threads, hypothesis's lambda descriptions (ast.parse) hit CPython 3.11's "AST
# constructor recursion depth mismatch" now and then, a runtime error of the tool, not of bearmon.
# Usage: scripts/schemathesis.sh [SECONDS]   (default 120; the binary is target/debug/bearmon)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-120}"
bin="${BEARMON_BIN:-target/debug/bearmon}"
[ -x "$bin" ] || cargo build --quiet
venv="target/schemathesis-venv"
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "4.32.5"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi
dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
db="sqlite://$dir/bearmon.db"
# The token first (it needs the tables), then the cluster, ready once a controller answers.
"$bin" migrate --database "$db" >/dev/null
token="$("$bin" token create schemathesis --scope write --database "$db" 2>/dev/null | tail -n 1)"
(cd "$dir" && exec "$OLDPWD/$bin" up --listen "127.0.0.1:$port" --database "$db") > "$dir/up.log" 2>&1 &
up_pid=$!
cleanup() { kill "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
ready=""
for _ in $(seq 1 150); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "http://127.0.0.1:$port/api/checks" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.2
done
[ -n "$ready" ] || { echo "bearmon up did not answer /api/checks within 30 s"; tail -n 40 "$dir/up.log"; exit 1; }
status=0
"$venv/bin/st" --config-file scripts/schemathesis.toml run "http://127.0.0.1:$port/api/openapi.json" \
  --seed 1 --max-examples 30 --workers 1 --max-time "$seconds" \
  --header "Authorization: Bearer $token" || status=$?
if [ "$status" -ne 0 ]; then
  echo "schemathesis: FAILED; bearmon up's log:"
  tail -n 40 "$dir/up.log"
fi
exit "$status"
