"""SSM's API request rates in the local AWS (sandbox/ssm/rate_quotas.py): a call over its
action's rate is throttled as SSM throttles it, per action, account and Region; the buckets
fill on the real clock; the rates are settings (docs/aws-behaviour.md#ssm-api-rate-quotas).
Clients here never retry (tests/support/sandbox_clients.py), so each throttle shows."""

from __future__ import annotations

import json
import time
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

import sandbox
from sandbox.core.settings import limits
from sandbox.ssm.rate_quotas import RATE_SETTINGS
from tests.support.sandbox_clients import NO_RETRIES

settings = sandbox.settings
# A high rate keeps the refill tests short: a token every 50 ms.
FAST_TPS = 20
MISSING_ID = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(autouse=True)
def at_aws_rates(request: pytest.FixtureRequest) -> None:
    """The default rates, after whichever world fixture the test uses has set its own."""
    for name in ("aws", "server_aws"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
    for limit in limits():
        if limit.name in RATE_SETTINGS.values():
            setattr(settings, limit.name, limit.default)


def throttled(call, *args, **kwargs) -> bool:
    try:
        call(*args, **kwargs)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ThrottlingException":
            return True
        raise
    return False


def test_the_rates_default_to_the_figures_the_gate_is_designed_for():
    assert {name: getattr(settings, name) for name in RATE_SETTINGS.values()} == {
        "start_automation_execution_tps": 1,
        "stop_automation_execution_tps": 1,
        "get_automation_execution_tps": 3,
        "describe_automation_step_executions_tps": 3,
        "describe_automation_executions_tps": 3,
        "send_automation_signal_tps": 3,
    }
    rates = [limit for limit in limits() if limit.name in RATE_SETTINGS.values()]
    assert {limit.anchor for limit in rates} == {"ssm-api-rate-quotas"}


def test_a_start_over_the_rate_fails_as_ssm_throttles(aws, alice):
    aws.start([alice.arn])
    with pytest.raises(ClientError) as raised:
        aws.start([alice.arn])
    response = raised.value.response
    assert response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Only the first start ran.
    assert len(aws.ssm.describe_automation_executions()["AutomationExecutionMetadataList"]) == 1


def test_a_burst_of_reads_gets_the_rate_then_throttles(aws):
    answers = [throttled(aws.ssm.describe_automation_executions) for _ in range(5)]
    assert answers == [False, False, False, True, True]


def test_under_the_burst_variant_a_quiet_bucket_holds_ten_seconds_of_calls(aws):
    """ssm_rate_burst_seconds = 10, the kinder reading of what AWS leaves open."""
    settings.ssm_rate_burst_seconds = 10
    answers = [throttled(aws.ssm.describe_automation_executions) for _ in range(31)]
    assert answers == [False] * 30 + [True]


def test_the_bucket_refills_with_real_time(aws):
    settings.describe_automation_executions_tps = FAST_TPS
    assert not any(throttled(aws.ssm.describe_automation_executions) for _ in range(FAST_TPS))
    assert throttled(aws.ssm.describe_automation_executions)
    time.sleep(3 / FAST_TPS)
    assert not throttled(aws.ssm.describe_automation_executions)


def test_the_sandbox_clock_does_not_refill_a_bucket(aws):
    for _ in range(3):
        aws.ssm.describe_automation_executions()
    sandbox.clock.advance(3600)
    assert throttled(aws.ssm.describe_automation_executions)


def test_each_action_has_its_own_bucket(aws, alice):
    execution_id = aws.start([alice.arn])
    assert throttled(aws.start, [alice.arn])
    assert not throttled(aws.ssm.get_automation_execution, AutomationExecutionId=execution_id)
    assert not throttled(aws.ssm.describe_automation_executions)
    assert not throttled(
        aws.ssm.describe_automation_step_executions, AutomationExecutionId=execution_id
    )
    assert not throttled(aws.ssm.stop_automation_execution, AutomationExecutionId=execution_id)


def test_a_call_refused_for_its_input_counts(aws):
    for _ in range(3):
        with pytest.raises(ClientError) as raised:
            aws.ssm.get_automation_execution(AutomationExecutionId=MISSING_ID)
        assert raised.value.response["Error"]["Code"] == "AutomationExecutionNotFoundException"
    assert throttled(aws.ssm.get_automation_execution, AutomationExecutionId=MISSING_ID)


def test_each_region_and_account_has_its_own_buckets(aws):
    for _ in range(3):
        aws.ssm.describe_automation_executions()
    assert throttled(aws.ssm.describe_automation_executions)

    other_region = boto3.client("ssm", region_name="eu-west-1", config=NO_RETRIES)
    assert not throttled(other_region.describe_automation_executions)

    credentials = aws.sts.assume_role(
        RoleArn="arn:aws:iam::111122223333:role/other-account", RoleSessionName="rates"
    )["Credentials"]
    other_account = aws.client(
        "ssm",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    assert not throttled(other_account.describe_automation_executions)


def test_a_rate_raised_or_turned_off_in_the_settings(aws, alice):
    settings.start_automation_execution_tps = FAST_TPS
    execution_ids = [aws.start([alice.arn]) for _ in range(5)]
    assert len(set(execution_ids)) == 5
    settings.get_automation_execution_tps = None
    assert not any(
        throttled(aws.ssm.get_automation_execution, AutomationExecutionId=execution_ids[0])
        for _ in range(2 * FAST_TPS)
    )


@pytest.mark.parametrize("value", [0, 1.5, "3", True])
def test_a_rate_must_be_a_whole_number_of_calls_per_second_or_null(value):
    with pytest.raises(ValueError, match="start_automation_execution_tps"):
        settings.start_automation_execution_tps = value
    assert settings.start_automation_execution_tps == 1


def test_reset_fills_every_bucket_and_restores_the_rates(aws):
    settings.get_automation_execution_tps = 5
    for _ in range(3):
        aws.ssm.describe_automation_executions()
    assert throttled(aws.ssm.describe_automation_executions)
    sandbox.reset()
    assert settings.get_automation_execution_tps == 3
    assert not throttled(aws.ssm.describe_automation_executions)


def test_a_rate_set_over_http(server_aws):
    endpoint = server_aws.endpoint_url
    for _ in range(3):
        server_aws.ssm.describe_automation_executions()
    assert throttled(server_aws.ssm.describe_automation_executions)

    request = urllib.request.Request(
        endpoint + "/moto-api/sandbox/settings",
        data=json.dumps({"sandbox": {"describe_automation_executions_tps": None}}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        assert json.loads(response.read())["sandbox"]["describe_automation_executions_tps"] is None
    assert not any(throttled(server_aws.ssm.describe_automation_executions) for _ in range(10))
