"""python-gitlab's own functional tests of ``remote-import-s3`` and ``version()``, on two releases.

``test_project_remote_import_s3`` is python-gitlab's test of the same name
(``tests/functional/api/test_import_export.py``): it turns the feature flag on through the
Features API, exactly as the original does, and expects GitLab's refusal to open the object. The
S3 stand-in is moto with credential checks on, so made-up keys are refused as Amazon S3 refuses
them. On 14.10 the flag is what opens the route (self-managed had it off); on 18.7 the route is GA
and setting the old flag changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import gitlab
import pytest
import requests
from fidelity_helpers import GitLabAt, client

RELEASES = ["14.10.0", "18.7.0"]


@pytest.fixture
def aws_checks_credentials(moto_endpoint: str) -> Iterator[None]:
    """moto's server-mode switch: from now on every request needs credentials moto knows."""
    answer = requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"0", timeout=10)
    previous = answer.json()["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]
    yield
    requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=previous.encode(), timeout=10)


def remote_import_s3(gl: gitlab.Gitlab) -> object:
    return gl.projects.remote_import_s3(
        "remote-project",
        "aws-region",
        "aws-bucket-name",
        "aws-file-key",
        "aws-access-key-id",
        "secret-access-key",
        "remote-project",
        "root",
    )


@pytest.mark.parametrize("version", RELEASES)
@pytest.mark.usefixtures("aws_checks_credentials")
async def test_project_remote_import_s3(gitlab_at: GitLabAt, version: str) -> None:
    async with gitlab_at(version) as sim:

        def flow() -> gitlab.exceptions.GitlabImportError:
            gl = client(sim)
            if version.startswith("14."):
                # self-managed 14.10 ships the flag off: the route is hidden until it is set
                with pytest.raises(gitlab.exceptions.GitlabImportError) as hidden:
                    remote_import_s3(gl)
                assert hidden.value.response_code == 404
            gl.features.set("import_project_from_remote_file_s3", True)
            with pytest.raises(gitlab.exceptions.GitlabImportError) as err_info:
                remote_import_s3(gl)
            return err_info.value

        error = await asyncio.to_thread(flow)
        assert sim.state.project_by_full_path("root/remote-project") is None
    assert error.response_code == 400
    assert "Failed to open 'aws-file-key' in 'aws-bucket-name'" in error.error_message


@pytest.mark.parametrize("version", RELEASES)
async def test_version_and_feature_listing(gitlab_at: GitLabAt, version: str) -> None:
    async with gitlab_at(version) as sim:

        def flow() -> tuple[tuple[str, str], list[str], dict[str, int]]:
            gl = client(sim)
            gl.features.set("import_project_from_remote_file", True)
            names = [f.name for f in gl.features.list(get_all=True)]
            statistics = gl.projects.get("gitlab-org/gitaly", statistics=True).statistics
            return gl.version(), names, statistics

        (server_version, revision), names, statistics = await asyncio.to_thread(flow)
        assert revision == sim.settings.behaviour.gitlab_revision
    assert server_version == version
    assert names == ["import_project_from_remote_file"]
    assert statistics["repository_size"] == 512 * 1024
    assert ("container_registry_size" in statistics) is version.startswith("18.")
