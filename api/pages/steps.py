"""The pages e-mail links open: what each asks for, and which command completes it.

A page is one `LinkPage`; adding one (say, cancelling an e-mail change) is one more entry
in PAGES with its command, and a template needs no change.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from commands.container import Container
from domain.errors import RuleViolation


@dataclass(frozen=True)
class Secret:
    """A password field of a form."""

    name: str
    label: str
    autocomplete: str


@dataclass(frozen=True)
class Filled:
    token: str
    values: dict[str, str]
    client: str
    now: datetime


@dataclass(frozen=True)
class LinkPage:
    path: str  # the path the e-mail's link opens (consumers/mail_templates.py)
    title: str
    intro: tuple[str, ...]
    button: str
    done: tuple[str, ...]
    secrets: tuple[Secret, ...]
    complete: Callable[[Container, Filled], object]


PASSWORD = Secret("password", "Kata sandi · Password", "current-password")
NEW_PASSWORD = Secret("new_password", "Kata sandi baru · New password", "new-password")
REPEAT = Secret("repeat_password", "Ulangi kata sandi baru · Repeat it", "new-password")
NOT_YOU = (
    "Bukan Anda? Tutup halaman ini; tidak ada yang berubah. "
    "Not you? Close this page; nothing changes."
)


def _verify(container: Container, filled: Filled) -> object:
    password = filled.values["password"]
    return container.signin.confirm_email(filled.token, password, filled.client, filled.now)


def _confirm_change(container: Container, filled: Filled) -> object:
    password = filled.values["password"]
    signin = container.signin
    return signin.confirm_email_change(filled.token, password, filled.client, filled.now)


def _reset(container: Container, filled: Filled) -> object:
    new = filled.values["new_password"]
    if new != filled.values["repeat_password"]:
        raise RuleViolation("The two new passwords differ.", code="passwords_differ")
    container.signin.reset_password(filled.token, new, filled.now)
    return None


def _cancel_change(container: Container, filled: Filled) -> object:
    return container.identity.cancel_email_change(filled.token, filled.now)


PAGES = (
    LinkPage(
        "/verify-email",
        "Verifikasi alamat e-mail · Verify your e-mail address",
        (
            "Masukkan kata sandi yang Anda pilih saat mendaftar. "
            "Enter the password you chose when you registered.",
            NOT_YOU,
        ),
        "Verifikasi · Verify",
        (
            "Alamat e-mail Anda sudah terverifikasi; silakan masuk di aplikasi Jalur. "
            "Your address is verified: sign in with the Jalur app.",
        ),
        (PASSWORD,),
        _verify,
    ),
    LinkPage(
        "/reset-password",
        "Kata sandi baru · Choose a new password",
        (
            "Pilih kata sandi baru: 12 karakter atau lebih. "
            "Choose a new password: 12 characters or more.",
            NOT_YOU,
        ),
        "Simpan · Save",
        (
            "Kata sandi Anda sudah diganti, dan semua sesi telah berakhir. "
            "Your password is changed, and every session has ended: sign in again.",
        ),
        (NEW_PASSWORD, REPEAT),
        _reset,
    ),
    LinkPage(
        "/confirm-email",
        "Konfirmasi alamat e-mail baru · Confirm your new e-mail address",
        (
            "Masukkan kata sandi akun Jalur Anda. Enter the password of your Jalur account.",
            NOT_YOU,
        ),
        "Konfirmasi · Confirm",
        ("Alamat e-mail baru Anda sudah berlaku. Your new e-mail address is in use.",),
        (PASSWORD,),
        _confirm_change,
    ),
    LinkPage(
        "/cancel-email-change",
        "Batalkan perubahan e-mail · Cancel the e-mail change",
        (
            "Seseorang meminta mengganti alamat e-mail akun Jalur Anda. Jika itu bukan Anda, "
            "batalkan: alamat lama kembali berlaku, semua sesi berakhir, dan tautan untuk "
            "mengganti kata sandi dikirim ke alamat ini. "
            "Someone asked to change your Jalur account's e-mail address. If it was not you, "
            "cancel it: your old address is restored, every session ends, and a link to "
            "choose a new password is sent to this address.",
        ),
        "Batalkan · Cancel the change",
        (
            "Perubahan dibatalkan; periksa e-mail ini untuk tautan kata sandi baru. "
            "The change is cancelled: look in this mailbox for a link to a new password.",
        ),
        (),
        _cancel_change,
    ),
)
