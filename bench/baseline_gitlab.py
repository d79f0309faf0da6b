"""Baseline (a) of scenario 2: the migration as python-gitlab's documentation shows it, one
project at a time: create the export, refresh it every second until it is finished, download
it to a file, ``import_project`` it, and refresh the import every second until it is finished.
python-gitlab's own defaults handle 429s (it sleeps for ``Retry-After`` and retries). Runs as
its own process (``python -m bench.baseline_gitlab``) so its CPU time is its own; prints one
JSON object (wall time, projects done) on stdout.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import gitlab

from bench.baseline_cli import arguments
from bench.procfs import peak_rss


def migrate(source: gitlab.Gitlab, destination: gitlab.Gitlab, path: str, prefix: str) -> None:
    project = source.projects.get(path, lazy=True)
    export = project.exports.create()
    export.refresh()
    while export.export_status != "finished":
        time.sleep(1)
        export.refresh()
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "export.tgz"
        with open(archive, "wb") as f:
            export.download(streamed=True, action=f.write)
        group, _, name = path.rpartition("/")
        with open(archive, "rb") as f:
            output = destination.projects.import_project(
                f,
                path=name,
                namespace=f"{prefix}/{group}" if prefix else group,
                override_params={"visibility": "private"},
            )
    assert isinstance(output, dict), "import_project answers the created project as JSON"
    project_import = destination.projects.get(output["id"], lazy=True).imports.get()
    while project_import.import_status != "finished":
        if project_import.import_status == "failed":
            raise RuntimeError(f"import of {path} failed: {project_import.import_error}")
        time.sleep(1)
        project_import.refresh()


def main() -> None:
    parser = arguments(__doc__)
    args = parser.parse_args()
    paths = args.paths.read_text().split()
    source = gitlab.Gitlab(args.source, private_token=args.token)
    destination = gitlab.Gitlab(args.destination, private_token=args.token)
    start = time.time()
    finishes = []
    for path in paths:
        migrate(source, destination, path, args.prefix)
        finishes.append(time.time() - start)
    json.dump(
        {
            "start": start,
            "wall_seconds": time.time() - start,
            "finishes": finishes,
            "peak_rss": peak_rss(),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
