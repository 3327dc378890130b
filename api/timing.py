"""Answers whose timing must not tell whether an account exists."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request


@asynccontextmanager
async def at_least(seconds: float) -> AsyncIterator[None]:
    """Hold the answer (success or error) until `seconds` have passed since entry.
    The wait is asynchronous: it costs no worker thread."""
    started = time.monotonic()
    try:
        yield
    finally:
        remaining = seconds - (time.monotonic() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)


def client_address(request: Request) -> str:
    """The peer address, or the client a trusted proxy names (JALUR_FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"
