"""Where GitLab pushes an export's archive (effects layer): one module per destination, and
``DESTINATIONS``, the registry the exporting effect dispatches on, keyed by the spec field
(``api.project_export.DESTINATION_FIELDS``) that selects each."""

from __future__ import annotations

from gitlab_ferry.api import ProjectExportSpec
from gitlab_ferry.effects.destinations.destination import Destination, Upload
from gitlab_ferry.effects.destinations.s3_upload import S3Upload
from gitlab_ferry.effects.destinations.url_upload import UrlUpload, is_presigned_s3

DESTINATIONS: dict[str, Destination] = {
    destination.field: destination for destination in (UrlUpload(), S3Upload())
}


def destination_for(spec: ProjectExportSpec) -> Destination | None:
    """The destination the spec sets, or None when GitLab keeps the archive."""
    return next(
        (found for field, found in DESTINATIONS.items() if getattr(spec, field) is not None),
        None,
    )


__all__ = ["DESTINATIONS", "Destination", "Upload", "destination_for", "is_presigned_s3"]
