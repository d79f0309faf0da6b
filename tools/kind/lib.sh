# Shared settings and helpers of the kind tier's scripts (sourced, never run).
#
# Every version that names a cache entry or an image is set here; kind-config.yaml names the
# cluster and the node image. Build outputs live outside the clone, under
#   ${GITLAB_FERRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitlab-ferry}/kind/
# and Docker images carry a dev.gitlabferry.stamp label naming the inputs they were built from.

KIND_VERSION=v0.33.0    # sigs.k8s.io/kind, required in tools/kind/go/go.mod
K8S_VERSION=v1.33.13    # k8s.io/kubernetes, in tools/kind/go/go.mod as in tools/controlplane
COREDNS_VERSION=v1.12.0 # the CoreDNS kubeadm v1.33 deploys
PAUSE_VERSION=3.10      # the sandbox image kubeadm v1.33 and kind's containerd config name
ETCD_IMAGE_TAG=3.5.21-0 # etcd v3.5.21 from tools/controlplane; kind-config.yaml asks kubeadm for it
DEBIAN_SUITE=bookworm
PYTHON_IMAGE=gitlab-ferry.local/python:3.11
DEBIAN_IMAGE=gitlab-ferry.local/debian:$DEBIAN_SUITE
BASE_IMAGE=gitlab-ferry.local/kind-base:$DEBIAN_SUITE
STAMP_LABEL=dev.gitlabferry.stamp

KIND_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$KIND_DIR/../.." && pwd)
CACHE=${GITLAB_FERRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitlab-ferry}
KIND_CACHE=$CACHE/kind
KIND_CONFIG=${GITLAB_FERRY_KIND_CONFIG:-$REPO/kind-config.yaml}
CLUSTER=$(awk '/^name:/ { print $2; exit }' "$KIND_CONFIG")
NODE_IMAGE=$(awk '$1 == "image:" { print $2; exit }' "$KIND_CONFIG")
NODE_CONTAINER=$CLUSTER-control-plane
STATE=$KIND_CACHE/clusters/$CLUSTER # kubeconfig and env of the running cluster

# Debian's client matches the daemon tools/kind/install-docker.sh starts; another client
# earlier on PATH may speak a newer API.
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker || echo docker)
export DOCKER_BUILDKIT=0 # the classic builder uses local base images without a registry

say() { echo "kind tier: $*" >&2; }

# timed LABEL COMMAND...: run COMMAND and report how long it took.
timed() {
  local label=$1 started=$SECONDS
  shift
  "$@"
  say "$label took $((SECONDS - started)) s"
}

sha256() { if command -v sha256sum >/dev/null; then sha256sum; else shasum -a 256; fi; }

# stamp_of PATH... : a short hash of the files (or directories) and of the strings in $EXTRA.
stamp_of() {
  local path
  {
    for path in "$@"; do
      if [ -d "$path" ]; then
        (cd "$path" && LC_ALL=C find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
      else
        sha256sum <"$path"
      fi
    done
    echo "${EXTRA:-}"
  } | sha256 | cut -c1-16
}

# image_stamp IMAGE: the stamp label of a local image, or nothing.
image_stamp() {
  "$DOCKER" image inspect -f "{{ index .Config.Labels \"$STAMP_LABEL\" }}" "$1" 2>/dev/null || true
}

image_id() { "$DOCKER" image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

# remove_replaced OLD-ID IMAGE: once a build gave IMAGE's name to a new image, the image that
# had it goes, unless something still uses it. (Images built from these carry their labels,
# so a prune by label would take the Docker build cache of the Dockerfile with it.)
remove_replaced() {
  if [ -n "$1" ] && [ "$1" != "$(image_id "$2")" ]; then
    "$DOCKER" rmi "$1" >/dev/null 2>&1 || true
  fi
}

# The kind CLI, the node binaries and the control-plane binaries this checkout builds.
binaries_stamp() {
  EXTRA="$KIND_VERSION $K8S_VERSION $COREDNS_VERSION $(uname -sm)" \
    stamp_of "$KIND_DIR/go/go.mod" "$KIND_DIR/go/go.sum" "$KIND_DIR/go/pause" \
    "$KIND_DIR/coredns/go.mod" "$KIND_DIR/coredns/go.sum" "$KIND_DIR/coredns/main.go" \
    "$KIND_DIR/build-binaries.sh"
}
BIN_DIR=$KIND_CACHE/bin/$(binaries_stamp)
CONTROLPLANE_BIN=$REPO/tools/controlplane/bin

# The kind CLI with the docker shim first on PATH (see shim/docker).
kind_cli() { PATH="$KIND_DIR/shim:$PATH" "$BIN_DIR/kind" "$@"; }
