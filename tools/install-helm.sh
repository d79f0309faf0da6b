#!/usr/bin/env bash
# Builds helm from Go modules into the cache (no binary downloads, no binaries in git).
set -euo pipefail
HELM_VERSION=v3.19.0
cache="${GITLAB_FERRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitlab-ferry}"
bin="$cache/bin"
if [ -x "$bin/helm" ] && "$bin/helm" version --short 2>/dev/null | grep -q "$HELM_VERSION"; then
  echo "helm $HELM_VERSION present in $bin"
  exit 0
fi
mkdir -p "$bin"
export GOBIN="$bin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOSUMDB="${GOSUMDB:-off}"
go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
"$bin/helm" version --short
