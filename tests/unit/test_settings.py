"""Settings refuse values that would silently weaken the service."""

import pytest
from pydantic import ValidationError

from infra.settings import Settings


@pytest.mark.parametrize(
    ("raw", "trusted"),
    [
        ("", []),
        ("10.0.0.5", ["10.0.0.5"]),
        (" 10.0.0.0/8 , ::1 ", ["10.0.0.0/8", "::1"]),
    ],
)
def test_trusted_proxies_are_addresses_or_networks(raw: str, trusted: list[str]) -> None:
    assert Settings(forwarded_allow_ips=raw).trusted_proxies == trusted


@pytest.mark.parametrize("raw", ["*", "proxy.internal", "10.0.0.0/33", "10.0.0.5,nginx"])
def test_anything_else_is_refused_rather_than_matched_as_a_name(raw: str) -> None:
    with pytest.raises(ValidationError, match="forwarded_allow_ips"):
        Settings(forwarded_allow_ips=raw)


@pytest.mark.parametrize(
    ("field", "below_the_floor"),
    [("argon2_time_cost", 1), ("argon2_memory_kib", 19455), ("argon2_parallelism", 0)],
)
def test_argon2_parameters_cannot_go_below_owasp(field: str, below_the_floor: int) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: below_the_floor})
