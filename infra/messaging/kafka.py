"""Kafka client settings and topic management, shared by the relay and consumers."""

import logging
from typing import Any

from confluent_kafka import Message
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from infra.settings import Settings

log = logging.getLogger(__name__)


class _ChosenExperimental(logging.Filter):
    """librdkafka warns at every producer's start that `enable.gapless.guarantee` is
    experimental. We chose it knowingly (a gap must stop the relay, not pass), so that
    notice is info: warnings are for what an operator must act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "enable.gapless.guarantee is experimental" in record.getMessage():
            record.levelno, record.levelname = logging.INFO, "INFO"
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        return True


librdkafka_log = logging.getLogger("jalur.librdkafka")
librdkafka_log.addFilter(_ChosenExperimental())


def header_int(message: Message, name: str) -> int | None:
    """An integer header the relay set (notification ids), or None if it is absent."""
    headers = message.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    for key, value in pairs:
        if key == name and value is not None:
            return int(value)
    return None


def topic_for(settings: Settings, context: str) -> str:
    return f"{settings.topic_prefix}.{context}.events"


def base_config(settings: Settings) -> dict[str, Any]:
    return {"bootstrap.servers": settings.require_kafka_bootstrap(), **settings.kafka_extra}


def producer_config(settings: Settings) -> dict[str, Any]:
    return {
        **base_config(settings),
        "enable.idempotence": True,
        "enable.gapless.guarantee": True,
        "allow.auto.create.topics": False,
        "linger.ms": 5,
        "message.timeout.ms": 30_000,
        "compression.type": "none",
        "logger": librdkafka_log,  # through logging (and its filter), not straight to stderr
    }


def consumer_config(settings: Settings, group_id: str) -> dict[str, Any]:
    return {
        **base_config(settings),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "allow.auto.create.topics": False,
        "session.timeout.ms": settings.kafka_session_timeout_ms,
        "heartbeat.interval.ms": max(settings.kafka_session_timeout_ms // 3, 100),
        "fetch.wait.max.ms": settings.kafka_fetch_wait_max_ms,
        "topic.metadata.refresh.interval.ms": 2000,
        "partition.assignment.strategy": "cooperative-sticky",
    }


def ensure_topics(settings: Settings, topics: list[str]) -> list[str]:
    """Create the missing topics with the configured partition count; return those created."""
    admin = AdminClient(base_config(settings))
    existing = admin.list_topics(timeout=10).topics
    missing = [t for t in topics if t not in existing]
    if not missing:
        return []
    new_topics = [
        NewTopic(
            t,
            num_partitions=settings.kafka_partitions,
            replication_factor=-1,
            config={"retention.ms": "-1"},
        )
        for t in missing
    ]
    created = []
    for topic, future in admin.create_topics(new_topics).items():
        try:
            future.result()
            created.append(topic)
        except Exception as error:  # another process created it first
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise
    log.info("created topics %s", created)
    return created
