"""All configuration, read from JALUR_* environment variables (see README)."""

import base64
import ipaddress
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from infra.host import endpoints

MASTER_KEY_BYTES = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JALUR_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="libpq URL of the PostgreSQL server; unset means `jalur up` embeds one.",
    )
    kafka_bootstrap: str | None = Field(
        default=None,
        description="Kafka bootstrap servers; unset means `jalur up` embeds a broker.",
    )
    kafka_extra: dict[str, str] = Field(
        default_factory=dict,
        description="Extra librdkafka settings (JSON), e.g. security.protocol for a cluster.",
    )
    topic_prefix: str = Field(
        default="jalur",
        pattern=r"^[a-z][a-z0-9_-]{0,30}$",
        description="Topics are PREFIX.<context>.events; consumer groups start with PREFIX.",
    )
    kafka_partitions: int = Field(default=8, ge=1, le=1024)
    kafka_session_timeout_ms: int = Field(default=6000, ge=1000)
    kafka_fetch_wait_max_ms: int = Field(default=10, ge=0)
    kafka_memory_only: bool = Field(
        default=False,
        description="The broker keeps nothing across its restarts (jalur up's embedded one): "
        "the relay's republish after one is expected, logged at info rather than as a warning.",
    )
    state_dir: Path = Path(".jalur")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8443, ge=0, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    forwarded_allow_ips: str = Field(
        default="",
        description="Comma-separated addresses or networks of the reverse proxies whose "
        "X-Forwarded-For names the client (for login throttling); empty trusts none.",
    )
    consistency_wait_max_s: float = Field(default=5.0, ge=0, le=30)
    consistency_max_waiters: int = Field(
        default=16, ge=1, description="Reads that may wait for a token at once; more get 503."
    )
    relay_batch_size: int = Field(default=1000, ge=1, le=10_000)
    relay_batches_in_flight: int = Field(
        default=16, ge=1, le=64, description="Batches sent to the broker and not yet acknowledged."
    )
    relay_fallback_poll_s: float = Field(
        default=1.0,
        gt=0,
        description="The relay wakes on each commit's NOTIFY; this often it looks anyway, so a "
        "missed notification (a dropped listening connection) only delays publishing.",
    )
    relay_check_interval_s: float = Field(default=2.0, gt=0)
    projection_batch_size: int = Field(default=2000, ge=1, le=10_000)
    rebuild_batch_size: int = Field(default=5000, ge=1, le=100_000)
    consumer_idle_wait_s: float = Field(
        default=0.5,
        gt=0,
        le=5,
        description="How long an idle consumer waits for a message in one call: the "
        "latency of the first message after a quiet spell is not affected, only how often "
        "an idle loop wakes (tail and switch checks run between calls).",
    )
    db_pool_size: int = Field(default=10, ge=1)
    read_pool_size: int = Field(
        default=4, ge=1, description="Connections for the API's asynchronous public reads."
    )
    log_level: str = "INFO"
    master_key: SecretStr | None = Field(
        default=None,
        description="Base64url of 32 random bytes: wraps every data key and keys blind "
        "indexes. `jalur up` creates one in STATE_DIR/master.key; keep it out of backups.",
    )
    public_url: str | None = Field(
        default=None,
        description="Base of the links in e-mails, e.g. https://app.example.id; "
        "unset means the API's own address.",
    )
    smtp_url: str | None = Field(
        default=None,
        description="smtp://, smtp+starttls:// or smtps://[user:password@]host:port; "
        "unset means e-mails are written to STATE_DIR/mailbox (a Maildir).",
    )
    mail_from: str = "Jalur <no-reply@jalur.invalid>"
    # OWASP's recommended argon2id (m=19 MiB, t=2, p=1), also the floor settings allow:
    # about 33 ms a hash on 2 cores here. Raise them and hashes upgrade at the next login.
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_memory_kib: int = Field(default=19456, ge=19456)
    argon2_parallelism: int = Field(default=1, ge=1)
    session_idle_minutes: int = Field(default=60 * 24, ge=5)
    session_lifetime_hours: int = Field(default=24 * 30, ge=1)
    staff_session_idle_minutes: int = Field(default=30, ge=5)
    staff_session_lifetime_hours: int = Field(default=12, ge=1)
    trusted_device_days: int = Field(
        default=90, ge=1, description="How long a device token keeps a device trusted."
    )
    one_time_password_hours: int = Field(
        default=24,
        ge=1,
        description="How long a one-time password (the first admin's, or one from "
        "`jalur users reset-password`) can be used before an operator must issue another.",
    )
    auth_min_response_s: float = Field(
        default=0.4,
        ge=0,
        le=5,
        description="Login, registration and password-reset answers take at least this long, "
        "so their timing does not tell whether an account exists.",
    )

    # Rate limits (domain/rate_limits.py fixes the windows): per account where there is one,
    # per client address as a generous backstop, since a carrier's NAT puts many honest
    # people behind one address. Every API process shares them (PostgreSQL).
    limit_registrations_per_address_hour: int = Field(default=100, ge=1)
    limit_registrations_per_email_hour: int = Field(
        default=3, ge=1, description="Registrations naming one e-mail address (each mails it)."
    )
    limit_bookings_per_account_minute: int = Field(default=600, ge=1)
    limit_bookings_per_address_minute: int = Field(default=3000, ge=1)
    limit_password_resets_per_account_hour: int = Field(default=5, ge=1)
    limit_password_resets_per_address_hour: int = Field(default=100, ge=1)
    limit_tracking_misses_per_address_15min: int = Field(
        default=300,
        ge=1,
        description="Lookups of waybills that do not exist (enumeration); past it, every "
        "lookup from the address answers 429 until the window ends.",
    )
    argon2_concurrency: int | None = Field(
        default=None,
        ge=1,
        description="argon2 hashes one API process runs at once; unset means one less than "
        "its cores (at least 1). With several API processes on one machine, set it to "
        "(cores - 1) / processes.",
    )
    argon2_wait_max_s: float = Field(
        default=2.0,
        ge=0,
        le=30,
        description="How long a request waits for a hashing slot before it answers 503.",
    )
    consistency_waits_per_client: int = Field(
        default=2, ge=1, description="Reads one client address may have waiting at once."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = (init_settings, env_settings, dotenv_settings, file_secret_settings)
        return (*sources, RunningSystem(settings_cls))

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for entry in _entries(value):
            ipaddress.ip_network(entry, strict=False)  # a ValueError names the bad entry
        return value

    @property
    def trusted_proxies(self) -> list[str]:
        return _entries(self.forwarded_allow_ips)

    def require_database_url(self) -> str:
        if not self.database_url:
            raise SystemExit(
                f"JALUR_DATABASE_URL is not set and no `jalur up` runs in {self.state_dir}"
                " (run one, or run this in its folder or with its JALUR_STATE_DIR)."
            )
        return self.database_url

    def require_master_key(self) -> bytes:
        """The master key; on the embedded default, the one `jalur up` keeps in STATE_DIR."""
        kept = self.state_dir / "master.key"
        if self.master_key is not None:
            encoded = self.master_key.get_secret_value()
        elif kept.exists():
            encoded = kept.read_text().strip()
        else:
            raise SystemExit(
                "JALUR_MASTER_KEY is not set (32 random bytes, base64url; `jalur up` makes one)."
            )
        key = base64.urlsafe_b64decode(encoded + "==")
        if len(key) != MASTER_KEY_BYTES:
            raise SystemExit("JALUR_MASTER_KEY must be 32 bytes, base64url-encoded.")
        return key

    @property
    def mailbox_dir(self) -> Path:
        return self.state_dir / "mailbox"

    def links_base(self) -> str:
        return (self.public_url or f"https://{self.api_host}:{self.api_port}").rstrip("/")

    def require_kafka_bootstrap(self) -> str:
        if not self.kafka_bootstrap:
            raise SystemExit(
                f"JALUR_KAFKA_BOOTSTRAP is not set and no `jalur up` runs in {self.state_dir}"
                " (run one, or run this in its folder or with its JALUR_STATE_DIR)."
            )
        return self.kafka_bootstrap


class RunningSystem(PydanticBaseSettingsSource):
    """Last resort: where the `jalur up` running in STATE_DIR put the database and the
    broker (infra/host/endpoints.py). Anything given explicitly, even None, wins."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ answers for every field at once

    def __call__(self) -> dict[str, Any]:
        state_dir = Path(self.current_state.get("state_dir") or ".jalur").expanduser()
        return endpoints.of_running_system(state_dir)


def _entries(value: str) -> list[str]:
    return [entry.strip() for entry in value.split(",") if entry.strip()]
