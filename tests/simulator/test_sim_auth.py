"""Authentication, scopes and roles (reference §1.1, §1.2, §2 auth)."""

from __future__ import annotations

import pytest
from sim_helpers import Api

ALL_ROUTES = [
    ("POST", "/projects/grp%2Fproj/export"),
    ("GET", "/projects/grp%2Fproj/export"),
    ("GET", "/projects/grp%2Fproj/export/download"),
    ("POST", "/projects/import"),
    ("POST", "/projects/remote-import"),
    ("POST", "/projects/remote-import-s3"),
    ("GET", "/projects/1/import"),
    ("POST", "/projects/import-relation"),
    ("GET", "/projects/1/relation-imports"),
    ("GET", "/projects/1"),
    ("GET", "/projects"),
    ("GET", "/user"),
    ("GET", "/namespaces/grp"),
    ("DELETE", "/projects/1"),
]


@pytest.mark.parametrize(("method", "path"), ALL_ROUTES)
async def test_unknown_token_is_401_everywhere(api: Api, method: str, path: str) -> None:
    r = await api.call(method, path, token="nope")
    assert r.status == 401
    assert r.json() == {"message": "401 Unauthorized"}
    assert r.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("via", ["header", "param", "bearer"])
async def test_token_sources(api: Api, via: str) -> None:
    r = await api.call("GET", "/user", token="maint-token", via=via)
    assert r.status == 200
    assert r.json()["username"] == "maint"
    record = api.sim.requests("user")[-1]
    assert (record.user, record.auth) == ("maint", via)


async def test_private_token_in_form_body(api: Api) -> None:
    r = await api.post("/projects/grp%2Fproj/export", data={"private_token": "maint-token"})
    assert r.status == 202
    assert api.sim.requests("export")[-1].user == "maint"
    assert "private_token" not in (api.sim.requests("export")[-1].params or {})


async def test_no_token_on_export_routes_private_is_404_public_is_403(api: Api) -> None:
    for method, suffix in [("POST", "/export"), ("GET", "/export"), ("GET", "/export/download")]:
        private = await api.call(method, f"/projects/grp%2Fproj{suffix}")
        assert (private.status, private.json()) == (404, {"message": "404 Project Not Found"})
        public = await api.call(method, f"/projects/pub%2Fopen{suffix}")
        assert (public.status, public.json()) == (403, {"message": "403 Forbidden"})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/projects/import"),
        ("POST", "/projects/remote-import"),
        ("POST", "/projects/remote-import-s3"),
        ("GET", "/projects/pub%2Fopen/import"),
        ("POST", "/projects/import-relation"),
        ("GET", "/projects/pub%2Fopen/relation-imports"),
        ("GET", "/user"),
    ],
)
async def test_no_token_on_import_routes_is_401(api: Api, method: str, path: str) -> None:
    r = await api.call(method, path)
    assert (r.status, r.json()) == (401, {"message": "401 Unauthorized"})


async def test_job_token_is_not_accepted(api: Api) -> None:
    r = await api.post("/projects/import", headers={"JOB-TOKEN": "root-token"})
    assert r.status == 401
    r = await api.post("/projects/grp%2Fproj/export", headers={"JOB-TOKEN": "root-token"})
    assert r.status == 404


async def test_read_api_token_can_get_but_not_post(api: Api) -> None:
    ok = await api.get("/projects/pub%2Fopen", "reader-token")
    assert ok.status == 200
    r = await api.post("/projects/pub%2Fopen/export", "reader-token")
    assert r.status == 403
    body = r.json()
    assert body["error"] == "insufficient_scope"
    assert body["scope"] == "api"
    assert "error_description" in body
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    imported = await api.post("/projects/import", "reader-token")
    assert imported.status == 403


async def test_expired_and_revoked_tokens(api: Api) -> None:
    expired = await api.get("/user", "expired-token")
    assert expired.status == 401
    assert expired.json() == {
        "error": "invalid_token",
        "error_description": (
            "Token is expired. You can either do re-authorization or token refresh."
        ),
    }
    assert "invalid_token" in expired.headers["WWW-Authenticate"]
    revoked = await api.get("/user", "revoked-token")
    assert revoked.status == 401
    assert revoked.json()["error_description"] == (
        "Token was revoked. You have to re-authorize from the user."
    )


@pytest.mark.parametrize(
    ("token", "status"),
    [
        ("root-token", 202),
        ("owner-token", 202),
        ("maint-token", 202),
        ("dev-token", 403),
        ("reporter-token", 403),
        ("guest-token", 403),
        ("outsider-token", 404),
    ],
)
async def test_export_needs_maintainer(api: Api, token: str, status: int) -> None:
    r = await api.post("/projects/grp%2Fproj/export", token)
    assert r.status == status
    expected = {
        202: {"message": "202 Accepted"},
        403: {"message": "403 Forbidden"},
        404: {"message": "404 Project Not Found"},
    }[status]
    assert r.json() == expected
    for path in ("/projects/grp%2Fproj/export", "/projects/grp%2Fproj/export/download"):
        got = await api.get(path, token)
        assert got.status in ((200, 404) if status == 202 else (status,))


async def test_import_status_needs_read_access_only(api: Api) -> None:
    assert (await api.get("/projects/grp%2Fproj/import", "guest-token")).status == 200
    denied = await api.get("/projects/grp%2Fproj/import", "outsider-token")
    assert (denied.status, denied.json()) == (404, {"message": "404 Project Not Found"})
    public = await api.get("/projects/pub%2Fopen/import", "outsider-token")
    assert public.status == 200


async def test_sudo_acts_as_the_user(api: Api) -> None:
    r = await api.get("/user", "root-token", headers={"Sudo": "maint"})
    assert r.json()["username"] == "maint"
    denied = await api.get("/user", "maint-token", headers={"Sudo": "dev"})
    assert (denied.status, denied.json()) == (
        403,
        {"message": "403 Forbidden - Must be admin to use sudo"},
    )
    missing = await api.get("/user", "root-token", headers={"Sudo": "ghost"})
    assert missing.status == 404
    assert missing.json() == {"message": "404 User with ID or username 'ghost' Not Found"}


async def test_admin_flag_only_for_admins(api: Api) -> None:
    assert (await api.get("/user", "root-token")).json()["is_admin"] is True
    assert "is_admin" not in (await api.get("/user", "dev-token")).json()
