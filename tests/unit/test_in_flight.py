"""The relay's batches on their way: a position moves only past batches acknowledged in
full, and only once every batch before them was."""

import pytest
from confluent_kafka import KafkaError

from infra.messaging.in_flight import Batch, Failed, InFlight


def batch(last_id: int, size: int) -> Batch:
    return Batch(last_id, heads=[last_id], unplaced=frozenset(), size=size)


def test_a_batch_acknowledged_before_an_older_one_waits_for_it() -> None:
    older, newer = batch(2, 2), batch(4, 2)
    in_flight = InFlight()
    in_flight.add(older)
    in_flight.add(newer)
    newer.acknowledged = 2
    older.acknowledged = 1

    assert in_flight.settled() is None

    older.acknowledged = 2
    settled = in_flight.settled()
    assert settled is not None
    assert (settled.last_id, settled.heads, settled.events) == (4, [4], 4)
    assert len(in_flight) == 0


def test_a_refused_message_stops_the_position_before_its_batch() -> None:
    first, refused = batch(2, 2), batch(4, 2)
    in_flight = InFlight()
    in_flight.add(first)
    in_flight.add(refused)
    first.acknowledged = 2
    refused.acknowledged = 1
    refused.failure = KafkaError(KafkaError._MSG_TIMED_OUT)

    settled = in_flight.settled()
    assert settled is not None
    assert settled.last_id == 2
    with pytest.raises(Failed):
        in_flight.settled()


def test_first_offsets_learned_by_several_batches_keep_the_lowest() -> None:
    one, two = batch(1, 1), batch(2, 1)
    one.acknowledged = two.acknowledged = 1
    one.first_offsets, two.first_offsets = {0: 7}, {0: 9, 1: 3}
    in_flight = InFlight()
    in_flight.add(one)
    in_flight.add(two)

    settled = in_flight.settled()
    assert settled is not None
    assert settled.first_offsets == {0: 7, 1: 3}
