"""The approval records table: one record per approval, from request to callback.

The same table holds the pacing's slots of SSM's rates (approval_core.pacing, keyed
`pacer#<action>`); approval records are keyed `approval#<approval id>` (key attribute `pk`,
TTL attribute `expiration`) so the two never meet. Every state change is a conditional
write, so concurrent or repeated deliveries cannot move a record twice, and no other store
is needed to make them exactly-once: the attempt that claims a decision holds its callback
for its function's timeout (a lease: `delivery_lease_until`), so no other calls back
meanwhile.

Lifecycle: PENDING (automation requested) -> DECIDED (outcome claimed, callback SENDING)
-> callback DELIVERED or REFUSED (the workflow was gone); or PENDING -> CLOSED when the
workflow ended first (its automation is then cancelled). An approval of several stages
stays PENDING from stage to stage: each approved stage but the last moves it on
(`advance_stage`: its result kept, the next stage's automation recorded).

Two indexes: `by_execution` finds the approvals of a workflow execution; `pending` is
sparse (only records that wait for a decision, or for its callback to finish, carry its
key, `awaiting`) and projects no task token, so the periodic sweep lists what still waits,
including a delivery that stopped half-way, without reading a token.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, NamedTuple, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

if TYPE_CHECKING:  # type checking only: the Lambda zips do not ship the stubs
    from typing import TypedDict, Unpack

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    # An item as the DynamoDB client reads and writes it: attribute name -> typed value.
    Item = dict[str, AttributeValueTypeDef]

    class _IndexQuery(TypedDict, total=False):
        """A query of one of the table's indexes (Query's own parameters)."""

        IndexName: str
        KeyConditionExpression: str
        ExpressionAttributeNames: Mapping[str, str]
        ExpressionAttributeValues: Mapping[str, AttributeValueTypeDef]


KEY_ATTRIBUTE = "pk"
EXECUTION_INDEX = "by_execution"
PENDING_INDEX = "pending"
# The pending index's partition key, present while PENDING only: "attention" for a record
# the sweep must read even while its automation runs (reminders, a stage's own timeout),
# "decision" for the others (the sweep reads them only once their automation has ended).
AWAITING_ATTRIBUTE = "awaiting"
_AWAITING_DECISION = "decision"
_AWAITING_ATTENTION = "attention"
_RECORD_PREFIX = "approval#"
# The record's optional whole numbers (DynamoDB gives numbers back as Decimal).
_OPTIONAL_NUMBERS = (
    "min_required_approvals",
    "remind_after_seconds",
    "max_reminders",
    "reminders_sent",
    "stage_index",
    "stage_started_epoch",
    "delivery_lease_until",
)
# The shortest reminder interval a request or a deployment may set: the sweep reads no
# record younger than this to see whether a reminder is due.
MIN_REMIND_AFTER_SECONDS = 60


def repr_without_token(value: tuple[object, ...]) -> str:
    """A NamedTuple's repr with its `task_token` field left out: what holds a task token is
    never printed with it (logs, tracebacks, test output)."""
    fields = cast("NamedTuple", value)._asdict()
    shown = ", ".join(f"{name}={v!r}" for name, v in fields.items() if name != "task_token")
    return f"{type(value).__name__}({shown})"


_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class ApprovalStatus(enum.StrEnum):
    PENDING = "PENDING"
    DECIDED = "DECIDED"
    CLOSED = "CLOSED"


class CallbackStatus(enum.StrEnum):
    SENDING = "SENDING"
    DELIVERED = "DELIVERED"
    REFUSED = "REFUSED"


class ApprovalRecord(NamedTuple):
    """One approval's record, as the table holds it. Immutable: `_replace` gives a changed
    copy. A NamedTuple, not a dataclass: a class of this many fields is ~1 ms quicker to create
    at the cold start."""

    approval_id: str
    task_token: str  # never printed (__repr__): the token stays secret
    execution_arn: str
    state_name: str
    state_entered_time: str
    requested_at: str
    requested_epoch: int
    expiration: int
    status: ApprovalStatus = ApprovalStatus.PENDING
    automation_execution_id: str | None = None
    updated_at: str | None = None
    outcome: str | None = None
    decided_at: str | None = None
    callback: CallbackStatus | None = None
    callback_error: str | None = None
    closed_reason: str | None = None
    # The request as the approvers got it and who decided, kept for the audit trail (the
    # `approvals` command line lists and exports them from the table, not from SSM). The
    # message counts in every write's size: a write is 1 unit per KB of the item.
    message: str | None = None
    approvers: list[str] | None = None
    min_required_approvals: int | None = None
    requested_by: str | None = None  # as the workflow declared it (self-declared)
    decided_by: list[dict[str, str | None]] | None = None  # approver, decision, comment, decided_at
    delivered_by: str | None = None  # the function that claimed the decision
    # Reminders (the sweep sends them while PENDING): the effective interval (None: none)
    # and bound, and how many were claimed so far (0 from the start when reminders are on).
    remind_after_seconds: int | None = None
    max_reminders: int | None = None
    reminders_sent: int | None = None
    # Stages (approval_core.stages): every stage's definition (None: one stage, the request's
    # approvers), the one that waits (0-based) and since when, and each ended stage's result
    # ({name, outcome, decided_by, automation_execution_id}, the last one's once decided).
    # `approvers` and `min_required_approvals` above are the waiting stage's.
    stages: list[dict[str, object]] | None = None
    stage_index: int | None = None
    stage_started_epoch: int | None = None
    stage_results: list[dict[str, object]] | None = None
    # The waiting stage opened to its escalation approvers too: that second automation's id
    # (the first valid decision of either settles the stage; the other is withdrawn).
    escalation_automation_execution_id: str | None = None
    # Epoch seconds until which the function that claimed (or took over) the decision's
    # callback holds it: another takes the callback over only after that
    # (ApprovalRecords.take_over_delivery).
    delivery_lease_until: int | None = None

    def __repr__(self) -> str:
        return repr_without_token(self)

    @property
    def key(self) -> Item:
        return record_key(self.approval_id)

    @property
    def awaits_delivery(self) -> bool:
        """PENDING, or DECIDED with its callback not finished: what the `pending` index
        should list (the index itself may lag behind the record)."""
        return self.status is ApprovalStatus.PENDING or (
            self.status is ApprovalStatus.DECIDED and self.callback is CallbackStatus.SENDING
        )

    @property
    def needs_attention(self) -> bool:
        """Reminders asked for, or a stage with its own timeout or an escalation: the sweep
        reads the record while its automation still asks the approvers."""
        return self.reminders_sent is not None or any(
            isinstance(stage, dict)
            and (
                stage.get("timeout_seconds") is not None
                or stage.get("escalate_after_seconds") is not None
            )
            for stage in self.stages or []
        )

    def to_item(self) -> Item:
        values = {name: value for name, value in self._asdict().items() if value is not None}
        values[KEY_ATTRIBUTE] = _RECORD_PREFIX + self.approval_id
        if self.status is ApprovalStatus.PENDING:
            values[AWAITING_ATTRIBUTE] = (
                _AWAITING_ATTENTION if self.needs_attention else _AWAITING_DECISION
            )
        return {name: _serializer.serialize(value) for name, value in values.items()}

    @classmethod
    def from_item(cls, item: Mapping[str, AttributeValueTypeDef]) -> ApprovalRecord:
        known = set(cls._fields)
        values = {
            name: _deserializer.deserialize(value) for name, value in item.items() if name in known
        }
        for name in ("requested_epoch", "expiration"):
            values[name] = int(values[name])
        for name in _OPTIONAL_NUMBERS:
            if values.get(name) is not None:
                values[name] = int(values[name])
        values["status"] = ApprovalStatus(values["status"])
        if values.get("callback"):
            values["callback"] = CallbackStatus(values["callback"])
        return cls(**values)


class StageAdvance(NamedTuple):
    """What moving an approval from one stage to the next writes."""

    from_index: int  # the stage that approved (0-based)
    from_automation_execution_id: str
    result: dict[str, object]  # its {name, outcome, decided_by, automation_execution_id}
    automation_execution_id: str  # the next stage's
    approvers: tuple[str, ...]  # the next stage's, as asked
    min_required_approvals: int
    started_epoch: int
    now: str
    reminds: bool  # the approval has reminders: the next stage's count from 0


class PendingApproval(NamedTuple):
    """What the pending index holds of a record (no task token)."""

    approval_id: str
    requested_epoch: int
    automation_execution_id: str | None
    needs_attention: bool = False  # ApprovalRecord.needs_attention


class RecordNotPending(Exception):
    """The record has left PENDING: a decision was already claimed."""

    def __init__(self, record: ApprovalRecord):
        super().__init__(f"approval {record.approval_id} is {record.status}")
        self.record = record


class CallbackAlreadyFinished(Exception):
    """Another attempt recorded the callback's result first."""

    def __init__(self, record: ApprovalRecord):
        super().__init__(f"approval {record.approval_id}: callback {record.callback}")
        self.record = record


class DeliveryLeaseHeld(Exception):
    """Another attempt holds the decision's callback (its lease has not run out): it is
    calling back right now, or stopped half-way less than its function's timeout ago."""

    def __init__(self, record: ApprovalRecord):
        super().__init__(
            f"approval {record.approval_id}: its decision is being delivered by "
            f"{record.delivered_by or 'another attempt'} (lease until epoch "
            f"{record.delivery_lease_until})"
        )
        self.record = record


def record_key(approval_id: str) -> Item:
    return {KEY_ATTRIBUTE: {"S": _RECORD_PREFIX + approval_id}}


class ApprovalRecords:
    """Reads and writes approval records."""

    def __init__(self, client: DynamoDBClient, table_name: str):
        self._client = client
        self._table = table_name

    def get(self, approval_id: str) -> ApprovalRecord | None:
        item = self._client.get_item(
            TableName=self._table, Key=record_key(approval_id), ConsistentRead=True
        ).get("Item")
        return ApprovalRecord.from_item(item) if item else None

    def create_or_refresh(self, record: ApprovalRecord) -> ApprovalRecord:
        """Store a new PENDING record; for a retry of the same approval, keep the newest
        task token (a Step Functions retry brings a new one). Raises RecordNotPending when
        the approval was already decided."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=record.to_item(),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": KEY_ATTRIBUTE},
            )
            return record
        except ClientError as error:
            if not is_condition_failure(error):
                raise
        return self._update(
            record.approval_id,
            "SET task_token = :token, updated_at = :now",
            {":token": record.task_token, ":now": record.requested_at},
            require_status=ApprovalStatus.PENDING,
        )

    def set_automation(
        self, approval_id: str, automation_execution_id: str, now: str
    ) -> ApprovalRecord:
        """Stores the automation's id whatever the status; the caller sees the record as
        it now is (CLOSED: the workflow ended while the automation was started)."""
        return self._update(
            approval_id,
            "SET automation_execution_id = :automation, updated_at = :now",
            {":automation": automation_execution_id, ":now": now},
        )

    def claim_decision(
        self,
        approval_id: str,
        outcome: str,
        now: str,
        decided_by: list[dict[str, str | None]] | None = None,
        delivered_by: str = "",
        stage_result: dict[str, object] | None = None,
        automation_execution_id: str | None = None,
        lease_until: int = 0,
    ) -> ApprovalRecord:
        """PENDING -> DECIDED with the callback SENDING, once, with who decided, which
        function claimed it and the last stage's result (appended to stage_results); only by
        the automation the approval waits on, when one is named (a passed stage's late event
        claims nothing). The claimer holds the callback until `lease_until` (epoch seconds):
        see take_over_delivery. Raises RecordNotPending for every later or stale claim,
        carrying the record as it is (still PENDING for a stale one)."""
        expression = (
            "SET #status = :decided, outcome = :outcome, decided_at = :now, "
            "updated_at = :now, callback = :sending, decided_by = :decided_by, "
            "delivered_by = :delivered_by, delivery_lease_until = :lease"
        )
        values: dict[str, object] = {
            ":decided": ApprovalStatus.DECIDED.value,
            ":outcome": outcome,
            ":now": now,
            ":sending": CallbackStatus.SENDING.value,
            ":decided_by": decided_by or [],
            ":delivered_by": delivered_by,
            ":lease": lease_until,
        }
        if stage_result is not None:
            expression += (
                ", stage_results = list_append(if_not_exists(stage_results, :none), :result)"
            )
            values |= {":none": [], ":result": [stage_result]}
        condition = None
        if automation_execution_id:
            # Not recorded yet: the start's own update may come after an early decision.
            condition = (
                "(attribute_not_exists(automation_execution_id) OR "
                "automation_execution_id = :automation OR "
                "escalation_automation_execution_id = :automation)"
            )
            values[":automation"] = automation_execution_id
        return self._update(
            approval_id,
            expression,
            values,
            require_status=ApprovalStatus.PENDING,
            condition=condition,
        )

    def advance_stage(self, approval_id: str, advance: StageAdvance) -> ApprovalRecord:
        """The waiting stage approved: its result kept, the next stage's automation, approvers
        and quorum recorded, its reminders counted from 0. Only while PENDING and only from
        the stage and automation the caller read: raises RecordNotPending otherwise (the
        workflow ended, or another attempt moved it on first), carrying the record as it is."""
        expression = (
            "SET stage_index = :next, automation_execution_id = :automation, "
            "stage_results = list_append(if_not_exists(stage_results, :none), :result), "
            "approvers = :approvers, min_required_approvals = :quorum, "
            "stage_started_epoch = :started, updated_at = :now "
            "REMOVE escalation_automation_execution_id"
        )
        values: dict[str, object] = {
            ":next": advance.from_index + 1,
            ":automation": advance.automation_execution_id,
            ":none": [],
            ":result": [advance.result],
            ":approvers": list(advance.approvers),
            ":quorum": advance.min_required_approvals,
            ":started": advance.started_epoch,
            ":now": advance.now,
            ":from_index": advance.from_index,
            ":from_automation": advance.from_automation_execution_id,
        }
        if advance.reminds:
            expression = expression.replace(" REMOVE ", ", reminders_sent = :zero REMOVE ")
            values[":zero"] = 0
        return self._update(
            approval_id,
            expression,
            values,
            require_status=ApprovalStatus.PENDING,
            condition="stage_index = :from_index AND automation_execution_id = :from_automation",
        )

    def set_escalation(
        self,
        approval_id: str,
        stage_index: int,
        automation_execution_id: str,
        escalation: str,
        now: str,
    ) -> ApprovalRecord:
        """Records the escalation automation of the waiting stage, once: only while PENDING,
        at that stage and its automation, and not escalated yet. Raises RecordNotPending
        otherwise, carrying the record as it is."""
        return self._update(
            approval_id,
            "SET escalation_automation_execution_id = :escalation, updated_at = :now",
            {
                ":escalation": escalation,
                ":now": now,
                ":index": stage_index,
                ":automation": automation_execution_id,
            },
            require_status=ApprovalStatus.PENDING,
            condition=(
                "stage_index = :index AND automation_execution_id = :automation AND "
                "attribute_not_exists(escalation_automation_execution_id)"
            ),
        )

    def claim_reminder(self, approval_id: str, sent: int) -> ApprovalRecord | None:
        """reminders_sent `sent` -> `sent` + 1, only while PENDING and only from `sent`: of
        two sweeps that both found the reminder due, one claims it (the record as it now
        is), the other gets None and sends nothing."""
        try:
            return self._update(
                approval_id,
                "SET reminders_sent = :claimed",
                {":claimed": sent + 1, ":sent": sent},
                require_status=ApprovalStatus.PENDING,
                condition="reminders_sent = :sent",
            )
        except RecordNotPending:  # decided meanwhile, or another sweep claimed it first
            return None

    def close(self, approval_id: str, reason: str, now: str) -> ApprovalRecord:
        """PENDING -> CLOSED: the workflow ended before a decision. Raises RecordNotPending
        when the record has left PENDING (decided, or closed before)."""
        return self._update(
            approval_id,
            "SET #status = :closed, closed_reason = :reason, updated_at = :now "
            f"REMOVE {AWAITING_ATTRIBUTE}",
            {":closed": ApprovalStatus.CLOSED.value, ":reason": reason, ":now": now},
            require_status=ApprovalStatus.PENDING,
        )

    def of_execution(self, execution_arn: str) -> list[ApprovalRecord]:
        """Every approval record of one workflow execution (any status), as the index has
        them: eventually consistent (docs/aws-behaviour.md#dynamodb-gsi-eventual-consistency),
        so a record may show an older image or be missing for a moment. Act on a record only
        through a conditional write (which returns it as it really is) or after `get()`."""
        return [
            ApprovalRecord.from_item(item)
            for item in self._query(
                IndexName=EXECUTION_INDEX,
                KeyConditionExpression="execution_arn = :arn",
                ExpressionAttributeValues={":arn": {"S": execution_arn}},
            )
        ]

    def pending(self) -> Iterator[PendingApproval]:
        """Approvals PENDING, or DECIDED with the callback still SENDING, oldest first.
        The index is eventually consistent
        (docs/aws-behaviour.md#dynamodb-gsi-eventual-consistency): a record decided a moment
        ago may still be listed (re-read it with `get()` before acting; the conditional claim
        and the delivery lease make a delivery harmless anyway), and a record written a
        moment ago may be missing (the next sweep lists it)."""
        listed = [
            (awaiting, item)
            for awaiting in (_AWAITING_DECISION, _AWAITING_ATTENTION)
            for item in self._query(
                IndexName=PENDING_INDEX,
                KeyConditionExpression="#awaiting = :awaiting",
                ExpressionAttributeNames={"#awaiting": AWAITING_ATTRIBUTE},
                ExpressionAttributeValues={":awaiting": {"S": awaiting}},
            )
        ]
        for awaiting, item in sorted(listed, key=lambda pair: int(pair[1]["requested_epoch"]["N"])):
            values = {name: _deserializer.deserialize(value) for name, value in item.items()}
            yield PendingApproval(
                approval_id=values["approval_id"],
                requested_epoch=int(values["requested_epoch"]),
                automation_execution_id=values.get("automation_execution_id"),
                needs_attention=awaiting == _AWAITING_ATTENTION,
            )

    def _query(self, **request: Unpack[_IndexQuery]) -> Iterator[Item]:
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(TableName=self._table, **request):
            yield from page.get("Items", [])

    def take_over_delivery(
        self, approval_id: str, now_epoch: int, lease_until: int, delivered_by: str
    ) -> ApprovalRecord:
        """A claimed decision whose callback is still SENDING, taken over by another attempt
        once the lease of the one that holds it has run out (it stopped half-way: killed by
        its timeout, or it released the lease on an error), so that two attempts never call
        back at once (the second would be refused, and could record REFUSED for a workflow
        the first answered). Raises DeliveryLeaseHeld while the lease runs, carrying the
        record; CallbackAlreadyFinished when the callback finished meanwhile
        (docs/aws-behaviour.md#lambda-timeout)."""
        values = {
            ":lease": lease_until,
            ":now": now_epoch,
            ":delivered_by": delivered_by,
        }
        try:
            return self._update(
                approval_id,
                "SET delivery_lease_until = :lease, delivered_by = :delivered_by",
                values,
                require_callback=CallbackStatus.SENDING,
                condition="(attribute_not_exists(delivery_lease_until) OR "
                "delivery_lease_until < :now)",
            )
        except CallbackAlreadyFinished as refused:
            if refused.record.callback is CallbackStatus.SENDING:
                raise DeliveryLeaseHeld(refused.record) from None
            raise

    def release_delivery(self, approval_id: str, lease_until: int) -> None:
        """Gives a lease back early (the holder failed with an error it raises): the next
        attempt takes the callback over at once. Only the holder's own lease (another may
        have taken over since); a release that finds nothing to release is harmless."""
        with contextlib.suppress(CallbackAlreadyFinished, LookupError):
            self._update(
                approval_id,
                "REMOVE delivery_lease_until",
                {":lease": lease_until},
                require_callback=CallbackStatus.SENDING,
                condition="delivery_lease_until = :lease",
            )

    def finish_callback(
        self, approval_id: str, callback: CallbackStatus, now: str, error: str | None = None
    ) -> ApprovalRecord:
        """SENDING -> DELIVERED or REFUSED, once: raises CallbackAlreadyFinished when another
        attempt finished it first (its result stands)."""
        expression = "SET callback = :callback, updated_at = :now"
        values = {":callback": callback.value, ":now": now}
        if error:
            expression += ", callback_error = :error"
            values[":error"] = error
        expression += f" REMOVE {AWAITING_ATTRIBUTE}, delivery_lease_until"
        return self._update(
            approval_id, expression, values, require_callback=CallbackStatus.SENDING
        )

    def _update(
        self,
        approval_id: str,
        expression: str,
        values: Mapping[str, object],
        require_status: ApprovalStatus | None = None,
        require_callback: CallbackStatus | None = None,
        condition: str | None = None,
    ) -> ApprovalRecord:
        """`condition`: one more condition the record must meet (its failure raises as the
        required status's does)."""
        names = {"#pk": KEY_ATTRIBUTE}
        required = "attribute_exists(#pk)"
        if condition:
            required += f" AND {condition}"
        if "#status" in expression or require_status:
            names["#status"] = "status"
        if require_status:
            required += " AND #status = :required"
            values = {**values, ":required": require_status.value}
        if require_callback:
            required += " AND callback = :required_callback"
            values = {**values, ":required_callback": require_callback.value}
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=record_key(approval_id),
                UpdateExpression=expression,
                ConditionExpression=required,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={k: _serializer.serialize(v) for k, v in values.items()},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            # ReturnValuesOnConditionCheckFailure puts the item in the error response, which
            # botocore types with the errors' common fields only.
            old = cast("Item | None", error.response.get("Item"))
            if require_status and old:
                raise RecordNotPending(ApprovalRecord.from_item(old)) from None
            if require_callback and old:
                raise CallbackAlreadyFinished(ApprovalRecord.from_item(old)) from None
            raise LookupError(f"no approval record for approval id {approval_id}") from None
        return ApprovalRecord.from_item(response["Attributes"])


def is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
