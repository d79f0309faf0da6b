"""Errors raised by the local control plane.

Layer: ``controlplane`` (a self-contained test and demo tool). Exception types only; this
module must not import anything beyond the standard library or hold state.
"""

from __future__ import annotations


class ControlPlaneError(RuntimeError):
    """The control plane could not be started, reached or stopped; the message says why and
    carries the tail of the relevant logs where there are any."""


class BinariesNotFound(ControlPlaneError):
    """kube-apiserver or etcd is not where the control plane looks for it."""
