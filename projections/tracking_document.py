"""One shipment's tracking state as the projection folds events into it, and the public
document it keeps ready to serve (`GET /v1/track/{awb}`).

The document holds no personal data, masked or not: the three masked names are opened
and added when it is served, so erasing a subject's key blanks them at once. Nor does it
hold the history: each scan's row keeps its own entry, so a scan writes one small row and
rewrites a small document, whatever the length of the history (the served answer gathers
the entries in scan-time order). Every rule of the public answer (statuses, closing
scans, cities) is applied here, once, when the event is folded.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.areas import city_of
from domain.custody import RELATIONSHIPS
from domain.public import PublicEvent
from domain.scans import SCAN_CODES, TERMINAL_KINDS
from domain.sealing import is_sealed
from projections.statuses import BOOKED_STATUS, MAPPING_VERSION, status_for

# Added when served (see the module's docstring).
NAME_FIELDS = ("shipper_name", "receiver_name", "pod_receiver_name")


@dataclass
class Tracked:
    """The mutable part of a shipment's row, and its public document (names left out)."""

    public: dict[str, Any]
    closed: bool = False
    pod_receiver_name: str | None = None  # sealed
    shipper_account: str | None = None
    receiver_account: str | None = None
    scan_count: int = 0
    aggregate_version: int = 0

    @property
    def status_at(self) -> datetime | None:
        value = self.public["status_at"]
        return None if value is None else datetime.fromisoformat(value)


def booked(event: PublicEvent) -> Tracked:
    data, booking = event.data, event.data["booking"]
    return Tracked(
        public={
            "awb": data["awb"],
            "service": booking["service"],
            "origin_city": city_of(booking["shipper"]["area"]),
            "destination_city": city_of(booking["receiver"]["area"]),
            "weight_grams": booking["parcel"]["weight_grams"],
            "cod": booking["cod_amount"] is not None,
            "booked_at": instant(datetime.fromisoformat(data["booked_at"])),
            "status": BOOKED_STATUS,
            "status_reason": None,
            "status_at": None,
            "delivered_at": None,
            "pod_relationship": None,
            "status_mapping_version": MAPPING_VERSION,
        },
        shipper_account=data.get("shipper_account"),
        receiver_account=data.get("receiver_account"),
        aggregate_version=event.aggregate_version,
    )


def scanned(tracked: Tracked, event: PublicEvent) -> None:
    """Let the scan set the status if it may: the latest scan by scan time sets the status;
    a closing scan always wins and is final. (Its history entry is its own row.)"""
    data = event.data
    code = data["code"]
    status, reason = status_for(code)
    at = datetime.fromisoformat(data["scanned_at"])
    tracked.scan_count += 1
    tracked.aggregate_version = event.aggregate_version
    closing = SCAN_CODES[code].kind in TERMINAL_KINDS
    last = tracked.status_at
    if tracked.closed or not (closing or last is None or last <= at):
        return
    public = tracked.public
    public.update(status=status, status_reason=reason, status_at=instant(at))
    tracked.closed = closing
    if status == "delivered":
        public["delivered_at"] = public["status_at"]
    pod_name = sealed_or_none(data.get("recipient_name"))
    if pod_name is not None:
        tracked.pod_receiver_name = pod_name
    relationship = data.get("recipient_relationship")
    if relationship is not None:
        # Scans from before the fixed list may hold free text about a person: never shown.
        public["pod_relationship"] = relationship if relationship in RELATIONSHIPS else "other"


def scan_row(event: PublicEvent) -> tuple[Any, ...]:
    """The scan's row in the scans table, its public history entry last."""
    data = event.data
    code = data["code"]
    status, reason = status_for(code)
    at = datetime.fromisoformat(data["scanned_at"])
    city = city_of(data["location"])
    description = SCAN_CODES[code].description
    entry = {
        "scanned_at": instant(at),
        "code": code,
        "description": description,
        "status": status,
        "reason": reason,
        "city": city,
    }
    row = (event.aggregate_id, data["scan_id"], event.aggregate_version, at)
    return (*row, data["recorded_at"], code, description, status, reason, city, entry)


def linked(tracked: Tracked, event: PublicEvent) -> None:
    setattr(tracked, f"{event.data['role']}_account", event.data["account"])
    tracked.aggregate_version = event.aggregate_version


def instant(moment: datetime) -> str:
    """ISO 8601 in UTC, as the API has always written times ('…Z')."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def sealed_or_none(value: Any) -> str | None:
    """Personal values are kept only sealed; anything else (pre-sealing events) is dropped."""
    return value if is_sealed(value) else None
