"""Self-signed certificates for test servers that speak HTTPS (archive servers, simulated
GitLabs), which their clients then trust as a CA bundle.

Test support. The certificates are issued by the control plane's PKI
(``gitlab_ferry_testbed.controlplane.pki``), so they carry the extensions strict verifiers ask
for, and every tier makes them one way. It only writes files; it must not import the operator.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from gitlab_ferry_testbed.controlplane import pki

LOOPBACK = "127.0.0.1"


def self_signed(directory: Path, common_name: str = LOOPBACK) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, and its key: ``cert.pem`` and
    ``key.pem`` in ``directory``."""
    key = pki.new_key()
    cert = pki.issue(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
        key,
        is_ca=True,
        alt_names=[x509.IPAddress(ipaddress.ip_address(LOOPBACK))],
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(pki.cert_pem(cert))
    key_path.write_bytes(pki.key_pem(key))
    return cert_path, key_path
