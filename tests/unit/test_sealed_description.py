"""A parcel's description says what someone sends (medicine, documents): it is sealed
under the shipper's subject like their name, and gone when the shipper is erased."""

from dataclasses import replace
from uuid import uuid4

import pytest

from domain.booking import Parcel, opened_facts, sealed_facts
from domain.sealing import SubjectErased, is_sealed, subject_of
from tests.unit.builders import a_booking
from tests.unit.memory_keyring import MemoryKeyring

MEDICINE = "Obat ARV, 3 botol"


def with_description(text: str) -> Parcel:
    return replace(a_booking().parcel, description=text)


def test_the_description_is_sealed_under_the_shippers_subject() -> None:
    keyring, shipper, receiver = MemoryKeyring(), uuid4(), uuid4()
    booking = a_booking(parcel=with_description(MEDICINE))

    facts = sealed_facts(booking, keyring, {"shipper": shipper, "receiver": receiver})

    stored = facts["parcel"]["description"]
    assert is_sealed(stored)
    assert subject_of(stored) == shipper
    assert MEDICINE not in repr(facts)
    assert opened_facts(facts, keyring) == booking.facts()


def test_an_empty_description_stays_empty() -> None:
    keyring = MemoryKeyring()
    subjects = {"shipper": uuid4(), "receiver": uuid4()}
    assert sealed_facts(a_booking(), keyring, subjects)["parcel"]["description"] == ""


def test_a_description_stored_in_clear_before_sealing_still_reads() -> None:
    keyring = MemoryKeyring()
    booking = a_booking(parcel=with_description("Buku bekas"))
    facts = sealed_facts(a_booking(), keyring, {"shipper": uuid4(), "receiver": uuid4()})
    facts["parcel"]["description"] = "Buku bekas"  # as issue-13 bookings stored it

    assert opened_facts(facts, keyring) == booking.facts()


def test_once_the_shipper_is_erased_the_description_no_longer_opens() -> None:
    keyring, shipper = MemoryKeyring(), uuid4()
    booking = a_booking(parcel=with_description(MEDICINE))
    facts = sealed_facts(booking, keyring, {"shipper": shipper, "receiver": uuid4()})

    keyring.destroy(shipper)

    assert keyring.unseal_many([facts["parcel"]["description"]]) == {
        facts["parcel"]["description"]: None
    }
    with pytest.raises(SubjectErased):
        opened_facts(facts, keyring)
