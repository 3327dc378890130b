"""Which partition an aggregate's events go to, and the consistency token built on it.

The relay chooses partitions itself (not librdkafka's partitioner), so the API can
tell a client which (partition, notification id) its write landed at.
"""

import re
import zlib
from typing import Protocol
from uuid import UUID


class Written(Protocol):
    """Where each written aggregate's last event landed (commands.writes.Written)."""

    @property
    def positions(self) -> tuple[tuple[UUID, int], ...]: ...


def partition_for(aggregate_id: UUID, partitions: int) -> int:
    return zlib.crc32(aggregate_id.bytes) % partitions


def token_for(context: str, written: Written, partitions: int) -> str:
    """'shipments:3=120,5=121': each partition's last notification id written."""
    highest: dict[int, int] = {}
    for aggregate_id, notification_id in written.positions:
        partition = partition_for(aggregate_id, partitions)
        highest[partition] = max(highest.get(partition, 0), notification_id)
    parts = ",".join(f"{p}={n}" for p, n in sorted(highest.items()))
    return f"{context}:{parts}"


_TOKEN = re.compile(
    r"([a-z_]{1,40}):((?:[0-9]{1,4}=[0-9]{1,18})(?:,[0-9]{1,4}=[0-9]{1,18}){0,1023})?"
)


def parse_token(token: str) -> tuple[str, dict[int, int]]:
    """Inverse of token_for; ValueError on anything malformed."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise ValueError("malformed consistency token")
    pairs = [part.split("=") for part in (match[2] or "").split(",") if part]
    positions = {int(partition): int(notification_id) for partition, notification_id in pairs}
    if len(positions) != len(pairs):
        raise ValueError("a partition appears twice")
    return match[1], positions
