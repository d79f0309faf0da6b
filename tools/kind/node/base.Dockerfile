# The kind base image, from Debian's packages instead of kind's own builds: systemd, Debian's
# containerd 1.6, runc and CNI plugins, with kind's files for the node (systemd units, its
# entrypoint, the containerd config) copied from the kind module (images/base/files) by
# tools/kind/build-images.sh. Upstream: sigs.k8s.io/kind images/base/Dockerfile.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
COPY files/usr/local/bin/ /usr/local/bin/
RUN chmod 0755 /usr/local/bin/* \
 && DEBIAN_FRONTEND=noninteractive clean-install \
      systemd conntrack iptables nftables iproute2 ethtool util-linux mount kmod \
      libseccomp2 pigz bash ca-certificates curl jq procps \
      containerd runc containernetworking-plugins \
 && find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \
 && rm -f /lib/systemd/system/multi-user.target.wants/* \
 && rm -f /etc/systemd/system/*.wants/* \
 && rm -f /lib/systemd/system/local-fs.target.wants/* \
 && rm -f /lib/systemd/system/sockets.target.wants/*udev* \
 && rm -f /lib/systemd/system/sockets.target.wants/*initctl* \
 && rm -f /lib/systemd/system/basic.target.wants/* \
 && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \
 && ln -sf /usr/lib/systemd/systemd /sbin/init
COPY files/kind/ /kind/
COPY files/etc/ /etc/
# kind's units and scripts expect containerd under /usr/local/bin and the CNI plugins under
# /opt/cni/bin; kind's containerd config (format version 2) is read by containerd 1.6 as well.
RUN chmod 755 /kind /kind/bin /kind/bin/* \
 && ln -sf /usr/bin/containerd /usr/local/bin/containerd \
 && ln -sf /usr/bin/ctr /usr/local/bin/ctr \
 && mkdir -p /opt/cni/bin \
 && for p in host-local loopback ptp portmap; do cp /usr/lib/cni/$p /opt/cni/bin/; done \
 && ctr oci spec \
      | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
      | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json \
 && containerd --version && runc --version \
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \
 && systemctl mask systemd-binfmt.service \
 && mkdir -p /etc/kubernetes/manifests /etc/cni/net.d
COPY entrypoint-unprivileged /usr/local/bin/entrypoint-unprivileged
COPY 10-pod-network.conflist /etc/cni/net.d/10-pod-network.conflist
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT [ "/usr/local/bin/entrypoint-unprivileged", "/usr/local/bin/entrypoint", "/sbin/init" ]
