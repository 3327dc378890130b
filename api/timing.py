"""Answers whose timing must not tell whether an account exists."""

import asyncio
import ipaddress
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
    """Who a per-address limit counts: the peer address, or the client a trusted proxy
    names (JALUR_FORWARDED_ALLOW_IPS). An IPv6 client counts as its /64: one host is
    given a whole /64 and could rotate through it to escape every per-address bucket."""
    return address_bucket(request.client.host if request.client else "unknown")


def address_bucket(host: str) -> str:
    """An IPv4 address as it is; an IPv6 one as its /64 (an IPv4-mapped one as IPv4)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return host
