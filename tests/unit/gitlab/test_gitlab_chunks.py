"""Re-chunking of streamed bodies: bounded chunks, every byte once, in order."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gitlab_ferry.gitlab.chunks import coalesce


async def _pieces(*sizes: int) -> AsyncIterator[bytes]:
    for index, size in enumerate(sizes):
        yield bytes([index % 256]) * size


async def _collect(pieces: AsyncIterator[bytes], size: int) -> list[bytes]:
    return [chunk async for chunk in coalesce(pieces, size)]


async def test_small_pieces_are_joined_up_to_the_chunk_size():
    chunks = await _collect(_pieces(*[64] * 10), 256)
    assert [len(c) for c in chunks] == [256, 256, 128]
    assert b"".join(chunks) == b"".join([bytes([i]) * 64 for i in range(10)])


async def test_a_chunk_ends_where_the_next_piece_would_not_fit():
    chunks = await _collect(_pieces(100, 100, 100), 250)
    assert [len(c) for c in chunks] == [200, 100]


async def test_large_pieces_are_cut_and_empty_ones_skipped():
    chunks = await _collect(_pieces(10, 0, 1000, 5), 300)
    assert max(len(c) for c in chunks) <= 300
    assert b"".join(chunks) == bytes([0]) * 10 + bytes([2]) * 1000 + bytes([3]) * 5


async def test_nothing_in_nothing_out():
    assert await _collect(_pieces(), 10) == []


async def test_the_size_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        await _collect(_pieces(1), 0)
