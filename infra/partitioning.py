"""Which partition an aggregate's events go to, and the consistency token built on it.

The relay chooses partitions itself (not librdkafka's partitioner), so the API can
tell a client which (partition, notification id) its write landed at.
"""

import zlib
from uuid import UUID

from commands.shipments import Written


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


def parse_token(token: str) -> tuple[str, dict[int, int]]:
    """Inverse of token_for; ValueError on anything malformed."""
    context, _, parts = token.partition(":")
    if not context.isidentifier():
        raise ValueError("bad context")
    positions: dict[int, int] = {}
    for part in filter(None, parts.split(",")):
        partition, _, notification_id = part.partition("=")
        positions[int(partition)] = int(notification_id)
    if len(positions) > 1024 or any(p < 0 or n < 0 for p, n in positions.items()):
        raise ValueError("bad positions")
    return context, positions
