#!/usr/bin/env bash
# The kind tier's entry point: a kind cluster running the operator from its image, installed
# by its chart, with nothing from a container registry.
#
#   tools/kind/kind.sh up     (make kind) install Docker and debootstrap, build what is
#                             missing, create the cluster from kind-config.yaml unless it is
#                             running already, build and load the operator and testbed images,
#                             `helm upgrade --install` the chart; prints the time of each step
#   tools/kind/kind.sh down   (make kind-down) delete the cluster; images and caches stay
#   tools/kind/kind.sh env    the variables the kind tests read (tests/kind/conftest.py)
#
# Every step is cached and idempotent: Go builds in ~/.cache/gitlab-ferry/kind/bin/<stamp>,
# Docker images by a stamp label, the cluster by the node image it runs. kind also writes its
# context into the default kubeconfig, so `kubectl -n gitlab-ferry get pods` works afterwards.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NAMESPACE=gitlab-ferry # the chart's release and namespace
RELEASE=gitlab-ferry
APP_VERSION=$(awk '/^appVersion:/ { gsub(/"/, "", $2); print $2 }' "$REPO/charts/gitlab-ferry/Chart.yaml")
HELM=$CACHE/bin/helm
KUBECTL=$BIN_DIR/kubectl

kubectl_() { "$KUBECTL" --kubeconfig "$STATE/kubeconfig" "$@"; }

cluster_up() {
  local wanted running
  wanted=$(image_stamp "$NODE_IMAGE")
  running=$("$DOCKER" inspect -f "{{.State.Running}} {{ index .Config.Labels \"$STAMP_LABEL\" }}" \
    "$NODE_CONTAINER" 2>/dev/null || true)
  mkdir -p "$STATE"
  if [ "$running" = "true $wanted" ] && kind_cli get kubeconfig --name "$CLUSTER" >"$STATE/kubeconfig" &&
    kubectl_ get --raw /readyz >/dev/null 2>&1; then
    say "cluster $CLUSTER is running the current node image"
  else
    if kind_cli get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
      say "cluster $CLUSTER is stale or stopped: creating it again"
      kind_cli delete cluster --name "$CLUSTER"
    fi
    kind_cli create cluster --config "$KIND_CONFIG" --wait 3m
    kind_cli get kubeconfig --name "$CLUSTER" >"$STATE/kubeconfig"
  fi
  chmod 600 "$STATE/kubeconfig"
  kind_cli export kubeconfig --name "$CLUSTER" >/dev/null 2>&1 # the default kubeconfig too
  kubectl_ -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null
}

# The operator image (the Dockerfile's last target) and the testbed image (target testbed),
# tagged <appVersion>-<image id> so that a new build is a new tag and a chart upgrade rolls it.
OPERATOR_IMAGE="" TESTBED_IMAGE=""
build_images() {
  local target repo id
  for target in operator testbed; do
    repo=gitlab-ferry
    [ "$target" = operator ] || repo=gitlab-ferry-$target
    "$DOCKER" build -q --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" --target "$target" \
      -t "$repo:$APP_VERSION" "$REPO" >/dev/null
    id=$("$DOCKER" image inspect -f '{{.Id}}' "$repo:$APP_VERSION")
    id=${id#sha256:}
    "$DOCKER" tag "$repo:$APP_VERSION" "$repo:$APP_VERSION-${id:0:12}"
    # Earlier builds' tags of this script go; the images themselves when nothing else uses them.
    "$DOCKER" images "$repo" --format '{{.Repository}}:{{.Tag}}' |
      grep -E "^$repo:$APP_VERSION-[0-9a-f]{12}\$" | grep -v -- "-${id:0:12}\$" |
      xargs -r "$DOCKER" rmi >/dev/null 2>&1 || true
    if [ "$target" = operator ]; then OPERATOR_IMAGE=$repo:$APP_VERSION-${id:0:12}; fi
    if [ "$target" = testbed ]; then TESTBED_IMAGE=$repo:$APP_VERSION-${id:0:12}; fi
  done
}

load_images() { # kind load, only what the node does not hold yet
  local image missing=()
  for image in "$OPERATOR_IMAGE" "$TESTBED_IMAGE"; do
    if [ -z "$("$DOCKER" exec "$NODE_CONTAINER" ctr -n k8s.io images list -q \
      "name==docker.io/library/$image")" ]; then
      missing+=("$image")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    kind_cli load docker-image --name "$CLUSTER" "${missing[@]}"
  else
    say "the node holds $OPERATOR_IMAGE and $TESTBED_IMAGE already"
  fi
}

install_chart() {
  "$HELM" upgrade --install "$RELEASE" "$REPO/charts/gitlab-ferry" \
    --kubeconfig "$STATE/kubeconfig" --namespace "$NAMESPACE" --create-namespace \
    --values "$KIND_DIR/values.yaml" --set "image.tag=${OPERATOR_IMAGE#*:}" \
    --wait --timeout 3m >/dev/null
  kubectl_ -n "$NAMESPACE" rollout status "deployment/$RELEASE" --timeout=120s >/dev/null
  kubectl_ -n "$NAMESPACE" get pods -o wide >&2
}

write_env() {
  cat >"$STATE/env" <<EOF
GITLAB_FERRY_KIND_KUBECONFIG=$STATE/kubeconfig
GITLAB_FERRY_KIND_KUBECTL=$KUBECTL
GITLAB_FERRY_KIND_HELM=$HELM
GITLAB_FERRY_KIND_OPERATOR_IMAGE=$OPERATOR_IMAGE
GITLAB_FERRY_KIND_TESTBED_IMAGE=$TESTBED_IMAGE
GITLAB_FERRY_KIND_PULL_POLICY=Never
GITLAB_FERRY_KIND_VALUES=$KIND_DIR/values.yaml
EOF
}

up() {
  local started=$SECONDS
  timed "docker" "$KIND_DIR/install-docker.sh"
  timed "control-plane binaries" "$REPO/tools/controlplane/build.sh" >/dev/null
  timed "helm" "$REPO/tools/install-helm.sh" >/dev/null
  timed "kind binaries" "$KIND_DIR/build-binaries.sh"
  timed "base images" "$KIND_DIR/build-debian.sh"
  timed "node image" "$KIND_DIR/build-node.sh"
  timed "cluster" cluster_up
  timed "operator and testbed images" build_images
  timed "image load" load_images
  timed "chart install" install_chart
  write_env
  say "ready in $((SECONDS - started)) s: $OPERATOR_IMAGE installed in namespace $NAMESPACE" \
    "(kubectl --context kind-$CLUSTER -n $NAMESPACE get pods)"
}

down() {
  local kind=$BIN_DIR/kind
  # A cluster made by an older checkout is deleted with whichever kind the cache holds.
  [ -x "$kind" ] || kind=$(ls "$KIND_CACHE"/bin/*/kind 2>/dev/null | head -n1)
  if [ -n "$kind" ] && PATH="$KIND_DIR/shim:$PATH" "$kind" get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    PATH="$KIND_DIR/shim:$PATH" "$kind" delete cluster --name "$CLUSTER"
  else
    say "no cluster $CLUSTER"
  fi
  rm -rf "$STATE"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  env)
    [ -f "$STATE/env" ] || { say "no cluster state in $STATE: run tools/kind/kind.sh up"; exit 1; }
    cat "$STATE/env"
    ;;
  *)
    echo "usage: $0 [up|down|env]" >&2
    exit 2
    ;;
esac
