"""The command line both baseline scripts of scenario 2 share (standard library only, so a
baseline's own memory is its own)."""

from __future__ import annotations

import argparse
from pathlib import Path


def arguments(description: str | None) -> argparse.ArgumentParser:
    """``--source``, ``--destination``, ``--token``, ``--prefix`` and the file of paths."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--source", required=True, help="Source GitLab URL.")
    parser.add_argument("--destination", required=True, help="Destination GitLab URL.")
    parser.add_argument("--token", required=True, help="Token valid on both.")
    parser.add_argument("--prefix", default="", help="Destination group to import under.")
    parser.add_argument("paths", type=Path, help="A file with one project path a line.")
    return parser
