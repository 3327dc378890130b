from commands.wait_slots import WaitSlots


def test_one_client_holds_at_most_its_share_and_others_still_get_slots() -> None:
    slots = WaitSlots(total=4, per_client=2)

    taken = [slots.acquire("203.0.113.66") for _ in range(5)]

    assert taken == [None, None, "client", "client", "client"]
    assert [slots.acquire("198.51.100.1"), slots.acquire("198.51.100.2")] == [None, None]
    assert slots.acquire("198.51.100.3") == "total"


def test_a_released_slot_can_be_taken_again() -> None:
    slots = WaitSlots(total=1, per_client=1)
    assert slots.acquire("a") is None
    assert slots.acquire("b") == "total"

    slots.release("a")

    assert slots.acquire("b") is None
