"""The shipments application: book shipments and record their scans.

Rules are checked on the plaintext the caller gives; personal values are sealed
(domain/sealing.py) before anything is stored, so no event holds them in clear.
"""

import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import RecordConflictError

from commands.scan_writer import (
    Answer,
    ScanOutcome,
    ScanWriter,
    Store,
)
from commands.writes import MAX_ATTEMPTS, Written, already_written, retry_on_conflict
from domain import waybill
from domain.booking import Booking, check_booking, sealed_facts
from domain.errors import Conflict, NotFound, RuleViolation
from domain.sealing import Sealer
from domain.shipments import Scan, Shipment, Waybill, data_subject

CLAIMS_KEPT = 100_000  # AWB -> shipment id look-ups remembered per process


@dataclass(frozen=True)
class Booked:
    shipment_id: UUID
    awb: str
    written: Written


class Shipments(Application[UUID]):
    name = "shipments"

    def __init__(self, env: dict[str, str] | None = None, *, sealer: Sealer) -> None:
        super().__init__(env)
        self.sealer = sealer
        self._claims: dict[str, UUID] = {}
        self._scans = ScanWriter(
            Store(
                load=self.shipment,
                save=self.save,
                last_positions=lambda ids: already_written(self.recorder, ids),
                sealer=sealer,
            )
        )

    def close(self) -> None:
        self._scans.close()
        super().close()

    def book(
        self,
        booking: Booking,
        *,
        actor: str,
        now: datetime,
        booking_key: str | None = None,
        shipper_account: UUID | None = None,
        receiver_account: UUID | None = None,
        serials: Callable[[], int] = lambda: secrets.randbelow(waybill.SERIAL_LIMIT),
    ) -> Booked:
        """Book a shipment. A repeated booking key returns the first booking.

        `shipper_account` / `receiver_account`: the verified customer account a party is,
        if any; that party's data is then sealed under the account's own key.
        """
        check_booking(booking)
        shipment_id = Shipment.create_id(booking_key) if booking_key else uuid4()
        existing = self._existing_booking(shipment_id, booking)
        if existing is not None:
            return existing
        new_shipment = partial(
            Shipment,
            id=shipment_id,
            booking=self._sealed_facts(booking, shipment_id, shipper_account, receiver_account),
            booked_at=now,
            booked_by=actor,
            shipper_account=shipper_account,
            receiver_account=receiver_account,
        )
        return self._save_under_new_waybill(booking, new_shipment, serials)

    def _sealed_facts(
        self,
        booking: Booking,
        shipment_id: UUID,
        shipper_account: UUID | None,
        receiver_account: UUID | None,
    ) -> dict[str, Any]:
        """The booking's facts, each party's personal data sealed under its data subject:
        their account if they have one, else this shipment's party."""
        subjects = {
            "shipper": data_subject(shipment_id, "shipper", shipper_account),
            "receiver": data_subject(shipment_id, "receiver", receiver_account),
        }
        return sealed_facts(booking, self.sealer, subjects)

    def _save_under_new_waybill(
        self, booking: Booking, new_shipment: Callable[..., Shipment], serials: Callable[[], int]
    ) -> Booked:
        """Save the shipment with the AWB it claims, drawing another while one is taken."""
        for _ in range(MAX_ATTEMPTS):
            awb = waybill.waybill_for(serials())
            shipment = new_shipment(awb=awb)
            claim = Waybill(awb=awb, shipment_id=shipment.id)
            try:
                recordings = self.save(shipment, claim)
            except RecordConflictError:
                # A concurrent retry of this booking got there first, or the AWB is taken.
                existing = self._existing_booking(shipment.id, booking)
                if existing is not None:
                    return existing
                continue
            return Booked(shipment.id, awb, Written.of(recordings))
        raise Conflict("Could not book the shipment; try again.", code="booking_contention")

    def _existing_booking(self, shipment_id: UUID, booking: Booking) -> Booked | None:
        try:
            shipment: Shipment = self.repository.get(shipment_id)
        except AggregateNotFoundError:
            return None
        if not shipment.same_booking(booking, self.sealer):
            raise Conflict(
                "This idempotency key was used for a different booking.",
                code="idempotency_key_reused",
            )
        first = already_written(self.recorder, [shipment_id, Waybill.create_id(shipment.awb)])
        return Booked(shipment_id, shipment.awb, Written.of([], first))

    def shipment(self, awb: str) -> Shipment:
        """The shipment holding a waybill number, or NotFound."""
        if not waybill.is_valid(awb):
            raise RuleViolation(
                "Not a valid waybill number (check digit mismatch or bad format).",
                code="invalid_awb",
            )
        try:
            shipment: Shipment = self.repository.get(self._shipment_id(awb))
        except AggregateNotFoundError:
            raise NotFound(f"No shipment with waybill {awb}.", code="shipment_not_found") from None
        return shipment

    def _shipment_id(self, awb: str) -> UUID:
        """The shipment an AWB was issued to. A claim never changes, so found ones are kept."""
        known = self._claims.get(awb)
        if known is None:
            claim: Waybill = self.repository.get(Waybill.create_id(awb))
            if len(self._claims) >= CLAIMS_KEPT:
                self._claims.clear()
            known = self._claims[awb] = claim.shipment_id
        return known

    def record_scan(self, awb: str, scan: Scan, now: datetime) -> tuple[ScanOutcome, Written]:
        """Record one scan; a retried scan id returns the first outcome."""
        outcomes, written = self.queue_scans([(awb, scan)], now, batch=False).result()
        return outcomes[0], written

    def record_scans(
        self, scans: Sequence[tuple[str, Scan]], now: datetime
    ) -> tuple[list[ScanOutcome], Written]:
        """Record a batch of scans atomically: all are stored, or none."""
        return self.queue_scans(scans, now, batch=True).result()

    def queue_scans(
        self, scans: Sequence[tuple[str, Scan]], now: datetime, *, batch: bool
    ) -> Future[Answer]:
        """Hand scans to this process's group commit (commands/scan_writer.py); the
        future holds their outcomes once committed, or the error that refused them.
        `batch`: all-or-nothing, refused with every bad item listed (ScanBatchRejected)."""
        return self._scans.record(scans, now, batch=batch)

    def link_party(self, shipment_id: UUID, role: str, account: UUID) -> Written:
        """Link a party to the customer who verified its e-mail; nothing if already linked."""

        def attempt() -> Written:
            shipment: Shipment = self.repository.get(shipment_id)
            shipment.link_party(role, account)
            return Written.of(self.save(shipment))

        return retry_on_conflict(attempt)
