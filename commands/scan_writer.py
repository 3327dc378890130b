"""Group commit for scans: one writer per application and process.

Callers queue their scans and wait. The writer takes everything queued while its previous
commit ran, decides each request in memory on the shipments it keeps, writes all of them
in one transaction (one insert, one lock, one NOTIFY) and only then answers each caller.
A commit per request is what limits a database; a commit per group lets a burst of
couriers' scans cost a few transactions instead of thousands.

What it keeps:

- Each request is decided on its own: a rule one scan breaks refuses that scan only, and a
  batch request stays all-or-nothing (it works on copies of its shipments, kept only if
  every scan of it is accepted).
- The shipments it keeps may be stale (another process, or a booking in this one, wrote
  since). A stale one can never be written: its next version is taken, the insert
  conflicts, and the group is decided again on freshly loaded shipments. A refusal writes
  nothing, so it is answered only once decided on a shipment loaded from the store for
  this very attempt. ("Already recorded" needs no such care: a kept shipment holds only
  committed scans.)
- Nobody is answered before the commit; a failed commit fails (or retries) its whole group.
"""

import copy
import logging
import queue
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast
from uuid import UUID

from eventsourcing.persistence import RecordConflictError, Recording

from commands.writes import MAX_ATTEMPTS, Written
from domain.errors import Conflict, NotFound, RuleViolation
from domain.sealing import Sealer
from domain.shipments import Scan, Shipment

log = logging.getLogger(__name__)
MAX_GROUP = 2_000  # requests per transaction; a batch request holds up to 500 scans
SHIPMENTS_KEPT = 10_000


@dataclass(frozen=True)
class ScanOutcome:
    awb: str
    scan_id: UUID
    recorded: bool  # False: this scan id was already recorded (a retried request)


@dataclass(frozen=True)
class ItemError:
    index: int
    code: str
    message: str


class ScanBatchRejected(RuleViolation):
    """At least one scan of a batch broke a rule; nothing of the batch was stored."""

    code = "scan_batch_rejected"

    def __init__(self, errors: list[ItemError]) -> None:
        super().__init__(f"{len(errors)} scan(s) rejected; nothing was recorded.")
        self.errors = errors


Answer = tuple[list[ScanOutcome], Written]


@dataclass
class _Request:
    scans: Sequence[tuple[str, Scan]]
    now: datetime
    batch: bool  # all-or-nothing, refused as a whole with every bad item listed
    future: Future[Answer] = field(default_factory=Future)
    outcomes: list[ScanOutcome] = field(default_factory=list)
    error: Exception | None = None
    touched: set[UUID] = field(default_factory=set)  # the shipments it was decided on


@dataclass(frozen=True)
class Store:
    """What the writer needs of its application."""

    load: Callable[[str], Shipment]  # from the event store, current; NotFound if no such AWB
    save: Callable[..., list[Recording[UUID]]]
    last_positions: Callable[[Sequence[UUID]], dict[UUID, int]]
    sealer: Sealer


class ScanWriter:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._kept: OrderedDict[str, Shipment] = OrderedDict()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    def record(
        self, scans: Sequence[tuple[str, Scan]], now: datetime, *, batch: bool
    ) -> Future[Answer]:
        """Queue scans for the next group; the future is set once they are committed."""
        request = _Request(scans, now, batch)
        with self._start_lock:  # so that nothing is queued behind close()'s stop
            if self._closed:
                raise RuntimeError("the scan writer is closed")
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="scan-writer", daemon=True)
                self._thread.start()
            self._queue.put(request)
        return request.future

    def close(self) -> None:
        with self._start_lock:
            self._closed = True
            thread = self._thread
            self._queue.put(None)
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            group, stopping = self._next_group()
            try:
                self._commit(group)
            except BaseException as error:
                # A bug, or the database lost after a commit: no caller may wait for ever.
                log.exception("the scan writer failed a group of %d requests", len(group))
                for request in group:
                    _settle(request.future, error=error)

    def _next_group(self) -> tuple[list[_Request], bool]:
        """Everything queued now (waiting for the first), and whether close() came after."""
        group: list[_Request] = []
        first = self._queue.get()
        if first is None:
            return group, True
        group.append(first)
        while len(group) < MAX_GROUP:
            try:
                queued = self._queue.get_nowait()
            except queue.Empty:
                break
            if queued is None:
                return group, True
            group.append(queued)
        return group, False

    def _commit(self, group: list[_Request]) -> None:
        for attempt in range(MAX_ATTEMPTS):
            asked: set[str] = set()  # AWBs read from the store during this attempt
            try:
                changed = self._decide(group, asked)
                stale = [r for r in group if r.error and not _awbs(r) <= asked]
                if stale:
                    # Refused on a kept shipment: decide again on shipments read from the
                    # store, so that no refusal rests on a stale copy.
                    self._forget([s.awb for s in changed.values()] + _awbs_of(stale))
                    continue
                recordings = self._store.save(*changed.values()) if changed else []
            except RecordConflictError:
                self._forget(_awbs_of(group))
                time.sleep(0.001 * secrets.randbelow(5 * (attempt + 1)))
                continue
            except Exception as error:
                self._forget(_awbs_of(group))
                for request in group:
                    _settle(request.future, error=error)
                return
            self._keep(changed)
            self._answer(group, recordings)
            return
        for request in group:
            _settle(
                request.future, error=Conflict("Too much contention; try again.", code="contention")
            )

    def _decide(self, group: list[_Request], asked: set[str]) -> dict[UUID, Shipment]:
        """Decide every request in arrival order; the shipments that now hold new events."""
        working: dict[str, Shipment] = {}
        changed: dict[UUID, Shipment] = {}
        for request in group:
            request.error = None
            try:
                request.outcomes, mine = self._decide_request(request, working, asked)
            except Exception as error:
                # Only this request fails: a batch decided on copies, and a single scan
                # changes its shipment only once every check and lookup has passed.
                request.error = error
                continue
            request.touched = {shipment.id for shipment in mine.values()}
            working.update(mine)
            recorded = {o.awb for o in request.outcomes if o.recorded}
            changed.update((s.id, s) for awb, s in mine.items() if awb in recorded)
        return changed

    def _decide_request(
        self, request: _Request, working: dict[str, Shipment], asked: set[str]
    ) -> tuple[list[ScanOutcome], dict[str, Shipment]]:
        """This request's outcomes and the shipments it decided on. A single scan decides
        on the group's shipment itself (a refused scan changes nothing); a batch on copies,
        so that a refused batch leaves the group's shipments as they were."""
        mine: dict[str, Shipment] = {}
        outcomes: list[ScanOutcome] = []
        errors: list[ItemError] = []
        for index, (awb, scan) in enumerate(request.scans):
            try:
                if awb in mine:
                    shipment = mine[awb]
                else:
                    shipment = self._shipment(awb, working, asked)
                    if request.batch:
                        shipment = copy.deepcopy(shipment)
                    mine[awb] = shipment
                recorded = shipment.record_scan(scan, request.now, self._store.sealer)
            except (RuleViolation, NotFound, Conflict) as error:
                if not request.batch:
                    raise
                errors.append(ItemError(index, error.code, error.message))
                continue
            outcomes.append(ScanOutcome(awb, scan.scan_id, recorded))
        if errors:
            raise ScanBatchRejected(errors)
        return outcomes, mine

    def _shipment(self, awb: str, working: dict[str, Shipment], asked: set[str]) -> Shipment:
        """The shipment as this group has made it so far, else as kept, else as stored."""
        if awb in working:
            return working[awb]
        kept = self._kept.get(awb)
        if kept is None:
            asked.add(awb)
            kept = self._store.load(awb)
        return kept

    def _keep(self, changed: dict[UUID, Shipment]) -> None:
        for shipment in changed.values():
            self._kept[shipment.awb] = shipment
            self._kept.move_to_end(shipment.awb)
        while len(self._kept) > SHIPMENTS_KEPT:
            self._kept.popitem(last=False)

    def _forget(self, awbs: list[str]) -> None:
        for awb in awbs:
            self._kept.pop(awb, None)

    def _answer(self, group: list[_Request], recordings: list[Recording[UUID]]) -> None:
        """Each caller's outcomes, with where its shipments' newest events now are."""
        written = dict(Written.of(recordings).positions)
        accepted = [r for r in group if r.error is None]
        unwritten = {i for r in accepted for i in r.touched} - written.keys()
        known = dict(written)
        try:
            known.update(self._store.last_positions(list(unwritten)) if unwritten else {})
        except Exception as error:
            # Committed already; only the retries that needed this look-up fail (and their
            # clients' next retry is answered as one again).
            for request in accepted:
                if not request.touched <= known.keys():
                    request.error = error
        for request in group:
            if request.error is not None:
                _settle(request.future, error=request.error)
                continue
            positions = tuple((i, known[i]) for i in request.touched if i in known)
            _settle(request.future, result=(request.outcomes, Written(positions)))


def _settle(
    future: Future[Answer], *, result: Answer | None = None, error: BaseException | None = None
) -> None:
    """Answer a caller, unless it stopped waiting (a cancelled request)."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(cast(Answer, result))
    except InvalidStateError:
        pass


def _awbs(request: _Request) -> set[str]:
    return {awb for awb, _ in request.scans}


def _awbs_of(requests: list[_Request]) -> list[str]:
    return [awb for request in requests for awb, _ in request.scans]
