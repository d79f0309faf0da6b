"""ProjectExport passes with the ``upload`` destination (GitLab pushes the archive to a URL
held in a Secret): the URL and method GitLab is given, a pre-signed S3 URL whose 5 GiB
single-PUT cap stops a large project before any request, and the URL's Secret and host
checked before GitLab is asked for anything."""

from __future__ import annotations

from component_harness import NAMESPACE, export_object, large_project, posts, ready_of, run_jobs
from tests.support.s3 import S3_KEYS

from gitlab_ferry.api.project_export import PLURAL as EXPORTS
from gitlab_ferry.effects.s3 import S3Credentials, S3Location, presign_put

PROJECT = "gitlab-org/gitlab-test"
UPLOAD = {"upload": {"urlSecretRef": {"name": "upload-url"}}}


def ready(operator, name):
    return ready_of(operator.kube, EXPORTS, name)


def presigned_put_url(s3, bucket, key):
    """A pre-signed PUT URL, as a user hands one over in a Secret."""
    location = S3Location(bucket, key, "us-east-1", endpoint=s3.endpoint, force_path_style=True)
    credentials = S3Credentials(S3_KEYS["AWS_ACCESS_KEY_ID"], S3_KEYS["AWS_SECRET_ACCESS_KEY"])
    return presign_put(location, credentials, 3600)


async def test_gitlab_pushes_the_archive_to_the_url_in_the_secret(gitlabs, operator_for, s3):
    gitlab = await gitlabs()
    bucket = s3.bucket()
    url = presigned_put_url(s3, bucket, "pushed.tar.gz")
    operator = operator_for(gitlab, hosts=[s3.host])
    operator.kube.secrets[(NAMESPACE, "upload-url")] = {"url": url}
    operator.kube.put(EXPORTS, export_object("e", gitlab, PROJECT, **UPLOAD))
    await operator.export_pass("e")
    (post,) = posts(gitlab, "export")
    assert post.params is not None
    assert post.params["upload"]["http_method"] == "PUT"
    await run_jobs(gitlab)
    await operator.export_pass("e")
    # Ready, but the operator cannot look behind an arbitrary URL to confirm the upload.
    assert ready(operator, "e")[:2] == ("True", "UploadUnconfirmed")
    status = operator.kube.body(EXPORTS, NAMESPACE, "e")["status"]
    assert (status["route"], status["artifact"]["location"]) == ("upload", "Upload")
    assert s3.get(bucket, "pushed.tar.gz")[:2] == b"\x1f\x8b"  # GitLab's gzip archive


async def test_the_http_method_of_the_spec_is_the_one_gitlab_uses(gitlabs, operator_for):
    gitlab = await gitlabs()
    operator = operator_for(gitlab, hosts=["uploads.example.com"])
    operator.kube.secrets[(NAMESPACE, "upload-url")] = {"url": "https://uploads.example.com/in"}
    spec = {"upload": {**UPLOAD["upload"], "httpMethod": "POST"}}
    operator.kube.put(EXPORTS, export_object("e", gitlab, PROJECT, **spec))
    await operator.export_pass("e")
    (post,) = posts(gitlab, "export")
    assert post.params is not None
    assert post.params["upload"]["http_method"] == "POST"


async def test_a_presigned_s3_url_past_5_gib_is_refused_before_any_request(
    gitlabs, operator_for, s3
):
    gitlab = await gitlabs()
    large_project(gitlab, "gitlab-org/monorepo")
    operator = operator_for(gitlab, hosts=[s3.host])
    url = presigned_put_url(s3, s3.bucket(), "mono.tar.gz")
    operator.kube.secrets[(NAMESPACE, "upload-url")] = {"url": url}
    operator.kube.put(EXPORTS, export_object("e", gitlab, "gitlab-org/monorepo", **UPLOAD))
    await operator.export_pass("e")
    assert posts(gitlab, "export") == []
    status, reason, message = ready(operator, "e")
    assert (status, reason) == ("False", "S3UploadTooLarge")
    assert "Use spec.s3 instead of spec.upload" in message


async def test_a_missing_url_secret_stops_before_any_request(gitlabs, operator_for):
    gitlab = await gitlabs()
    operator = operator_for(gitlab)
    operator.kube.put(EXPORTS, export_object("e", gitlab, PROJECT, **UPLOAD))
    await operator.export_pass("e")
    assert posts(gitlab, "export") == []
    assert ready(operator, "e")[:2] == ("False", "SecretMissing")


async def test_a_url_to_a_host_not_allowed_is_never_given_to_gitlab(gitlabs, operator_for):
    gitlab = await gitlabs()
    operator = operator_for(gitlab)
    operator.kube.secrets[(NAMESPACE, "upload-url")] = {"url": "https://elsewhere.example/in"}
    operator.kube.put(EXPORTS, export_object("e", gitlab, PROJECT, **UPLOAD))
    await operator.export_pass("e")
    assert posts(gitlab, "export") == []
    status, _, message = ready(operator, "e")
    assert status == "False"
    assert "elsewhere.example:443 is not in the operator's allowed hosts" in message
    stored = operator.kube.body(EXPORTS, NAMESPACE, "e")["status"]
    assert stored["attempts"] == 0  # rolled back: GitLab never got the request
