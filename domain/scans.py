"""Scan codes as scanned in the field, and the kind of scan each one is.

Events keep the raw code; the kind drives the shipment's rules. Codes marked
"Jalur" are ours where the courier's public list has no equivalent.
"""

from dataclasses import dataclass
from enum import StrEnum


class ScanKind(StrEnum):
    PICKED_UP = "picked_up"
    RECEIVED_AT_ORIGIN = "received_at_origin"
    DEPARTED_HUB = "departed_hub"
    ARRIVED_AT_HUB = "arrived_at_hub"
    WITH_COURIER = "with_courier"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    RETURNED_TO_SHIPPER = "returned_to_shipper"


TERMINAL_KINDS = frozenset({ScanKind.DELIVERED, ScanKind.RETURNED_TO_SHIPPER})


@dataclass(frozen=True)
class ScanCode:
    code: str
    kind: ScanKind
    description: str
    reason: str | None = None


_CODES = (
    ScanCode("PU1", ScanKind.PICKED_UP, "picked up from shipper"),  # Jalur
    ScanCode("RC1", ScanKind.RECEIVED_AT_ORIGIN, "received by counter officer"),
    ScanCode("OP1", ScanKind.ARRIVED_AT_HUB, "received at sorting centre"),
    ScanCode("OP2", ScanKind.ARRIVED_AT_HUB, "processed at sorting centre"),
    ScanCode("OP3", ScanKind.DEPARTED_HUB, "forwarded to destination"),
    ScanCode("TP4", ScanKind.DEPARTED_HUB, "departed from transit"),
    ScanCode("IP1", ScanKind.ARRIVED_AT_HUB, "received at warehouse"),
    ScanCode("IP2", ScanKind.ARRIVED_AT_HUB, "received at inbound station"),
    ScanCode("IP3", ScanKind.WITH_COURIER, "with delivery courier"),
    ScanCode("D01", ScanKind.DELIVERED, "delivered"),
    ScanCode("U01", ScanKind.DELIVERY_FAILED, "delivery failed", "addressee_unknown"),
    ScanCode("U02", ScanKind.DELIVERY_FAILED, "delivery failed", "bad_address"),
    ScanCode("U03", ScanKind.DELIVERY_FAILED, "delivery failed", "misrouted"),
    ScanCode("U04", ScanKind.DELIVERY_FAILED, "delivery failed", "addressee_not_at_home"),
    ScanCode("U05", ScanKind.DELIVERY_FAILED, "delivery failed", "redelivery_requested"),
    ScanCode("U06", ScanKind.DELIVERY_FAILED, "delivery failed", "refused_by_addressee"),
    ScanCode("U07", ScanKind.DELIVERY_FAILED, "delivery failed", "held_at_shipper_request"),
    ScanCode("U08", ScanKind.DELIVERY_FAILED, "delivery failed", "failed_xray"),
    ScanCode("R01", ScanKind.RETURNED_TO_SHIPPER, "returned to shipper"),  # Jalur
)

SCAN_CODES: dict[str, ScanCode] = {scan.code: scan for scan in _CODES}
