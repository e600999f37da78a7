"""A search of live objects for secrets (tests/e2e/test_token_secrecy.py): Search walks
objects from named roots and reports where a needle is; needles_of gives the forms a copied
secret might take."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import io
import json
import logging
import socket
import subprocess
import threading
import time
import types
import urllib.parse
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

_LEAVES = (
    int,
    float,
    complex,
    bool,
    type(None),
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    uuid.UUID,
    Path,
)
# Code, threads, sockets, files, processes: no recorded data, and walking them leads into the
# interpreter's own state.
OPAQUE = (
    types.ModuleType,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.BuiltinMethodType,
    types.CodeType,
    types.FrameType,
    types.GeneratorType,
    types.CoroutineType,
    weakref.ref,
    threading.Thread,
    socket.socket,
    io.IOBase,
    subprocess.Popen,
    logging.Logger,
    logging.Handler,
)
MAX_DEPTH = 200
MAX_NODES = 5_000_000


@dataclasses.dataclass(frozen=True)
class Hit:
    path: str
    needle: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.path}: {self.needle} in {self.excerpt!r}"


@dataclasses.dataclass
class Search:
    """Walks objects (dicts, sequences, sets, attributes, slots, dataclasses, strings and
    bytes) from named roots, depth first, each object once, and reports where a needle is."""

    needles: dict[str, str]  # name -> text
    skip: Callable[[Any], bool] = lambda value: False
    hits: list[Hit] = dataclasses.field(default_factory=list)
    nodes: int = 0
    too_deep: list[str] = dataclasses.field(default_factory=list)

    def text(self, path: str, value: str | bytes) -> None:
        for name, needle in self.needles.items():
            raw = needle.encode() if isinstance(value, bytes | bytearray) else needle
            at = value.find(raw)  # type: ignore[arg-type]
            if at >= 0:
                excerpt = value[max(at - 60, 0) : at + len(raw) + 60]
                if isinstance(excerpt, bytes | bytearray):
                    excerpt = excerpt.decode("utf-8", errors="replace")
                self.hits.append(Hit(path, name, str(excerpt)))

    def walk(self, roots: Iterable[tuple[str, Any]]) -> Search:
        seen: set[int] = set()
        keep: list[Any] = []  # objects made during the walk stay alive: ids stay unique
        for root_path, root in roots:
            stack: list[tuple[str, Any, int]] = [(root_path, root, 0)]
            while stack:
                path, value, depth = stack.pop()
                if isinstance(value, str):
                    self.text(path, value)
                    continue
                if isinstance(value, bytes | bytearray | memoryview):
                    self.text(path, bytes(value))
                    continue
                if isinstance(value, _LEAVES + OPAQUE):
                    continue
                if isinstance(value, enum.Enum):
                    stack.append((f"{path}.value", value.value, depth + 1))
                    continue
                if id(value) in seen or self.skip(value):
                    continue
                seen.add(id(value))
                keep.append(value)
                self.nodes += 1
                if self.nodes > MAX_NODES:
                    raise AssertionError(f"more than {MAX_NODES} objects from {root_path}")
                if depth >= MAX_DEPTH:
                    self.too_deep.append(path)
                    continue
                stack.extend(
                    (child_path, child, depth + 1) for child_path, child in _children(path, value)
                )
        return self

    def found(self) -> list[str]:
        return [str(hit) for hit in self.hits]


def _children(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    for attempt in range(5):  # the server's threads may change a container meanwhile
        try:
            return iter(list(_children_now(path, value)))
        except RuntimeError:
            time.sleep(0.05 * (attempt + 1))
    return iter(list(_children_now(path, value)))


def _children_now(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in list(value.items()):
            if not isinstance(key, str | int):
                yield f"{path}<key {key!r:.60}>", key
            yield f"{path}[{key!r:.80}]", item
    elif isinstance(value, list | tuple | set | frozenset | collections.deque):
        for index, item in enumerate(list(value)):
            yield f"{path}[{index}]", item
    try:
        attributes = object.__getattribute__(value, "__dict__")
    except Exception:  # no __dict__; or a proxy (werkzeug's LocalProxy) that refuses
        attributes = None
    if isinstance(attributes, dict):
        for name, item in list(attributes.items()):
            yield f"{path}.{name}", item
    for cls in type(value).__mro__:
        for name in getattr(cls, "__slots__", ()) or ():
            if isinstance(name, str) and name not in ("__dict__", "__weakref__"):
                try:
                    yield f"{path}.{name}", getattr(value, name)
                except Exception:  # an empty slot
                    continue


def needles_of(token: str, label: str) -> dict[str, str]:
    """The token and forms of it a copy might take: JSON-escaped, URL-encoded, and slices of
    it (start, middle, end; 40 characters, or half of a shorter token such as moto's UUIDs)
    in case a copy is truncated or re-wrapped."""
    forms = {
        f"{label}": token,
        f"{label} (JSON-escaped)": json.dumps(token)[1:-1],
        f"{label} (URL-encoded)": urllib.parse.quote(token, safe=""),
    }
    size = min(40, len(token) // 2)
    if size >= 16:
        middle = (len(token) - size) // 2
        forms |= {
            f"{label}[:{size}]": token[:size],
            f"{label}[{middle}:{middle + size}]": token[middle : middle + size],
            f"{label}[-{size}:]": token[-size:],
        }
    unique: dict[str, str] = {}
    for name, text in forms.items():
        if text not in unique.values():
            unique[name] = text
    return unique
