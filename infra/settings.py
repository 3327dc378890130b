"""All configuration, read from JALUR_* environment variables (see README)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    state_dir: Path = Path(".jalur")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8443, ge=0, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    consistency_wait_max_s: float = Field(default=5.0, ge=0, le=30)
    consistency_max_waiters: int = Field(
        default=16, ge=1, description="Reads that may wait for a token at once; more get 503."
    )
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_poll_interval_s: float = Field(default=0.01, gt=0)
    relay_check_interval_s: float = Field(default=2.0, gt=0)
    projection_batch_size: int = Field(default=500, ge=1, le=10_000)
    db_pool_size: int = Field(default=10, ge=1)
    log_level: str = "INFO"

    def require_database_url(self) -> str:
        if not self.database_url:
            raise SystemExit(
                "JALUR_DATABASE_URL is not set (or run `jalur up` for the embedded one)."
            )
        return self.database_url

    def require_kafka_bootstrap(self) -> str:
        if not self.kafka_bootstrap:
            raise SystemExit(
                "JALUR_KAFKA_BOOTSTRAP is not set (or run `jalur up` for the embedded one)."
            )
        return self.kafka_bootstrap
