"""Where ``controlplane up`` records a running control plane, so that ``down`` and ``status``
in a later process can find it again.

Layer: ``controlplane`` (a self-contained test and demo tool). It only reads and writes one JSON
file next to the kubeconfig; it must not start or stop processes or import the operator
(``gitlab_ferry``) or the rest of the testbed. The file holds pids, ports and paths, never the token
(that stays in the 0600 kubeconfig and token file).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

STATE_SUFFIX = ".controlplane.json"
DIRECTORY_SUFFIX = ".controlplane"


def state_path(kubeconfig: Path) -> Path:
    """Next to the kubeconfig, so ``down --kubeconfig PATH`` needs nothing else to find it."""
    return kubeconfig.with_name(kubeconfig.name + STATE_SUFFIX)


def default_directory(kubeconfig: Path) -> Path:
    return kubeconfig.with_name(kubeconfig.name + DIRECTORY_SUFFIX)


def save(path: Path, state: dict[str, Any]) -> None:
    # Written to a temporary name and renamed: a crash never leaves half a state file behind.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return data
