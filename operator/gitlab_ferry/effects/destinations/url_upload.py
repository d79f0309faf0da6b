"""The ``upload`` destination: GitLab pushes the archive to a URL held in a Secret (effects
layer). The URL is a credential: it is read when needed and never kept or logged."""

from __future__ import annotations

import httpx

from gitlab_ferry.api import ProjectExportSpec
from gitlab_ferry.effects.destinations.destination import Upload
from gitlab_ferry.effects.export_targets import ExportTarget
from gitlab_ferry.effects.s3 import S3Credentials
from gitlab_ferry.effects.secrets import secret_value
from gitlab_ferry.effects.services import Services
from gitlab_ferry.reconcile.exports import RequestExport


class UrlUpload:
    """``spec.upload``: GitLab's ``upload[url]`` with the URL from the Secret."""

    field = "upload"

    async def credentials(
        self, services: Services, namespace: str, spec: ProjectExportSpec
    ) -> S3Credentials | None:
        return None

    async def single_put_to_s3(self, services: Services, target: ExportTarget) -> bool:
        assert target.spec.upload is not None
        ref = target.spec.upload.url_secret_ref
        return is_presigned_s3(await secret_value(services.secrets, target.namespace, ref))

    async def upload(
        self, services: Services, target: ExportTarget, action: RequestExport
    ) -> Upload:
        upload = target.spec.upload
        assert upload is not None
        url = await secret_value(services.secrets, target.namespace, upload.url_secret_ref)
        await services.policy.check(url)
        return Upload(url, "POST" if upload.http_method.value == "POST" else "PUT")


def is_presigned_s3(url: str) -> bool:
    """Whether ``url`` is an S3 pre-signed URL (SigV4 or SigV2 query authentication)."""
    query = httpx.URL(url).params
    return "X-Amz-Signature" in query or ("Signature" in query and "AWSAccessKeyId" in query)
