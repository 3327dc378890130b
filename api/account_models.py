"""Request and response bodies for accounts, sessions and the signed-in person."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from domain.passwords import MAX_CHARS

UserId = Annotated[
    str,
    StringConstraints(min_length=3, max_length=32),
    Field(description="3 to 32 characters: letters, digits, dots, dashes, underscores."),
]
Password = Annotated[str, Field(min_length=1, max_length=MAX_CHARS)]
LinkToken = Annotated[str, Field(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
OneTimeCode = Annotated[
    str,
    Field(
        min_length=6,
        max_length=40,
        description="The 6-digit code from your authenticator app, or one recovery code.",
    ),
]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9]{8,15}$", description="Digits, e.g. 0812345678")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegistrationIn(Strict):
    user_id: UserId
    email: EmailStr
    password: Password = Field(description="12 to 128 characters, not a common password.")
    display_name: Annotated[
        str,
        Field(
            min_length=1,
            max_length=100,
            description="One line, as shown in e-mails: no line breaks or invisible "
            "characters, no web address or anything that reads as a link "
            "(422 invalid_display_name).",
        ),
    ]
    phone: Phone


class Accepted(BaseModel):
    status: str = "accepted"
    message: str


class LinkTokenIn(Strict):
    token: LinkToken


class AddressProofIn(Strict):
    token: LinkToken
    password: Annotated[
        Password | None,
        Field(
            description="The password of the account the link was sent for; optional only "
            "with a bearer session of that same account."
        ),
    ] = None


class SignInIn(Strict):
    user_id: Annotated[str, Field(min_length=1, max_length=64)]
    password: Password
    device_token: Annotated[
        str | None,
        Field(
            max_length=100,
            description="The device_token of an earlier sign-in on this device: it keeps the "
            "device signing in while the account is locked against other devices.",
        ),
    ] = None
    one_time_code: OneTimeCode | None = None


class SessionOut(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    expires_at: datetime
    role: str
    must_change_password: bool
    device_token: str | None = Field(description="Keep it on this device; given once.")
    mfa_enrolment_required: bool = Field(
        default=False,
        description="Staff without a second factor: this session may only enrol one "
        "(POST /v1/me/mfa) or sign out.",
    )


class PasswordChangeIn(Strict):
    current_password: Password
    new_password: Password


class PasswordResetIn(Strict):
    user_id: Annotated[str, Field(min_length=1, max_length=64)]


class PasswordResetConfirmIn(Strict):
    token: LinkToken
    new_password: Password


class EmailChangeIn(Strict):
    current_password: Password
    new_email: EmailStr


class ErasureIn(Strict):
    password: Password


class Done(BaseModel):
    status: str
    consistency_token: str | None = None


class Profile(BaseModel):
    account_id: str
    user_id: str | None
    role: str
    email: str | None
    email_verified: bool
    pending_email: str | None
    display_name: str | None
    phone: str | None
    registered_at: datetime
    privacy_policy_version: int | None


class MfaStartOut(BaseModel):
    secret: str = Field(description="Base32, for typing into an authenticator app; shown once.")
    otpauth_uri: str = Field(description="The same secret as an otpauth:// URI (for a QR code).")


class MfaConfirmIn(Strict):
    one_time_code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]
    current_password: Annotated[
        Password | None,
        Field(
            description="Your password: needed unless this session was made to enrol at "
            "sign-in (staff, just signed in with it), so that a stolen session cannot lock "
            "you out with someone else's authenticator."
        ),
    ] = None


class MfaConfirmOut(BaseModel):
    recovery_codes: list[str] = Field(
        description="Each signs in once instead of a code; shown only now, keep them safe."
    )


class MfaDisableIn(Strict):
    password: Password
    one_time_code: OneTimeCode


class SessionInfo(BaseModel):
    id: str = Field(description="Opaque; not the token.")
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    current: bool


class SessionList(BaseModel):
    sessions: list[SessionInfo]
