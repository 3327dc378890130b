from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.areas import CITIES
from domain.booking import Booking, Parcel, Party, check_booking
from domain.errors import RuleViolation
from domain.waybill import is_valid
from tests.unit.builders import NOW, a_booking, in_memory_shipments, stored_events

areas = st.builds(
    lambda city, zone: f"{city}{zone:05d}",
    st.sampled_from(sorted(CITIES)),
    st.integers(min_value=0, max_value=99_999),
)
parties = st.builds(
    Party,
    name=st.text(min_size=1),
    phone=st.just("0812345678"),
    address=st.text(),
    area=areas,
    email=st.none() | st.emails(),
)


def parcels(min_grams: int, max_grams: int) -> st.SearchStrategy[Parcel]:
    return st.builds(
        Parcel,
        weight_grams=st.integers(min_grams, max_grams),
        length_cm=st.integers(1, 500),
        width_cm=st.integers(1, 500),
        height_cm=st.integers(1, 500),
        declared_value=st.integers(0, 10**9),
    )


@st.composite
def valid_bookings(draw: st.DrawFn) -> Booking:
    service = draw(st.sampled_from(["REG", "YES", "OKE", "JTR"]))
    weights = (10_000, 1_000_000) if service == "JTR" else (1, 70_000)
    cod = st.none() if service == "YES" else st.one_of(st.none(), st.integers(1, 5_000_000))
    return Booking(service, draw(parties), draw(parties), draw(parcels(*weights)), draw(cod))


def code_of(booking: Booking) -> str:
    with pytest.raises(RuleViolation) as refused:
        check_booking(booking)
    return refused.value.code


@settings(max_examples=50)
@given(valid_bookings())
def test_valid_bookings_are_accepted_and_get_a_valid_awb(booking: Booking) -> None:
    app = in_memory_shipments()

    booked = app.book(booking, actor="seller-1", now=NOW, booking_key="order-1")
    again = app.book(booking, actor="seller-1", now=NOW, booking_key="order-1")

    assert is_valid(booked.awb)
    assert again.awb == booked.awb  # the stored booking reads back equal to the one sent
    assert stored_events(app)[0].data["booking"]["service"] == booking.service


@pytest.mark.parametrize("service", ["REG", "OKE", "JTR"])
@pytest.mark.parametrize("amount", [1, 5_000_000])
def test_cod_is_accepted_on_reg_oke_and_jtr_up_to_five_million(service: str, amount: int) -> None:
    weight = 10_000 if service == "JTR" else 1_000
    booking = a_booking(service=service, cod_amount=amount)
    check_booking(replace(booking, parcel=replace(booking.parcel, weight_grams=weight)))


@given(st.integers(1, 5_000_000))
def test_cod_on_yes_is_refused(amount: int) -> None:
    assert code_of(a_booking(service="YES", cod_amount=amount)) == "cod_not_available"


@given(st.sampled_from(["REG", "OKE"]), st.integers(max_value=0) | st.integers(min_value=5_000_001))
def test_cod_amount_outside_one_to_five_million_is_refused(service: str, amount: int) -> None:
    assert code_of(a_booking(service=service, cod_amount=amount)) == "cod_amount_out_of_range"


def with_weight(service: str, grams: int) -> Booking:
    booking = a_booking(service=service)
    return replace(booking, parcel=replace(booking.parcel, weight_grams=grams))


@given(st.integers(min_value=0, max_value=9_999))
def test_jtr_under_ten_kg_is_refused(grams: int) -> None:
    assert code_of(with_weight("JTR", grams)) == "weight_too_low"


@given(st.sampled_from(["REG", "YES", "OKE"]), st.integers(min_value=70_001, max_value=10**7))
def test_over_seventy_kg_is_refused_except_on_jtr(service: str, grams: int) -> None:
    assert code_of(with_weight(service, grams)) == "weight_too_high"
    check_booking(with_weight("JTR", grams))


def test_the_weight_limits_themselves_are_accepted() -> None:
    check_booking(with_weight("JTR", 10_000))
    check_booking(with_weight("REG", 70_000))


@given(st.text(max_size=8).filter(lambda s: s not in {"REG", "YES", "OKE", "JTR"}))
def test_unknown_service_is_refused(service: str) -> None:
    assert code_of(a_booking(service=service)) == "unknown_service"


@pytest.mark.parametrize("area", ["XXX10110", "cgk10110", "CGK1011", ""])
@pytest.mark.parametrize("role", ["shipper", "receiver"])
def test_unknown_area_is_refused(role: str, area: str) -> None:
    booking = a_booking()
    party = replace(getattr(booking, role), area=area)

    assert code_of(replace(booking, **{role: party})) == "unknown_area"


def test_refused_booking_stores_nothing() -> None:
    app = in_memory_shipments()

    with pytest.raises(RuleViolation):
        app.book(a_booking(service="YES", cod_amount=10_000), actor="seller-1", now=NOW)

    assert stored_events(app) == []
