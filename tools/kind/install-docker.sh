#!/usr/bin/env bash
# Installs what the kind tier needs from Debian's packages (docker.io, debootstrap) and starts
# the Docker daemon (dockerd) unless one answers already. Idempotent: on a machine that has
# both and a running daemon it only says so. CI machines start without a daemon, and without
# systemd, so dockerd is started in the background here and left running.
set -euo pipefail

log=${GITLAB_FERRY_DOCKERD_LOG:-/var/log/gitlab-ferry-dockerd.log}

need=()
[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing ${need[*]}: run as root, or: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  echo "installed: ${need[*]}"
fi

# The Debian client, whatever else is first on PATH: it matches the daemon's API version.
docker=/usr/bin/docker
if "$docker" info >/dev/null 2>&1; then
  echo "dockerd is running ($("$docker" version --format '{{.Server.Version}}'))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "dockerd is not running and only root can start it here" >&2
  exit 1
fi
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl start docker
else
  # A stale pid file from a daemon that died with the machine keeps dockerd from starting.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  nohup /usr/sbin/dockerd >>"$log" 2>&1 </dev/null &
fi
for _ in $(seq 1 60); do
  if "$docker" info >/dev/null 2>&1; then
    echo "started dockerd ($("$docker" version --format '{{.Server.Version}}'), log: $log)"
    exit 0
  fi
  sleep 1
done
echo "dockerd did not answer within 60 s; the end of $log:" >&2
tail -n 30 "$log" >&2 || true
exit 1
