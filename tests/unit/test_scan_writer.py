"""The group commit's writer (commands/scan_writer.py) when things go wrong: one request's
failure stays its own, and the writer keeps answering after anything a group does."""

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any
from uuid import UUID

import pytest

from commands.scan_writer import Answer, ScanWriter, Store
from commands.shipments import Shipments
from domain.shipments import Shipment
from tests.unit.builders import LATER, a_scan, given_shipment, hours, in_memory_shipments


class Gate:
    """Holds the writer inside its first save until released, so that everything queued
    meanwhile forms the next group."""

    def __init__(self, save: Callable[..., Any]) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()
        self._save = save

    def save(self, *aggregates: Any) -> Any:
        if not self.opened.is_set():
            self.entered.set()
            assert self.opened.wait(10)
        return self._save(*aggregates)


@pytest.fixture
def app() -> Iterator[Shipments]:
    shipments = in_memory_shipments()
    yield shipments
    shipments.close()


def writer_for(
    app: Shipments,
    *,
    load: Callable[[str], Shipment] | None = None,
    save: Callable[..., Any] | None = None,
    last_positions: Callable[[Sequence[UUID]], dict[UUID, int]] | None = None,
) -> ScanWriter:
    return ScanWriter(
        Store(
            load=load or app.shipment,
            save=save or app.save,
            last_positions=last_positions or (lambda ids: {}),
            sealer=app.sealer,
        )
    )


def outcome(future: Future[Answer]) -> Any:
    try:
        outcomes, _ = future.result(timeout=10)
    except Exception as error:
        return type(error).__name__
    return [o.recorded for o in outcomes]


def test_an_unexpected_failure_of_one_request_fails_that_request_only(app: Shipments) -> None:
    good, broken = given_shipment(app), given_shipment(app)

    def load(awb: str) -> Shipment:
        if awb == broken:
            raise OSError("its data could not be read")
        return app.shipment(awb)

    gate = Gate(app.save)
    writer = writer_for(app, load=load, save=gate.save)
    first = writer.record([(good, a_scan("OP1", hours(1)))], LATER, batch=False)
    assert gate.entered.wait(10)
    group = [
        writer.record([(good, a_scan("OP2", hours(2)))], LATER, batch=False),
        writer.record([(broken, a_scan("OP2", hours(2)))], LATER, batch=False),
        writer.record([(good, a_scan("OP3", hours(3)))], LATER, batch=False),
    ]
    gate.opened.set()

    assert [outcome(f) for f in [first, *group]] == [[True], [True], "OSError", [True]]
    assert len(app.shipment(good).scan_ids) == 3
    assert app.shipment(broken).scan_ids == set()
    writer.close()


def test_the_writer_keeps_answering_after_a_group_failed_after_its_commit(
    app: Shipments,
) -> None:
    """A retried scan's answer needs a look-up after the commit; when that fails, the
    retry fails, the scans committed with it are answered, and later requests too."""
    awb = given_shipment(app)
    repeated = a_scan("OP1", hours(1))
    looked_up = threading.Event()

    def last_positions(ids: Sequence[UUID]) -> dict[UUID, int]:
        looked_up.set()
        raise ConnectionError("the database went away after the commit")

    writer = writer_for(app, last_positions=last_positions)
    assert outcome(writer.record([(awb, repeated)], LATER, batch=False)) == [True]
    retry = writer.record([(awb, repeated)], LATER, batch=False)
    assert outcome(retry) == "ConnectionError"
    assert looked_up.is_set()
    assert outcome(writer.record([(awb, a_scan("OP2", hours(2)))], LATER, batch=False)) == [True]
    writer.close()


def test_a_caller_that_stopped_waiting_does_not_stop_the_writer(app: Shipments) -> None:
    awb = given_shipment(app)
    gate = Gate(app.save)
    writer = writer_for(app, save=gate.save)
    first = writer.record([(awb, a_scan("OP1", hours(1)))], LATER, batch=False)
    assert gate.entered.wait(10)
    abandoned = writer.record([(awb, a_scan("OP2", hours(2)))], LATER, batch=False)
    assert abandoned.cancel()  # as asyncio does when a request's task is cancelled
    after = writer.record([(awb, a_scan("OP3", hours(3)))], LATER, batch=False)
    gate.opened.set()

    assert outcome(first) == [True]
    assert outcome(after) == [True]
    writer.close()


def test_close_answers_what_was_queued_and_refuses_what_comes_after(app: Shipments) -> None:
    awb = given_shipment(app)
    gate = Gate(app.save)
    writer = writer_for(app, save=gate.save)
    queued = [
        writer.record([(awb, a_scan(code, hours(n)))], LATER, batch=False)
        for n, code in enumerate(["OP1", "OP2", "OP3"], start=1)
    ]
    assert gate.entered.wait(10)
    closing = threading.Thread(target=writer.close)
    closing.start()
    gate.opened.set()
    closing.join(10)

    assert not closing.is_alive()
    assert [outcome(f) for f in queued] == [[True], [True], [True]]
    with pytest.raises(RuntimeError, match="closed"):
        writer.record([(awb, a_scan("OP4", hours(4)))], LATER, batch=False)
