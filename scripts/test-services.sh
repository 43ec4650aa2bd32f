#!/usr/bin/env bash
# Makes sure what the test suite needs is there before it runs (`npm test` runs this first, as
# "pretest"; .ci/run through `npm test`): PostgreSQL and Redis answering, Chromium installed,
# Python with Socket.IO for the Python bot example, and nginx, Caddy and openssl for the
# reverse-proxy tests (docs/operations.md; the tests start them as children on free ports).
# Where one is missing it is started, or installed with Debian's packages (as root, with apt-get);
# where that cannot be done, this says what is missing and fails: a suite whose services are
# missing must not pass by skipping what needs them.
#
#   CONFAB_TEST_DATABASE_URL  PostgreSQL for the second pass (default postgres://postgres@127.0.0.1:5432/postgres)
#   CONFAB_TEST_REDIS_URL     Redis for the multi-node tests (default redis://127.0.0.1:6379)
#   CONFAB_CHROMIUM           the browser for e2e/ (default /usr/bin/chromium)
#   CONFAB_PYTHON             the Python for examples/python-bot (default /usr/bin/python3)
#   CONFAB_NO_INSTALL=1       check only: start and install nothing
# Only services on this machine (127.0.0.1, localhost) are started or installed.
set -euo pipefail

pg_url="${CONFAB_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_url="${CONFAB_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
chromium="${CONFAB_CHROMIUM:-/usr/bin/chromium}"
python="${CONFAB_PYTHON:-/usr/bin/python3}"
no_install="${CONFAB_NO_INSTALL:-}"

fail() {
  echo "test-services: $*" >&2
  exit 1
}
note() { echo "test-services: $*" >&2; }

# host and port of a URL, with a default port
host_of() { node -e 'const u = new URL(process.argv[1]); console.log(u.hostname.replace(/^\[|\]$/g, ""))' "$1"; }
port_of() { node -e 'const u = new URL(process.argv[1]); console.log(u.port || process.argv[2])' "$1" "$2"; }
listening() { timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
is_local() { [ "$1" = 127.0.0.1 ] || [ "$1" = localhost ] || [ "$1" = ::1 ]; }
wait_for() { for _ in $(seq 1 30); do listening "$1" "$2" && return 0; sleep 1; done; return 1; }

apt_updated=""
apt_install() {
  [ -z "$no_install" ] || fail "$1 is missing and CONFAB_NO_INSTALL is set; install the Debian package(s) '$*' (or point the CONFAB_TEST_* variables elsewhere)"
  [ "$(id -u)" = 0 ] || fail "$1 is missing; install the Debian package(s) '$*' as root (apt-get install $*), then run the tests again"
  command -v apt-get >/dev/null || fail "$1 is missing and there is no apt-get here; install it with this system's packages"
  note "installing $* (apt-get)"
  if [ -z "$apt_updated" ]; then apt-get update -qq || fail "apt-get update failed"; apt_updated=1; fi
  # Packages must not start their services (nginx and Caddy would both want port 80, and the tests
  # start their own): policy-rc.d refuses, for the length of the install, unless one is there already.
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || { [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d; fail "apt-get install $* failed"; }
  [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
}

# ---- PostgreSQL ----
pg_host=$(host_of "$pg_url")
pg_port=$(port_of "$pg_url" 5432)
if ! listening "$pg_host" "$pg_port"; then
  is_local "$pg_host" || fail "PostgreSQL at $pg_host:$pg_port (CONFAB_TEST_DATABASE_URL) does not answer"
  [ -z "$no_install" ] || fail "PostgreSQL does not answer on $pg_host:$pg_port and CONFAB_NO_INSTALL is set"
  installed_pg=""
  if ! command -v pg_ctlcluster >/dev/null; then
    apt_install postgresql
    installed_pg=1
  fi
  cluster=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  [ -n "$cluster" ] || fail "PostgreSQL is installed but has no cluster in /etc/postgresql"
  if [ -n "$installed_pg" ]; then
    # A cluster of our own making: the tests connect as postgres over TCP without a password.
    hba="/etc/postgresql/$cluster/main/pg_hba.conf"
    sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
  fi
  note "starting PostgreSQL $cluster"
  pg_ctlcluster --skip-systemctl-redirect "$cluster" main start || true
  wait_for "$pg_host" "$pg_port" || fail "PostgreSQL did not come up on $pg_host:$pg_port"
fi
if command -v psql >/dev/null; then
  psql "$pg_url" -qtAc 'SELECT 1' >/dev/null 2>&1 || fail "PostgreSQL answers on $pg_host:$pg_port but $pg_url cannot run a query (user, password, pg_hba.conf?)"
fi

# ---- Redis ----
redis_host=$(host_of "$redis_url")
redis_port=$(port_of "$redis_url" 6379)
if ! listening "$redis_host" "$redis_port"; then
  is_local "$redis_host" || fail "Redis at $redis_host:$redis_port (CONFAB_TEST_REDIS_URL) does not answer"
  [ -z "$no_install" ] || fail "Redis does not answer on $redis_host:$redis_port and CONFAB_NO_INSTALL is set"
  command -v redis-server >/dev/null || apt_install redis-server
  # The package may have started one by itself.
  if ! listening "$redis_host" "$redis_port"; then
    note "starting redis-server on $redis_port"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no >/dev/null
  fi
  wait_for "$redis_host" "$redis_port" || fail "Redis did not come up on $redis_host:$redis_port"
fi

# ---- Chromium (browser tests drive Debian's Chromium through playwright-core; nothing is downloaded) ----
if [ ! -x "$chromium" ]; then
  [ "$chromium" = /usr/bin/chromium ] || fail "CONFAB_CHROMIUM=$chromium is not an executable"
  apt_install chromium
  [ -x "$chromium" ] || fail "chromium was installed but $chromium is not there"
fi

# ---- Python with Socket.IO (examples/python-bot, run by packages/client/src/pythonBot.integration.test.ts) ----
python_ready() { [ -x "$python" ] && "$python" -c 'import socketio, websocket, requests' 2>/dev/null; }
if ! python_ready; then
  [ "$python" = /usr/bin/python3 ] || fail "CONFAB_PYTHON=$python cannot import socketio, websocket and requests (pip install \"python-socketio[client]\" websocket-client requests)"
  apt_install python3-socketio python3-websocket python3-requests
  python_ready || fail "python3-socketio was installed but $python cannot import socketio, websocket and requests"
fi

# ---- nginx, Caddy, openssl and PgBouncer: the operator's programs the tests run as children ----
# (the reverse-proxy tests: packages/server/src/http/proxy.test.ts and others; the pooler's:
# packages/server/src/storage/pgbouncer.postgres.test.ts). Only the binaries are needed: the tests
# run them in the foreground with configs of their own on free ports.
missing=()
for tool in nginx caddy openssl pgbouncer; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
  for tool in "${missing[@]}"; do command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || fail "$tool was installed but is not on the PATH"; done
fi

note "PostgreSQL $pg_host:$pg_port, Redis $redis_host:$redis_port, $chromium, $python (Socket.IO), nginx, caddy, openssl and pgbouncer are ready"
