"""Per-address limits count an IPv6 client as its /64, which one host can rotate through."""

import pytest

from api.timing import address_bucket


@pytest.mark.parametrize(
    ("host", "bucket"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("unknown", "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_an_ipv6_host_counts_as_its_slash_64(host: str, bucket: str) -> None:
    assert address_bucket(host) == bucket
