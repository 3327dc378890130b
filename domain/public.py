"""The public JSON form of domain events: the contract with every stream consumer.

A public event is {"type", "schema_version", "aggregate_id", "aggregate_version",
"occurred_at", "data"}; `data` holds the event's own facts. A change of shape
gets a new schema version, never a silent change of an old one.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEvent

from domain.accounts import Account
from domain.privacy import PrivacyPolicy
from domain.shipments import Shipment, Waybill

PUBLIC_NAMES: dict[type[Any], tuple[str, int]] = {
    Account.Registered: ("AccountRegistered", 1),  # type: ignore[attr-defined]
    Account.EmailVerified: ("AccountEmailVerified", 1),  # type: ignore[attr-defined]
    Account.EmailChangeRequested: ("AccountEmailChangeRequested", 1),  # type: ignore[attr-defined]
    Account.EmailChanged: ("AccountEmailChanged", 1),  # type: ignore[attr-defined]
    Account.EmailChangeCancelled: ("AccountEmailChangeCancelled", 1),  # type: ignore[attr-defined]
    Account.EmailChangeReverted: ("AccountEmailChangeReverted", 1),  # type: ignore[attr-defined]
    Account.PasswordChanged: ("AccountPasswordChanged", 1),  # type: ignore[attr-defined]
    Account.PasswordResetRequested: ("AccountPasswordResetRequested", 1),  # type: ignore[attr-defined]
    Account.Erased: ("AccountErased", 1),  # type: ignore[attr-defined]
    Account.MfaEnabled: ("AccountMfaEnabled", 1),  # type: ignore[attr-defined]
    Account.MfaDisabled: ("AccountMfaDisabled", 1),  # type: ignore[attr-defined]
    Account.RecoveryCodeUsed: ("AccountRecoveryCodeUsed", 1),  # type: ignore[attr-defined]
    Account.HubAssigned: ("AccountHubAssigned", 1),  # type: ignore[attr-defined]
    PrivacyPolicy.Published: ("PrivacyPolicyPublished", 1),  # type: ignore[attr-defined]
    PrivacyPolicy.Revised: ("PrivacyPolicyRevised", 1),  # type: ignore[attr-defined]
    Shipment.Booked: ("ShipmentBooked", 2),
    Shipment.ScanRecorded: ("ScanRecorded", 4),
    Shipment.PartyLinked: ("ShipmentPartyLinked", 1),  # type: ignore[attr-defined]
    Waybill.Issued: ("WaybillIssued", 1),  # type: ignore[attr-defined]
}

# Every domain event has these; the public form carries them outside `data`.
ENVELOPE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic"}
)


_encode = json.JSONEncoder(separators=(",", ":"), sort_keys=True, allow_nan=False).encode


@dataclass(frozen=True)
class PublicEvent:
    type: str
    schema_version: int
    aggregate_id: str
    aggregate_version: int
    occurred_at: str
    data: dict[str, Any]

    def to_json(self) -> bytes:
        body = {
            "type": self.type,
            "schema_version": self.schema_version,
            "aggregate_id": self.aggregate_id,
            "aggregate_version": self.aggregate_version,
            "occurred_at": self.occurred_at,
            "data": self.data,
        }
        return _encode(body).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "PublicEvent":
        body = json.loads(raw)
        return cls(
            type=body["type"],
            schema_version=body["schema_version"],
            aggregate_id=body["aggregate_id"],
            aggregate_version=body["aggregate_version"],
            occurred_at=body["occurred_at"],
            data=body["data"],
        )


def to_public(domain_event: DomainEvent) -> PublicEvent:
    name, version = PUBLIC_NAMES[type(domain_event)]
    facts = {k: v for k, v in vars(domain_event).items() if k not in ENVELOPE_FIELDS}
    return PublicEvent(
        type=name,
        schema_version=version,
        aggregate_id=str(domain_event.originator_id),
        aggregate_version=domain_event.originator_version,
        occurred_at=domain_event.timestamp.isoformat(),
        data=_plain(facts),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
