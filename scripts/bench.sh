#!/usr/bin/env bash
# The benchmark: nginx on loopback as the target farm, PostgreSQL, a viewserver and workers
# as separate processes, N checks inserted by SQL; waits one full interval, measures a window
# and prints JSON (src/bin/bearmon-bench.rs does the measuring). Needs root.
#
#   scripts/bench.sh [--checks N] [--interval S] [--confirmations K] [--seconds W]
#                    [--kind http|tcp|icmp] [--workers N] [--record] [--debug] [--label TEXT]
#                    [--peer blackbox|nagios]... [--peer-seconds W] [--max-rate] [--detect N] [--failover]
#                    [--dead-after S] [--ab-requests N] [--timeperiods N] [--escalations M]
#                    [--flap-detection] [--dependencies] [--per-check-metrics]
#
# --timeperiods/--escalations fill issue 17's policy tables after the checks (see
# src/bin/bearmon-bench/policy.rs); --flap-detection/--dependencies turn on issue 18's flap
# detection for every check and give 99 checks in 100 a parent (states.rs). --record appends
# a row to BENCHMARKS.md; --debug uses a
# debug build (the smoke run of scripts/test.sh). Defaults: 100,000 http checks, interval 60,
# confirmations 2, 300 s.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh

profile=release
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) profile=debug; shift ;;
    --record) args+=(--record BENCHMARKS.md); shift ;;
    *) args+=("$1"); shift ;;
  esac
done

missing=()
command -v nginx >/dev/null || missing+=(nginx-light)
command -v ab >/dev/null || missing+=(apache2-utils)
# The peers, only when asked for.
case " ${args[*]} " in
  *" blackbox "*) command -v prometheus-blackbox-exporter >/dev/null || missing+=(prometheus-blackbox-exporter) ;;
esac
case " ${args[*]} " in
  *" nagios "*)
    command -v nagios4 >/dev/null || missing+=(nagios4-core)
    [ -x /usr/lib/nagios/plugins/check_http ] || missing+=(monitoring-plugins-basic) ;;
esac
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$profile" = release ]; then
  cargo build --release --quiet --bins
else
  cargo build --quiet --bins
fi

ulimit -n 65536 2>/dev/null || true
BENCH_TMP=$(mktemp -d /tmp/bearmon-bench.XXXXXX)
# Reuse the database servers of scripts/test.sh when it runs the smoke.
own_services=0
[ -n "${BEARMON_TEST_PG:-}" ] || own_services=1
cleanup() {
  [ -f "$BENCH_TMP/nginx.pid" ] && kill "$(cat "$BENCH_TMP/nginx.pid")" 2>/dev/null || true
  [ "$own_services" = 1 ] && stop_services
  rm -rf "$BENCH_TMP"
}
trap cleanup EXIT
[ "$own_services" = 1 ] && start_services >&2

# The target: a small page on every loopback address (127.x.y.z) of one port.
port=$(free_port)
cat > "$BENCH_TMP/nginx.conf" <<CONF
worker_processes 1;
pid $BENCH_TMP/nginx.pid;
error_log $BENCH_TMP/nginx-error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_timeout 5;
  server {
    listen $port backlog=4096;
    location / { default_type text/plain; return 200 "ok\n"; }
  }
}
CONF
nginx -c "$BENCH_TMP/nginx.conf" -p "$BENCH_TMP"
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"

"target/$profile/bearmon-bench" --pg "$BEARMON_TEST_PG" --target-port "$port" \
  --bin "target/$profile/bearmon" "${args[@]}"
