"""Every projection the system runs, by name."""

from types import ModuleType
from typing import Any, Protocol

from psycopg import Cursor

from domain.public import PublicEvent
from projections import accounts, mail, tracking


class Projection(Protocol):
    NAME: str
    CONTEXTS: tuple[str, ...]
    TABLES: tuple[str, ...]
    DDL: tuple[str, ...]

    def apply(self, event: PublicEvent, cur: Cursor[Any]) -> None: ...


_MODULES: tuple[ModuleType, ...] = (tracking, accounts, mail)
PROJECTIONS: dict[str, Projection] = {module.NAME: module for module in _MODULES}


def projection(name: str) -> Projection:
    try:
        return PROJECTIONS[name]
    except KeyError:
        raise SystemExit(f"unknown projection {name!r}; known: {sorted(PROJECTIONS)}") from None


def rebuildable(projection: Projection) -> bool:
    """False for a projection with side effects (`REBUILDABLE = False`, e.g. e-mails):
    replaying its events would repeat them. A projection that does not say is a pure
    read model, and rebuildable."""
    return bool(getattr(projection, "REBUILDABLE", True))
