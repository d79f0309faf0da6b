#!/usr/bin/env bash
# Builds the two base images every other image of the kind tier starts from, without a
# container registry:
#   gitlab-ferry.local/debian:bookworm   debootstrap (minbase) from the machine's Debian mirror,
#                                        with the machine's CA certificates, so apt and pip
#                                        inside images trust the same HTTPS proxy as the host
#   gitlab-ferry.local/python:3.11       the above + Debian's python3 and venv (the
#                                        Dockerfile's PYTHON_IMAGE)
# Each carries a stamp label; an image whose stamp matches is kept. The debootstrap root file
# system is also kept as a tarball in the cache, so a machine with a new Docker but a warm
# cache imports it in seconds instead of downloading it again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# The Debian mirror apt uses here (one-line or deb822 sources), unless DEBIAN_MIRROR says.
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local found
  found=$(
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk -v suite="$DEBIAN_SUITE" '$1 == "deb" {
          i = 2
          if ($2 ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
          if ($(i + 1) == suite) { print $i; exit } }'
  )
  if [ -z "$found" ]; then
    found=$(
      cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk -v suite="$DEBIAN_SUITE" '
          /^[[:space:]]*$/ { if (uris != "" && (" " suites " ") ~ (" " suite " ")) { print uris; exit }
                            uris = ""; suites = ""; next }
          /^URIs:/ { uris = $2 } /^Suites:/ { $1 = ""; suites = $0 }
          END { if (uris != "" && (" " suites " ") ~ (" " suite " ")) print uris }' | head -n1
    )
  fi
  echo "${found:-http://deb.debian.org/debian}"
}

mirror=$(debian_mirror)
cas=(/usr/local/share/ca-certificates/*.crt)
[ -e "${cas[0]}" ] || cas=()
debian_stamp=$(EXTRA="$DEBIAN_SUITE $mirror $(uname -m)" stamp_of "$0" ${cas[@]+"${cas[@]}"})

if [ "$(image_stamp "$DEBIAN_IMAGE")" = "$debian_stamp" ]; then
  say "$DEBIAN_IMAGE up to date"
else
  replaced=$(image_id "$DEBIAN_IMAGE")
  rootfs_tar=$KIND_CACHE/debian/$DEBIAN_SUITE-$debian_stamp.tar
  if [ ! -f "$rootfs_tar" ]; then
    command -v debootstrap >/dev/null || { say "debootstrap is missing (install-docker.sh)"; exit 1; }
    say "debootstrap $DEBIAN_SUITE from $mirror"
    mkdir -p "$KIND_CACHE/debian"
    work=$(mktemp -d "$KIND_CACHE/debian/.tmp.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    debootstrap --variant=minbase --include=ca-certificates "$DEBIAN_SUITE" "$work/rootfs" \
      "$mirror" >"$work/debootstrap.log" 2>&1 || {
      tail -n 20 "$work/debootstrap.log" >&2
      exit 1
    }
    if [ ${#cas[@]} -gt 0 ]; then
      cp "${cas[@]}" "$work/rootfs/usr/local/share/ca-certificates/"
    fi
    chroot "$work/rootfs" update-ca-certificates >/dev/null 2>&1
    rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
    tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
    mv "$work/rootfs.tar" "$rootfs_tar"
    rm -rf "$work"
    trap - EXIT
  fi
  "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL $STAMP_LABEL=$debian_stamp" \
    "$rootfs_tar" "$DEBIAN_IMAGE" >/dev/null
  find "$KIND_CACHE/debian" -name "$DEBIAN_SUITE-*.tar" ! -name "*$debian_stamp*" -delete
  remove_replaced "$replaced" "$DEBIAN_IMAGE"
  say "imported $DEBIAN_IMAGE"
fi

python_stamp=$(EXTRA="$debian_stamp" stamp_of "$0")
if [ "$(image_stamp "$PYTHON_IMAGE")" = "$python_stamp" ]; then
  say "$PYTHON_IMAGE up to date"
else
  replaced=$(image_id "$PYTHON_IMAGE")
  "$DOCKER" build -q -t "$PYTHON_IMAGE" --label "$STAMP_LABEL=$python_stamp" - >/dev/null <<EOF
FROM $DEBIAN_IMAGE
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \\
 && ln -sf /usr/bin/python3 /usr/local/bin/python \\
 && rm -rf /var/lib/apt/lists/*
EOF
  remove_replaced "$replaced" "$PYTHON_IMAGE"
  say "built $PYTHON_IMAGE ($("$DOCKER" run --rm "$PYTHON_IMAGE" python --version))"
fi
