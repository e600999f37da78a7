"""The unit layer uses no AWS, not even a local one: every network connection (and name
lookup) a unit test attempts fails it, even one a library catches and retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.no_network import refuse_network


@pytest.fixture(autouse=True)
def network_attempts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The connections the test attempted (each refused); the test fails if any is left."""
    attempts = refuse_network(monkeypatch)
    yield attempts
    assert not attempts, f"the test attempted network connections: {attempts}"
