#!/usr/bin/env bash
# Assembles the kind node image kind-config.yaml names, offline. `kind build node-image` would
# pull pause, etcd, CoreDNS and kindnetd from registries; instead:
#   1. the kind base image: node/base.Dockerfile on the Debian image, with kind's own files
#      (images/base/files of the kind module in the Go module cache);
#   2. the images kubeadm runs (control plane, etcd, kube-proxy, CoreDNS, pause), built from
#      the binaries of build-binaries.sh and tools/controlplane under exactly the names
#      kubeadm asks for, saved as archives;
#   3. a container of the base image gets kubeadm, kubelet and kubectl, imports the archives
#      into its containerd, and is committed as the node image.
# The node image's stamp label names all of these inputs; a matching image is kept.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

for b in kube-apiserver kube-controller-manager etcd; do
  [ -x "$CONTROLPLANE_BIN/$b" ] || { say "$CONTROLPLANE_BIN/$b is missing (make controlplane)"; exit 1; }
done
debian=$(image_stamp "$DEBIAN_IMAGE")
[ -n "$debian" ] || { say "$DEBIAN_IMAGE is missing (build-debian.sh)"; exit 1; }

base_stamp=$(EXTRA="$KIND_VERSION $debian" stamp_of "$KIND_DIR/node")
node_stamp=$(EXTRA="$base_stamp $K8S_VERSION $COREDNS_VERSION $PAUSE_VERSION $ETCD_IMAGE_TAG \
$(basename "$BIN_DIR") $(cat "$CONTROLPLANE_BIN/.stamp")" stamp_of "$0")
if [ "$(image_stamp "$NODE_IMAGE")" = "$node_stamp" ]; then
  say "$NODE_IMAGE up to date"
  exit 0
fi

work=$(mktemp -d)
builder=""
cleanup() {
  [ -z "$builder" ] || "$DOCKER" rm -f -v "$builder" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# 1. The base image.
if [ "$(image_stamp "$BASE_IMAGE")" != "$base_stamp" ]; then
  kind_module=$(cd "$KIND_DIR/go" && GOFLAGS=-mod=mod go mod download -json sigs.k8s.io/kind |
    awk -F'"' '$2 == "Dir" { print $4 }')
  [ -d "$kind_module/images/base/files" ] || { say "no kind module in the Go module cache"; exit 1; }
  mkdir -p "$work/base"
  cp -r "$kind_module/images/base/files" "$KIND_DIR/node/." "$work/base/"
  chmod -R u+w "$work/base"
  replaced=$(image_id "$BASE_IMAGE")
  "$DOCKER" build -q -f "$work/base/base.Dockerfile" --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" \
    --label "$STAMP_LABEL=$base_stamp" -t "$BASE_IMAGE" "$work/base" >/dev/null
  remove_replaced "$replaced" "$BASE_IMAGE"
  say "built $BASE_IMAGE"
fi

# 2. The images kubeadm runs, as archives.
mkdir -p "$work/bin" "$work/images"
cp "$BIN_DIR"/* "$CONTROLPLANE_BIN"/{kube-apiserver,kube-controller-manager,etcd} "$work/bin/"
image() { # image NAME BINARY [FROM] [RUN]: BINARY as the entrypoint, saved as an archive
  local name=$1 binary=$2 from=${3:-scratch} run=${4:-}
  local context=$work/context-$binary
  mkdir -p "$context"
  cp "$work/bin/$binary" "$context/"
  {
    echo "FROM $from"
    [ -z "$run" ] || echo "RUN $run"
    echo "COPY $binary /usr/local/bin/$binary"
    echo "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo "ENTRYPOINT [\"/usr/local/bin/$binary\"]"
  } >"$context/Dockerfile"
  "$DOCKER" build -q -t "$name" "$context" >/dev/null
  "$DOCKER" save -o "$work/images/$binary.tar" "$name"
}
registry=registry.k8s.io
image "$registry/kube-apiserver:$K8S_VERSION" kube-apiserver
image "$registry/kube-controller-manager:$K8S_VERSION" kube-controller-manager
image "$registry/kube-scheduler:$K8S_VERSION" kube-scheduler
image "$registry/etcd:$ETCD_IMAGE_TAG" etcd
image "$registry/pause:$PAUSE_VERSION" pause
image "$registry/coredns/coredns:$COREDNS_VERSION" coredns
# kube-proxy runs iptables and conntrack.
image "$registry/kube-proxy:$K8S_VERSION" kube-proxy "$DEBIAN_IMAGE" \
  "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
iptables conntrack kmod && rm -rf /var/lib/apt/lists/*"

# 3. The node image.
builder=gitlab-ferry-node-build-$$
"$DOCKER" run -d --name "$builder" --entrypoint=sleep "$BASE_IMAGE" infinity >/dev/null
for b in kubeadm kubelet kubectl; do "$DOCKER" cp "$work/bin/$b" "$builder:/usr/bin/$b"; done
"$DOCKER" exec "$builder" sh -euc "
  chown root:root /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl
  echo $K8S_VERSION > /kind/version
  containerd >/tmp/containerd.log 2>&1 &
  for i in \$(seq 1 50); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.2; done
  ctr version >/dev/null"
for archive in "$work"/images/*.tar; do
  "$DOCKER" exec -i "$builder" ctr --namespace=k8s.io images import --all-platforms \
    --no-unpack --digests - <"$archive" >/dev/null
done
"$DOCKER" exec "$builder" sh -euc '
  ctr --namespace=k8s.io images list -q | grep -v -e "^sha256:" -e "^import-" | sort
  kill $(pidof containerd)
  for i in $(seq 1 50); do pidof containerd >/dev/null || break; sleep 0.2; done
  rm -f /tmp/containerd.log' | sed 's/^/  image in the node: /' >&2
replaced=$(image_id "$NODE_IMAGE")
"$DOCKER" commit \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint-unprivileged", "/usr/local/bin/entrypoint", "/sbin/init"]' \
  --change 'CMD []' \
  --change "LABEL $STAMP_LABEL=$node_stamp" \
  "$builder" "$NODE_IMAGE" >/dev/null
remove_replaced "$replaced" "$NODE_IMAGE"
say "built $NODE_IMAGE ($(("$("$DOCKER" image inspect -f '{{.Size}}' "$NODE_IMAGE")" / 1048576)) MiB)"
