"""Display names are one line of plain text: they appear in e-mails ("Hello <name>") and
on staff screens, so nothing in them may break a line or read as a link."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.accounts import check_display_name
from domain.errors import RuleViolation

WORDS = st.text(st.characters(categories=["L"]), min_size=1, max_size=12)
PLAIN = st.lists(WORDS, min_size=1, max_size=5).map(" ".join)
LINKS = st.sampled_from(
    [
        "https://evil.example/pay",
        "http://a",
        "HTTPS://JALUR-CARE.EXAMPLE",
        "ftp://files",
        "javascript:/alert",
        "www.jalur-paket.example",
        "WWW.x",
        "evil.example/x",
        "evil\uff0eexample/x",  # a fullwidth full stop: NFKC makes it "."
        "paket.id",
        "jalur-care.com",
        "cek.resi.co/123",
        "bit.ly",
    ]
)
BREAKERS = st.sampled_from(
    ["\n", "\r", "\t", "\x00", "\x1b", "\u2028", "\u2029", "\u200b", "\u202e", "\ufeff"]
)


@given(before=PLAIN, link=LINKS, after=PLAIN)
def test_a_name_holding_anything_that_reads_as_a_link_is_refused(
    before: str, link: str, after: str
) -> None:
    with pytest.raises(RuleViolation) as refused:
        check_display_name(f"{before} {link} {after}")
    assert refused.value.code == "invalid_display_name"


@given(before=PLAIN, breaker=BREAKERS, after=PLAIN)
def test_a_name_with_a_line_break_or_invisible_character_is_refused(
    before: str, breaker: str, after: str
) -> None:
    with pytest.raises(RuleViolation) as refused:
        check_display_name(before + breaker + after)
    assert refused.value.code == "invalid_display_name"


@given(name=PLAIN)
def test_a_name_of_words_and_spaces_is_accepted(name: str) -> None:
    assert check_display_name(f"  {name} ") == name.strip()


@pytest.mark.parametrize(
    "name",
    [
        "Ir. Sari Dewi, S.Kom",
        "Budi Santoso, A.Md.Kom",
        "Dr. Agus Salim, M.Sc., Ph.D",
        "J.R.R. Tolkien",
        "Hj. Siti Aminah, S.Ag",
        "PT. Maju Jaya",
        "Nguyễn Văn An",
        "山田太郎",
        "O'Brien-Smith",
    ],
)
def test_real_names_with_titles_and_degrees_are_accepted(name: str) -> None:
    assert check_display_name(name) == name


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_an_empty_or_overlong_name_is_refused(name: str) -> None:
    with pytest.raises(RuleViolation):
        check_display_name(name)
