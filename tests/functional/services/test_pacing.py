"""approval_core.pacing on moto's DynamoDB (atomic item writes, as DynamoDB's): slots of SSM's
rate handed out in order, once each, across concurrent callers; a slot beyond the wait
refused without being taken; and an SSM client whose calls, botocore's retries included,
each wait for a slot of their own (docs/aws-behaviour.md#ssm-api-rate-quotas)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid

import boto3
import pytest
from moto import mock_aws

import sandbox
from approval_core.environment import ConfigurationError, Environment
from approval_core.pacing import PacingSettings, SsmCallPacer, SsmRateExceeded
from sandbox.core import call_counts, faults
from sandbox.ssm import rate_quotas
from tests.support.approval_document import render_document
from tests.support.aws_env import DOCUMENT_NAME, TABLE_NAME
from tests.support.records_table import create_records_table

START = "StartAutomationExecution"
T0 = 1_800_000_000.0


class FrozenClock:
    """The pacer's clock and sleep: sleeping records the wait and moves no time, so every
    caller asks at the same instant (the hardest case for the slots)."""

    def __init__(self) -> None:
        self.now = T0
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)


@pytest.fixture
def dynamodb():
    with mock_aws():
        sandbox.install()
        sandbox.reset()
        client = boto3.client("dynamodb")
        create_records_table(client)
        yield client
        sandbox.reset()


def pacer(dynamodb, clock: FrozenClock, rate: float = 2, max_wait: float = 10) -> SsmCallPacer:
    return SsmCallPacer(
        dynamodb, TABLE_NAME, PacingSettings({START: rate}, max_wait), clock, clock.sleep
    )


def test_callers_at_one_instant_get_consecutive_slots_at_the_rate(dynamodb):
    clock = FrozenClock()
    paced = pacer(dynamodb, clock, rate=2)
    assert [paced.wait_for_slot(START) for _ in range(5)] == [0, 0.5, 1.0, 1.5, 2.0]
    assert clock.waits == [0.5, 1.0, 1.5, 2.0]  # the first slot is now: no sleep


def test_an_action_idle_since_its_last_slot_starts_at_once(dynamodb):
    clock = FrozenClock()
    paced = pacer(dynamodb, clock, rate=2)
    paced.wait_for_slot(START)
    paced.wait_for_slot(START)  # reserved up to T0 + 1
    clock.now = T0 + 5
    assert paced.wait_for_slot(START) == 0
    assert paced.wait_for_slot(START) == 0.5  # the next one follows the idle start


def test_a_slot_beyond_the_wait_is_refused_and_left_for_a_later_caller(dynamodb):
    clock = FrozenClock()
    paced = pacer(dynamodb, clock, rate=1, max_wait=2)
    assert [paced.wait_for_slot(START) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(SsmRateExceeded) as refused:
        paced.wait_for_slot(START)
    assert refused.value.action == START
    assert refused.value.retry_after_seconds == pytest.approx(1)
    clock.now = T0 + 1
    # The refusal took no slot: the next free one is still T0 + 3.
    assert paced.wait_for_slot(START) == 2


def test_actions_are_paced_apart(dynamodb):
    clock = FrozenClock()
    settings = PacingSettings({START: 1, "GetAutomationExecution": 3}, 10)
    paced = SsmCallPacer(dynamodb, TABLE_NAME, settings, clock, clock.sleep)
    assert paced.wait_for_slot(START) == 0
    assert paced.wait_for_slot("GetAutomationExecution") == 0
    assert paced.wait_for_slot("GetAutomationExecution") == pytest.approx(0.333)
    assert paced.wait_for_slot(START) == 1


def test_concurrent_callers_each_get_a_slot_of_their_own(dynamodb):
    clock = FrozenClock()
    paced = pacer(dynamodb, clock, rate=4, max_wait=100)
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        waited = paced.wait_for_slot(START)
        with lock:
            waits.append(waited)

    threads = [threading.Thread(target=take) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == [n * 0.25 for n in range(24)]


@pytest.mark.parametrize(
    ("value", "rates"),
    [
        (
            "StartAutomationExecution=0.95, GetAutomationExecution=2.85",
            {START: 0.95, "GetAutomationExecution": 2.85},
        ),
        ("", {}),
    ],
)
def test_settings_read_from_the_environment(value, rates):
    environment = Environment({"SSM_API_RATES": value, "SSM_PACING_MAX_WAIT_SECONDS": "105"})
    settings = PacingSettings.from_environment(environment)
    assert dict(settings.rates) == rates
    assert settings.max_wait_seconds == 105


@pytest.mark.parametrize(
    "value", ["StartAutomationExecution", "StartAutomationExecution=fast", "=1", "Get=0"]
)
def test_a_bad_rate_names_the_variable_and_the_fix(value):
    with pytest.raises(ConfigurationError, match=r"SSM_API_RATES .*Action=calls per second"):
        PacingSettings.from_environment(Environment({"SSM_API_RATES": value}))


# --- an SSM client of the local AWS, at SSM's rate -----------------------------------------


@pytest.fixture
def ssm_at_one_per_second(dynamodb):
    """SSM at 1 StartAutomationExecution per second (the local AWS's default), a client
    with botocore's standard retries, as the functions have."""
    ssm = boto3.client("ssm")
    ssm.create_document(
        Name=DOCUMENT_NAME,
        Content=render_document(),
        DocumentType="Automation",
        DocumentFormat="YAML",
    )
    sandbox.settings.start_automation_execution_tps = 1
    return ssm


def start(ssm) -> None:
    ssm.start_automation_execution(
        DocumentName=DOCUMENT_NAME,
        Parameters={
            "ApprovalId": [str(uuid.uuid4())],
            "Approvers": ["arn:aws:iam::123456789012:user/alice"],
            "MinRequiredApprovals": ["1"],
            "NotificationArn": ["arn:aws:sns:us-east-1:123456789012:AutomationApprovalGate"],
            "Message": ["Ship it?"],
        },
    )


def test_without_pacing_back_to_back_starts_are_throttled(ssm_at_one_per_second):
    """The control case: the same calls, no pacer, throttled by SSM."""
    ssm = ssm_at_one_per_second
    for _ in range(3):
        with contextlib.suppress(ssm.exceptions.ClientError):
            start(ssm)
    assert rate_quotas.throttled().get(START, 0) >= 1


def test_paced_starts_are_not_throttled(dynamodb, ssm_at_one_per_second):
    ssm = ssm_at_one_per_second
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    settings = PacingSettings({START: 0.9}, 30)
    SsmCallPacer(dynamodb, TABLE_NAME, settings, sleep=sleep).install(ssm)
    for _ in range(4):
        start(ssm)
    assert rate_quotas.throttled().get(START, 0) == 0
    assert len(waits) >= 3  # every call after the first waited for its slot
    # Other actions are not paced.
    ssm.describe_automation_executions()
    assert len(waits) >= 3


def test_a_retry_after_a_throttle_waits_for_a_slot_of_its_own(dynamodb, ssm_at_one_per_second):
    """SSM throttles the first attempt (the account's other automations took the second):
    botocore retries, and the retry reserves the next slot instead of taking the next
    caller's."""
    ssm = ssm_at_one_per_second
    sandbox.settings.start_automation_execution_tps = None
    faults.inject("ssm", START, "ThrottlingException", times=1)
    clock = FrozenClock()
    clock.now = time.time()
    paced = pacer(dynamodb, clock, rate=1, max_wait=30)
    paced.install(ssm)
    start(ssm)
    assert clock.waits == [1.0]  # the retry's slot, one interval after the first
    assert paced.wait_for_slot(START) == 2.0  # and the next caller's is after it


def test_installing_again_replaces_the_pacer(dynamodb, ssm_at_one_per_second):
    ssm = ssm_at_one_per_second
    sandbox.settings.start_automation_execution_tps = None
    first, second = FrozenClock(), FrozenClock()
    slow = PacingSettings({START: 0.001}, 1)  # one slot per 1,000 s
    SsmCallPacer(dynamodb, TABLE_NAME, slow, first, first.sleep).install(ssm)
    SsmCallPacer(dynamodb, TABLE_NAME, PacingSettings.none(), second, second.sleep).install(ssm)
    start(ssm)
    start(ssm)  # the first pacer would have refused this one


def test_a_slot_costs_one_write_when_idle_and_two_in_a_burst(dynamodb):
    def writes() -> int:
        return sum(
            call["count"]
            for call in call_counts.calls()
            if call["service"] == "dynamodb" and call["action"] == "UpdateItem"
        )

    clock = FrozenClock()
    paced = pacer(dynamodb, clock, rate=1)
    before = writes()
    paced.wait_for_slot(START)  # idle
    assert writes() - before == 1
    paced.wait_for_slot(START)  # the next slot, one second ahead: a burst
    assert writes() - before == 3
