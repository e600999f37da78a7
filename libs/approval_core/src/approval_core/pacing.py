"""SSM's API rates, shared by every instance of every function of a deployment.

SSM throttles each action per account and Region (StartAutomationExecution about once a
second; docs/aws-behaviour.md#ssm-api-rate-quotas). Backing off after a ThrottlingException
leaves the quota idle while many workflows wait, and retries at once when they come back.
So every attempt of a paced SSM call first reserves a slot on one item of the records table
(key `pacer#<action>`), the generic cell rate algorithm: the item holds the time of the
next free slot; a caller takes it (the item moves one interval on, conditionally) and
sleeps until its slot. Slots are handed out in order, so callers that share an action (the
event path and the sweep both read automations) share its rate without starving each
other, and a burst runs at the configured rate, not below it.

A caller whose slot would be more than `max_wait_seconds` away takes none and gets
SsmRateExceeded: its caller retries later (the workflow's Retry, Lambda's redelivery).

The hook is botocore's `before-send` event, which fires for every HTTP attempt, botocore's
own retries included: a retry after a throttle waits for a slot of its own instead of
taking the next caller's. The DynamoDB call shows in the trace inside the SSM call's
subsegment, with the wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from botocore.exceptions import ClientError

from approval_core.environment import ConfigurationError, Environment
from approval_core.records import KEY_ATTRIBUTE, is_condition_failure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ssm import SSMClient

PACER_KEY_PREFIX = "pacer#"
_NEXT_SLOT = "next_slot_ms"
# A reservation loses a race at most to the callers that took the slots meanwhile.
_RESERVE_ATTEMPTS = 5
RATES_VARIABLE = "SSM_API_RATES"
MAX_WAIT_VARIABLE = "SSM_PACING_MAX_WAIT_SECONDS"
_HOOK_ID = "approval-gate-ssm-pacer"


class SsmRateExceeded(Exception):
    """Every slot of the action within the caller's wait is taken: try again later."""

    def __init__(self, action: str, retry_after_seconds: float):
        self.action = action
        self.retry_after_seconds = retry_after_seconds
        super().__init__(
            f"{action}: the deployment's share of SSM's rate is taken for the next "
            f"{retry_after_seconds:.1f} s beyond this call's wait: retry later"
        )


class PacingSettings(NamedTuple):
    """Calls per second per action (actions not listed are not paced), and how long one
    call may wait for its slot."""

    rates: Mapping[str, float]
    max_wait_seconds: float

    @classmethod
    def none(cls) -> PacingSettings:
        return cls({}, 0)

    @classmethod
    def from_environment(cls, environment: Environment) -> PacingSettings:
        rates: dict[str, float] = {}
        for entry in environment.comma_separated(RATES_VARIABLE):
            action, _, rate = entry.partition("=")
            try:
                rates[action.strip()] = float(rate)
            except ValueError:
                rates[action.strip()] = 0.0
            if not action.strip() or rates[action.strip()] <= 0:
                raise ConfigurationError(
                    f"{RATES_VARIABLE} (function environment) holds {entry!r}: write "
                    "`Action=calls per second` pairs, comma separated, each rate above 0 "
                    "(e.g. StartAutomationExecution=0.95)."
                )
        return cls(rates, environment.seconds(MAX_WAIT_VARIABLE, 0))


class SsmCallPacer:
    """Paces the SSM actions of `settings.rates` on one client (install)."""

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        table_name: str,
        settings: PacingSettings,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._dynamodb = dynamodb
        self._table = table_name
        self._settings = settings
        self._clock = clock
        self._sleep = sleep

    def install(self, ssm: SSMClient) -> None:
        """Every later attempt of a paced action on `ssm` waits for its slot first. Installing
        again replaces the pacer installed before (a function's settings read anew)."""
        ssm.meta.events.unregister("before-send.ssm", unique_id=_HOOK_ID)
        ssm.meta.events.register("before-send.ssm", self._before_send, unique_id=_HOOK_ID)

    def _before_send(self, *, request: Any, event_name: str, **_: Any) -> None:
        action = event_name.rsplit(".", 1)[-1]
        if action in self._settings.rates:
            self.wait_for_slot(action)

    def wait_for_slot(self, action: str) -> float:
        """Reserves the action's next free slot and sleeps until it: the seconds slept.
        SsmRateExceeded when that slot is further away than the settings' wait."""
        interval_ms = max(1, round(1000 / self._settings.rates[action]))
        max_wait_ms = round(self._settings.max_wait_seconds * 1000)
        for _ in range(_RESERVE_ATTEMPTS):
            # Idle first: outside a burst that is one write; in a burst, two.
            now_ms = round(self._clock() * 1000)
            slot_ms = self._take_idle(action, now_ms, interval_ms)
            if slot_ms is None:
                slot_ms = self._take_next(action, now_ms, max_wait_ms, interval_ms)
            if slot_ms is not None:
                waited = max(0, slot_ms - now_ms) / 1000
                if waited:
                    self._sleep(waited)
                return waited
        raise SsmRateExceeded(action, interval_ms / 1000)

    def _take_next(
        self, action: str, now_ms: int, max_wait_ms: int, interval_ms: int
    ) -> int | None:
        """The next slot, when it is from now to the wait's end (its time); None when the
        action went idle meanwhile; SsmRateExceeded when the slot is too far."""
        try:
            response = self._dynamodb.update_item(
                TableName=self._table,
                Key={KEY_ATTRIBUTE: {"S": PACER_KEY_PREFIX + action}},
                UpdateExpression="SET #next = #next + :interval",
                ConditionExpression="#next BETWEEN :now AND :latest",
                ExpressionAttributeNames={"#next": _NEXT_SLOT},
                ExpressionAttributeValues={
                    ":interval": {"N": str(interval_ms)},
                    ":now": {"N": str(now_ms)},
                    ":latest": {"N": str(now_ms + max_wait_ms)},
                },
                ReturnValues="UPDATED_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            old = cast("dict[str, Any] | None", error.response.get("Item"))
            next_ms = int(old[_NEXT_SLOT]["N"]) if old and _NEXT_SLOT in old else None
            if next_ms is not None and next_ms > now_ms + max_wait_ms:
                raise SsmRateExceeded(action, (next_ms - now_ms - max_wait_ms) / 1000) from None
            return None
        return int(response["Attributes"][_NEXT_SLOT]["N"])

    def _take_idle(self, action: str, now_ms: int, interval_ms: int) -> int | None:
        """Now, when no slot is reserved ahead (the item is behind the clock, or new); None
        when another caller took it first."""
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={KEY_ATTRIBUTE: {"S": PACER_KEY_PREFIX + action}},
                UpdateExpression="SET #next = :after",
                ConditionExpression="attribute_not_exists(#next) OR #next < :now",
                ExpressionAttributeNames={"#next": _NEXT_SLOT},
                ExpressionAttributeValues={
                    ":after": {"N": str(now_ms + interval_ms)},
                    ":now": {"N": str(now_ms)},
                },
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            return None
        return now_ms
