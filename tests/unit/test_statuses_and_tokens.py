from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.writes import Written
from domain.scans import SCAN_CODES
from infra.messaging.partitioning import parse_token, partition_for, token_for
from projections.statuses import BOOKED_STATUS, status_for

VOCABULARY = {
    "info_received",
    "picked_up",
    "in_transit",
    "out_for_delivery",
    "delivery_failed",
    "available_for_pickup",
    "delivered",
    "returned_to_sender",
    "exception",
    "cancelled",
}


@pytest.mark.parametrize("code", sorted(SCAN_CODES))
def test_every_scan_code_maps_to_a_normalised_status(code: str) -> None:
    status, _ = status_for(code)

    assert status in VOCABULARY


@pytest.mark.parametrize("code", sorted(SCAN_CODES))
def test_failures_and_exceptions_carry_a_reason(code: str) -> None:
    status, reason = status_for(code)

    if status in {"delivery_failed", "exception"}:
        assert reason
    else:
        assert reason is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("PU1", ("picked_up", None)),
        ("OP1", ("in_transit", None)),
        ("IP3", ("out_for_delivery", None)),
        ("D01", ("delivered", None)),
        ("U04", ("delivery_failed", "addressee_not_at_home")),
        ("U03", ("exception", "misrouted")),
        ("R01", ("returned_to_sender", None)),
    ],
)
def test_scan_codes_map_to_their_meaning(code: str, expected: tuple[str, str | None]) -> None:
    assert status_for(code) == expected


def test_a_booked_shipment_has_a_normalised_status() -> None:
    assert BOOKED_STATUS in VOCABULARY


@given(st.uuids(), st.integers(min_value=1, max_value=1024))
def test_partition_is_stable_and_in_range(aggregate_id: UUID, partitions: int) -> None:
    partition = partition_for(aggregate_id, partitions)

    assert 0 <= partition < partitions
    assert partition_for(UUID(str(aggregate_id)), partitions) == partition


positions = st.lists(st.tuples(st.uuids(), st.integers(min_value=1, max_value=10**12)))


@given(st.sampled_from(["shipments", "wallets"]), positions, st.integers(1, 64))
def test_token_round_trips_to_the_highest_position_per_partition(
    context: str, written: list[tuple[UUID, int]], partitions: int
) -> None:
    expected: dict[int, int] = {}
    for aggregate_id, notification_id in written:
        partition = partition_for(aggregate_id, partitions)
        expected[partition] = max(expected.get(partition, 0), notification_id)

    token = token_for(context, Written(tuple(written)), partitions)

    assert parse_token(token) == (context, expected)


@pytest.mark.parametrize(
    "token",
    [
        "",
        ":1=2",
        "ship-ments:1=2",
        "shipments:a=1",
        "shipments:1=b",
        "shipments:1",
        "shipments:=1",
        "shipments:-1=5",
        "shipments:1=-5",
        "shipments:" + ",".join(f"{p}=1" for p in range(1025)),
    ],
)
def test_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_token(token)


@given(st.text(max_size=40))
def test_any_text_parses_to_sane_positions_or_raises_value_error(text: str) -> None:
    try:
        context, parsed = parse_token(text)
    except ValueError:
        return
    assert context.isidentifier()
    assert len(parsed) <= 1024
    assert all(p >= 0 and n >= 0 for p, n in parsed.items())
