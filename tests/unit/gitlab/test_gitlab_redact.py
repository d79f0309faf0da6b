"""``gitlab_ferry.redact``: URLs lose user info, query strings and fragments; GitLab tokens,
Bearer / PRIVATE-TOKEN values and explicitly given secrets are removed from text; ordinary
text is left alone."""

from __future__ import annotations

import pytest

from gitlab_ferry.redact import REDACTED, redact_text, redact_url

PRESIGNED = (
    "https://bucket.s3.amazonaws.com/exports/p.tar.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Signature=abcdef0123456789abcdef0123456789"
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (PRESIGNED, f"https://bucket.s3.amazonaws.com/exports/p.tar.gz?{REDACTED}"),
        ("https://user:pass@host.example/x", "https://host.example/x"),
        ("https://oauth2:glpat-abcdefghij@host.example/g/p.git", "https://host.example/g/p.git"),
        ("https://host.example:8443/a?b=c#frag", f"https://host.example:8443/a?{REDACTED}"),
        ("https://host.example/a#token=secret", "https://host.example/a"),
        ("https://host.example/plain/path", "https://host.example/plain/path"),
        ("s3://bucket/key?versionId=1", f"s3://bucket/key?{REDACTED}"),
        ("https://HOST.example/A", "https://host.example/A"),
    ],
)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_redact_url_keeps_ipv6_brackets():
    assert redact_url("https://[::1]:8443/p?sig=1") == f"https://[::1]:8443/p?{REDACTED}"


@pytest.mark.parametrize("url", ["https://h:port/x?sig=1", "https://h:99999/x?sig=1"])
def test_redact_url_survives_a_bad_port(url):
    assert "sig=1" not in redact_url(url)


def test_redact_text_survives_a_url_with_a_bad_port():
    assert "sig=1" not in redact_text("upstream https://gitlab:port/x?sig=1 refused")


def test_urls_inside_text_lose_their_query():
    text = f"Error uploading to {PRESIGNED} (403 Forbidden)"
    redacted = redact_text(text)
    assert "X-Amz" not in redacted
    assert "AKIAIOSFODNN7EXAMPLE" not in redacted
    assert "abcdef0123456789" not in redacted
    assert redacted == (
        f"Error uploading to https://bucket.s3.amazonaws.com/exports/p.tar.gz?{REDACTED}"
        " (403 Forbidden)"
    )


def test_urls_inside_quotes_and_markup():
    text = f"url '{PRESIGNED}' and \"{PRESIGNED}\" and <{PRESIGNED}>"
    redacted = redact_text(text)
    assert "X-Amz-Signature" not in redacted
    assert redacted.count(f"p.tar.gz?{REDACTED}") == 3


def test_several_urls_are_all_redacted():
    text = "a https://u:p@one.example/x?k=1 b http://two.example/y?k=2"
    assert redact_text(text) == (
        f"a https://one.example/x?{REDACTED} b http://two.example/y?{REDACTED}"
    )


@pytest.mark.parametrize(
    "token",
    [
        "glpat-AbCdEfGhIjKlMnOpQrSt",
        "glpat-xxxxxxxx.01.0w1x2y3z4",
        "gloas-0123456789abcdef",
        "gldt-0123456789abcdef",
        "glrt-0123456789abcdef",
        "glptt-0123456789abcdef",
        "glft-0123456789abcdef",
        "glimt-0123456789abcdef",
        "glagent-0123456789abcdef",
        "glsoat-0123456789abcdef",
        "glcbt-0123456789abcdef",
        "glffct-0123456789abcdef",
        "glwt-0123456789abcdef",
    ],
)
def test_gitlab_tokens_are_removed(token):
    redacted = redact_text(f"token {token} was rejected")
    assert token not in redacted
    assert redacted == f"token {REDACTED} was rejected"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", "eyJhbGciOiJIUzI1NiJ9"),
        ("authorization: bearer some-oauth-token-value", "some-oauth-token-value"),
        ("PRIVATE-TOKEN: customtoken123", "customtoken123"),
        ("PRIVATE-TOKEN customtoken123", "customtoken123"),
        ("curl ...?private_token=customtoken123", "customtoken123"),
    ],
)
def test_bearer_and_private_token_values_are_removed(text, secret):
    redacted = redact_text(text)
    assert secret not in redacted
    assert REDACTED in redacted


def test_bearer_keeps_its_label():
    assert redact_text("Bearer abcdefghijkl") == f"Bearer {REDACTED}"


def test_explicit_secrets_are_removed_everywhere():
    text = "s3cr3tvalue here, s3cr3tvalue there, and hunter2222 too"
    assert redact_text(text, "s3cr3tvalue", None, "hunter2222") == (
        f"{REDACTED} here, {REDACTED} there, and {REDACTED} too"
    )


def test_empty_and_none_secrets_are_ignored():
    assert redact_text("nothing to hide", None, "") == "nothing to hide"


@pytest.mark.parametrize(
    "text",
    [
        "404 Project Not Found",
        "Path has already been taken",
        "This endpoint has been requested too many times. Try again later.",
        "Import version mismatch: Required 0.2.4 but was 0.2.3",
        "https://gitlab.example.com/api/v4/projects/1/export/download",
        "",
    ],
)
def test_ordinary_text_is_unchanged(text):
    assert redact_text(text) == text
