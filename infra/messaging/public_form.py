"""The public form of a stored event, made straight from its stored state.

Rebuilding each domain event (eventsourcing's transcoder calls back into Python for every
JSON object) and taking it apart again cost the relay most of its time per message. The
stored state is JSON already: one plain parse, its tagged values (UUIDs, datetimes)
rewritten as `domain.public` writes them, and the same serializer. Whatever this does not
know (an upcast still to do, another tag, a cipher or a compressor) goes the slow way,
through the domain event, so the result is the same either way.
"""

import json
from collections.abc import Callable
from typing import Any, cast

from eventsourcing.application import Application
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import JSONTranscoder, Notification
from eventsourcing.utils import resolve_topic

from domain.public import ENVELOPE_FIELDS, PUBLIC_NAMES, PublicEvent, to_public


class _Unknown(Exception):
    """A tag this module does not translate: take the slow way."""


def _uuid(hex_: str) -> str:
    if len(hex_) != 32:
        raise _Unknown(hex_)
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"


def _iso(text: str) -> str:
    return text  # DatetimeAsISO stores datetime.isoformat(), exactly what the public form shows


# The tags of eventsourcing's JSONTranscoder (UUIDAsHex, DatetimeAsISO) and their public form.
_TAGS: dict[str, Callable[[str], str]] = {"uuid_hex": _uuid, "datetime_iso": _iso}


_NESTED = (dict, list)
_parse = json.JSONDecoder().decode


def _untag(value: Any) -> Any:
    if type(value) is dict:
        tag = value.get("_type_")
        if tag is not None:
            translate = _TAGS.get(tag)
            data = value.get("_data_")
            if translate is None or len(value) != 2 or type(data) is not str:
                raise _Unknown(tag)
            return translate(data)
        return {k: _untag(v) if type(v) in _NESTED else v for k, v in value.items()}
    if type(value) is list:
        return [_untag(v) if type(v) in _NESTED else v for v in value]
    return value


class PublicForm:
    """Turns an application's notifications into public events."""

    def __init__(self, app: Application[Any]) -> None:
        self.mapper = app.mapper
        self.fast = (
            type(self.mapper.transcoder) is JSONTranscoder
            and self.mapper.cipher is None
            and self.mapper.compressor is None
        )
        self._kinds: dict[str, tuple[str, int, int]] = {}  # topic -> name, schema, class version

    def of(self, notification: Notification) -> PublicEvent:
        if self.fast:
            try:
                return self._from_state(notification)
            except (_Unknown, KeyError, TypeError, ValueError):
                pass
        return self.slow(notification)

    def slow(self, notification: Notification) -> PublicEvent:
        return to_public(cast(DomainEvent, self.mapper.to_domain_event(notification)))

    def _from_state(self, notification: Notification) -> PublicEvent:
        name, schema_version, class_version = self._kind(notification.topic)
        state = _parse(notification.state.decode())
        if type(state) is not dict or state.pop("class_version", 1) != class_version:
            raise _Unknown("an upcast is due")
        occurred_at = _untag(state.pop("timestamp"))
        if type(occurred_at) is not str:
            raise _Unknown("timestamp")
        data = {
            k: _untag(v) if type(v) in _NESTED else v
            for k, v in state.items()
            if k not in ENVELOPE_FIELDS
        }
        return PublicEvent(
            type=name,
            schema_version=schema_version,
            aggregate_id=str(notification.originator_id),
            aggregate_version=notification.originator_version,
            occurred_at=occurred_at,
            data=data,
        )

    def _kind(self, topic: str) -> tuple[str, int, int]:
        kind = self._kinds.get(topic)
        if kind is None:
            cls = resolve_topic(topic)
            name, schema_version = PUBLIC_NAMES[cls]
            kind = self._kinds[topic] = (name, schema_version, getattr(cls, "class_version", 1))
        return kind
