"""Re-chunking of streamed bodies (gitlab layer).

An HTTP response arrives in socket-sized pieces (tens of KiB). Handing each piece on would make
every later step (hashing, the upload's writes) pay its per-call cost hundreds of thousands of
times for a multi-gigabyte archive; httpx's own ``chunk_size`` re-chunking copies every byte
several times through a ``BytesIO``. Joining the pieces once into chunks of a bounded size
costs one copy. No I/O of its own; no httpx.
"""

from __future__ import annotations

from collections.abc import AsyncIterator


async def coalesce(pieces: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """The bytes of ``pieces`` in chunks of at most ``size`` bytes, each as large as the
    pieces allow (a chunk ends where the next piece would not fit)."""
    if size <= 0:
        raise ValueError("the chunk size must be positive")
    held: list[bytes] = []
    total = 0
    async for piece in pieces:
        if not piece:
            continue
        if total and total + len(piece) > size:
            yield held[0] if len(held) == 1 else b"".join(held)
            held, total = [], 0
        start = 0
        while len(piece) - start > size:
            yield piece[start : start + size]
            start += size
        rest = piece[start:] if start else piece
        held.append(rest)
        total += len(rest)
    if held:
        yield held[0] if len(held) == 1 else b"".join(held)
