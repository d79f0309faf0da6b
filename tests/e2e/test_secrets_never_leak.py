"""Secrets stay secret: after a run that uses every kind of credential (GitLab tokens, S3
keys, an upload URL and a pre-signed archive URL in Secrets, URLs the operator pre-signs),
neither the operator's debug logs, nor any Event, status or metric contains one of them."""

from __future__ import annotations

import json
import re

from ferry_e2e import (
    EXPORTS,
    IMPORTS,
    condition,
    create,
    export_object,
    import_object,
    token_secret,
    wait_object,
)
from reliability_e2e import report
from tests.support.s3 import S3_KEYS

FAST = ("--export-queue-delay", "0.5", "--export-duration", "1", "--import-duration", "1")
SIGNATURE = re.compile(r"(X-Amz-Signature|Signature)=[0-9a-fA-F%]{16,}")


def _ready(obj):
    return condition(obj).get("status") == "True"


def test_no_secret_in_logs_events_status_or_metrics(
    namespace, core_v1, custom_objects, simulators, operators, s3_server, kubectl
):
    bucket = s3_server.bucket()
    source = simulators(*FAST)
    destination = simulators(*FAST, "--s3-endpoint", s3_server.endpoint, seed="empty")
    upload_secret = "upload-signature-0123456789abcdef"
    upload_url = f"{s3_server.endpoint}/{bucket}/pushed.tar.gz?Signature={upload_secret}"
    secrets = {"glpat-root-token", S3_KEYS["AWS_SECRET_ACCESS_KEY"], upload_secret}
    token_secret(core_v1, namespace, "gitlab-token", {"token": "glpat-root-token"})
    token_secret(core_v1, namespace, "destination-token", {"token": "glpat-root-token"})
    token_secret(core_v1, namespace, "bucket", S3_KEYS)
    token_secret(core_v1, namespace, "upload-url", {"url": upload_url})
    operator = operators(
        [namespace],
        {
            "GITLAB_FERRY_ALLOWED_HOSTS": f"{source.host},{destination.host},{s3_server.host}",
            "GITLAB_FERRY_LOG_LEVEL": "DEBUG",
            "GITLAB_FERRY_DOWNLOAD_LIMIT": "10",
        },
    )
    s3 = {
        "bucket": bucket, "key": "backups/{project}.tar.gz", "endpoint": s3_server.endpoint,
        "forcePathStyle": True, "credentialsSecretRef": {"name": "bucket"},
    }  # fmt: skip
    create(
        custom_objects,
        EXPORTS,
        namespace,
        export_object("to-s3", source.url, "gitlab-org/docs", s3=s3),
    )
    create(
        custom_objects, EXPORTS, namespace,
        export_object("pushed", source.url, "gitlab-org/gitaly",
                      upload={"urlSecretRef": {"name": "upload-url"}}),
    )  # fmt: skip
    create(
        custom_objects, EXPORTS, namespace, export_object("kept", source.url, "gitlab-org/omnibus")
    )
    # Pulled by the destination through a URL the operator pre-signs.
    create(
        custom_objects, IMPORTS, namespace,
        import_object("pulled", destination.url, "docs", {"exportRef": {"name": "to-s3"}},
                      namespacePath="gitlab-org"),
    )  # fmt: skip
    # Streamed by the operator from the source's download.
    create(
        custom_objects, IMPORTS, namespace,
        import_object("streamed", destination.url, "omnibus", {"exportRef": {"name": "kept"}},
                      namespacePath="gitlab-org"),
    )  # fmt: skip
    for plural, name in ((EXPORTS, "to-s3"), (EXPORTS, "pushed"), (IMPORTS, "pulled"),
                         (IMPORTS, "streamed")):  # fmt: skip
        wait_object(custom_objects, plural, namespace, name, _ready, timeout=90, what=name)
    # GitLab reads an S3 object with keys the operator passes on from a Secret.
    create(
        custom_objects, IMPORTS, namespace,
        import_object(
            "from-s3", destination.url, "docs-restored",
            {"s3": {"bucket": bucket, "key": "backups/gitlab-org/docs.tar.gz",
                    "region": "us-east-1", "credentialsSecretRef": {"name": "bucket"}}},
            namespacePath="gitlab-org",
        ),
    )  # fmt: skip
    wait_object(custom_objects, IMPORTS, namespace, "from-s3", _ready, timeout=90, what="from-s3")

    logs = operator.output()
    events = kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    statuses = json.dumps(
        [
            obj.get("status")
            for plural in (EXPORTS, IMPORTS)
            for obj in custom_objects.list_namespaced_custom_object(
                "gitlabferry.dev", "v1alpha1", namespace, plural
            )["items"]
        ]
    )
    metrics = operator.metrics()
    corpus = {"logs": logs, "events": events, "statuses": statuses, "metrics": metrics}
    leaks = [
        (where, secret) for where, text in corpus.items() for secret in secrets if secret in text
    ] + [
        (where, "pre-signed signature") for where, text in corpus.items() if SIGNATURE.search(text)
    ]
    report(
        "secrets",
        {
            "log_lines": logs.count("\n"),
            "events_bytes": len(events),
            "statuses_bytes": len(statuses),
            "metrics_bytes": len(metrics),
            "secrets_checked": len(secrets) + 1,
            "leaks": len(leaks),
        },
    )
    assert "DEBUG" in logs, "the scan must cover debug logs"
    assert leaks == []
