"""Every projection the system runs, by name."""

from collections.abc import Sequence
from types import ModuleType
from typing import Any, Protocol

from psycopg import Cursor

from domain.public import PublicEvent
from projections import accounts, custody, mail, tracking


class Projection(Protocol):
    NAME: str
    CONTEXTS: tuple[str, ...]
    TABLES: tuple[str, ...]
    DDL: tuple[str, ...]

    def apply(self, event: PublicEvent, cur: Cursor[Any]) -> None: ...


_MODULES: tuple[ModuleType, ...] = (tracking, accounts, mail, custody)
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


def apply_all(projection: Projection, events: Sequence[PublicEvent], cur: Cursor[Any]) -> None:
    """Apply events in order: in one go where the projection folds a batch
    (`apply_batch`), else one by one."""
    batch = getattr(projection, "apply_batch", None)
    if batch is not None:
        batch(events, cur)
        return
    for event in events:
        projection.apply(event, cur)
