"""The unit layer's gate: the logic classes on in-memory fakes (tests/support/in_memory_gate.py)."""

import pytest

from tests.support.in_memory_gate import InMemoryGate


@pytest.fixture
def gate() -> InMemoryGate:
    return InMemoryGate()
