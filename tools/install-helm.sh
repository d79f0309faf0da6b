#!/usr/bin/env bash
# Builds helm from Go modules into the cache (no binary downloads, no binaries in git).
set -euo pipefail
HELM_VERSION=v3.19.0
cache="${GITLAB_FERRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitlab-ferry}"
bin="$cache/bin"
stamp="$bin/.helm-build"
recipe="$HELM_VERSION k8s-1.34"
if [ -x "$bin/helm" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$recipe" ]; then
  echo "helm $HELM_VERSION present in $bin"
  exit 0
fi
mkdir -p "$bin"
export GOBIN="$bin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOSUMDB="${GOSUMDB:-off}"
# Without these, a helm built from source assumes Kubernetes 1.20 for `helm template` and lint,
# and refuses charts that need a newer one; 1.34 is the client-go this helm is built with.
k8s_defaults=""
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  k8s_defaults+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=34"
done
go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION$k8s_defaults" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
echo "$recipe" > "$stamp"
"$bin/helm" version --short
