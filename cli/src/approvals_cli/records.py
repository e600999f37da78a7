"""The approval records table, read as libs/approval_core writes it, never its task token.

Reads: one record by approval id (GetItem), the approvals of a workflow execution (index
`by_execution`, every attribute projected), and approvals by status, newest first (index
`by_status`: partition `status`, sort `requested_epoch`, projecting every attribute but the
token and the stages). Every read names the attributes it wants, so the token never reaches
this process.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

RECORD_PREFIX = "approval#"  # approval_core.records: pk = "approval#<approval id>"
STATUS_INDEX = "by_status"
EXECUTION_INDEX = "by_execution"
STATUSES = ("PENDING", "DECIDED", "CLOSED")

# An approval's stages (approval_core.stages): every stage's definition, the waiting one
# (0-based) and since when, each ended stage's result (1-based `stage`), and the waiting
# stage's escalation automation once it escalated.
STAGE_ATTRIBUTES = (
    "stages",
    "stage_index",
    "stage_started_epoch",
    "stage_results",
    "escalation_automation_execution_id",
)
# Everything the CLI reads of a record (approval_core.records.ApprovalRecord without the
# token), and the request's summary start_approval keeps on it.
ATTRIBUTES = (
    "approval_id",
    "execution_arn",
    "state_name",
    "requested_at",
    "requested_epoch",
    "expiration",
    "status",
    "automation_execution_id",
    "updated_at",
    "outcome",
    "decided_at",
    "callback",
    "callback_error",
    "closed_reason",
    "message",
    "approvers",
    "min_required_approvals",
    "requested_by",
    "decided_by",
    "delivered_by",
    *STAGE_ATTRIBUTES,
)
# What the `by_status` index projects: every attribute above but the stages (an approval's
# stages are read from the record itself, or from `by_execution`).
STATUS_INDEXED = tuple(name for name in ATTRIBUTES if name not in STAGE_ATTRIBUTES)
# What `approvals list` shows of each: the fewer attributes, the quicker a large page.
LISTED = (
    "approval_id",
    "execution_arn",
    "status",
    "requested_at",
    "requested_epoch",
    "automation_execution_id",
    "outcome",
    "callback",
    "closed_reason",
    "message",
    "approvers",
    "min_required_approvals",
    "decided_by",
)


def _projection(attributes: Iterable[str]) -> tuple[str, dict[str, str]]:
    """A ProjectionExpression of `attributes`, each by a placeholder (many are reserved words)."""
    names = {f"#a{n}": name for n, name in enumerate(attributes)}
    return ", ".join(names), names


_PROJECTION_EXPRESSION, _PROJECTION_NAMES = _projection(ATTRIBUTES)
_NUMBERS = (
    "requested_epoch",
    "expiration",
    "min_required_approvals",
    "stage_index",
    "stage_started_epoch",
)
_deserializer = TypeDeserializer()


@dataclass
class Approval:
    approval_id: str
    execution_arn: str
    status: str
    requested_at: str
    requested_epoch: int
    state_name: str = ""
    expiration: int | None = None
    automation_execution_id: str | None = None
    updated_at: str | None = None
    outcome: str | None = None
    decided_at: str | None = None
    callback: str | None = None
    callback_error: str | None = None
    closed_reason: str | None = None
    # The request, when the record carries it (else read from the automation).
    message: str | None = None
    approvers: list[str] = field(default_factory=list)
    min_required_approvals: int | None = None
    requested_by: str | None = None  # the requester the workflow declared
    decided_by: list[dict[str, Any]] = field(default_factory=list)
    delivered_by: str | None = None  # receive_result (the event) or sweep_approvals
    # Stages (none: a one-stage approval; not read from `by_status`): `approvers` and
    # `min_required_approvals` above are the waiting stage's.
    stages: list[dict[str, Any]] = field(default_factory=list)
    stage_index: int | None = None
    stage_started_epoch: int | None = None
    stage_results: list[dict[str, Any]] = field(default_factory=list)
    # The waiting stage opened to its escalation approvers too: their automation.
    escalation_automation_execution_id: str | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Approval:
        values = {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}
        values = {name: value for name, value in values.items() if name in ATTRIBUTES}
        for name in _NUMBERS:
            if values.get(name) is not None:
                values[name] = int(values[name])
        for name in ("approvers", "decided_by", "stages", "stage_results"):
            values[name] = list(values.get(name) or [])
        values.setdefault("requested_at", "")
        values.setdefault("requested_epoch", 0)
        return cls(**values)

    @property
    def has_request(self) -> bool:
        return bool(self.approvers)

    @property
    def staged(self) -> bool:
        """The request named its stages (else it is one stage, its approvers)."""
        return bool(self.stages)

    @property
    def stage_number(self) -> int:
        """The waiting stage (or the last one asked), 1-based."""
        return (self.stage_index or 0) + 1

    @property
    def waiting_stage(self) -> dict[str, Any]:
        """The waiting stage's definition ({} without stages)."""
        number = self.stage_number
        return self.stages[number - 1] if 0 < number <= len(self.stages) else {}

    @property
    def stage(self) -> str:
        """Which stage waits, for people: `stage 2 of 3 (security)`; "" without stages."""
        if not self.staged:
            return ""
        return stage_name(self.stage_number, self.stages)

    @property
    def finished(self) -> bool:
        """The workflow has its answer (or ended first): nothing more will happen."""
        return self.status == "CLOSED" or (self.status == "DECIDED" and self.callback != "SENDING")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def stage_name(number: int, stages: list[dict[str, Any]]) -> str:
    """`stage 2 of 3 (security)`: stage `number` (1-based) of `stages`."""
    name = stages[number - 1].get("name") if 0 < number <= len(stages) else None
    return f"stage {number} of {len(stages)}" + (f" ({name})" if name else "")


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals, sets and nested values as JSON-ready Python."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "as_integer_ratio") and not isinstance(value, (int, float)):
        return int(value) if value == int(value) else float(value)
    return value


class Records:
    def __init__(self, dynamodb: Any, table: str):
        self._dynamodb = dynamodb
        self.table = table

    def get(self, approval_id: str) -> Approval | None:
        item = self._dynamodb.get_item(
            TableName=self.table,
            Key={"pk": {"S": RECORD_PREFIX + approval_id}},
            ConsistentRead=True,
            ProjectionExpression=_PROJECTION_EXPRESSION,
            ExpressionAttributeNames=_PROJECTION_NAMES,
        ).get("Item")
        return Approval.from_item(item) if item else None

    def of_execution(self, execution_arn: str) -> list[Approval]:
        return [
            Approval.from_item(item)
            for item in self._query(
                IndexName=EXECUTION_INDEX,
                KeyConditionExpression="#e = :e",
                ExpressionAttributeValues={":e": {"S": execution_arn}},
                extra_names={"#e": "execution_arn"},
            )
        ]

    def by_status(
        self,
        statuses: Iterable[str],
        since_epoch: int | None = None,
        limit: int | None = None,
        attributes: Iterable[str] = STATUS_INDEXED,
        page_size: int | None = None,
    ) -> Iterator[Approval]:
        """Approvals in any of `statuses`, newest first, at most `limit`: read lazily, a page
        (of `page_size` items, else `limit`, else as many as DynamoDB gives) at a time."""
        attributes = tuple(attributes)
        size = page_size or limit
        streams = [self._status(status, since_epoch, size, attributes) for status in statuses]
        merged = heapq.merge(*streams, key=lambda a: -a.requested_epoch)
        return itertools.islice(merged, limit)

    def _status(
        self, status: str, since_epoch: int | None, limit: int | None, attributes: tuple[str, ...]
    ) -> Iterator[Approval]:
        condition = "#s = :s"
        values = {":s": {"S": status}}
        names = {"#s": "status"}
        if since_epoch is not None:
            condition += " AND #r >= :since"
            values[":since"] = {"N": str(since_epoch)}
            names["#r"] = "requested_epoch"
        for item in self._query(
            IndexName=STATUS_INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            extra_names=names,
            attributes=attributes,
            ScanIndexForward=False,
            **({"Limit": limit} if limit else {}),
        ):
            yield Approval.from_item(item)

    def _query(
        self, extra_names: dict[str, str], attributes: Iterable[str] = ATTRIBUTES, **request: Any
    ) -> Iterator[dict[str, Any]]:
        expression, names = _projection(attributes)
        names |= extra_names
        start: dict[str, Any] | None = None
        while True:
            page = self._dynamodb.query(
                TableName=self.table,
                ProjectionExpression=expression,
                ExpressionAttributeNames=names,
                **request,
                **({"ExclusiveStartKey": start} if start else {}),
            )
            yield from page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return
