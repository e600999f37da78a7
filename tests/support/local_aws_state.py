"""What the local AWS recorded, in its own process, as roots for a search
(tests/support/object_search.py): every moto backend, the sandbox's module state, Python
logging; and Step Functions' backends and the records table's `task_token` attributes, the
places the gate's task token may be (tests/e2e/test_token_secrecy.py)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any

from moto.core.base_backend import BackendDict
from moto.dynamodb.models import dynamodb_backends
from moto.moto_api._internal.models import moto_api_backend

from tests.support.object_search import OPAQUE

ACCOUNT_ID = "123456789012"


def is_step_functions(value: Any) -> bool:
    """Step Functions' own objects (moto's and the sandbox's): whitelisted
    (tests/e2e/test_token_secrecy.py says why)."""
    module = type(value).__module__ or ""
    return module.startswith(("moto.stepfunctions", "sandbox.stepfunctions"))


def moto_backends() -> Iterator[tuple[str, Any]]:
    """Every moto backend in use (moto keeps the list to reset them), per account and Region;
    Step Functions' left out (whitelisted)."""
    for backend_dict in list(BackendDict._instances):
        for account, region, backend in backend_dict.iter_backends():
            if backend_dict.service_name == "stepfunctions":
                continue
            yield f"{backend_dict.service_name}[{account}][{region}]", backend
    yield "moto_api", moto_api_backend


def step_functions_backends() -> Iterator[tuple[str, Any]]:
    for backend_dict in list(BackendDict._instances):
        if backend_dict.service_name == "stepfunctions":
            for account, region, backend in backend_dict.iter_backends():
                yield f"{type(backend).__name__}[{account}][{region}]", backend


def sandbox_state() -> Iterator[tuple[str, Any]]:
    """The sandbox's module-level state (workers, faults, settings, listeners...)."""
    for name, module in sorted(sys.modules.items()):
        if name != "sandbox" and not name.startswith("sandbox."):
            continue
        for attribute, value in sorted(vars(module).items()):
            if attribute.startswith("__") or isinstance(value, OPAQUE):
                continue
            yield f"{name}.{attribute}", value


def records_table(gate: Any) -> Any:
    return dynamodb_backends[ACCOUNT_ID][gate.aws.region].tables[
        gate.outputs["approvals_table_name"]
    ]


def stored_tokens(table: Any) -> set[int]:
    """ids of the records table's `task_token` values (moto DynamoType objects)."""
    found = set()
    for value in list(table.items.values()):
        for item in list(value.values()) if isinstance(value, dict) else [value]:
            attribute = item.attrs.get("task_token")
            if attribute is not None:
                found.add(id(attribute))
    return found


class LogRecorder(logging.Handler):
    """What the local AWS (moto, the sandbox, werkzeug) logs in this process."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{record.name} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(line)
