"""How long a session lives (ASVS 5.0, V7.3): staff sessions are short, since a staff
account reaches everyone's parcels; a customer's may last weeks on their own phone."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.accounts import Role


@dataclass(frozen=True)
class Lifetime:
    absolute: timedelta
    idle: timedelta


@dataclass(frozen=True)
class SessionPolicy:
    customer: Lifetime
    staff: Lifetime

    def lifetime(self, role: str) -> Lifetime:
        return self.customer if role == Role.CUSTOMER else self.staff

    def is_live(
        self, role: str, created_at: datetime, last_seen_at: datetime, now: datetime
    ) -> bool:
        lifetime = self.lifetime(role)
        return now < created_at + lifetime.absolute and now < last_seen_at + lifetime.idle
