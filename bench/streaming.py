"""Scenario 3, streaming: for each archive size, one export of a project of that size kept
on the source GitLab, then its archive carried into the destination, alternately by a streamed
``curl | curl -T -`` (a hand-built multipart body sent chunked) and by a ProjectImport with
``exportRef`` (the operator streams the download into the multipart upload), ``rounds`` times
each. Download limits are lifted. Each transfer waits for the previous import to finish on the
destination. Measures throughput, gitlab-ferry's throughput over curl's round by round, and the
operator's peak memory growth. (``curl -F file=@-`` cannot carry archives this size: curl
reads a piped stdin into memory first; ``curl_pipeline(..., streamed=False)`` shows it.)
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.measure import MemorySampler, ReadyWatcher, wait_child
from bench.procfs import cpu_seconds, memory
from bench.stack import TOKEN, BenchStack, Limits, Operator, Simulator, Timing

LIMITS = Limits(export=60, import_=60, download=0)
TIMING = Timing()
GROUP, PROJECT = "big", "big/repo"
BOUNDARY = "benchboundary7f3a"
#: How the archive travels -> the destination project's path prefix.
WAYS = {"curl -T": "curl-chunked", "gitlab-ferry": "ferry"}
# The multipart body of GitLab's import form around the archive; curl -T - sends it chunked.
STREAMED = (
    'printf -- "--%s\\r\\nContent-Disposition: form-data; name=\\"path\\"\\r\\n\\r\\n%s\\r\\n'
    '--%s\\r\\nContent-Disposition: form-data; name=\\"namespace\\"\\r\\n\\r\\n%s\\r\\n'
    '--%s\\r\\nContent-Disposition: form-data; name=\\"file\\"; filename=\\"export.tar.gz\\"'
    '\\r\\nContent-Type: application/gzip\\r\\n\\r\\n" "$B" "$NAME" "$B" "$GROUP" "$B"; '
    'curl -sS --fail -H "PRIVATE-TOKEN: $TOKEN" "$DOWNLOAD"; printf -- "\\r\\n--%s--\\r\\n" "$B"'
)


def _sample_metric(text: str, name: str, labels: str = "") -> float:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _wait_imported(destination: Simulator, path: str, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = destination.project(path).get("import") or {}
        if found.get("status") in ("finished", "failed"):
            if found["status"] == "failed":
                raise RuntimeError(f"the import of {path} failed: {found.get('error')}")
            return
        time.sleep(1)
    raise TimeoutError(f"the import of {path} did not finish")


def curl_pipeline(
    source: Simulator, destination: Simulator, name: str, errors: Path, *, streamed: bool
) -> dict[str, Any]:
    """One ``curl | curl`` transfer: wall time and the uploading curl's peak RSS, or why it
    failed (what the uploading curl wrote to ``errors``)."""
    download = f"{source.url}/api/v4/projects/{PROJECT.replace('/', '%2F')}/export/download"
    upload_url = f"{destination.url}/api/v4/projects/import"
    header = f"PRIVATE-TOKEN: {TOKEN}"
    env = {**os.environ, "B": BOUNDARY, "NAME": name, "GROUP": GROUP, "TOKEN": TOKEN}
    env["DOWNLOAD"] = download
    if streamed:
        producer = ["bash", "-c", STREAMED]
        consumer = [
            "curl", "-sS", "--fail", "-o", "/dev/null", "-X", "POST", "-T", "-", "-H", header,
            "-H", f"Content-Type: multipart/form-data; boundary={BOUNDARY}", upload_url,
        ]  # fmt: skip
    else:
        producer = ["curl", "-sS", "--fail", "-H", header, download]
        consumer = [
            "curl", "-sS", "--fail", "-o", "/dev/null", "-H", header, "-F", f"path={name}",
            "-F", f"namespace={GROUP}", "-F", "file=@-;filename=export.tar.gz", upload_url,
        ]  # fmt: skip
    started = time.monotonic()
    with open(errors, "wb") as stderr:
        first = subprocess.Popen(producer, stdout=subprocess.PIPE, env=env)
        second = subprocess.Popen(consumer, stdin=first.stdout, stderr=stderr)
    assert first.stdout is not None
    first.stdout.close()
    code, _, peak = wait_child(second, timeout=3600, name="curl")
    first.wait()
    seconds = time.monotonic() - started
    if code:
        said = errors.read_text(errors="replace").strip().splitlines()
        return {"failed": f"exit {code}: {said[0] if said else 'no message'}"}
    if first.returncode:
        raise RuntimeError(f"the downloading curl failed ({first.returncode})")
    return {"seconds": seconds, "uploader_peak_rss": peak}


def ferry_transfer(
    stack: BenchStack,
    operator: Operator,
    namespace: str,
    documents: list[dict[str, Any]],
    name: str,
) -> dict[str, Any]:
    """One ProjectImport with exportRef; the duration of its streamed upload request (until
    the destination's response headers, from the operator's own latency histogram)."""
    metric = "gitlab_ferry_gitlab_request_duration_seconds_sum"
    before = operator.metrics()
    doc = {**documents[1], "metadata": {"name": name}}
    doc["spec"] = {**doc["spec"], "path": name}
    watcher = ReadyWatcher(stack, namespace, "projectimports")
    watcher.start()
    started = time.monotonic()
    cpu_before = cpu_seconds(operator.pid)
    stack.create(namespace, [doc])
    if not watcher.wait_for(name, timeout=3600):
        raise TimeoutError(f"the ProjectImport {name} did not finish")
    watcher.stop()
    cpu = cpu_seconds(operator.pid) - cpu_before
    after = operator.metrics()
    upload = _sample_metric(after, metric, '{endpoint="import"}') - _sample_metric(
        before, metric, '{endpoint="import"}'
    )
    streamed = _sample_metric(after, "gitlab_ferry_bytes_streamed_total") - _sample_metric(
        before, "gitlab_ferry_bytes_streamed_total"
    )
    return {
        "seconds": upload,
        "apply_to_ready_seconds": time.monotonic() - started,
        "bytes_streamed": streamed,
        # The operator's CPU from apply to Ready: nearly all of it is the streaming itself.
        "operator_cpu_seconds": cpu,
    }


def _size_run(stack: BenchStack, size: str, rounds: int) -> dict[str, Any]:
    pair = stack.start_migration(f"streaming-{size.lower()}", [PROJECT], LIMITS, TIMING, size=size)
    source, destination, namespace, operator = (
        pair.source,
        pair.destination,
        pair.namespace,
        pair.operator,
    )
    try:
        documents = stack.migration_documents([PROJECT], source, destination)
        exports = ReadyWatcher(stack, namespace, "projectexports")
        exports.start()
        stack.create(namespace, documents[:1])
        if not exports.wait(1, timeout=3600):
            raise TimeoutError(f"the {size} export did not finish")
        exports.stop()
        archive = source.project(PROJECT)["exports"][0]["file"]["size"]
        hwm_before = memory(operator.pid)["VmHWM"]
        sampler = MemorySampler(operator.pid)
        sampler.start()
        transfers: list[dict[str, Any]] = []
        for index in range(1, rounds + 1):
            for way, prefix in WAYS.items():
                name = f"{prefix}-{index}"
                if way == "gitlab-ferry":
                    found = ferry_transfer(stack, operator, namespace, documents, name)
                else:
                    errors = stack.directory / f"{name}.stderr"
                    found = curl_pipeline(
                        source, destination, name, errors, streamed=way == "curl -T"
                    )
                found.update(way=way, round=index)
                transfers.append(found)
                if "failed" in found:
                    continue
                _wait_imported(destination, f"{GROUP}/{name}")
                found["mib_per_second"] = archive / found["seconds"] / 2**20
        hwm_after = memory(operator.pid)["VmHWM"]
        samples = sampler.stop()
        return {
            "size": size,
            "archive_bytes": archive,
            "rounds": rounds,
            "transfers": transfers,
            "ratios": round_ratios(transfers),
            "operator_hwm_before": hwm_before,
            "operator_hwm_after": hwm_after,
            "operator_rss_max_sampled": max(rss for _, rss in samples),
        }
    finally:
        stack.release(operator, source, destination)


def round_ratios(transfers: list[dict[str, Any]], baseline: str = "curl -T") -> list[float]:
    """gitlab-ferry's throughput over ``baseline``'s, one ratio per round where both carried
    the archive (the two ran one after the other, so each ratio is a side-by-side figure)."""
    speeds: dict[int, dict[str, float]] = {}
    for item in transfers:
        if "mib_per_second" in item:
            speeds.setdefault(item["round"], {})[item["way"]] = item["mib_per_second"]
    return [
        found["gitlab-ferry"] / found[baseline]
        for _, found in sorted(speeds.items())
        if "gitlab-ferry" in found and found.get(baseline)
    ]


def run(stack: BenchStack, sizes: list[str], rounds: int = 3) -> dict[str, Any]:
    return {"rounds": rounds, "sizes": [_size_run(stack, size, rounds) for size in sizes]}
