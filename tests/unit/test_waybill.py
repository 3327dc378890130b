import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from domain.waybill import SERIAL_LIMIT, is_valid, normalise, waybill_for

serials = st.integers(min_value=0, max_value=SERIAL_LIMIT - 1)
awbs = serials.map(waybill_for)


@given(serials)
def test_every_serial_gives_a_valid_awb_holding_that_serial(serial: int) -> None:
    awb = waybill_for(serial)

    assert re.fullmatch(r"JL[0-9]{12}", awb)
    assert int(awb[2:13]) == serial
    assert is_valid(awb)


@given(awbs, st.integers(min_value=0, max_value=11), st.integers(min_value=1, max_value=9))
def test_any_single_digit_substitution_is_rejected(awb: str, position: int, shift: int) -> None:
    digits = list(awb[2:])
    digits[position] = str((int(digits[position]) + shift) % 10)

    assert not is_valid("JL" + "".join(digits))


@given(awbs, st.integers(min_value=0, max_value=10))
def test_any_adjacent_transposition_of_different_digits_is_rejected(
    awb: str, position: int
) -> None:
    digits = list(awb[2:])
    assume(digits[position] != digits[position + 1])
    digits[position], digits[position + 1] = digits[position + 1], digits[position]

    assert not is_valid("JL" + "".join(digits))


@given(awbs, st.data())
def test_normalise_accepts_spaces_dashes_and_lower_case(awb: str, data: st.DataObject) -> None:
    separators = st.text(alphabet=" -\t", max_size=2)
    typed = "".join(char + data.draw(separators) for char in awb)
    typed = data.draw(st.sampled_from([typed, typed.lower()]))

    assert normalise(typed) == awb


@pytest.mark.parametrize(
    "text",
    [
        "",
        "JL",
        "JL00000000000",  # eleven digits
        "JL0000000000000",  # thirteen digits
        "XX000000000000",
        "jl000000000000",
        "JL00000000000A",
        " JL000000000000",
        "JL000000000000\n",
    ],
)
def test_badly_formed_numbers_are_not_valid(text: str) -> None:
    assert not is_valid(text)


@given(st.text(max_size=20))
def test_arbitrary_text_is_valid_only_in_the_awb_form(text: str) -> None:
    assume(not re.fullmatch(r"JL[0-9]{12}", text))

    assert not is_valid(text)


@pytest.mark.parametrize(
    "digits",
    ["\u0660" * 12, "\uff10" * 12],  # Arabic-Indic zeros, full-width zeros
    ids=["arabic_indic", "full_width"],
)
def test_non_ascii_digits_are_not_a_valid_awb(digits: str) -> None:
    assert is_valid("JL000000000000")  # the same number in ASCII digits is valid

    assert not is_valid("JL" + digits)


@pytest.mark.parametrize("serial", [-1, SERIAL_LIMIT])
def test_serial_out_of_range_is_refused(serial: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        waybill_for(serial)
