"""Eventually consistent global secondary indexes for moto's DynamoDB.

DynamoDB documents that a GSI is updated asynchronously and that its reads are eventually
consistent; it does not say how long the lag is (docs/aws-behaviour.md
#dynamodb-gsi-eventual-consistency). With ``settings.gsi_lag_seconds`` = N > 0 (the variant
of ``sandbox/dynamodb/settings.py``), a Query or Scan on a global secondary index sees every
item as it was N real seconds ago: a new item is absent until then, an updated one shows its
old image, a deleted one is still there. Reads of the base table (GetItem, Query/Scan without
IndexName) stay as moto has them: strongly consistent when asked to. Local secondary indexes
stay consistent (AWS allows consistent reads on them).

How: every write records the item's image (a copy) and the real time on the table
(``put_item``, ``delete_item`` of moto's Table, ``update_item`` of the backend, which
transactions, batches and PartiQL go through); an index read runs moto's own Query/Scan over
the images of N seconds ago. Images older than needed are pruned.

    from sandbox.dynamodb import consistency
    consistency.install()   # idempotent; sandbox.install() calls it
"""

from __future__ import annotations

import copy
import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

from sandbox.core.settings import settings

# Images are kept this long (or longer, for a larger lag) after a newer write replaced them.
MIN_HISTORY_SECONDS = 60.0
_HISTORY_ATTRIBUTE = "_sandbox_gsi_history"

ItemKey = tuple[DynamoType, DynamoType | None]
# Per item key: (real time of the write, the item's image after it, or None once deleted).
History = dict[ItemKey, list[tuple[float, Item | None]]]

_lock = threading.RLock()
_lagged = threading.local()  # .table, .items: the images a GSI read of this thread sees
_installed = False


def install() -> None:
    """Hook moto's DynamoDB (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        Table.put_item = _recording_put(Table.put_item)  # type: ignore[method-assign]
        Table.delete_item = _recording_delete(Table.delete_item)  # type: ignore[method-assign]
        DynamoDBBackend.update_item = _recording_update(  # type: ignore[method-assign]
            DynamoDBBackend.update_item
        )
        Table.query = _lagging_read(Table.query, "index_name", 7)  # type: ignore[method-assign]
        Table.scan = _lagging_read(Table.scan, "index_name", 4)  # type: ignore[method-assign]
        Table.all_items = _lagged_all_items(Table.all_items)  # type: ignore[method-assign]
        Table.has_idx_items = _lagged_idx_items(Table.has_idx_items)  # type: ignore[method-assign]
        _installed = True


# --- recording writes ---------------------------------------------------------------------


def _history(table: Table) -> History:
    history = table.__dict__.get(_HISTORY_ATTRIBUTE)
    if history is None:
        history = {}
        setattr(table, _HISTORY_ATTRIBUTE, history)
    return history


def _record(table: Table, key: ItemKey, image: Item | None) -> None:
    if not table.global_indexes:
        return  # nothing reads this table eventually consistently
    if not settings.gsi_lag_seconds:
        return  # no lag: no past images to keep (nor copies of what the items hold)
    now = time.monotonic()
    with _lock:
        versions = _history(table).setdefault(key, [])
        versions.append((now, copy.deepcopy(image)))
        horizon = now - max(MIN_HISTORY_SECONDS, float(settings.gsi_lag_seconds))
        # Keep the newest image older than the horizon (what a lagged read may still need).
        while len(versions) > 1 and versions[1][0] <= horizon:
            versions.pop(0)
        if len(versions) == 1 and versions[0][1] is None and versions[0][0] <= horizon:
            del _history(table)[key]


def _recording_put(put_item: Callable[..., Item]) -> Callable[..., Item]:
    @functools.wraps(put_item)
    def put(self: Table, *args: Any, **kwargs: Any) -> Item:
        item = put_item(self, *args, **kwargs)
        _record(self, (item.hash_key, item.range_key), item)
        return item

    return put


def _recording_delete(delete_item: Callable[..., Item | None]) -> Callable[..., Item | None]:
    @functools.wraps(delete_item)
    def delete(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
        item = delete_item(self, hash_key, range_key)
        if item is not None:
            _record(self, (item.hash_key, item.range_key), None)
        return item

    return delete


def _recording_update(update_item: Callable[..., Item]) -> Callable[..., Item]:
    # moto updates the stored item in place: record its image after the update.
    @functools.wraps(update_item)
    def update(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Item:
        item = update_item(self, table_name, *args, **kwargs)
        _record(self.get_table(table_name), (item.hash_key, item.range_key), item)
        return item

    return update


# --- lagging index reads ------------------------------------------------------------------


def _lagging_read(read: Callable[..., Any], parameter: str, position: int) -> Callable[..., Any]:
    """Run ``read`` over the images of ``gsi_lag_seconds`` ago when it reads a GSI."""

    @functools.wraps(read)
    def lagging(self: Table, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get(parameter)
        if index_name is None and len(args) > position:
            index_name = args[position]
        lag = float(settings.gsi_lag_seconds)
        if not index_name or lag <= 0 or not _is_global_index(self, index_name):
            return read(self, *args, **kwargs)
        _lagged.table, _lagged.items = self, lagged_items(self, lag)
        try:
            return read(self, *args, **kwargs)
        finally:
            _lagged.table, _lagged.items = None, None

    return lagging


def _is_global_index(table: Table, index_name: str) -> bool:
    return any(index.name == index_name for index in table.global_indexes or [])


def lagged_items(table: Table, lag_seconds: float) -> list[Item]:
    """The table's items as they were ``lag_seconds`` real seconds ago."""
    cutoff = time.monotonic() - lag_seconds
    with _lock:
        history = dict(_history(table))
        items: list[Item] = []
        for item in _current_items(table):
            if (item.hash_key, item.range_key) not in history:
                items.append(item)  # not written since install: as old as any lag
        for versions in history.values():
            then = [image for written, image in versions if written <= cutoff]
            if then and then[-1] is not None:
                items.append(then[-1])
    return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def _current_items(table: Table) -> list[Item]:
    items: list[Item] = []
    for hash_set in table.items.values():
        items.extend(hash_set.values() if table.range_key_attr else [hash_set])
    return items


def _lagged_all_items(all_items: Callable[[Table], list[Item]]) -> Callable[[Table], list[Item]]:
    @functools.wraps(all_items)
    def items(self: Table) -> list[Item]:
        if getattr(_lagged, "table", None) is self:
            return list(_lagged.items)
        return all_items(self)

    return items


def _lagged_idx_items(
    has_idx_items: Callable[[Table, str], list[Item]],
) -> Callable[[Table, str], list[Item]]:
    @functools.wraps(has_idx_items)
    def items(self: Table, index_name: str) -> list[Item]:
        if getattr(_lagged, "table", None) is not self:
            return has_idx_items(self, index_name)
        names = {key["AttributeName"] for key in self.get_index(index_name).schema}
        return [item for item in _lagged.items if names.issubset(set(item.attrs))]

    return items
