"""The admin kubeconfig for a local control plane.

Layer: ``controlplane`` (a self-contained test and demo tool). It renders and writes one YAML
file; it must not talk to the API server or import the operator or the rest of the testbed. The file
carries a bearer token, so it is written with mode 0600 and replaced atomically (a reader
never sees half a file).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml

NAME = "gitlab-ferry"


def render(server: str, ca_pem: bytes, token: str, namespace: str = "default") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "current-context": NAME,
        "clusters": [
            {
                "name": NAME,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": f"{NAME}-admin", "user": {"token": token}}],
        "contexts": [
            {
                "name": NAME,
                "context": {
                    "cluster": NAME,
                    "user": f"{NAME}-admin",
                    "namespace": namespace,
                },
            }
        ],
    }


def write(path: Path, config: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    tmp.replace(path)
    return path
