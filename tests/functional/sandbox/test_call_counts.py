"""The local AWS counts every call by caller, service and action (``sandbox.core.call_counts``,
``/moto-api/sandbox/calls``): requests it receives and calls services make on their own."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

import sandbox
from sandbox import iam
from sandbox.core import call_counts
from tests.support.sandbox_account import SandboxAccount

REGION = "us-east-1"
ACCOUNT = "123456789012"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:user/local-admin"


def counted(listed: list[dict]) -> dict[tuple, int]:
    return {
        tuple(value for name, value in entry.items() if name != "count"): entry["count"]
        for entry in listed
    }


def test_ssm_publishing_the_approval_request_counts_as_the_automation_role(
    aws: SandboxAccount,
):
    role = aws.role("automation")
    call_counts.clear()
    aws.start([f"arn:aws:iam::{ACCOUNT}:user/alice"], assume_role=role)
    assert {
        (entry["caller"], entry["service"], entry["action"]): entry["count"]
        for entry in call_counts.calls()
        if entry["caller"] == role
    } == {(role, "sns", "Publish"): 1}


def test_calls_services_make_count_as_who_they_act_as_and_log_lines_do_not(aws):
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:receive"
    function_role = f"arn:aws:iam::{ACCOUNT}:role/receive-role"
    call_counts.clear()
    # EventBridge invoking a function (sandbox.events.targets), as the service principal.
    iam.authorize(
        iam.service_caller("events.amazonaws.com", ACCOUNT),
        "lambda:InvokeFunction",
        function,
        region=REGION,
    )
    # Lambda writing the function's log: CloudWatch Logs bills bytes, not calls.
    iam.authorize(
        iam.role_session(function_role, "receive"),
        "logs:PutLogEvents",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/receive:log-stream:s",
        region=REGION,
    )
    assert call_counts.calls() == [
        {"caller": "events.amazonaws.com", "service": "lambda", "action": "Invoke", "count": 1}
    ]
    sandbox.reset()
    assert call_counts.calls() == []


# --- through the local AWS's endpoint (IAM enforced) --------------------------------------


@pytest.fixture(scope="module")
def local_aws():
    from sandbox.server import LocalAws

    with LocalAws(port=0, expire_interval=None) as aws:
        yield aws


def test_requests_are_counted_by_caller_service_and_action_refused_ones_too(local_aws):
    dynamodb = local_aws.client("dynamodb")
    dynamodb.create_table(
        TableName="records",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    admin_iam = local_aws.client("iam")
    role = admin_iam.create_role(
        RoleName="reader",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    admin_iam.put_role_policy(
        RoleName="reader",
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}],
            }
        ),
    )
    session = local_aws.client("sts").assume_role(RoleArn=role, RoleSessionName="reading")
    keys = session["Credentials"]
    as_role = boto3.client(
        "dynamodb",
        endpoint_url=local_aws.endpoint,
        region_name=REGION,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )
    assert local_aws.api("/moto-api/sandbox/calls", method="DELETE") == {"calls": []}

    dynamodb.put_item(TableName="records", Item={"pk": {"S": "a"}})
    dynamodb.get_item(TableName="records", Key={"pk": {"S": "a"}})
    as_role.get_item(TableName="records", Key={"pk": {"S": "a"}}, ConsistentRead=True)
    as_role.get_item(TableName="records", Key={"pk": {"S": "a"}}, ConsistentRead=True)
    with pytest.raises(ClientError):
        as_role.put_item(TableName="records", Item={"pk": {"S": "b"}})
    local_aws.client("ssm").describe_automation_executions()

    listed = local_aws.api("/moto-api/sandbox/calls", method="GET")["calls"]
    assert counted(listed) == {
        # A role session's calls count under its role, whatever the session.
        (role, "dynamodb", "GetItem", "records", True): 2,
        (role, "dynamodb", "PutItem", "records", False): 1,  # refused, counted
        (DEPLOYER, "dynamodb", "GetItem", "records", False): 1,
        (DEPLOYER, "dynamodb", "PutItem", "records", False): 1,
        (DEPLOYER, "ssm", "DescribeAutomationExecutions"): 1,
    }
    assert local_aws.api("/moto-api/sandbox/calls", method="DELETE") == {"calls": []}
    assert local_aws.api("/moto-api/sandbox/calls", method="GET") == {"calls": []}
