# Sourced by scripts/test.sh (and usable by hand: `source scripts/services.sh; start_services`).
# Installs what is missing from Debian's packages, then starts MariaDB and PostgreSQL on
# loopback, on free ports, in a temporary directory, and exports their URLs:
#   BEARMON_TEST_MYSQL  mysql://bearmon:bearmon@127.0.0.1:PORT   (a user that may create databases)
#   BEARMON_TEST_PG     postgres://bearmon:bearmon@127.0.0.1:PORT/postgres
# stop_services stops both and removes the directory.

BM_PACKAGES="mariadb-server postgresql dnsmasq-base nftables iproute2 python3-aiosmtpd chromium monitoring-plugins-basic monitoring-plugins-standard prometheus haproxy"

install_missing() {
  local missing=()
  command -v mariadbd >/dev/null || missing+=(mariadb-server)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
  command -v nft >/dev/null || missing+=(nftables)
  command -v ip >/dev/null || missing+=(iproute2)
  # The SMTP server the alert tests talk to (Debian's python, not a pyenv one).
  /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || missing+=(python3-aiosmtpd)
  # The browser the status-page test drives (headless).
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  # The Nagios plugins the exec check tests run (check_dummy, check_tcp; check_http).
  [ -x /usr/lib/nagios/plugins/check_dummy ] || missing+=(monitoring-plugins-basic)
  [ -x /usr/lib/nagios/plugins/check_http ] || missing+=(monitoring-plugins-standard)
  # promtool and a real Prometheus, which the /metrics tests scrape with.
  [ -x /usr/bin/promtool ] || missing+=(prometheus)
  # HAProxy, which the haproxy check tests run in the foreground themselves.
  [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Nothing installed here may start as a system service (Debian's haproxy, mariadb and
    # postgresql packages start one): the tests run their own. A policy-rc.d refusing every
    # start (exit 101), for this install only, unless the host already has one.
    local own_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for() { # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.3
  done
}

start_services() {
  install_missing
  BM_TMP=$(mktemp -d /tmp/bearmon-test.XXXXXX)
  chmod 755 "$BM_TMP"
  export BM_TMP

  # MariaDB, as root, data and socket in the temporary directory.
  local mport; mport=$(free_port)
  mariadb-install-db --no-defaults --datadir="$BM_TMP/mysql" --user=root \
    --auth-root-authentication-method=socket >"$BM_TMP/mysql-install.log" 2>&1
  mariadbd --no-defaults --datadir="$BM_TMP/mysql" --socket="$BM_TMP/mysql.sock" \
    --port="$mport" --bind-address=127.0.0.1 --user=root --skip-log-bin \
    --pid-file="$BM_TMP/mysql.pid" --log-error="$BM_TMP/mysql.err" &
  BM_MYSQL_PID=$!
  export BM_MYSQL_PORT=$mport
  if ! wait_for 60 mariadb --socket="$BM_TMP/mysql.sock" -u root -e 'SELECT 1'; then
    echo "MariaDB did not start:"; cat "$BM_TMP/mysql.err"; return 1
  fi
  mariadb --socket="$BM_TMP/mysql.sock" -u root -e "
    CREATE USER 'bearmon'@'127.0.0.1' IDENTIFIED BY 'bearmon';
    GRANT ALL PRIVILEGES ON *.* TO 'bearmon'@'127.0.0.1' WITH GRANT OPTION;"
  export BEARMON_TEST_MYSQL="mysql://bearmon:bearmon@127.0.0.1:$mport"

  # PostgreSQL, as the postgres user (initdb refuses root).
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
  local pgbin; pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  local pport; pport=$(free_port)
  mkdir -p "$BM_TMP/pg"; chown postgres "$BM_TMP/pg"
  su postgres -s /bin/sh -c "$pgbin/initdb -D '$BM_TMP/pg/data' -U postgres -A trust" >"$BM_TMP/pg-init.log" 2>&1
  su postgres -s /bin/sh -c "$pgbin/pg_ctl -D '$BM_TMP/pg/data' -l '$BM_TMP/pg/log' -w -t 60 \
    -o \"-p $pport -k '$BM_TMP/pg' -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off\" start" >/dev/null
  export BM_PGBIN=$pgbin BM_PG_PORT=$pport
  psql -h 127.0.0.1 -p "$pport" -U postgres -d postgres -qc \
    "CREATE ROLE bearmon LOGIN SUPERUSER PASSWORD 'bearmon'" >/dev/null
  export BEARMON_TEST_PG="postgres://bearmon:bearmon@127.0.0.1:$pport/postgres"
  export BEARMON_REQUIRE_SERVERS=1
  echo "MariaDB on 127.0.0.1:$mport, PostgreSQL on 127.0.0.1:$pport, files in $BM_TMP"
}

stop_services() {
  if [ -n "${BM_PGBIN:-}" ] && [ -d "${BM_TMP:-}/pg/data" ]; then
    su postgres -s /bin/sh -c "$BM_PGBIN/pg_ctl -D '$BM_TMP/pg/data' -m immediate stop" >/dev/null 2>&1 || true
  fi
  if [ -n "${BM_MYSQL_PID:-}" ]; then
    kill "$BM_MYSQL_PID" 2>/dev/null || true
    wait "$BM_MYSQL_PID" 2>/dev/null || true
  fi
  # A MariaDB restarted by pg_up/mysql_up (scripts/chaos.sh) has another pid.
  [ -f "${BM_TMP:-}/mysql.pid" ] && kill "$(cat "$BM_TMP/mysql.pid")" 2>/dev/null || true
  [ -n "${BM_TMP:-}" ] && rm -rf "$BM_TMP"
  return 0
}

# Stopping and starting the servers of start_services, for scripts/chaos.sh's "database
# down" fault (run in a fresh shell: they use only the exported BM_* variables).
pg_down() {
  su postgres -s /bin/sh -c "$BM_PGBIN/pg_ctl -D '$BM_TMP/pg/data' -m immediate stop" >/dev/null
}

pg_up() {
  su postgres -s /bin/sh -c "$BM_PGBIN/pg_ctl -D '$BM_TMP/pg/data' -l '$BM_TMP/pg/log' -w -t 60 \
    -o \"-p $BM_PG_PORT -k '$BM_TMP/pg' -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off\" start" >/dev/null
}

mysql_down() {
  kill -9 "$(cat "$BM_TMP/mysql.pid")"
  local i; for i in $(seq 1 50); do [ -S "$BM_TMP/mysql.sock" ] || break; sleep 0.1; done
  rm -f "$BM_TMP/mysql.sock" "$BM_TMP/mysql.pid"
}

mysql_up() {
  setsid mariadbd --no-defaults --datadir="$BM_TMP/mysql" --socket="$BM_TMP/mysql.sock" \
    --port="$BM_MYSQL_PORT" --bind-address=127.0.0.1 --user=root --skip-log-bin \
    --pid-file="$BM_TMP/mysql.pid" --log-error="$BM_TMP/mysql.err" </dev/null >/dev/null 2>&1 &
  wait_for 60 mariadb --socket="$BM_TMP/mysql.sock" -u root -e 'SELECT 1'
}
