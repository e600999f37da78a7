"""SSM's API request rates: one token bucket per account, Region and Automation action.

AWS throttles each SSM API per account and Region; a call over the rate fails with HTTP 400
``ThrottlingException`` "Rate exceeded" (docs/aws-behaviour.md#ssm-api-rate-quotas). Each
action's rate is a Limit (``LIMITS``, in calls per second; None: no limit), and its bucket
holds ``ssm_rate_burst_seconds`` seconds' calls: AWS documents no burst, so the variant's
default is one second's (the strictest), and 10 the kinder reading. Buckets fill on the real
(monotonic) clock: ``sandbox.clock.advance`` moves automation timeouts, not API rates.

A call is counted once it reaches the operation, as the response methods call ``take`` first:
calls refused for bad input count, IAM-denied ones (refused before the operation) do not.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

from moto.core.exceptions import ServiceException

from sandbox.core.settings import Limit, settings

ANCHOR = "ssm-api-rate-quotas"
# The Automation actions the gate calls -> the setting holding their rate.
RATE_SETTINGS = {
    "StartAutomationExecution": "start_automation_execution_tps",
    "StopAutomationExecution": "stop_automation_execution_tps",
    "GetAutomationExecution": "get_automation_execution_tps",
    "DescribeAutomationStepExecutions": "describe_automation_step_executions_tps",
    "DescribeAutomationExecutions": "describe_automation_executions_tps",
    "SendAutomationSignal": "send_automation_signal_tps",
}
_DEFAULT_RATES = {
    "StartAutomationExecution": 1,
    "StopAutomationExecution": 1,
    "GetAutomationExecution": 3,
    "DescribeAutomationStepExecutions": 3,
    # No figure known: the other Automation reads' rate (docs/aws-behaviour.md, same entry).
    "DescribeAutomationExecutions": 3,
    "SendAutomationSignal": 3,
}

LIMITS: tuple[Limit, ...] = tuple(
    Limit(
        setting,
        _DEFAULT_RATES[action],
        1,
        ANCHOR,
        f"{action} calls per second per account and Region; past it ThrottlingException "
        "(null: no limit)",
        none_allowed=True,
    )
    for action, setting in RATE_SETTINGS.items()
)


class ThrottlingException(ServiceException):
    """SSM's answer to a call over its action's rate (botocore's ``ssm`` shape of that name)."""

    code = "ThrottlingException"

    def __init__(self) -> None:
        super().__init__(self.code, "Rate exceeded")


@dataclass
class _Bucket:
    tokens: float
    filled_at: float


_buckets: dict[tuple[str, str, str], _Bucket] = {}
_throttled: Counter[str] = Counter()  # refused calls by action, every account and Region
_lock = threading.Lock()


def take(account_id: str, region: str, action: str) -> None:
    """Count one call of ``action``; ThrottlingException when its bucket is empty."""
    rate = getattr(settings, RATE_SETTINGS[action])
    if rate is None:
        return
    now = time.monotonic()
    with _lock:
        bucket = _buckets.setdefault(
            (account_id, region, action), _Bucket(rate * settings.ssm_rate_burst_seconds, now)
        )
        # A rate or a burst lowered since the last call shrinks the bucket at once.
        capacity = rate * settings.ssm_rate_burst_seconds
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.filled_at) * rate)
        bucket.filled_at = now
        if bucket.tokens < 1:
            _throttled[action] += 1
            raise ThrottlingException()
        bucket.tokens -= 1


def throttled() -> dict[str, int]:
    """How many calls of each action were refused with ThrottlingException."""
    with _lock:
        return dict(_throttled)


def reset() -> None:
    """Every bucket full again (created anew at its next call); no call refused yet."""
    with _lock:
        _buckets.clear()
        _throttled.clear()
