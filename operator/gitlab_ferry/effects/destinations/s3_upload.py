"""The ``s3`` destination: GitLab pushes the archive to a PUT URL the operator pre-signs for
the spec's bucket and key (effects layer). The credentials stay in the operator."""

from __future__ import annotations

from gitlab_ferry.api import ProjectExportSpec, parse_duration
from gitlab_ferry.effects.destinations.destination import Upload
from gitlab_ferry.effects.export_targets import ExportTarget, s3_location
from gitlab_ferry.effects.s3 import S3Credentials, presign_put
from gitlab_ferry.effects.secrets import s3_credentials
from gitlab_ferry.effects.services import Services
from gitlab_ferry.reconcile.exports import RequestExport

#: Extra validity of a pre-signed upload URL beyond the export timeout.
UPLOAD_URL_SLACK = 3600.0


class S3Upload:
    """``spec.s3``: a pre-signed PUT of the request's key."""

    field = "s3"

    async def credentials(
        self, services: Services, namespace: str, spec: ProjectExportSpec
    ) -> S3Credentials | None:
        assert spec.s3 is not None
        credentials = await s3_credentials(
            services.secrets, namespace, spec.s3.credentials_secret_ref
        )
        if spec.s3.endpoint:
            await services.policy.check(spec.s3.endpoint)
        return credentials

    async def single_put_to_s3(self, services: Services, target: ExportTarget) -> bool:
        return True

    async def upload(
        self, services: Services, target: ExportTarget, action: RequestExport
    ) -> Upload:
        assert target.s3 is not None
        assert action.s3_key is not None
        expires = parse_duration(target.spec.timeout).total_seconds() + UPLOAD_URL_SLACK
        return Upload(presign_put(s3_location(target.spec, action.s3_key), target.s3, expires))
