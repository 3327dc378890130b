"""Custody: where a scanner may scan, who holds a parcel, and which scans look wrong.

A hub is named by an area code (CGK10000). Which locations a hub serves is decided by
`serves` alone, so the network's map can replace it later; today a hub serves its own city.
Hub devices and hub operators scan at their hub; couriers anywhere their hub serves.
Outcomes (delivered, delivery failed) are strict: only by the courier the parcel is with
at the scan's time, and only in the destination's city. Everything else that looks wrong
(a misroute, a jump between cities) is accepted and recorded as an anomaly for staff.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.areas import is_known_area
from domain.errors import Conflict, RuleViolation
from domain.scans import ScanKind

RELATIONSHIPS = ("addressee", "family", "colleague", "neighbour", "security", "other")
OUTCOMES = frozenset({ScanKind.DELIVERED, ScanKind.DELIVERY_FAILED})
BY_COURIER = OUTCOMES | {ScanKind.WITH_COURIER}
AT_HUB = frozenset({ScanKind.RECEIVED_AT_ORIGIN, ScanKind.ARRIVED_AT_HUB, ScanKind.DEPARTED_HUB})
MISROUTE = "misroute"
LOCATION_JUMP = "location_jump"


@dataclass(frozen=True)
class Scanner:
    """Who scans: their hub (None for staff made before hubs existed) and, for a courier
    (signed in, or through a device key bound to them), how events name them."""

    hub: str | None
    courier: str | None = None


@dataclass(frozen=True)
class Fact:
    """A recorded scan, as custody sees it."""

    scanned_at: datetime
    kind: ScanKind
    location: str
    actor: str


def city_code(area: str) -> str:
    return area[:3]


def serves(hub: str, location: str) -> bool:
    """Whether a hub's couriers work at `location` (today: the hub's own city)."""
    return city_code(location) == city_code(hub)


def check_hub(hub: str) -> str:
    if not is_known_area(hub):
        raise RuleViolation(
            "A hub is an area code of a known city, like CGK10000.", code="invalid_hub"
        )
    return hub


def check_location(scanner: Scanner, location: str) -> None:
    """A scan's location must be the scanner's own."""
    if scanner.hub is None:
        raise RuleViolation("This scanner belongs to no hub.", code="scanner_without_hub")
    own = serves(scanner.hub, location) if scanner.courier else location == scanner.hub
    if not own:
        raise RuleViolation(
            "Scan where you are: at your hub, or, for a courier, in the area your hub serves.",
            code="scan_outside_hub",
        )


def holder(history: Sequence[Fact], at: datetime) -> str | None:
    """The courier holding the parcel at `at`: of the latest "with courier" scan up to
    then (a shift handover is a new one), unless a hub has had the parcel since.
    `history` is in scan-time order."""
    held: str | None = None
    for fact in history:
        if fact.scanned_at > at:
            break
        if fact.kind is ScanKind.WITH_COURIER:
            held = fact.actor
        elif fact.kind in AT_HUB:
            held = None
    return held


def check_custody(
    scanner: Scanner,
    kind: ScanKind,
    location: str,
    at: datetime,
    route: tuple[str, str],
    history: Sequence[Fact],
) -> None:
    """Only a courier takes a parcel; only its holder, at the destination, ends a delivery;
    a return ends at the origin. `route`: the origin and destination areas."""
    origin, destination = route
    if kind is ScanKind.RETURNED_TO_SHIPPER and city_code(location) != city_code(origin):
        raise RuleViolation(
            "A parcel is returned to its shipper in the origin's city.",
            code="return_outside_origin",
        )
    if kind not in BY_COURIER:
        return
    if scanner.courier is None:
        raise RuleViolation("Only a courier scans this.", code="courier_required")
    if kind not in OUTCOMES:
        return
    if holder(history, at) != scanner.courier:
        raise RuleViolation(
            "The parcel was not with you at the scan's time.", code="not_in_custody"
        )
    if city_code(location) != city_code(destination):
        raise RuleViolation(
            "A delivery outcome is recorded only in the destination's city.",
            code="delivery_outside_destination",
        )
    if kind is ScanKind.DELIVERED and _changed_hands_after(history, at):
        # Whatever order scans arrive in: a parcel seen at a hub or taken by a courier
        # after a delivery's time was not delivered then.
        raise Conflict(
            "The parcel changed hands after this delivery's time.", code="custody_conflict"
        )


def _changed_hands_after(history: Sequence[Fact], at: datetime) -> bool:
    start = bisect_right(history, at, key=_time)
    return any(f.kind in AT_HUB or f.kind is ScanKind.WITH_COURIER for f in history[start:])


def check_outcomes_kept(fact: Fact, history: Sequence[Fact]) -> None:
    """A late change of hands (a courier's or a hub's scan timed before a recorded outcome)
    must not make that outcome one by a courier who no longer held the parcel then."""
    if fact.kind not in AT_HUB and fact.kind is not ScanKind.WITH_COURIER:
        return
    start = bisect_left(history, fact.scanned_at, key=_time)
    later = [f for f in history[start:] if f.kind in OUTCOMES]
    if not later:
        return
    changed = sorted([*history, fact], key=lambda f: f.scanned_at)
    for outcome in later:
        held = holder(history, outcome.scanned_at) == outcome.actor
        if held and holder(changed, outcome.scanned_at) != outcome.actor:
            raise Conflict(
                "This scan would take the parcel from the courier who recorded a later "
                "delivery outcome.",
                code="custody_conflict",
            )


def check_relationship(relationship: str | None) -> None:
    if relationship is not None and relationship not in RELATIONSHIPS:
        raise RuleViolation(
            f"The recipient's relationship is one of {', '.join(RELATIONSHIPS)}.",
            code="invalid_relationship",
        )


def anomalies(fact: Fact, history: Sequence[Fact], origin: str, destination: str) -> list[str]:
    """What staff should look at: an arrival at a hub off the route (origin to
    destination, until the network maps transit hubs), or a parcel that turns up in
    another city than its previous scan without having departed a hub."""
    found = []
    route = {city_code(origin), city_code(destination)}
    if fact.kind is ScanKind.ARRIVED_AT_HUB and city_code(fact.location) not in route:
        found.append(MISROUTE)
    up_to = bisect_right(history, fact.scanned_at, key=_time)
    # Before its first scan a parcel is where it was booked (at the shipper's, unmoved).
    last = history[up_to - 1] if up_to else None
    last_place = last.location if last else origin
    moved = city_code(last_place) != city_code(fact.location)
    if moved and (last is None or last.kind is not ScanKind.DEPARTED_HUB):
        found.append(LOCATION_JUMP)
    return found


def _time(fact: Fact) -> datetime:
    return fact.scanned_at
