#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kube-controller-manager from the Go modules pinned in go.mod
# into bin/.
#
# A stamp (hash of go.mod, go.sum, the mains, this script and the OS/arch) names a build.
# Finished builds are kept in a cache outside the clone,
#   ${GITLAB_FERRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitlab-ferry}/controlplane/<stamp>/
# because CI starts from a fresh clone every run but keeps ~/.cache: a matching stamp is linked
# (or copied) into bin/ in seconds, and only a changed module pays for a Go build, which the Go
# module and build caches then make incremental.
#
# Usage: build.sh [--force]   (--force ignores bin/ and the cache and rebuilds)
set -euo pipefail
export LC_ALL=C # deterministic glob order, so the stamp does not depend on the locale
cd "$(dirname "$0")"
here=$(pwd)

K8S_VERSION=v1.33.13
binaries=(kube-apiserver etcd kube-controller-manager)
force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

sha256() { if command -v sha256sum >/dev/null; then sha256sum; else shasum -a 256; fi; }
# uname is in the stamp so a cache shared between machines never hands out foreign binaries.
stamp_now=$({ cat go.mod go.sum build.sh cmd/*/main.go; uname -sm; } | sha256 | cut -d' ' -f1)
cache_root="${GITLAB_FERRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitlab-ferry}/controlplane"
cache_dir="$cache_root/$stamp_now"
started=$SECONDS

complete() { # complete DIR: every binary is there and executable, and the stamp matches
  [ -f "$1/.stamp" ] && [ "$(cat "$1/.stamp")" = "$stamp_now" ] || return 1
  local b
  for b in "${binaries[@]}"; do [ -x "$1/$b" ] || return 1; done
}

# Hard links cost no space; a copy is the fallback across file systems. The cache copy is made
# read-only and bin/ entries are always unlinked before a build writes them, so a build can
# never write through a hard link into the cache.
link_or_copy() { ln -f "$1" "$2" 2>/dev/null || cp -f "$1" "$2"; }

save_to_cache() {
  mkdir -p "$cache_root"
  local tmp b
  tmp=$(mktemp -d "$cache_root/.tmp.XXXXXX")
  for b in "${binaries[@]}"; do link_or_copy "bin/$b" "$tmp/$b"; chmod a-w "$tmp/$b"; done
  echo "$stamp_now" >"$tmp/.stamp"
  chmod 755 "$tmp" # mktemp makes it private; the cache may serve other users of the machine
  # rename is atomic: a concurrent build that got there first wins and ours is dropped.
  if mv -T "$tmp" "$cache_dir" 2>/dev/null; then
    echo "saved the binaries to the cache: $cache_dir"
  else
    rm -rf "$tmp"
  fi
}

prune_cache() { # builds unused for 30 days go; the one in use is touched on every hit
  [ -d "$cache_root" ] || return 0
  if [ -d "$cache_dir" ]; then touch "$cache_dir"; fi
  find "$cache_root" -mindepth 1 -maxdepth 1 -type d -mtime +30 -print -exec rm -rf {} + |
    sed 's/^/pruned old cache entry: /'
}

if [ "$force" = 0 ] && complete bin; then
  echo "control-plane binaries are up to date in $here/bin (stamp ${stamp_now:0:12})"
  complete "$cache_dir" || save_to_cache
  prune_cache
  exit 0
fi

if [ "$force" = 0 ] && complete "$cache_dir"; then
  mkdir -p bin
  rm -f bin/.stamp
  for b in "${binaries[@]}"; do rm -f "bin/$b"; link_or_copy "$cache_dir/$b" "bin/$b"; done
  echo "$stamp_now" >bin/.stamp
  prune_cache
  echo "restored the control-plane binaries from the cache $cache_dir into $here/bin" \
    "in $((SECONDS - started)) s (stamp ${stamp_now:0:12})"
  bin/kube-apiserver --version
  exit 0
fi

if ! command -v go >/dev/null; then
  echo "build.sh: no cached build for stamp ${stamp_now:0:12} and no Go toolchain on PATH;" \
    "install Go >= 1.24 (see tools/controlplane/README.md)" >&2
  exit 1
fi

echo "building the control plane (stamp ${stamp_now:0:12}, $(go version)); a cold build takes minutes"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"
# sum.golang.org is unreachable here; go.sum pins every module hash, so nothing goes unchecked.
export GOSUMDB="${GOSUMDB:-off}"
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
# Without these the server reports v0.0.0-master, which breaks kubeVersion constraints (helm).
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done

mkdir -p bin
rm -f bin/.stamp
for b in "${binaries[@]}"; do
  t=$SECONDS
  rm -f "bin/$b" # never write through a hard link into the cache
  go build -p "$(nproc 2>/dev/null || echo 2)" -tags providerless -ldflags "$ldflags" -o "bin/$b" "./cmd/$b"
  echo "built $b in $((SECONDS - t)) s"
done
echo "$stamp_now" >bin/.stamp
save_to_cache
prune_cache
echo "built the control-plane binaries into $here/bin in $((SECONDS - started)) s"
bin/kube-apiserver --version
