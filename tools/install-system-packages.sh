#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real: a Lua interpreter (Argo CD
# health checks) and Prometheus with promtool (scraping the operator, checking the rules).
# Does nothing when they are already there.
set -euo pipefail

need=()
command -v lua5.4 >/dev/null || need+=(lua5.4)
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages present: lua5.4, prometheus, promtool"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing ${need[*]}: run as root, or install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian package starts a Prometheus service where an init system runs; tests start
# their own instances on free ports instead.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
fi
echo "installed: ${need[*]}"
