"""The Step Functions operations the sandbox adds or corrects (the Terraform provider and
the gate's failures depend on them)."""

import json

import boto3
import pytest
from moto import mock_aws

import sandbox

VALID = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}


@pytest.fixture
def sfn():
    with mock_aws():
        sandbox.install()
        yield boto3.client("stepfunctions", region_name="us-east-1")


def test_a_valid_definition_validates_ok(sfn):
    result = sfn.validate_state_machine_definition(definition=json.dumps(VALID))
    assert (result["result"], result["diagnostics"]) == ("OK", [])


def test_an_invalid_definition_fails_with_a_diagnostic(sfn):
    broken = {"StartAt": "Missing", "States": {"Done": {"Type": "NoSuchType"}}}
    result = sfn.validate_state_machine_definition(definition=json.dumps(broken))
    assert result["result"] == "FAIL"
    assert result["diagnostics"][0]["severity"] == "ERROR"
    assert result["diagnostics"][0]["message"]


def test_published_versions_are_listed_newest_first(sfn):
    arn = sfn.create_state_machine(
        name="m",
        definition=json.dumps(VALID),
        roleArn="arn:aws:iam::123456789012:role/r",
        publish=True,
    )["stateMachineArn"]
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(VALID), publish=True)
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [f"{arn}:2", f"{arn}:1"]
