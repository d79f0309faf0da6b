"""The control plane's generated PKI: the certificate properties kube-apiserver and strict TLS
verifiers (Python 3.13's ``VERIFY_X509_STRICT``) require, checked without starting anything."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gitlab_ferry_testbed.controlplane import pki


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[pki.PkiFiles, str]:
    return pki.generate(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def files(generated: tuple[pki.PkiFiles, str]) -> pki.PkiFiles:
    return generated[0]


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def ext(
    cert: x509.Certificate, kind: type[x509.ExtensionType]
) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_class(kind)


@pytest.mark.parametrize("name", ["ca_cert", "server_cert", "admin_cert"])
def test_every_certificate_has_the_strict_extensions(files: pki.PkiFiles, name: str) -> None:
    cert = load(getattr(files, name))
    assert ext(cert, x509.BasicConstraints).critical
    assert ext(cert, x509.KeyUsage).critical
    ski = ext(cert, x509.SubjectKeyIdentifier).value
    aki = ext(cert, x509.AuthorityKeyIdentifier).value
    ca_ski = ext(load(files.ca_cert), x509.SubjectKeyIdentifier).value
    assert isinstance(ski, x509.SubjectKeyIdentifier)
    assert isinstance(aki, x509.AuthorityKeyIdentifier)
    assert isinstance(ca_ski, x509.SubjectKeyIdentifier)
    assert aki.key_identifier == ca_ski.digest
    assert cert.version is x509.Version.v3


def test_ca_signs_certificates_and_nothing_else(files: pki.PkiFiles) -> None:
    ca = load(files.ca_cert)
    constraints = ext(ca, x509.BasicConstraints).value
    usage = ext(ca, x509.KeyUsage).value
    assert isinstance(constraints, x509.BasicConstraints)
    assert isinstance(usage, x509.KeyUsage)
    assert constraints.ca
    assert constraints.path_length == 0
    assert usage.key_cert_sign
    assert usage.crl_sign
    assert ca.issuer == ca.subject
    ca.verify_directly_issued_by(ca)


def test_server_certificate(files: pki.PkiFiles) -> None:
    server, ca = load(files.server_cert), load(files.ca_cert)
    server.verify_directly_issued_by(ca)
    constraints = ext(server, x509.BasicConstraints).value
    usage = ext(server, x509.KeyUsage).value
    eku = ext(server, x509.ExtendedKeyUsage).value
    san = ext(server, x509.SubjectAlternativeName).value
    assert isinstance(constraints, x509.BasicConstraints)
    assert isinstance(usage, x509.KeyUsage)
    assert isinstance(eku, x509.ExtendedKeyUsage)
    assert isinstance(san, x509.SubjectAlternativeName)
    assert not constraints.ca
    assert usage.digital_signature
    assert not usage.key_cert_sign
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)


def test_admin_client_certificate(files: pki.PkiFiles) -> None:
    admin = load(files.admin_cert)
    admin.verify_directly_issued_by(load(files.ca_cert))
    cn = admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    orgs = [a.value for a in admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    eku = ext(admin, x509.ExtendedKeyUsage).value
    assert isinstance(eku, x509.ExtendedKeyUsage)
    assert (cn, orgs) == ("admin", ["system:masters"])
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]


@pytest.mark.parametrize("name", ["ca_key", "server_key", "service_account_key", "admin_key"])
def test_keys_are_sec1_ec_and_private(files: pki.PkiFiles, name: str) -> None:
    path: Path = getattr(files, name)
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN EC PRIVATE KEY-----\n")  # SEC1, not PKCS#8
    key = load_pem_private_key(pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_certificate_matches_its_key(files: pki.PkiFiles) -> None:
    key = load_pem_private_key(files.server_key.read_bytes(), password=None)
    assert load(files.server_cert).public_key() == key.public_key()


def test_token_file(generated: tuple[pki.PkiFiles, str]) -> None:
    files, token = generated
    assert len(token) >= 32
    assert files.token_file.read_text() == f'{token},admin,admin-uid,"system:masters"\n'
    assert pki.read_admin_token(files) == token
    assert stat.S_IMODE(files.token_file.stat().st_mode) == 0o600


def handshake(files: pki.PkiFiles, hostname: str) -> ssl.SSLObject:
    """A TLS handshake in memory, with the checks Python 3.13 turns on by default."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(files.server_cert, files.server_key)
    client_ctx = ssl.create_default_context(cafile=str(files.ca_cert))
    client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(client_in, client_out, server_hostname=hostname)
    server = server_ctx.wrap_bio(server_in, server_out, server_side=True)
    ends = ((client, client_out, server_in), (server, server_out, client_in))
    done: set[ssl.SSLObject] = set()
    for _ in range(10):
        for end, outgoing, incoming in ends:
            try:
                end.do_handshake()
                done.add(end)
            except ssl.SSLWantReadError:
                pass
            incoming.write(outgoing.read())
        if len(done) == 2:
            return client
    raise AssertionError("the handshake did not complete")


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_chain_passes_strict_tls_verification(files: pki.PkiFiles, hostname: str) -> None:
    assert handshake(files, hostname).getpeercert() is not None


def test_a_wrong_name_is_refused(files: pki.PkiFiles) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(files, "example.com")
