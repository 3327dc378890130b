"""Every link a mail carries opens a page of Jalur's own; a form posted by a browser from
another site is refused. Pure: no server, no database."""

import pytest

from api.pages.forms import same_origin
from api.pages.router import router
from consumers.mail_templates import TEMPLATES

PUBLIC_URL = "https://jalur.example.id"
EXPECTED_LINK_PATHS = {
    "/verify-email",
    "/reset-password",
    "/confirm-email",
    "/cancel-email-change",
}


def test_every_link_in_a_mail_opens_a_page_that_completes_it() -> None:
    linked = {t.link.path for t in TEMPLATES.values() if t.link is not None}
    served = {
        (method, route.path) for route in router.routes for method in getattr(route, "methods", ())
    }
    assert linked == EXPECTED_LINK_PATHS
    for path in linked:
        assert {("GET", path), ("POST", path)} <= served, path


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({}, True),  # not a browser: the token in the form is the capability
        ({"host": "jalur.example.id", "origin": "https://jalur.example.id"}, True),
        ({"host": "127.0.0.1:8443", "origin": "https://127.0.0.1:8443"}, True),
        ({"host": "internal:8443", "origin": "https://jalur.example.id"}, True),  # behind a proxy
        ({"sec-fetch-site": "same-origin"}, True),
        ({"sec-fetch-site": "none"}, True),  # typed or bookmarked by the person
        ({"host": "jalur.example.id", "origin": "https://evil.example"}, False),
        ({"host": "jalur.example.id", "origin": "null"}, False),
        ({"host": "jalur.example.id", "origin": "https://jalur.example.id.evil.example"}, False),
        ({"sec-fetch-site": "cross-site"}, False),
        ({"sec-fetch-site": "same-site"}, False),
        ({"sec-fetch-site": "cross-site", "origin": "https://jalur.example.id"}, False),
    ],
)
def test_only_forms_posted_from_jalur_itself_pass(headers: dict[str, str], allowed: bool) -> None:
    assert same_origin(headers, PUBLIC_URL) is allowed
