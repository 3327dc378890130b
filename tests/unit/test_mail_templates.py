"""The transaction e-mails, rendered without any I/O."""

import pytest

from consumers.mail_templates import TEMPLATES, mask_email, render

TOKEN = "tok_Secret-123_abc"
LINK = f"https://app.jalur.test/verify-email?token={TOKEN}"
PARAMS = {
    "name": "Budi Santoso",
    "awb": "JX1234567890",
    "service": "REG",
    "change_id": "1f0c3a52-8d4c-4f0e-9a51-2c1a0f6b7e11",
    "new_email": "budi.baru@example.co.id",
}


def rendered(name: str) -> tuple[str, str]:
    link = LINK if TEMPLATES[name].link else None
    message = render(name, PARAMS, link)
    return message.subject, message.body


@pytest.mark.parametrize("name", ["verify_email", "email_change_confirm", "password_reset"])
def test_link_templates_carry_the_link_with_its_token(name: str) -> None:
    _, body = rendered(name)
    assert LINK in body


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_no_subject_carries_a_token_a_link_or_a_name(name: str) -> None:
    subject, _ = rendered(name)
    assert TOKEN not in subject
    assert "http" not in subject
    assert "Budi" not in subject


def test_the_old_address_notice_masks_the_new_address() -> None:
    subject, body = rendered("email_change_notice")
    assert "b***@example.co.id" in body
    assert "budi.baru" not in subject + body


def test_booked_and_delivered_mails_name_the_awb() -> None:
    booked_subject, booked_body = rendered("shipment_booked")
    delivered_subject, _ = rendered("shipment_delivered")
    assert booked_subject == "Shipment JX1234567890 booked"
    assert "Service: REG" in booked_body
    assert delivered_subject == "Shipment JX1234567890 delivered"


def test_a_missing_name_gives_a_plain_greeting() -> None:
    body = render("password_changed", {"name": None}).body
    assert body.startswith("Hello,\n")


def test_a_link_template_refuses_to_render_without_its_link() -> None:
    with pytest.raises(ValueError, match="takes a link"):
        render("password_reset", PARAMS)


@pytest.mark.parametrize(
    ("address", "masked"),
    [("budi@example.com", "b***@example.com"), ("x@y.id", "x***@y.id"), ("broken", "***")],
)
def test_masked_addresses_show_the_first_letter_and_the_domain(address: str, masked: str) -> None:
    assert mask_email(address) == masked
