"""The transaction e-mails, as short plain text.

Rendering is pure: the sender passes plain parameters (already unsealed) and, for a
template with a link, the link it made. Subjects never hold a link, a token or a
person's name: subject lines are what mail servers log and phones show on lock screens.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from infra.postgres.tokens import Purpose

SIGNATURE = "\n\nTerima kasih,\nJalur\n"
IGNORE = "If this was not you, you can ignore this e-mail; nothing changes."


@dataclass(frozen=True)
class Link:
    purpose: Purpose
    path: str
    payload_param: str | None = None  # the parameter stored with the token, if any


@dataclass(frozen=True)
class Template:
    subject: str
    body: str
    link: Link | None = None


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


TEMPLATES: dict[str, Template] = {
    "verify_email": Template(
        "Verify your e-mail address for Jalur",
        "Welcome to Jalur. Please confirm this is your e-mail address by opening this link "
        "within 24 hours and entering the password you chose:\n\n{link}\n\n" + IGNORE,
        Link(Purpose.VERIFY_EMAIL, "/verify-email"),
    ),
    "email_change_confirm": Template(
        "Confirm your new e-mail address for Jalur",
        "You asked to use this address for your Jalur account. Confirm it by opening this "
        "link within 24 hours and entering your password:\n\n{link}\n\n" + IGNORE,
        Link(Purpose.CONFIRM_EMAIL_CHANGE, "/confirm-email", payload_param="change_id"),
    ),
    "email_change_notice": Template(
        "Your Jalur e-mail address is being changed",
        "Someone asked to change the e-mail address of your Jalur account to "
        "{masked_new_email}. The change happens only when the new address is confirmed.\n\n"
        "If this was not you, open this link within 7 days:\n\n{link}\n\n"
        "It cancels the change (or undoes it, if the new address was already confirmed), "
        "signs your account out everywhere, and sends a link to this address to choose a "
        "new password.",
        Link(Purpose.CANCEL_EMAIL_CHANGE, "/cancel-email-change", payload_param="change_id"),
    ),
    "password_reset": Template(
        "Reset your Jalur password",
        "We received a request to reset your Jalur password. Choose a new one by opening "
        "this link within 1 hour:\n\n{link}\n\n"
        "If this was not you, ignore this e-mail: your password stays the same.",
        Link(Purpose.RESET_PASSWORD, "/reset-password"),
    ),
    "password_changed": Template(
        "Your Jalur password was changed",
        "The password of your Jalur account was just changed.\n\n"
        "If this was not you, reset your password now and contact Jalur customer care.",
    ),
    "shipment_booked": Template(
        "Shipment {awb} booked",
        "Your shipment is booked.\n\nAWB (waybill number): {awb}\nService: {service}\n\n"
        "Track it any time on the Jalur website or app with this AWB.",
    ),
    "shipment_delivered": Template(
        "Shipment {awb} delivered",
        "Good news: shipment {awb} has been delivered.\n\n"
        "See the proof of delivery on the Jalur website or app with this AWB.",
    ),
}


def mask_email(address: str) -> str:
    """'budi@example.com' -> 'b***@example.com': enough to recognise, not to read."""
    local, _, domain = address.rpartition("@")
    if not local:
        return "***"
    return f"{local[0]}***@{domain}"


def render(name: str, params: Mapping[str, str | None], link: str | None = None) -> Rendered:
    """Render template `name`; `link` is required exactly for templates with a link."""
    template = TEMPLATES[name]
    if (template.link is None) != (link is None):
        raise ValueError(f"template {name} takes {'a' if template.link else 'no'} link")
    values = {key: value or "" for key, value in params.items()}
    values["link"] = link or ""
    values["masked_new_email"] = mask_email(params.get("new_email") or "")
    greeting = f"Hello {params['name']},\n\n" if params.get("name") else "Hello,\n\n"
    return Rendered(
        subject=template.subject.format_map(values),
        body=greeting + template.body.format_map(values) + SIGNATURE,
    )
