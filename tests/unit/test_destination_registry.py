"""Export destinations: every spec field that names one has a registered effect, the spec,
the planner's location and the effect agree on which one an object chose, and a spec's
fingerprint (a change of which means a new export) stays what stored objects recorded."""

from __future__ import annotations

import pytest

from gitlab_ferry.api import ArtifactLocation, ProjectExportSpec
from gitlab_ferry.api.project_export import DESTINATION_FIELDS
from gitlab_ferry.effects.destinations import DESTINATIONS, destination_for
from gitlab_ferry.reconcile.exports import destination, export_spec_hash

GITLAB = {"url": "https://gitlab.example.com", "tokenSecretRef": {"name": "token"}}
UPLOAD = {"urlSecretRef": {"name": "upload-url"}}
S3 = {"bucket": "backups", "key": "a.tar.gz", "credentialsSecretRef": {"name": "bucket"}}


def spec(**destinations: object) -> ProjectExportSpec:
    return ProjectExportSpec.model_validate({"gitlab": GITLAB, "project": 1, **destinations})


def test_every_destination_field_has_one_registered_effect() -> None:
    assert set(DESTINATIONS) == set(DESTINATION_FIELDS)
    assert all(DESTINATIONS[field].field == field for field in DESTINATIONS)


@pytest.mark.parametrize(
    ("destinations", "field", "location"),
    [
        ({}, None, ArtifactLocation.GITLAB),
        ({"upload": UPLOAD}, "upload", ArtifactLocation.UPLOAD),
        ({"s3": S3}, "s3", ArtifactLocation.S3),
    ],
    ids=["none-keeps-it-on-gitlab", "upload", "s3"],
)
def test_the_chosen_destination_is_the_one_the_spec_sets(
    destinations: dict[str, object], field: str | None, location: ArtifactLocation
) -> None:
    chosen = spec(**destinations)
    effect = destination_for(chosen)
    assert (effect.field if effect else None) == field
    assert destination(chosen) is location
    assert chosen.destination() is (getattr(chosen, field) if field else None)


def test_two_destinations_are_refused() -> None:
    with pytest.raises(ValueError, match="at most one destination may be set: upload or s3"):
        spec(upload=UPLOAD, s3=S3)


@pytest.mark.parametrize(
    ("destinations", "fingerprint"),
    [
        ({}, "09267b0afe9fb1ef"),
        ({"upload": UPLOAD}, "b1f0f13b51a510a8"),
        ({"s3": S3}, "d9f5e3c93403117d"),
    ],
    ids=["kept", "upload", "s3"],
)
def test_the_fingerprint_of_a_spec_stays_what_stored_objects_recorded(
    destinations: dict[str, object], fingerprint: str
) -> None:
    assert export_spec_hash(spec(**destinations)) == fingerprint
