"""Certificates, keys and the static token file for a local test control plane.

Layer: ``controlplane`` (a self-contained test and demo tool). It only creates files under the
directory it is given with ``cryptography``; it must not start processes, touch the network or
import the operator (``gitlab_ferry``) or the rest of the testbed. Every certificate carries
critical BasicConstraints and KeyUsage plus SubjectKeyIdentifier and AuthorityKeyIdentifier, because
Python 3.13's default TLS context (``VERIFY_X509_STRICT``) rejects certificates without them. EC
keys are written in SEC1 form (``EC PRIVATE KEY``), the form envtest uses and kube-apiserver is
known to accept for its service-account flags.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ADMIN_USER = "admin"
ADMIN_GROUP = "system:masters"
# A year, so a control plane left running by ``controlplane up`` keeps working.
VALIDITY = datetime.timedelta(days=365)
# Clock skew between the writer and a verifier must not make a fresh certificate "not yet valid".
BACKDATE = datetime.timedelta(minutes=5)
# Names the API server answers to: loopback for everyone outside, the in-cluster service names
# and the first service IP of --service-cluster-ip-range for anything that resolves them.
SERVER_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
SERVER_IPS = ("127.0.0.1", "::1", "10.0.0.1")


@dataclass(frozen=True)
class PkiFiles:
    """Where the generated material lives (all absolute paths inside one directory)."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def server_key(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def service_account_key(self) -> Path:
        return self.directory / "sa.key"

    @property
    def admin_cert(self) -> Path:
        return self.directory / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.directory / "admin.key"

    @property
    def token_file(self) -> Path:
        return self.directory / "tokens.csv"


def new_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key: small, fast to generate, accepted everywhere Kubernetes reads keys."""
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """SEC1 (``BEGIN EC PRIVATE KEY``), not PKCS#8: see the module docstring."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    attributes += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    return x509.Name(attributes)


def _key_usage(*, is_ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,  # EC keys never encipher; ECDHE key agreement is ephemeral
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=is_ca,
        encipher_only=False,
        decipher_only=False,
    )


def issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    is_ca: bool = False,
    extended_usages: Sequence[x509.ObjectIdentifier] = (),
    alt_names: Sequence[x509.GeneralName] = (),
    now: datetime.datetime | None = None,
) -> x509.Certificate:
    """Sign a certificate for ``key``; self-signed when ``issuer`` is None."""
    start = (now or datetime.datetime.now(datetime.UTC)) - BACKDATE
    if issuer is None:
        issuer_name, signer, issuer_public = subject, key, key.public_key()
    else:
        issuer_name, signer = issuer[0].subject, issuer[1]
        issuer_public = issuer[1].public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + VALIDITY)
        # path_length=0: this CA signs leaves only, never another CA.
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), True)
        .add_extension(_key_usage(is_ca=is_ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), False)
    )
    if extended_usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(extended_usages)), False)
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(alt_names)), False)
    return builder.sign(signer, hashes.SHA256())


def server_alt_names() -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IPS]
    return names


def _write(path: Path, data: bytes, *, private: bool) -> None:
    # Keys and tokens are created 0600 from the start, never chmod-ed after being readable.
    mode = 0o600 if private else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def new_token() -> str:
    return secrets.token_hex(24)


def token_line(token: str, user: str = ADMIN_USER, groups: Sequence[str] = (ADMIN_GROUP,)) -> str:
    """One ``--token-auth-file`` row: ``token,user,uid,"group1,group2"``."""
    return f'{token},{user},{user}-uid,"{",".join(groups)}"\n'


def read_admin_token(files: PkiFiles) -> str:
    """The admin token written by :func:`generate`; the first column of the first row."""
    first = files.token_file.read_text().splitlines()[0]
    return first.split(",", 1)[0]


def generate(directory: Path, *, token: str | None = None) -> tuple[PkiFiles, str]:
    """Create the CA, the API server's serving certificate, the service-account signing key,
    an admin client certificate (CN=admin, O=system:masters) and ``tokens.csv``.

    Returns the file locations and the admin bearer token.
    """
    directory.mkdir(parents=True, exist_ok=True)
    files = PkiFiles(directory.resolve())
    ca_key = new_key()
    ca = issue(_name("gitlab-ferry-controlplane-ca", ["gitlab-ferry"]), ca_key, is_ca=True)
    server_key = new_key()
    server = issue(
        _name("localhost"),
        server_key,
        issuer=(ca, ca_key),
        extended_usages=[ExtendedKeyUsageOID.SERVER_AUTH],
        alt_names=server_alt_names(),
    )
    admin_key = new_key()
    admin = issue(
        _name(ADMIN_USER, [ADMIN_GROUP]),
        admin_key,
        issuer=(ca, ca_key),
        extended_usages=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    token = token or new_token()
    _write(files.ca_cert, cert_pem(ca), private=False)
    _write(files.ca_key, key_pem(ca_key), private=True)
    _write(files.server_cert, cert_pem(server), private=False)
    _write(files.server_key, key_pem(server_key), private=True)
    _write(files.service_account_key, key_pem(new_key()), private=True)
    _write(files.admin_cert, cert_pem(admin), private=False)
    _write(files.admin_key, key_pem(admin_key), private=True)
    _write(files.token_file, token_line(token).encode(), private=True)
    return files, token
