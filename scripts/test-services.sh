# shellcheck shell=bash
# Services the test suite needs: a throwaway PostgreSQL cluster and grpcurl.
#
#   source scripts/test-services.sh && start_services && pytest
#   stop_services            # stop the cluster (its data stays for the next start)
#   stop_services --purge    # stop it and delete its data directory
#
# Run directly it does the same: `bash scripts/test-services.sh start|stop|purge`.
#
# It also starts MariaDB (Debian's mariadb-server, installed with apt when missing), so that
# the store suite runs on a MySQL-compatible database too, and three object-store
# emulators for the artifact repository tests, each installed first when missing: moto in
# server mode (S3; from the venv's test extra), Azurite's blob service (Azure; npm
# devDependency) and gcp-storage-emulator (GCS; test extra). The venv is created and
# `pip install -e '.[test]'` run when a tool is missing.
#
# start_services is idempotent: it reuses a server that already answers on the port and a
# grpcurl that is already installed. It exports
#   TRACKWAY_TEST_POSTGRES_URL             postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres
#   TRACKWAY_TEST_MYSQL_URL                mysql+pymysql://trackway:trackway@127.0.0.1:$MYSQL_PORT/trackway
#   TRACKWAY_GRPCURL                       absolute path of a grpcurl binary
#   TRACKWAY_TEST_S3_ENDPOINT              http://127.0.0.1:$S3_PORT
#   TRACKWAY_TEST_AZURE_CONNECTION_STRING  Azurite's devstoreaccount1 connection string
#   TRACKWAY_TEST_GCS_EMULATOR             http://127.0.0.1:$GCS_PORT
# It prints progress to stderr, returns non-zero with a message on failure and leaves the
# caller's shell options (set -e, -u, pipefail) as they were: the work runs in subshells.
#
# Environment:
#   TRACKWAY_TEST_PG_PORT           TCP port on 127.0.0.1 (default 54329)
#   TRACKWAY_TEST_PG_START_TIMEOUT  seconds to wait for PostgreSQL, and MariaDB (default 60)
#   TRACKWAY_PG_BINDIR              PostgreSQL server binaries (default: newest under
#                                   /usr/lib/postgresql, installed with apt when missing)
#   TRACKWAY_TEST_MYSQL_PORT        MariaDB's TCP port on 127.0.0.1 (default 54333)
#   TRACKWAY_TEST_MYSQL=0           start no MariaDB and export no TRACKWAY_TEST_MYSQL_URL
#                                   (its tests then skip, or fail under CI=true)
#   TRACKWAY_TEST_S3_PORT           moto's port (default 54330)
#   TRACKWAY_TEST_AZURE_PORT        Azurite's blob port (default 54331)
#   TRACKWAY_TEST_GCS_PORT          gcp-storage-emulator's port (default 54332)
#   TRACKWAY_TEST_EMULATOR_START_TIMEOUT  seconds to wait for each emulator (default 60)
#   TRACKWAY_TEST_EMULATORS=0       start no emulator and export none of their variables
#                                   (their tests then skip, or fail under CI=true)
#
# The cluster lives in /tmp/trackway-test-pg-$PORT (data/, server.log, socket), belongs to
# the postgres OS user when run as root, trusts every local connection and runs with
# fsync, synchronous_commit and full_page_writes off: it is for tests only. MariaDB lives
# beside it in /tmp/trackway-test-mysql-$MYSQL_PORT (data/ with its socket, server.log,
# server.pid), reads no /etc/mysql configuration, runs as the mysql OS user when run as
# root, trades durability for speed in the same way, and has a user trackway (password
# trackway) who may create databases: each test makes its own. Each emulator runs in the
# background, in its own session, with its log and pid file in
# /tmp/trackway-test-{s3,azure,gcs}-$PORT/ and its data in memory; stop_services stops the
# ones it started (found by pid file), never a server it merely reused.

_TRACKWAY_SERVICES_DIR=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

_tw_log() { echo "test-services: $*" >&2; }

_tw_pg_port() { echo "${TRACKWAY_TEST_PG_PORT:-54329}"; }
_tw_pg_base() { echo "/tmp/trackway-test-pg-$(_tw_pg_port)"; }

# Print the directory of the newest PostgreSQL server binaries found, or fail.
_tw_pg_find_bindir() {
  local d best=""
  if [[ -n ${TRACKWAY_PG_BINDIR:-} ]]; then
    [[ -x $TRACKWAY_PG_BINDIR/initdb && -x $TRACKWAY_PG_BINDIR/pg_ctl ]] || return 1
    echo "$TRACKWAY_PG_BINDIR"
    return 0
  fi
  # Numeric sort so that 16 beats 9.6.
  while IFS= read -r d; do
    d=/usr/lib/postgresql/$d/bin
    [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres && -x $d/pg_isready ]] && best=$d
  done < <(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null |
    sort -n)
  [[ -n $best ]] || return 1
  echo "$best"
}

# Install Debian packages, refreshing the package lists only when the first try fails.
_tw_apt_install() {
  local -a apt=(apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends)
  if ! command -v apt-get >/dev/null 2>&1; then
    _tw_log "error: apt-get not found; install $* by hand"
    return 1
  fi
  if [[ $(id -u) -ne 0 ]]; then
    _tw_log "error: need root to apt-get install $*; install it by hand"
    return 1
  fi
  _tw_log "installing $* with apt-get"
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" "$@" </dev/null >&2; then
    _tw_log "refreshing apt package lists"
    if ! apt-get -o DPkg::Lock::Timeout=300 update -q </dev/null >&2; then
      _tw_log "error: apt-get update failed"
      return 1
    fi
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" "$@" </dev/null >&2; then
      _tw_log "error: apt-get install $* failed"
      return 1
    fi
  fi
}

# Print the server binary directory, installing PostgreSQL first when it is missing.
_tw_pg_bindir() {
  local bindir
  if bindir=$(_tw_pg_find_bindir); then
    echo "$bindir"
    return 0
  fi
  if [[ -n ${TRACKWAY_PG_BINDIR:-} ]]; then
    _tw_log "error: TRACKWAY_PG_BINDIR=$TRACKWAY_PG_BINDIR has no initdb/pg_ctl"
    return 1
  fi
  _tw_log "PostgreSQL server binaries not found"
  _tw_apt_install postgresql postgresql-client || return 1
  if ! bindir=$(_tw_pg_find_bindir); then
    _tw_log "error: postgresql installed but no server binaries under /usr/lib/postgresql"
    return 1
  fi
  echo "$bindir"
}

# Run a command as the cluster's owner: postgres when we are root, else ourselves.
# Runs from / so that a cwd the postgres user cannot read does not produce warnings.
_tw_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

_tw_pg_ready() {
  "$1/pg_isready" -q -h 127.0.0.1 -p "$(_tw_pg_port)" -U postgres -d postgres -t 2 \
    >/dev/null 2>&1
}

# Create the cluster's data directory when it is missing, half made or from another major
# version.
_tw_pg_init() {
  local bindir=$1 port base data version
  port=$(_tw_pg_port)
  base=$(_tw_pg_base)
  data=$base/data
  version=$("$bindir/pg_ctl" --version | awk '{print $NF}')
  version=${version%%.*}
  if [[ -f $data/PG_VERSION && $(<"$data/PG_VERSION") == "$version" ]] &&
    grep -q '^# trackway test settings' "$data/postgresql.conf" 2>/dev/null; then
    return 0
  fi
  _tw_log "creating a PostgreSQL $version cluster in $data"
  rm -rf "$base" || return 1
  mkdir -p "$base" || return 1
  if [[ $(id -u) -eq 0 ]]; then
    if ! id postgres >/dev/null 2>&1; then
      _tw_log "error: the postgres OS user does not exist (is the postgresql package installed?)"
      return 1
    fi
    chown postgres: "$base" || return 1
  fi
  chmod 0755 "$base" || return 1
  if ! _tw_as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 \
    --locale=C --no-sync >"$base/initdb.log" 2>&1; then
    _tw_log "error: initdb failed; its output:"
    cat "$base/initdb.log" >&2
    return 1
  fi
  # Appended last, so these win over initdb's defaults. The marker line tells a finished
  # cluster from one whose initdb was interrupted.
  cat >>"$data/postgresql.conf" <<EOF || return 1

# trackway test settings
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$base'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

# Succeed when the postmaster recorded in data dir $1 (an absolute path) is alive. Unlike
# `pg_ctl status` this does not count a killed postmaster that init has not reaped yet (a
# zombie) as running, nor a reused PID.
_tw_pg_running() {
  local pid state
  [[ -f $1/postmaster.pid ]] || return 1
  read -r pid <"$1/postmaster.pid" 2>/dev/null || return 1
  [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]] || return 1
  # Its command line names this data directory.
  [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *" $1"* ]] || return 1
  state=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  state=${state##*) }
  [[ ${state%% *} != Z ]]
}

# Show what the server logged since byte offset $2 of log file $1, with a hint when the
# port is taken.
_tw_pg_show_log() {
  local lines
  lines=$(tail -c +"$(($2 + 1))" "$1" 2>/dev/null | tail -n 20)
  if [[ $lines == *"Address already in use"* ]]; then
    _tw_log "port $(_tw_pg_port) is taken by another program; set TRACKWAY_TEST_PG_PORT"
  fi
  _tw_log "server log ($1):"
  echo "$lines" >&2
  return 0
}

# Start the test cluster unless something already answers on its port.
_tw_pg_start() {
  local bindir port base data timeout deadline tried=0 logsize=0
  bindir=$(_tw_pg_bindir) || return 1
  port=$(_tw_pg_port)
  if _tw_pg_ready "$bindir"; then
    _tw_log "PostgreSQL already answers on 127.0.0.1:$port; reusing it"
  else
    base=$(_tw_pg_base)
    data=$base/data
    timeout=${TRACKWAY_TEST_PG_START_TIMEOUT:-60}
    _tw_pg_init "$bindir" || return 1
    deadline=$((SECONDS + timeout))
    # A server of ours may still be starting: then only wait. Otherwise start one, once.
    until _tw_pg_ready "$bindir"; do
      if ! _tw_pg_running "$data"; then
        if ((tried)); then
          _tw_log "error: PostgreSQL on 127.0.0.1:$port exited while starting"
          _tw_pg_show_log "$base/server.log" "$logsize"
          return 1
        fi
        tried=1
        # Lock files left by a server that was killed (say, with the session that
        # started it): postgres would wait on a PID that init has not reaped yet.
        rm -f "$data/postmaster.pid" "$base/.s.PGSQL.$port.lock"
        logsize=$(stat -c %s "$base/server.log" 2>/dev/null || echo 0)
        _tw_log "starting PostgreSQL on 127.0.0.1:$port ($data)"
        if ! _tw_as_owner "$bindir/pg_ctl" -D "$data" -l "$base/server.log" -w \
          -t "$timeout" -s start >/dev/null 2>&1; then
          _tw_log "error: PostgreSQL did not start on 127.0.0.1:$port"
          _tw_pg_show_log "$base/server.log" "$logsize"
          return 1
        fi
        continue
      fi
      if ((SECONDS >= deadline)); then
        _tw_log "error: PostgreSQL not ready on 127.0.0.1:$port after ${timeout}s"
        _tw_pg_show_log "$base/server.log" "$logsize"
        return 1
      fi
      sleep 0.2
    done
  fi
  # Whoever runs it, the tests need to get in as postgres without a password.
  if ! PGCONNECT_TIMEOUT=5 "$bindir/psql" -w -X -q -A -t -h 127.0.0.1 -p "$port" \
    -U postgres -d postgres -c 'select 1' >/dev/null 2>&1 </dev/null; then
    _tw_log "error: cannot connect as postgres without a password to 127.0.0.1:$port;" \
      "free the port or set TRACKWAY_TEST_PG_PORT"
    return 1
  fi
}

# ---------------------------------------------------------------------------------------
# MariaDB

_tw_my_port() { echo "${TRACKWAY_TEST_MYSQL_PORT:-54333}"; }
_tw_my_base() { echo "/tmp/trackway-test-mysql-$(_tw_my_port)"; }
_tw_my_enabled() { [[ ${TRACKWAY_TEST_MYSQL:-1} != 0 ]]; }

# Print the path of MariaDB program $1 (mariadbd lives in /usr/sbin), or fail.
_tw_my_find() {
  local found
  if found=$(command -v "$1" 2>/dev/null); then
    echo "$found"
  elif [[ -x /usr/sbin/$1 ]]; then
    echo "/usr/sbin/$1"
  else
    return 1
  fi
}

# Install mariadb-server when its programs are missing. Debian's policy-rc.d in containers
# keeps the package from starting a system server; where there is none, the package's own
# server on port 3306 is left alone (we never use it).
_tw_my_install() {
  local prog
  for prog in mariadbd mariadb-install-db mariadb mariadb-admin; do
    _tw_my_find "$prog" >/dev/null || {
      _tw_log "MariaDB's $prog not found"
      _tw_apt_install mariadb-server mariadb-client || return 1
      break
    }
  done
  for prog in mariadbd mariadb-install-db mariadb mariadb-admin; do
    if ! _tw_my_find "$prog" >/dev/null; then
      _tw_log "error: mariadb-server installed but $prog is still missing"
      return 1
    fi
  done
}

# Succeed when our user can log in over TCP: the server is up and set up.
_tw_my_ready() {
  "$(_tw_my_find mariadb-admin)" --no-defaults --protocol=tcp -h 127.0.0.1 \
    -P "$(_tw_my_port)" -u trackway -ptrackway --connect-timeout=2 ping >/dev/null 2>&1
}

# Succeed when the mariadbd that we started for data dir $1 is alive and not a zombie.
# Its PID is in server.pid beside the data dir from the moment of its launch (mariadbd's
# own pid file appears only once it has started, which takes seconds on a fresh one).
_tw_my_running() {
  local pid state
  read -r pid 2>/dev/null <"${1%/data}/server.pid" || return 1
  [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == mariadbd ]] || return 1
  [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *"--datadir=$1 "* ]] || return 1
  state=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  state=${state##*) }
  [[ ${state%% *} != Z ]]
}

# Create the data directory when it is missing or half made.
_tw_my_init() {
  local base data
  base=$(_tw_my_base)
  data=$base/data
  [[ -f $base/installed ]] && return 0
  _tw_log "creating a MariaDB data directory in $data"
  rm -rf "$base" || return 1
  mkdir -p "$data" || return 1
  local -a as_user=()
  if [[ $(id -u) -eq 0 ]]; then
    if ! id mysql >/dev/null 2>&1; then
      _tw_log "error: the mysql OS user does not exist (is mariadb-server installed?)"
      return 1
    fi
    chown -R mysql: "$base" || return 1
    as_user=(--user=mysql)
  fi
  # Root gets in through the socket without a password, only to create our user.
  if ! (cd / && "$(_tw_my_find mariadb-install-db)" --no-defaults --datadir="$data" \
    "${as_user[@]}" --auth-root-authentication-method=normal --skip-test-db \
    >"$base/install-db.log" 2>&1); then
    _tw_log "error: mariadb-install-db failed; its output:"
    tail -n 20 "$base/install-db.log" >&2
    return 1
  fi
  # The marker tells a finished data directory from one whose set-up was interrupted.
  : >"$base/installed"
}

# The server's flags: our own files only (no /etc/mysql), loopback TCP and a socket in the
# data dir, Debian's default character set, and no durability (tests only).
_tw_my_args() {
  local data=$1
  echo --no-defaults --datadir="$data" --socket="$data/mysqld.sock" \
    --pid-file="$data/mariadbd.pid" --log-error="$(_tw_my_base)/server.log" \
    --bind-address=127.0.0.1 --port="$(_tw_my_port)" --skip-name-resolve --skip-log-bin \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --max-connections=500 --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
    --innodb-buffer-pool-size=256M
}

# Start our MariaDB unless something already answers as our user on its port.
_tw_my_start() {
  local port base data timeout deadline started=$SECONDS launched=$SECONDS
  _tw_my_install || return 1
  port=$(_tw_my_port)
  if _tw_my_ready; then
    _tw_log "MariaDB already answers on 127.0.0.1:$port; reusing it"
    return 0
  fi
  base=$(_tw_my_base)
  data=$base/data
  timeout=${TRACKWAY_TEST_PG_START_TIMEOUT:-60}
  if ! _tw_my_running "$data"; then
    _tw_my_init || return 1
    if _tw_port_open "$port"; then
      _tw_log "error: 127.0.0.1:$port is taken by a program that is not our MariaDB;" \
        "free it or set TRACKWAY_TEST_MYSQL_PORT"
      return 1
    fi
    local -a as_user=()
    [[ $(id -u) -eq 0 ]] && as_user=(--user=mysql)
    _tw_log "starting MariaDB on 127.0.0.1:$port ($data)"
    # In its own session, with no descriptor of ours kept open (as the emulators); the
    # shell records its PID, which mariadbd keeps through exec.
    # shellcheck disable=SC2046  # the flags are words without spaces
    (cd "$base" && exec setsid sh -c 'echo $$ >server.pid && exec "$@"' sh \
      "$(_tw_my_find mariadbd)" $(_tw_my_args "$data") "${as_user[@]}" \
      </dev/null >>"$base/server.log" 2>&1) &
    launched=$SECONDS
  fi
  deadline=$((SECONDS + timeout))
  # Until the root login works over the socket; then make our user (idempotent).
  until "$(_tw_my_find mariadb)" --no-defaults --socket="$data/mysqld.sock" -u root \
    -e 'select 1' >/dev/null 2>&1; do
    # The PID file appears a moment after the launch: allow for that.
    if ((SECONDS - launched >= 2)) && ! _tw_my_running "$data"; then
      _tw_log "error: MariaDB exited while starting; its log ($base/server.log):"
      tail -n 20 "$base/server.log" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      _tw_log "error: MariaDB not ready on 127.0.0.1:$port after ${timeout}s; its log:"
      tail -n 20 "$base/server.log" >&2
      return 1
    fi
    sleep 0.2
  done
  if ! "$(_tw_my_find mariadb)" --no-defaults --socket="$data/mysqld.sock" -u root <<'SQL'; then
CREATE DATABASE IF NOT EXISTS trackway;
CREATE USER IF NOT EXISTS 'trackway'@'127.0.0.1' IDENTIFIED BY 'trackway';
CREATE USER IF NOT EXISTS 'trackway'@'localhost' IDENTIFIED BY 'trackway';
GRANT ALL PRIVILEGES ON *.* TO 'trackway'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'trackway'@'localhost';
SQL
    _tw_log "error: could not create MariaDB's trackway user and database"
    return 1
  fi
  _tw_my_ready || {
    _tw_log "error: MariaDB's trackway user cannot log in on 127.0.0.1:$port"
    return 1
  }
  _tw_log "MariaDB ready on 127.0.0.1:$port after $((SECONDS - started)) s"
}

# Stop our MariaDB (found by its pid file); with --purge remove its folder.
_tw_my_stop() {
  local base data pid i
  base=$(_tw_my_base)
  data=$base/data
  if _tw_my_running "$data"; then
    read -r pid <"$base/server.pid"
    _tw_log "stopping MariaDB on 127.0.0.1:$(_tw_my_port) (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 150; i++)); do
      _tw_my_running "$data" || break
      sleep 0.2
    done
    if _tw_my_running "$data"; then
      _tw_log "MariaDB did not stop in 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  rm -f "$base/server.pid"
  if [[ ${1:-} == --purge ]]; then
    rm -rf "$base" || return 1
  fi
}

# ---------------------------------------------------------------------------------------
# Object-store emulators

_TRACKWAY_ROOT=$(CDPATH='' cd -- "$_TRACKWAY_SERVICES_DIR/.." && pwd)

# Azurite's fixed, public development account (documented by Microsoft; not a secret).
_TW_AZURITE_ACCOUNT=devstoreaccount1
_TW_AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

_tw_s3_port() { echo "${TRACKWAY_TEST_S3_PORT:-54330}"; }
_tw_azure_port() { echo "${TRACKWAY_TEST_AZURE_PORT:-54331}"; }
_tw_gcs_port() { echo "${TRACKWAY_TEST_GCS_PORT:-54332}"; }
_tw_emu_base() { echo "/tmp/trackway-test-$1-$2"; }

_tw_emulators_enabled() { [[ ${TRACKWAY_TEST_EMULATORS:-1} != 0 ]]; }

# Succeed when an HTTP GET of URL $1 gets an answer (any status) whose status, headers
# or body match the Python regular expression $2. Proxies are ignored: this is loopback.
_tw_http_answers() {
  python3 - "$1" "$2" >/dev/null 2>&1 <<'EOF'
import re, sys, urllib.error, urllib.request
url, pattern = sys.argv[1], sys.argv[2]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(url, timeout=2) as reply:
        status, headers, body = reply.status, str(reply.headers), reply.read(4096)
except urllib.error.HTTPError as err:
    status, headers, body = err.code, str(err.headers), err.read(4096)
except Exception:
    sys.exit(1)
text = f"{status}\n{headers}\n{body.decode('utf-8', 'replace')}"
sys.exit(0 if re.search(pattern, text) else 1)
EOF
}

# Succeed when something accepts TCP connections on 127.0.0.1:$1.
_tw_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Print the path of console script $1 in the project's venv, creating the venv and
# installing the test extra first when it is missing.
_tw_venv_tool() {
  local venv=$_TRACKWAY_ROOT/.venv python=${PYTHON:-python3}
  if [[ ! -x $venv/bin/$1 ]]; then
    if [[ ! -x $venv/bin/python ]]; then
      _tw_log "creating $venv"
      "$python" -m venv "$venv" >&2 || return 1
    fi
    _tw_log "$1 not found; installing trackway[test] into $venv"
    "$venv/bin/python" -m pip install -q -e "${_TRACKWAY_ROOT}[test]" </dev/null >&2 || return 1
  fi
  if [[ ! -x $venv/bin/$1 ]]; then
    _tw_log "error: $venv/bin/$1 still missing after installing trackway[test]"
    return 1
  fi
  echo "$venv/bin/$1"
}

# Print the path of Azurite's blob server, running `npm install` (and installing Node.js
# with apt) first when it is missing.
_tw_azurite_tool() {
  local bin=$_TRACKWAY_ROOT/node_modules/.bin/azurite-blob
  if [[ ! -x $bin ]]; then
    if ! command -v npm >/dev/null 2>&1; then
      _tw_apt_install nodejs npm || return 1
    fi
    _tw_log "azurite-blob not found; running npm install in $_TRACKWAY_ROOT"
    (cd "$_TRACKWAY_ROOT" && npm install --no-audit --no-fund --silent </dev/null >&2) ||
      return 1
  fi
  if [[ ! -x $bin ]]; then
    _tw_log "error: $bin still missing after npm install (is azurite in package.json?)"
    return 1
  fi
  echo "$bin"
}

# Succeed when the process in pid file $1/server.pid is alive (not a zombie) and its
# command line contains $2.
_tw_emu_alive() {
  local pid state
  [[ -f $1/server.pid ]] || return 1
  read -r pid 2>/dev/null <"$1/server.pid" || return 1
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == *"$2"* ]] || return 1
  state=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  state=${state##*) }
  [[ ${state%% *} != Z ]]
}

# Start emulator $1 on port $2 unless something answers on URL $3 with pattern $4, or one
# of ours (command line containing $5) is already starting. The rest is the command.
_tw_emu_launch() {
  local name=$1 port=$2 url=$3 pattern=$4 marker=$5 base
  shift 5
  base=$(_tw_emu_base "$name" "$port")
  if _tw_http_answers "$url" "$pattern"; then
    _tw_log "$name emulator already answers on 127.0.0.1:$port; reusing it"
    return 0
  fi
  mkdir -p "$base" || return 1
  if _tw_emu_alive "$base" "$marker"; then
    return 0
  fi
  if _tw_port_open "$port"; then
    _tw_log "error: 127.0.0.1:$port is taken by a program that is not the $name emulator;" \
      "free it or set TRACKWAY_TEST_${name^^}_PORT"
    return 1
  fi
  _tw_log "starting the $name emulator on 127.0.0.1:$port (log: $base/server.log)"
  : >"$base/server.log"
  # In its own session (no terminal signals), with no descriptor of ours kept open, so
  # that a pipe like `make test | tee` ends when the tests do. The shell records its own
  # PID, which the emulator keeps through exec.
  (
    cd "$base" || exit 1
    exec setsid sh -c 'echo $$ >server.pid && exec "$@"' sh "$@" \
      </dev/null >>"$base/server.log" 2>&1
  ) &
}

# Wait until emulator $1 on port $2 answers on URL $3 with pattern $4; $5 is the marker.
_tw_emu_wait() {
  local name=$1 port=$2 url=$3 pattern=$4 marker=$5 base timeout deadline started=$SECONDS
  base=$(_tw_emu_base "$name" "$port")
  timeout=${TRACKWAY_TEST_EMULATOR_START_TIMEOUT:-60}
  deadline=$((SECONDS + timeout))
  until _tw_http_answers "$url" "$pattern"; do
    # gcp-storage-emulator does not exit when it cannot bind: it hangs. So look at the log.
    if grep -qi 'address already in use\|EADDRINUSE' "$base/server.log" 2>/dev/null; then
      _tw_log "error: the $name emulator could not bind 127.0.0.1:$port, which another" \
        "program holds; free it or set TRACKWAY_TEST_${name^^}_PORT"
      _tw_emu_kill "$base" "$marker"
      return 1
    fi
    # The pid file appears a moment after the launch: allow for that.
    if ((SECONDS - started >= 2)) && ! _tw_emu_alive "$base" "$marker"; then
      _tw_log "error: the $name emulator exited while starting; its log ($base/server.log):"
      tail -n 20 "$base/server.log" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      _tw_log "error: the $name emulator did not answer on 127.0.0.1:$port in ${timeout}s;" \
        "stopping it. Its log ($base/server.log):"
      tail -n 20 "$base/server.log" >&2
      _tw_emu_kill "$base" "$marker"
      return 1
    fi
    sleep 0.2
  done
  _tw_log "$name emulator ready on 127.0.0.1:$port after $((SECONDS - started)) s"
}

# The emulators' probe URL, answer pattern and command-line marker, one per line:
# name port url pattern marker
_tw_emu_table() {
  local s3 az gcs
  s3=$(_tw_s3_port)
  az=$(_tw_azure_port)
  gcs=$(_tw_gcs_port)
  echo "s3 $s3 http://127.0.0.1:$s3/ ListAllMyBucketsResult moto_server"
  echo "azure $az http://127.0.0.1:$az/$_TW_AZURITE_ACCOUNT?comp=list Azurite-Blob azurite-blob"
  echo "gcs $gcs http://127.0.0.1:$gcs/storage/v1/b?project=trackway-test storage#buckets" \
    "gcp-storage-emulator"
}

_tw_emulators_start() {
  local moto azurite gcs name port url pattern marker
  moto=$(_tw_venv_tool moto_server) || return 1
  gcs=$(_tw_venv_tool gcp-storage-emulator) || return 1
  azurite=$(_tw_azurite_tool) || return 1
  while read -r name port url pattern marker; do
    case $name in
      s3) _tw_emu_launch "$name" "$port" "$url" "$pattern" "$marker" \
        "$moto" -H 127.0.0.1 -p "$port" || return 1 ;;
      azure) _tw_emu_launch "$name" "$port" "$url" "$pattern" "$marker" \
        "$azurite" --blobHost 127.0.0.1 --blobPort "$port" --inMemoryPersistence \
        --skipApiVersionCheck --loose --disableTelemetry || return 1 ;;
      gcs) _tw_emu_launch "$name" "$port" "$url" "$pattern" "$marker" \
        "$gcs" start -H 127.0.0.1 --port "$port" --in-memory || return 1 ;;
    esac
  done < <(_tw_emu_table)
  while read -r name port url pattern marker; do
    _tw_emu_wait "$name" "$port" "$url" "$pattern" "$marker" || return 1
  done < <(_tw_emu_table)
}

# Stop the emulator whose pid file is in $1 (command line containing $2): TERM to its
# process group (it leads one, through setsid), then KILL after 10 s.
_tw_emu_kill() {
  local pid i
  _tw_emu_alive "$1" "$2" || return 0
  read -r pid <"$1/server.pid"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    _tw_emu_alive "$1" "$2" || return 0
    sleep 0.2
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  return 0
}

# Stop the emulators this script started (by pid file); with --purge remove their folders.
_tw_emulators_stop() {
  local name port url pattern marker base i
  while read -r name port url pattern marker; do
    base=$(_tw_emu_base "$name" "$port")
    if _tw_emu_alive "$base" "$marker"; then
      _tw_log "stopping the $name emulator on 127.0.0.1:$port (pid $(<"$base/server.pid"))"
      _tw_emu_kill "$base" "$marker"
      # Wait for the port too, so that a start right after this one can bind it.
      for ((i = 0; i < 25; i++)); do
        _tw_port_open "$port" || break
        sleep 0.2
      done
    fi
    rm -f "$base/server.pid"
    if [[ ${1:-} == --purge ]]; then
      rm -rf "$base" || return 1
    fi
  done < <(_tw_emu_table)
}

start_services() {
  local started=$SECONDS grpcurl port
  if ! (_tw_pg_start); then
    _tw_log "error: could not start PostgreSQL"
    return 1
  fi
  port=$(_tw_pg_port)
  export TRACKWAY_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
  if ! grpcurl=$(bash "$_TRACKWAY_SERVICES_DIR/install-grpcurl.sh"); then
    _tw_log "error: could not find or install grpcurl"
    return 1
  fi
  export TRACKWAY_GRPCURL=$grpcurl
  if _tw_my_enabled; then
    if ! (_tw_my_start); then
      _tw_log "error: could not start MariaDB (TRACKWAY_TEST_MYSQL=0 skips it)"
      return 1
    fi
    port=$(_tw_my_port)
    export TRACKWAY_TEST_MYSQL_URL="mysql+pymysql://trackway:trackway@127.0.0.1:$port/trackway"
  fi
  if _tw_emulators_enabled; then
    if ! (_tw_emulators_start); then
      _tw_log "error: could not start the object-store emulators" \
        "(TRACKWAY_TEST_EMULATORS=0 skips them)"
      return 1
    fi
    port=$(_tw_s3_port)
    export TRACKWAY_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
    port=$(_tw_gcs_port)
    export TRACKWAY_TEST_GCS_EMULATOR="http://127.0.0.1:$port"
    port=$(_tw_azure_port)
    export TRACKWAY_TEST_AZURE_CONNECTION_STRING="DefaultEndpointsProtocol=http;\
AccountName=$_TW_AZURITE_ACCOUNT;AccountKey=$_TW_AZURITE_KEY;\
BlobEndpoint=http://127.0.0.1:$port/$_TW_AZURITE_ACCOUNT;"
  fi
  _tw_log "ready in $((SECONDS - started)) s:" \
    "TRACKWAY_TEST_POSTGRES_URL=$TRACKWAY_TEST_POSTGRES_URL TRACKWAY_GRPCURL=$TRACKWAY_GRPCURL" \
    ${TRACKWAY_TEST_MYSQL_URL:+"TRACKWAY_TEST_MYSQL_URL=$TRACKWAY_TEST_MYSQL_URL"} \
    ${TRACKWAY_TEST_S3_ENDPOINT:+"TRACKWAY_TEST_S3_ENDPOINT=$TRACKWAY_TEST_S3_ENDPOINT"} \
    ${TRACKWAY_TEST_GCS_EMULATOR:+"TRACKWAY_TEST_GCS_EMULATOR=$TRACKWAY_TEST_GCS_EMULATOR"} \
    ${TRACKWAY_TEST_AZURE_CONNECTION_STRING:+"TRACKWAY_TEST_AZURE_CONNECTION_STRING=(Azurite)"}
}

stop_services() {
  (
    _tw_emulators_stop "${1:-}" || exit 1
    _tw_my_stop "${1:-}" || exit 1
    base=$(_tw_pg_base)
    data=$base/data
    if [[ -f $data/PG_VERSION ]] && bindir=$(_tw_pg_find_bindir); then
      if _tw_pg_running "$data"; then
        _tw_log "stopping PostgreSQL on 127.0.0.1:$(_tw_pg_port)"
        _tw_as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -s stop || exit 1
      fi
    fi
    if [[ ${1:-} == --purge ]]; then
      _tw_log "removing $base"
      rm -rf "$base" || exit 1
    fi
    exit 0
  )
}

# Run directly rather than sourced: act on the first argument.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  case ${1:-} in
    start) start_services ;;
    stop) stop_services ;;
    purge) stop_services --purge ;;
    *)
      echo "usage: $0 start|stop|purge  (or: source $0 && start_services)" >&2
      exit 2
      ;;
  esac
fi
