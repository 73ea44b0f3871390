#!/usr/bin/env bash
# Print the path of a working grpcurl binary, installing it first when none is found.
#
# Lookup order: $TRACKWAY_GRPCURL, grpcurl on PATH, then the bin directories of every Go
# toolchain found (GOBIN, each GOPATH entry) and ~/go/bin. When none works it runs
# `go install github.com/fullstorydev/grpcurl/cmd/grpcurl@latest` (about 45 s on 2 cores),
# installing Debian's golang-go first if no Go toolchain is present. When the newest
# grpcurl needs a newer Go than the one available, a pinned older release is built instead.
#
# Only the path goes to stdout; progress and errors go to stderr. Exit status is non-zero
# on failure.
#
# Environment:
#   TRACKWAY_GRPCURL          use this binary when it runs
#   TRACKWAY_GRPCURL_VERSION  version to install (default: latest)
#   TRACKWAY_GO               use only this Go toolchain (default: the newest one found)
set -euo pipefail

readonly MODULE=github.com/fullstorydev/grpcurl
readonly PACKAGE=$MODULE/cmd/grpcurl
# Last release whose go.mod asks for an old Go (1.18), so Debian 12's Go 1.19 can build it.
readonly FALLBACK_VERSION=v1.8.9

log() { echo "install-grpcurl: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# Succeed when $1 is an executable grpcurl that runs.
works() { [[ -n $1 && -x $1 ]] && "$1" -version >/dev/null 2>&1; }

# Print "MAJOR MINOR" of a Go version string such as go1.26.8, 1.25.0 or 1.25.
go_minor() {
  local v=${1#go}
  local major=${v%%.*} rest=${v#*.}
  echo "${major:-0} ${rest%%[!0-9]*}"
}

# Succeed when Go version $1 is at least $2.
go_at_least() {
  local a b
  read -r -a a <<<"$(go_minor "$1")"
  read -r -a b <<<"$(go_minor "$2")"
  ((a[0] > b[0] || (a[0] == b[0] && ${a[1]:-0} >= ${b[1]:-0})))
}

# Print each working Go toolchain found, one per line, in no particular order.
go_candidates() {
  local g
  if [[ -n ${TRACKWAY_GO:-} ]]; then
    "$TRACKWAY_GO" version >/dev/null 2>&1 && echo "$TRACKWAY_GO"
    return 0
  fi
  for g in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go /usr/lib/go/bin/go \
    "${HOME:-/root}/sdk/go/bin/go"; do
    [[ -n $g && -x $g ]] && "$g" version >/dev/null 2>&1 && echo "$g"
  done
  return 0
}

# Print the newest Go toolchain found ($TRACKWAY_GO when set), or nothing.
newest_go() {
  local g best="" best_v="go0.0" v
  if [[ -n ${TRACKWAY_GO:-} ]]; then
    "$TRACKWAY_GO" version >/dev/null 2>&1 && echo "$TRACKWAY_GO"
    return 0
  fi
  while IFS= read -r g; do
    v=$("$g" env GOVERSION 2>/dev/null) || continue
    if [[ -z $best ]] || ! go_at_least "$best_v" "$v"; then
      best=$g
      best_v=$v
    fi
  done < <(go_candidates)
  echo "$best"
}

# Print the directory `go install` writes to for toolchain $1.
go_bin_dir() {
  local gobin gopath
  gobin=$("$1" env GOBIN 2>/dev/null || true)
  if [[ -n $gobin ]]; then
    echo "$gobin"
    return
  fi
  gopath=$("$1" env GOPATH 2>/dev/null || true)
  gopath=${gopath%%:*}
  echo "${gopath:-${HOME:-/root}/go}/bin"
}

# Install Debian packages, refreshing the package lists only when the first try fails.
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
  [[ $(id -u) -eq 0 ]] || die "need root to apt-get install $*; install it by hand"
  local apt=(apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends)
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" "$@" </dev/null >&2; then
    log "refreshing apt package lists"
    apt-get -o DPkg::Lock::Timeout=300 update -q </dev/null >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" "$@" </dev/null >&2 ||
      die "apt-get install $* failed"
  fi
}

# Print the first working grpcurl found without installing anything.
find_existing() {
  local p g d dir
  local -a dirs=() gopath=()
  if works "${TRACKWAY_GRPCURL:-}"; then
    echo "$TRACKWAY_GRPCURL"
    return 0
  fi
  p=$(command -v grpcurl 2>/dev/null || true)
  if works "$p"; then
    echo "$p"
    return 0
  fi
  while IFS= read -r g; do
    dirs+=("$(go_bin_dir "$g")")
    IFS=: read -r -a gopath <<<"$("$g" env GOPATH 2>/dev/null || true)"
    for d in "${gopath[@]}"; do dirs+=("$d/bin"); done
  done < <(go_candidates)
  [[ -n ${GOBIN:-} ]] && dirs+=("$GOBIN")
  IFS=: read -r -a gopath <<<"${GOPATH:-}"
  for d in "${gopath[@]}"; do dirs+=("$d/bin"); done
  dirs+=("${HOME:-/root}/go/bin")
  for dir in "${dirs[@]}"; do
    if works "$dir/grpcurl"; then
      echo "$dir/grpcurl"
      return 0
    fi
  done
  return 1
}

main() {
  local found go goversion version need bindir started
  if found=$(find_existing); then
    echo "$found"
    return 0
  fi

  go=$(newest_go)
  [[ -n $go || -z ${TRACKWAY_GO:-} ]] || die "TRACKWAY_GO=$TRACKWAY_GO is not a working go binary"
  if [[ -z $go ]]; then
    log "no Go toolchain found; installing golang-go with apt"
    apt_install golang-go
    go=$(newest_go)
    [[ -n $go ]] || die "golang-go installed but no working 'go' found"
  fi
  goversion=$("$go" env GOVERSION)

  version=${TRACKWAY_GRPCURL_VERSION:-latest}
  if [[ -z ${TRACKWAY_GRPCURL_VERSION:-} ]]; then
    # Ask the module proxy which Go the newest release needs (one small request).
    need=$(cd / && "$go" list -m -f '{{.GoVersion}}' "$MODULE@latest" 2>/dev/null) || need=""
    if [[ -n $need ]] && ! go_at_least "$goversion" "$need"; then
      log "grpcurl@latest needs Go $need but $go is $goversion; using $FALLBACK_VERSION"
      version=$FALLBACK_VERSION
    fi
  fi

  bindir=$(go_bin_dir "$go")
  mkdir -p "$bindir" || die "cannot create $bindir"
  log "building $PACKAGE@$version with $goversion into $bindir (about a minute)"
  started=$SECONDS
  # Run from / so a go.mod in the caller's directory does not get in the way.
  if ! (cd / && GOBIN=$bindir "$go" install "$PACKAGE@$version" >&2); then
    if [[ $version == latest ]]; then
      log "go install @latest failed; retrying with $FALLBACK_VERSION"
      (cd / && GOBIN=$bindir "$go" install "$PACKAGE@$FALLBACK_VERSION" >&2) ||
        die "go install $PACKAGE@$FALLBACK_VERSION failed"
    else
      die "go install $PACKAGE@$version failed"
    fi
  fi
  works "$bindir/grpcurl" || die "go install finished but $bindir/grpcurl does not run"
  log "installed $bindir/grpcurl in $((SECONDS - started)) s"
  echo "$bindir/grpcurl"
}

main "$@"
