"""Response bodies of a customer's own shipments (full detail, for the owner only) and of
the auditors' totals. Built from projections/tracking_queries.py's answers."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.tracking import ScanView
from projections.statuses import MAPPING_VERSION

ERASED = "null once this person's data was erased."


class OwnedParty(BaseModel):
    name: str | None = Field(description=f"In full; {ERASED}")
    phone: str | None = Field(description=f"In full; {ERASED}")
    address: str | None = Field(description=f"In full; {ERASED}")
    email: str | None = Field(description=f"Null when none was given; {ERASED}")
    area: str
    city: str


class OwnedParcel(BaseModel):
    weight_grams: int
    length_cm: int
    width_cm: int
    height_cm: int
    declared_value: int = Field(description="rupiah")
    description: str | None = Field(description=f"What the shipper said it holds; {ERASED}")


class OwnedShipment(BaseModel):
    awb: str
    role: Literal["shipper", "receiver"] = Field(description="What the account is to it.")
    service: str
    shipper: OwnedParty
    receiver: OwnedParty
    parcel: OwnedParcel
    cod_amount: int | None = Field(description="rupiah; null without cash on delivery")
    booked_at: datetime
    status: str
    status_reason: str | None
    status_at: datetime | None
    delivered_at: datetime | None
    pod_receiver_name: str | None = Field(description=f"Who signed, in full; {ERASED}")
    pod_relationship: str | None
    history: list[ScanView]
    status_mapping_version: int = MAPPING_VERSION


class OwnedShipments(BaseModel):
    shipments: list[OwnedShipment] = Field(description="Newest first.")
    next_before: str | None = Field(
        description="An AWB: pass it as `before` for the next page; null on the last page."
    )

    @classmethod
    def page(cls, rows: list[dict[str, Any]], limit: int) -> "OwnedShipments":
        """A page of `owned_shipments(..., limit)` rows."""
        full = len(rows) == limit and limit > 0
        return cls(
            shipments=[OwnedShipment(**row) for row in rows],
            next_before=rows[-1]["awb"] if full else None,
        )


class AuditTotals(BaseModel):
    """Non-personal facts of every shipment: the same before and after any erasure."""

    shipments: int
    by_status: dict[str, int]
    by_service: dict[str, int]
    cod_amount_total: int = Field(description="rupiah")
    declared_value_total: int = Field(description="rupiah")
