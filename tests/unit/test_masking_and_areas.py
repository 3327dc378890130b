import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.areas import city_of, is_known_area
from domain.masking import mask_name

words = st.text(alphabet=st.characters(categories=["L"]), min_size=1, max_size=30)
names = st.lists(words, min_size=1, max_size=5)


@given(names)
def test_mask_shows_only_each_words_initial(name_words: list[str]) -> None:
    masked = mask_name(" ".join(name_words)).split(" ")

    assert len(masked) == len(name_words)
    for shown, word in zip(masked, name_words, strict=True):
        assert shown[0] == word[0]
        assert set(shown[1:]) == {"*"}


@given(names, st.data())
def test_mask_does_not_depend_on_word_lengths(name_words: list[str], data: st.DataObject) -> None:
    longer = [w + data.draw(words) for w in name_words]

    assert mask_name(" ".join(longer)) == mask_name(" ".join(name_words))


def test_mask_of_a_typical_name() -> None:
    assert mask_name("  Budi   Santoso ") == "B*** S***"


@pytest.mark.parametrize(("area", "city"), [("CGK10110", "JAKARTA"), ("BDO40111", "BANDUNG")])
def test_known_area_shows_its_city(area: str, city: str) -> None:
    assert is_known_area(area)
    assert city_of(area) == city


@pytest.mark.parametrize("area", ["XXX10110", "cgk10110", "CGK1011", "CGK101100", "CGK 10110", ""])
def test_unknown_or_malformed_area_is_not_known(area: str) -> None:
    assert not is_known_area(area)
