import pytest

from commands.shipments import Shipments
from tests.unit.builders import in_memory_shipments


@pytest.fixture
def app() -> Shipments:
    return in_memory_shipments()
