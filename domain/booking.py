"""What a booking holds, and the rules a booking must satisfy today."""

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from domain.areas import is_known_area
from domain.errors import RuleViolation
from domain.sealing import Sealer, SubjectErased, is_sealed

SERVICES = frozenset({"REG", "YES", "OKE", "JTR"})
COD_SERVICES = frozenset({"REG", "OKE", "JTR"})
COD_MAX_RUPIAH = 5_000_000
JTR_MIN_GRAMS = 10_000
PARCEL_MAX_GRAMS = 70_000
ROLES = ("shipper", "receiver")
PERSONAL_FIELDS = ("name", "phone", "address", "email")  # sealed; the area code stays plain
# The parcel's free-text description is sealed under the shipper's subject (it says what
# someone sends); descriptions stored before issue 14 are in clear and read as they are.
DESCRIPTION_OWNER = "shipper"
_DESCRIPTION = "parcel_description"


@dataclass(frozen=True)
class Party:
    name: str
    phone: str
    address: str
    area: str
    email: str | None = None  # its syntax is checked at the edge; here it is only carried


@dataclass(frozen=True)
class Parcel:
    weight_grams: int
    length_cm: int
    width_cm: int
    height_cm: int
    declared_value: int
    description: str = ""


@dataclass(frozen=True)
class Booking:
    service: str
    shipper: Party
    receiver: Party
    parcel: Parcel
    cod_amount: int | None = None

    def facts(self) -> dict[str, Any]:
        """The booking as plain data, before its parties are sealed."""
        return asdict(self)


def sealed_facts(booking: Booking, sealer: Sealer, subjects: Mapping[str, UUID]) -> dict[str, Any]:
    """The booking's facts with each party's personal values sealed under its subject."""
    facts = booking.facts()
    personal = {role: {name: facts[role][name] for name in PERSONAL_FIELDS} for role in ROLES}
    personal[DESCRIPTION_OWNER][_DESCRIPTION] = facts["parcel"]["description"] or None
    if subjects["shipper"] == subjects["receiver"]:  # sending to oneself: one subject
        sealed = {role: sealer.seal(subjects[role], personal[role]) for role in ROLES}
    else:
        by_subject = sealer.seal_many({subjects[role]: personal[role] for role in ROLES})
        sealed = {role: by_subject[subjects[role]] for role in ROLES}
    sealed = {role: dict(values) for role, values in sealed.items()}
    facts["parcel"]["description"] = sealed[DESCRIPTION_OWNER].pop(_DESCRIPTION) or ""
    for role in ROLES:
        facts[role].update(sealed[role])
    return facts


def opened_facts(facts: Mapping[str, Any], sealer: Sealer) -> dict[str, Any]:
    """Stored booking facts with the parties opened again; SubjectErased once a party is gone."""
    description = facts["parcel"].get("description")
    sealed = [
        value
        for role in ROLES
        for name in PERSONAL_FIELDS
        if is_sealed(value := facts[role].get(name))
    ] + ([description] if is_sealed(description) else [])
    opened = sealer.unseal_many(sealed)
    if any(opened.get(value) is None for value in sealed):
        raise SubjectErased("This person's data was erased; the booking cannot be compared.")
    parcel = {**facts["parcel"], "description": opened.get(description, description)}
    return {
        **facts,
        "parcel": parcel,
        **{role: _opened_party(facts[role], opened) for role in ROLES},
    }


def _opened_party(party: Mapping[str, Any], opened: Mapping[str, str | None]) -> dict[str, Any]:
    values = {name: party.get(name) for name in PERSONAL_FIELDS}
    return {**party, **{name: opened.get(v, v) if v else v for name, v in values.items()}}


def check_booking(booking: Booking) -> None:
    """Raise RuleViolation for the first rule the booking breaks."""
    if booking.service not in SERVICES:
        raise RuleViolation(
            f"Unknown service {booking.service!r}; expected one of {sorted(SERVICES)}.",
            code="unknown_service",
        )
    for role, party in (("shipper", booking.shipper), ("receiver", booking.receiver)):
        if not is_known_area(party.area):
            raise RuleViolation(f"Unknown {role} area code {party.area!r}.", code="unknown_area")
    _check_weight(booking.service, booking.parcel.weight_grams)
    if booking.cod_amount is not None:
        _check_cod(booking.service, booking.cod_amount)


def _check_weight(service: str, grams: int) -> None:
    if service == "JTR" and grams < JTR_MIN_GRAMS:
        raise RuleViolation("JTR trucking takes parcels of 10 kg or more.", code="weight_too_low")
    if service != "JTR" and grams > PARCEL_MAX_GRAMS:
        raise RuleViolation(
            f"{service} takes parcels up to 70 kg; use JTR for heavier goods.",
            code="weight_too_high",
        )


def _check_cod(service: str, amount: int) -> None:
    if service not in COD_SERVICES:
        raise RuleViolation(
            f"Cash on delivery is offered on {sorted(COD_SERVICES)} only, not {service}.",
            code="cod_not_available",
        )
    if not 1 <= amount <= COD_MAX_RUPIAH:
        raise RuleViolation(
            "A COD amount must be between Rp 1 and Rp 5,000,000 per waybill.",
            code="cod_amount_out_of_range",
        )
