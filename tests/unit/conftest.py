import pytest

from commands.shipments import Shipments
from tests.unit.builders import in_memory_shipments
from tests.unit.memory_keyring import MemoryKeyring


@pytest.fixture
def keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def app(keyring: MemoryKeyring) -> Shipments:
    return in_memory_shipments(keyring)
