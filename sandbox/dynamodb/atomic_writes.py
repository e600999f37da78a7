"""Item writes that are atomic, as DynamoDB's are.

DynamoDB applies each PutItem, UpdateItem and DeleteItem to its item atomically, condition
included: two conditional updates of one item never both see its old value
(docs/aws-behaviour.md#dynamodb-atomic-writes). moto's backend reads, checks and writes an
item in steps, so two threads of the local AWS (two functions' requests) could both pass a
condition that only one may pass. One lock around the backend's writes closes that gap:
the local AWS grants no race that AWS does not. The same lock is held around each whole
write request, because moto's handler reads the item before the write to answer
`ReturnValues` (UPDATED_OLD, ALL_OLD): without it two updates could both return the same old
value, which DynamoDB never does.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_lock = threading.RLock()
_installed = False


def install() -> None:
    """Hook moto's DynamoDB backend (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        for name in _WRITES:
            setattr(DynamoDBBackend, name, _atomic(getattr(DynamoDBBackend, name)))
            setattr(DynamoHandler, name, _atomic(getattr(DynamoHandler, name)))
        _installed = True


def _atomic(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def atomic(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            return write(self, *args, **kwargs)

    return atomic
