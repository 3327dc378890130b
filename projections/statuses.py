"""Normalised tracking statuses (the vocabulary of AfterShip and Karrio) for raw scan codes.

Versioned: a new mapping is a read-model rebuild, never a rewrite of stored events.
"""

from domain.scans import SCAN_CODES, ScanKind

MAPPING_VERSION = 1

BOOKED_STATUS = "info_received"

_BY_KIND = {
    ScanKind.PICKED_UP: "picked_up",
    ScanKind.RECEIVED_AT_ORIGIN: "picked_up",
    ScanKind.DEPARTED_HUB: "in_transit",
    ScanKind.ARRIVED_AT_HUB: "in_transit",
    ScanKind.WITH_COURIER: "out_for_delivery",
    ScanKind.DELIVERED: "delivered",
    ScanKind.DELIVERY_FAILED: "delivery_failed",
    ScanKind.RETURNED_TO_SHIPPER: "returned_to_sender",
}

_EXCEPTIONS = {"U03", "U07", "U08"}  # misrouted, held by shipper, failed X-ray: not an attempt


def status_for(code: str) -> tuple[str, str | None]:
    """(normalised status, reason or None) for a raw scan code."""
    scan = SCAN_CODES[code]
    if code in _EXCEPTIONS:
        return "exception", scan.reason
    return _BY_KIND[scan.kind], scan.reason
