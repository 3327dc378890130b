"""Which time steps a TOTP code may come from, who must use a second factor, and how
long sessions live: pure rules, expectations written by hand."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain import mfa
from domain.session_policy import Lifetime, SessionPolicy

NOON = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)  # 1_796_212_800 s: step 59_873_760
NOON_STEP = 59_873_760


def test_a_code_may_come_from_this_step_or_one_either_side() -> None:
    assert mfa.acceptable_steps(NOON + timedelta(seconds=29), None) == [
        NOON_STEP - 1,
        NOON_STEP,
        NOON_STEP + 1,
    ]


def test_a_used_step_and_the_ones_before_it_are_never_accepted_again() -> None:
    assert mfa.acceptable_steps(NOON, NOON_STEP) == [NOON_STEP + 1]
    assert mfa.acceptable_steps(NOON, NOON_STEP + 1) == []
    assert mfa.acceptable_steps(NOON, NOON_STEP - 1) == [NOON_STEP, NOON_STEP + 1]


@given(
    st.integers(min_value=0, max_value=10**9),
    st.one_of(st.none(), st.integers(min_value=0, max_value=10**9 // 30 + 2)),
)
def test_accepted_steps_are_near_now_and_after_the_last_used(
    seconds: int, last: int | None
) -> None:
    now = datetime.fromtimestamp(seconds, UTC)
    for step in mfa.acceptable_steps(now, last):
        assert abs(step * 30 - seconds) < 60
        assert last is None or step > last


def test_every_staff_role_needs_a_second_factor_and_customers_may_choose() -> None:
    roles = ("admin", "auditor", "hub_operator", "courier", "customer")
    assert {role for role in roles if mfa.required_for(role)} == {
        "admin",
        "auditor",
        "hub_operator",
        "courier",
    }


def test_recovery_codes_compare_without_case_spaces_or_dashes() -> None:
    assert mfa.normalise_recovery_code("AB2C-d7EF gh ") == "ab2cd7efgh"
    assert not mfa.is_totp_code("ab2c-d7ef")
    assert mfa.is_totp_code("012345")


POLICY = SessionPolicy(
    customer=Lifetime(absolute=timedelta(days=30), idle=timedelta(days=1)),
    staff=Lifetime(absolute=timedelta(hours=12), idle=timedelta(minutes=30)),
)


def test_a_staff_session_ends_after_half_an_hour_idle_or_twelve_hours() -> None:
    assert POLICY.is_live(
        "courier", NOON, NOON + timedelta(minutes=29), NOON + timedelta(minutes=58)
    )
    assert not POLICY.is_live("courier", NOON, NOON, NOON + timedelta(minutes=30))
    late = NOON + timedelta(hours=12)
    assert not POLICY.is_live("admin", NOON, late - timedelta(minutes=1), late)


def test_a_customer_session_may_idle_for_hours() -> None:
    assert POLICY.is_live("customer", NOON, NOON, NOON + timedelta(hours=20))
