#!/usr/bin/env bash
# Install Maven and a JDK for the Java client (clients/java) from Debian's packages when
# `mvn` or `javac` is missing; then print their versions.
#
# The JDK is default-jdk-headless (Java 17 on Debian 12), Maven is Debian's maven. The
# client's own dependencies (protoc, the gRPC code generator, gRPC and protobuf) come from
# Maven Central during the first build. Runs as root (or via sudo when it is available).
# Safe to run again: with both present it installs nothing.
set -euo pipefail

readonly PACKAGES=(default-jdk-headless maven)

log() { echo "install-java: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

have_all() {
  command -v mvn >/dev/null 2>&1 && command -v javac >/dev/null 2>&1
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
    log "Maven and a JDK are already installed"
  else
    log "installing ${PACKAGES[*]} with apt"
    apt_install "${PACKAGES[@]}"
    have_all || die "installed ${PACKAGES[*]} but mvn or javac is still missing"
  fi
  javac -version
  # Without the terminal colour codes that Maven 3.8 prints even in batch mode.
  mvn -B -version | sed 's/\x1b\[[0-9;]*m//g'
}

main "$@"
