"""Batches the relay has sent and the broker has not yet fully acknowledged.

The relay keeps several batches on their way at once: while the broker acknowledges one,
the next is read and produced. A position may be saved only for a batch that was
acknowledged in full, after every batch before it was.
"""

from collections import deque
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, Message


@dataclass
class Batch:
    last_id: int  # the batch's highest notification id
    heads: list[int]  # each partition's last notification id once this batch is stored
    unplaced: frozenset[int]  # partitions whose first offset in this publication is unknown
    size: int = 0
    acknowledged: int = 0
    first_offsets: dict[int, int] = field(default_factory=dict)
    failure: KafkaError | None = None

    def delivered(self, error: KafkaError | None, message: Message) -> None:
        """librdkafka's delivery report for one message of this batch."""
        if error is not None:
            self.failure = self.failure or error
            return
        self.acknowledged += 1
        partition = message.partition()
        if partition in self.unplaced:
            offset = message.offset()
            if partition is not None and offset is not None:
                self.first_offsets[partition] = min(
                    offset, self.first_offsets.get(partition, offset)
                )

    @property
    def done(self) -> bool:
        return self.acknowledged == self.size


class Failed(Exception):
    pass


@dataclass
class InFlight:
    batches: deque[Batch] = field(default_factory=deque)

    def __len__(self) -> int:
        return len(self.batches)

    def add(self, batch: Batch) -> None:
        self.batches.append(batch)

    def settled(self) -> "Settled | None":
        """Take the fully acknowledged batches at the front, as one; None if there is none.
        Raises Failed once no such batch is left and a message of any batch was refused
        (the relay then resends from its saved position)."""
        taken: list[Batch] = []
        while self.batches and self.batches[0].done:
            taken.append(self.batches.popleft())
        if not taken:
            refused = next((b.failure for b in self.batches if b.failure is not None), None)
            if refused is not None:
                raise Failed(str(refused))
            return None
        first_offsets: dict[int, int] = {}
        for batch in taken:
            for partition, offset in batch.first_offsets.items():
                first_offsets[partition] = min(offset, first_offsets.get(partition, offset))
        last = taken[-1]
        return Settled(last.last_id, last.heads, first_offsets, sum(b.size for b in taken))


@dataclass(frozen=True)
class Settled:
    """Acknowledged batches: where the position may now move, and what they taught."""

    last_id: int
    heads: list[int]
    first_offsets: dict[int, int]
    events: int
