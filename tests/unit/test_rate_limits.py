from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.rate_limits import Limit, Window, take

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
THREE_A_MINUTE = Limit(3, timedelta(minutes=1))
TEN_AN_HOUR = Limit(10, timedelta(hours=1))


def hit(windows: list[Window], limits: list[Limit], at: datetime, hits: int = 1) -> bool:
    """Take from the buckets in place, as the store does; whether it was allowed."""
    decision = take(list(zip(windows, limits, strict=True)), at, hits)
    if decision.allowed:
        windows[:] = decision.windows
    return decision.allowed


def test_three_a_minute_lets_three_through_then_says_when_the_window_ends() -> None:
    window = Window()
    answers = []
    for seconds in (0, 10, 20):
        decision = take([(window, THREE_A_MINUTE)], START + timedelta(seconds=seconds))
        answers.append(decision.allowed)
        window = decision.windows[0]

    refused = take([(window, THREE_A_MINUTE)], START + timedelta(seconds=30))

    assert answers == [True, True, True]
    assert (refused.allowed, refused.retry_after_s) == (False, 30)
    assert refused.windows == (Window(3, START),)


def test_a_fresh_window_starts_with_the_first_hit_after_the_old_one_ended() -> None:
    full = Window(3, START)

    decision = take([(full, THREE_A_MINUTE)], START + timedelta(seconds=75))

    assert decision.allowed
    assert decision.windows == (Window(1, START + timedelta(seconds=75)),)


def test_a_refused_action_takes_nothing_from_any_of_its_buckets() -> None:
    account, address = Window(3, START), Window(4, START)

    decision = take([(account, THREE_A_MINUTE), (address, TEN_AN_HOUR)], START)

    assert not decision.allowed
    assert decision.windows == (account, address)


def test_the_longest_wait_of_the_refusing_buckets_is_the_one_to_report() -> None:
    decision = take([(Window(3, START), THREE_A_MINUTE), (Window(10, START), TEN_AN_HOUR)], START)

    assert decision.retry_after_s == 3600


def test_several_hits_at_once_are_refused_when_fewer_are_left() -> None:
    windows, limits = [Window(8, START)], [TEN_AN_HOUR]

    assert not hit(windows, limits, START, hits=3)
    assert hit(windows, limits, START, hits=2)
    assert windows == [Window(10, START)]


@given(st.lists(st.integers(min_value=0, max_value=150), min_size=1, max_size=60))
def test_a_window_never_holds_more_than_the_limit_and_a_refusal_says_when_to_retry(
    gaps: list[int],
) -> None:
    """The oracle is the client's own ledger of the hits that were let through."""
    windows, limits, allowed = [Window()], [THREE_A_MINUTE], []
    now = START
    for gap in gaps:
        now += timedelta(seconds=gap)
        decision = take([(windows[0], THREE_A_MINUTE)], now)
        if hit(windows, limits, now):
            allowed.append(now)
            continue
        opened = window_opened(allowed)
        assert sum(t >= opened for t in allowed) == 3
        assert now < opened + timedelta(minutes=1)
        assert now + timedelta(seconds=decision.retry_after_s) >= opened + timedelta(minutes=1)
    for t in allowed:
        opened = window_opened([u for u in allowed if u <= t])
        assert sum(opened <= u <= t for u in allowed) <= 3


def window_opened(allowed: list[datetime]) -> datetime:
    """When the last fixed window opened: at a hit a minute or more after the one before."""
    opened = allowed[0]
    for u in allowed:
        if u >= opened + timedelta(minutes=1):
            opened = u
    return opened
