#!/usr/bin/env bash
# Install Debian's headless Chromium and its WebDriver for the Web UI tests (tests/ui/),
# and curl, which the end-to-end example test (tests/examples/) scores a served model
# with; then print their versions. Idempotent: when all run, nothing is installed.
#
# The tests drive /usr/bin/chromium through playwright's `executable_path`; browsers are
# never downloaded (`playwright install` is not used), so this is the only install step.
# chromium-driver comes along so that selenium-based tooling can use the same browser.
#
# Environment:
#   TRACKWAY_CHROMIUM  the browser binary to check (default: /usr/bin/chromium)
set -euo pipefail

readonly BROWSER=${TRACKWAY_CHROMIUM:-/usr/bin/chromium}
readonly DRIVER=/usr/bin/chromedriver

log() { echo "install-browser: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

runs() { [[ -x $1 ]] && "$1" --version >/dev/null 2>&1; }

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

main() {
  if runs "$BROWSER" && runs "$DRIVER"; then
    log "already installed"
  else
    log "installing chromium and chromium-driver with apt"
    apt_install chromium chromium-driver
  fi
  if ! command -v curl >/dev/null 2>&1; then
    log "installing curl with apt"
    apt_install curl
  fi
  runs "$BROWSER" || die "$BROWSER does not run after the install"
  runs "$DRIVER" || die "$DRIVER does not run after the install"
  "$BROWSER" --version
  "$DRIVER" --version
  curl --version | head -n1
}

main "$@"
