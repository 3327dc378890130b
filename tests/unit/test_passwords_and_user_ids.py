"""Password and user id rules (ASVS 6.2): length, common passwords, personal words."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.accounts.application import Accounts
from domain.accounts import check_user_id, normalise_user_id
from domain.errors import RuleViolation
from domain.passwords import MAX_CHARS, MIN_CHARS, check_password, common_passwords

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
UNCOMMON = st.text(alphabet="ĀăĎŧƔǂȸɅ", min_size=MIN_CHARS, max_size=MAX_CHARS)


@given(UNCOMMON)
def test_any_uncommon_password_of_allowed_length_is_accepted(password: str) -> None:
    check_password(password, user_id="budi", email="budi@example.id")


@given(st.text(max_size=MIN_CHARS - 1) | st.text(min_size=MAX_CHARS + 1, max_size=300))
def test_passwords_shorter_than_12_or_longer_than_128_are_refused(password: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        check_password(password)
    assert refused.value.code == "weak_password"


def test_length_counts_characters_not_bytes() -> None:
    check_password("ĀăĎŧƔǂȸɅĀăĎŧ")  # 12 characters, 24 bytes in UTF-8


@pytest.mark.parametrize(
    "password",
    ["password1234", "PASSWORD1234", "iloveyou123456", "qwertyuiop!!!!", "sunshine 2026"],
)
def test_common_passwords_even_with_trailing_digits_or_symbols_are_refused(
    password: str,
) -> None:
    with pytest.raises(RuleViolation):
        check_password(password)


def test_the_shipped_list_holds_thirty_thousand_passwords() -> None:
    assert len(common_passwords()) >= 29_000
    assert "123456" in common_passwords()


@pytest.mark.parametrize(
    ("password", "user_id", "email"),
    [
        ("my name is budisantoso!", "budisantoso", None),
        ("Sari.Dewi-forever-2026", "someone", "sari.dewi@example.id"),
    ],
)
def test_a_password_holding_the_user_id_or_email_name_is_refused(
    password: str, user_id: str, email: str | None
) -> None:
    with pytest.raises(RuleViolation):
        check_password(password, user_id=user_id, email=email)


def test_user_ids_compare_case_and_width_insensitively() -> None:
    assert normalise_user_id("Budi.Santoso") == normalise_user_id(
        "\uff42\uff55\uff44\uff49.SANTOSO"
    )  # full-width
    assert check_user_id("  Budi_99 ") == "budi_99"


@pytest.mark.parametrize("user_id", ["ab", "-budi", "budi santoso", "b" * 33, "budi@home"])
def test_malformed_user_ids_are_refused(user_id: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        check_user_id(user_id)
    assert refused.value.code == "invalid_user_id"


def test_reset_links_are_sent_at_most_once_per_cooldown() -> None:
    accounts = Accounts(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    account_id = uuid4()
    accounts.register(
        account_id,
        role="customer",
        user_id="pii1:sealed",
        email="pii1:sealed",
        display_name="pii1:sealed",
        phone=None,
        privacy_policy_version=1,
        now=NOW,
    )
    for minute in (0, 1, 4, 5, 6):
        accounts.request_password_reset(account_id, NOW + timedelta(minutes=minute))
    requests = [
        e for e in accounts.events.get(account_id) if type(e).__name__ == "PasswordResetRequested"
    ]
    assert [e.requested_at - NOW for e in requests] == [timedelta(0), timedelta(minutes=5)]
