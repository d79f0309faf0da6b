"""Giving freed memory back to the operating system.

CPython returns freed objects to the C allocator, which keeps their pages: after a burst of
work (a thousand exports polled at once) the process would keep its peak resident size for
good. glibc's ``malloc_trim`` releases the free pages, those in the middle of the heap
included. Elsewhere (musl, macOS) there is nothing to call and nothing is done.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: How often the operator gives free memory back (seconds): often enough that a burst's
#: memory is returned within seconds of it ending. A call costs a few milliseconds when there
#: is memory to return and well under one when there is none.
TRIM_INTERVAL = 10.0


def _find_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _find_trim()


def release_free_memory() -> bool:
    """Return the allocator's free pages to the system; whether any were returned."""
    return bool(_TRIM(0)) if _TRIM is not None else False


async def release_periodically(interval: float = TRIM_INTERVAL) -> None:
    """Run until cancelled, releasing free memory every ``interval`` seconds."""
    if _TRIM is None:
        logger.debug("this C library has no malloc_trim; free memory stays with the process")
        return
    while True:
        await asyncio.sleep(interval)
        release_free_memory()
