#!/usr/bin/env bash
# Install R and the packages the R client (clients/r) needs, from Debian's packages,
# when Rscript or one of them is missing; then print their versions.
#
# CRAN is not used: r-base-core, r-cran-httr2, r-cran-jsonlite and r-cran-testthat come
# from the distribution, so CI needs nothing but apt. Runs as root (or via sudo when it
# is available). Safe to run again: with everything present it installs nothing.
set -euo pipefail

readonly PACKAGES=(r-base-core r-cran-httr2 r-cran-jsonlite r-cran-testthat)
readonly R_PACKAGES=(httr2 jsonlite testthat)

log() { echo "install-r: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# Succeed when Rscript runs and loads every package the client needs.
have_all() {
  command -v Rscript >/dev/null 2>&1 || return 1
  local pkg
  for pkg in "${R_PACKAGES[@]}"; do
    Rscript -e "quit(status = !requireNamespace('$pkg', quietly = TRUE))" >/dev/null 2>&1 ||
      return 1
  done
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $*"
  fi
}

# Install Debian packages, refreshing the package lists only when the first try fails.
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install ${PACKAGES[*]} by hand"
  local apt=(apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends)
  if ! as_root env DEBIAN_FRONTEND=noninteractive "${apt[@]}" "$@" </dev/null >&2; then
    log "refreshing apt package lists"
    as_root apt-get -o DPkg::Lock::Timeout=300 update -q </dev/null >&2 || die "apt-get update failed"
    as_root env DEBIAN_FRONTEND=noninteractive "${apt[@]}" "$@" </dev/null >&2 ||
      die "apt-get install $* failed"
  fi
}

main() {
  if have_all; then
    log "R and its packages are already installed"
  else
    log "installing ${PACKAGES[*]} with apt"
    apt_install "${PACKAGES[@]}"
    have_all || die "installed ${PACKAGES[*]} but Rscript cannot load ${R_PACKAGES[*]}"
  fi
  Rscript -e "cat(R.version.string, '\n')" \
    -e "for (p in c($(printf "'%s'," "${R_PACKAGES[@]}" | sed 's/,$//'))) cat(p, format(packageVersion(p)), '\n')"
}

main "$@"
