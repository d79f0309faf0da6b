#!/usr/bin/env bash
# Builds the Go programs of the kind tier from the Go module proxy into the cache:
#   kind                        sigs.k8s.io/kind (the CLI)
#   kubelet kubeadm kubectl     k8s.io/kubernetes, the release tools/controlplane builds,
#   kube-scheduler kube-proxy   static (CGO off, -tags providerless), with version ldflags
#   pause                       tools/kind/go/pause, the pod sandbox's first process
#   coredns                     CoreDNS with the plugins kubeadm's Corefile uses
# into $KIND_CACHE/bin/<stamp>/, the stamp hashing the go.mod/go.sum files, the sources and
# this script. A complete entry is used as it is; a missing one is built next to it and
# renamed into place, so concurrent runs never see half a build.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

binaries=(kind kubelet kubeadm kubectl kube-scheduler kube-proxy pause coredns)
complete() {
  local b
  for b in "${binaries[@]}"; do [ -x "$1/$b" ] || return 1; done
}
if complete "$BIN_DIR"; then
  say "binaries up to date in $BIN_DIR"
  exit 0
fi
if ! command -v go >/dev/null; then
  say "no cached binaries for $(basename "$BIN_DIR") and no Go toolchain on PATH" >&2
  exit 1
fi

mkdir -p "$KIND_CACHE/bin"
out=$(mktemp -d "$KIND_CACHE/bin/.tmp.XXXXXX")
trap 'rm -rf "$out"' EXIT
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"
# sum.golang.org is unreachable here; go.sum pins every module hash.
export GOSUMDB="${GOSUMDB:-off}"
jobs=$(nproc 2>/dev/null || echo 2)
minor=${K8S_VERSION#v1.}
minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean"
done

build() { # build NAME PACKAGE [MODULE-DIR]
  local started=$SECONDS
  (cd "${3:-$KIND_DIR/go}" && go build -p "$jobs" -tags providerless -ldflags "$ldflags" \
    -o "$out/$1" "$2")
  say "built $1 in $((SECONDS - started)) s"
}
say "building the kind tier's binaries ($(go version | cut -d' ' -f3)); a cold build takes minutes"
build kind sigs.k8s.io/kind
build pause ./pause
for b in kubeadm kubectl kube-scheduler kube-proxy kubelet; do
  build "$b" "k8s.io/kubernetes/cmd/$b"
done
build coredns . "$KIND_DIR/coredns"
"$out/kubeadm" version -o short

chmod 755 "$out"
if ! mv -T "$out" "$BIN_DIR" 2>/dev/null; then
  say "another build finished first; using it"
fi
find "$KIND_CACHE/bin" -mindepth 1 -maxdepth 1 -type d -mtime +30 -exec rm -rf {} + || true
touch "$BIN_DIR"
