"""A person's authenticator app, as tests hold it: the TOTP secret from enrolment and the
recovery codes. Codes are computed with pyotp, independently of Jalur's own code."""

import time
from dataclasses import dataclass, field
from typing import Any

import pyotp

STEP_S = 30


@dataclass
class Authenticator:
    secret: str
    recovery_codes: list[str] = field(default_factory=list)
    last_step: int | None = None

    def code(self) -> str:
        """A code Jalur has not seen yet: this step's, else the next one's (within the
        drift it allows), else a recovery code rather than waiting for the clock."""
        now_step = int(time.time()) // STEP_S
        step = now_step if self.last_step is None else max(now_step, self.last_step + 1)
        if step > now_step + 1 and self.recovery_codes:
            return self.recovery_codes.pop()
        if step > now_step + 1:
            time.sleep((step - 1) * STEP_S - time.time() + 0.1)
        self.last_step = step
        return pyotp.TOTP(self.secret).at(step * STEP_S)


def enrol(client: Any, headers: dict[str, str], password: str | None = None) -> Authenticator:
    """Turn two-step sign-in on for the signed-in person (an httpx or TestClient client):
    `password` is needed unless the session was made to enrol (staff at first sign-in)."""
    started = client.post("/v1/me/mfa", headers=headers)
    assert started.status_code == 201, started.text
    authenticator = Authenticator(started.json()["secret"])
    body = {"one_time_code": authenticator.code()}
    if password is not None:
        body["current_password"] = password
    confirmed = client.post("/v1/me/mfa/confirm", json=body, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    authenticator.recovery_codes = confirmed.json()["recovery_codes"]
    return authenticator
