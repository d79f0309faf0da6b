"""Request parameters the way Grape sees them: query plus body, Rack-style nested keys.

Part of the simulator layer. Bodies may be JSON, urlencoded or multipart; ``a[b]=c`` keys become
nested hashes (also inside JSON, which python-gitlab sends). Multipart files are streamed to disk
in chunks and never held in memory; a file larger than the configured cap raises
``TooLarge`` as soon as the cap is crossed. Grape's coercions (Boolean, Integer) live here too.
This module must not import anything outside the simulator.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_CHUNK = 1 << 20


class ParamError(Exception):
    """A Grape validation error: 400 ``{"error": str(err)}``."""


class TooLarge(Exception):
    """The upload crossed ``max_import_size``."""


@dataclass
class UploadedFile:
    filename: str
    path: Path
    size: int
    content_type: str | None
    keep: bool = False


@dataclass
class Params:
    values: dict[str, Any] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def discard_files(self) -> None:
        """Delete received files that no job took over."""
        for upload in self.files.values():
            if not upload.keep:
                upload.path.unlink(missing_ok=True)


def _assign(target: dict[str, Any], key: str, value: Any) -> None:
    match = _KEY.match(key)
    if match is None:
        target[key] = value
        return
    parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
    node = target
    for i, part in enumerate(parts[:-1]):
        if parts[i + 1] == "":
            existing = node.get(part)
            items = existing if isinstance(existing, list) else []
            items.append(value)
            node[part] = items
            return
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def nest(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if isinstance(value, dict):
            existing = out.get(key)
            merged = existing if isinstance(existing, dict) else {}
            merged.update(nest(list(value.items())))
            out[key] = merged
        else:
            _assign(out, key, value)
    return out


async def read_params(request: web.Request, *, upload_dir: Path, max_file_size: int) -> Params:
    """Query parameters merged with body parameters (the body wins)."""
    pairs: list[tuple[str, Any]] = list(request.rel_url.query.items())
    files: dict[str, UploadedFile] = {}
    ctype = request.content_type
    if ctype == "multipart/form-data" and request.can_read_body:
        if max_file_size and (request.content_length or 0) > max_file_size + (1 << 20):
            raise TooLarge
        try:
            pairs += await _read_multipart(request, upload_dir, max_file_size, files)
        except BaseException:
            Params(files=files).discard_files()
            raise
    elif ctype == "application/x-www-form-urlencoded" and request.can_read_body:
        form = await request.post()
        pairs += [(k, v) for k, v in form.items() if isinstance(v, str)]
    elif ctype == "application/json" and request.can_read_body:
        raw = await request.read()
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as err:
                raise ParamError(
                    "The provided content-type 'application/json' is not supported."
                ) from err
            if isinstance(body, dict):
                pairs += list(body.items())
    return Params(nest(pairs), files)


async def _read_multipart(
    request: web.Request, upload_dir: Path, max_file_size: int, files: dict[str, UploadedFile]
) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.filename is None:
            pairs.append((part.name, await part.text()))
            continue
        dest = upload_dir / f"upload-{uuid.uuid4().hex}"
        size = await _stream_part(part, dest, max_file_size)
        if part.name in files:
            files[part.name].path.unlink(missing_ok=True)
        files[part.name] = UploadedFile(part.filename, dest, size, part.headers.get("Content-Type"))
    return pairs


async def _stream_part(part: BodyPartReader, dest: Path, max_file_size: int) -> int:
    size = 0
    fh = await asyncio.to_thread(dest.open, "wb")
    try:
        while chunk := await part.read_chunk(_CHUNK):
            size += len(chunk)
            if max_file_size and size > max_file_size:
                raise TooLarge
            await asyncio.to_thread(fh.write, chunk)
    except BaseException:
        fh.close()
        await asyncio.to_thread(dest.unlink, missing_ok=True)
        raise
    fh.close()
    return size


def to_bool(params: dict[str, Any], name: str, default: bool = False) -> bool:
    """Grape's Boolean coercion; a value it cannot coerce is ``<name> is invalid``."""
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ParamError(f"{name} is invalid")


def to_int(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParamError(f"{name} is invalid")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ParamError(f"{name} is invalid")


def to_str(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise ParamError(f"{name} is invalid")
    return str(value)


def require(params: dict[str, Any], files: dict[str, UploadedFile], names: list[str]) -> None:
    """Grape's ``requires``: every missing name, joined as Grape joins them."""
    missing = [f"{n} is missing" for n in names if params.get(n) is None and n not in files]
    if missing:
        raise ParamError(", ".join(missing))
