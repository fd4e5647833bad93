#!/usr/bin/env bash
# Make promtool available (Debian's prometheus package) so the tests can check
# docs/deploy/alerts.yml. Never fails the build: without it (no root, no network) the check
# is skipped and this says why.
set -uo pipefail
command -v promtool >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "promtool not found (apt-get install prometheus as root); the alert-rule check is skipped" >&2
  exit 0
fi
install() {
  DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends \
    prometheus >/dev/null 2>&1
}
echo "installing prometheus (apt-get) for promtool, to check docs/deploy/alerts.yml" >&2
install || { timeout 120 apt-get update -qq >/dev/null 2>&1 && install; } \
  || echo "could not install prometheus; the alert-rule check is skipped" >&2
exit 0
