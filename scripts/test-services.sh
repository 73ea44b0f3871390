# shellcheck shell=bash
# Services the test suite needs: a throwaway PostgreSQL cluster and grpcurl.
#
#   source scripts/test-services.sh && start_services && pytest
#   stop_services            # stop the cluster (its data stays for the next start)
#   stop_services --purge    # stop it and delete its data directory
#
# Run directly it does the same: `bash scripts/test-services.sh start|stop|purge`.
#
# start_services is idempotent: it reuses a server that already answers on the port and a
# grpcurl that is already installed. It exports
#   TRACKWAY_TEST_POSTGRES_URL  postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres
#   TRACKWAY_GRPCURL            absolute path of a grpcurl binary
# It prints progress to stderr, returns non-zero with a message on failure and leaves the
# caller's shell options (set -e, -u, pipefail) as they were: the work runs in subshells.
#
# Environment:
#   TRACKWAY_TEST_PG_PORT           TCP port on 127.0.0.1 (default 54329)
#   TRACKWAY_TEST_PG_START_TIMEOUT  seconds to wait for the server (default 60)
#   TRACKWAY_PG_BINDIR              PostgreSQL server binaries (default: newest under
#                                   /usr/lib/postgresql, installed with apt when missing)
#
# The cluster lives in /tmp/trackway-test-pg-$PORT (data/, server.log, socket), belongs to
# the postgres OS user when run as root, trusts every local connection and runs with
# fsync, synchronous_commit and full_page_writes off: it is for tests only.

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
  _tw_log "ready in $((SECONDS - started)) s:" \
    "TRACKWAY_TEST_POSTGRES_URL=$TRACKWAY_TEST_POSTGRES_URL TRACKWAY_GRPCURL=$TRACKWAY_GRPCURL"
}

stop_services() {
  (
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
