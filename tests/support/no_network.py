"""Refuses the network in this process: what the unit layer's guard installs
(tests/unit/conftest.py)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest


class NetworkUsed(AssertionError):
    """A test tried to reach the network."""


def refuse_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every connection and name lookup raises NetworkUsed until `monkeypatch` is undone;
    returns the list the attempts are noted in (a library may catch the error)."""
    attempts: list[str] = []

    def refuse(what: str) -> Callable[..., None]:
        def refused(*args: object, **kwargs: object) -> None:
            target = args[1] if len(args) > 1 else args[0] if args else kwargs
            attempts.append(f"{what} {target!r}")
            raise NetworkUsed(f"a unit test must not use the network: {what} {target!r}")

        return refused

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    return attempts
