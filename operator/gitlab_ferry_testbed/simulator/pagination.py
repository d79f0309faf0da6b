"""GitLab's offset pagination: ``page`` and ``per_page`` (at most 100) and the ``X-*`` and
``Link`` headers of every paginated listing.

Part of the simulator layer. Pure functions of the request's URL and the counts; they must not
import anything outside the simulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web

from gitlab_ferry_testbed.simulator.params import ParamError, to_int

MAX_PER_PAGE = 100
T = TypeVar("T")


def page_params(values: dict[str, Any]) -> tuple[int, int]:
    """``page`` (default 1) and ``per_page`` (default 20, more than 100 counts as 100)."""
    page = to_int(values, "page") or 1
    per_page = to_int(values, "per_page") or 20
    if page < 1 or per_page < 1:
        raise ParamError("page is invalid" if page < 1 else "per_page is invalid")
    return page, min(per_page, MAX_PER_PAGE)


def paginate(
    request: web.Request, public_url: str, items: Sequence[T], page: int, per_page: int
) -> tuple[Sequence[T], dict[str, str]]:
    """The page's items and the headers GitLab sends with them."""
    total = len(items)
    pages = max(1, -(-total // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    return chunk, headers(request, public_url, page, per_page, total, pages)


def headers(
    request: web.Request, public_url: str, page: int, per_page: int, total: int, pages: int
) -> dict[str, str]:
    base = f"{public_url}{request.rel_url.path}"
    query = {k: v for k, v in request.rel_url.query.items() if k not in ("page", "per_page")}

    def link(p: int) -> str:
        return f"{base}?{urlencode({**query, 'page': p, 'per_page': per_page})}"

    rels = []
    if page > 1:
        rels.append(f'<{link(page - 1)}>; rel="prev"')
    if page < pages:
        rels.append(f'<{link(page + 1)}>; rel="next"')
    rels += [f'<{link(1)}>; rel="first"', f'<{link(pages)}>; rel="last"']
    return {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Next-Page": str(page + 1) if page < pages else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
        "X-Total": str(total),
        "X-Total-Pages": str(pages),
        "Link": ", ".join(rels),
    }
