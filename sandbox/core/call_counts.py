"""How many calls the local AWS received, by caller, service and action: what a deployment
costs per use (bench/cost (python -m bench.cost)).

The caller is the principal a call is made as: an IAM user's ARN (the deployer, an
approver), the role behind a role session (a function's execution role, a state machine's
role, an automation's assume role), or a service principal (``events.amazonaws.com``).
``sandbox.iam`` records every request it receives and every call a service makes on its own
(EventBridge delivering, SSM publishing to SNS), refused ones included. A DynamoDB call also
records its table and whether it reads strongly consistently: what its capacity units depend
on. ``GET /moto-api/sandbox/calls`` lists them, ``DELETE`` forgets them (sandbox/LOCAL_AWS.md,
"Call counts").
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, NamedTuple

from sandbox.core.control import route


class Call(NamedTuple):
    caller: str
    service: str  # the IAM prefix: "dynamodb", "states", "lambda", "ssm", "sns", ...
    action: str  # the API operation: "PutItem", "Invoke", "SendTaskSuccess", ...
    table: str = ""  # DynamoDB only
    consistent_read: bool = False  # DynamoDB only


_lock = threading.Lock()
_counts: Counter[Call] = Counter()


def record(
    caller: str, service: str, action: str, *, table: str = "", consistent_read: bool = False
) -> None:
    with _lock:
        _counts[Call(caller, service, action, table, consistent_read)] += 1


def calls() -> list[dict[str, Any]]:
    """Every (caller, service, action[, table, consistent read]) with its count, sorted."""
    with _lock:
        counted = sorted(_counts.items())
    answer = []
    for call, count in counted:
        entry: dict[str, Any] = {
            "caller": call.caller,
            "service": call.service,
            "action": call.action,
        }
        if call.service == "dynamodb":
            entry |= {"table": call.table, "consistent_read": call.consistent_read}
        answer.append(entry | {"count": count})
    return answer


def clear() -> None:
    with _lock:
        _counts.clear()


@route("calls", "GET", "DELETE")
def call_list(method: str, body: dict[str, Any]) -> Any:
    if method == "DELETE":
        clear()
    return {"calls": calls()}
