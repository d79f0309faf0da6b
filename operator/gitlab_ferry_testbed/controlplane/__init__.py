"""A real Kubernetes control plane (etcd + kube-apiserver, optionally a kube-controller-manager
with the garbage collector and the namespace controller) on loopback, for tests and demos.

Layer: ``controlplane``, a self-contained tool next to the operator. It imports only the standard
library, httpx, PyYAML, cryptography and click; it must not import the operator or the rest of the
testbed, and nothing in the operator imports it. The binaries come from
``tools/controlplane/build.sh``; ``reference/control-plane.md`` explains the flag choices.
"""

from gitlab_ferry_testbed.controlplane.binaries import Binaries, find_binaries, find_build_script
from gitlab_ferry_testbed.controlplane.errors import BinariesNotFound, ControlPlaneError
from gitlab_ferry_testbed.controlplane.flags import Ports
from gitlab_ferry_testbed.controlplane.server import ControlPlane

__all__ = [
    "Binaries",
    "BinariesNotFound",
    "ControlPlane",
    "ControlPlaneError",
    "Ports",
    "find_binaries",
    "find_build_script",
]
