"""IAM in the local AWS: the policy grammar, AWS's evaluation logic, the resource ARNs of a
request, and refusals through the server in AWS's error shapes."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.iam.authorizer import decide
from sandbox.iam.condition_keys import condition_keys
from sandbox.iam.definitions import canonical_action, resource_types
from sandbox.iam.policies import Caller, Effect, UnsupportedCondition, conditions_hold, evaluate
from sandbox.iam.resources import resources_of

ACCOUNT = "123456789012"
REGION = "us-east-1"
ALICE = Caller(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, "user")
EVENTS = Caller("events.amazonaws.com", ACCOUNT, "service")
RULE = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/result"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


# --- one policy's verdict -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "applies"),
    [
        ("ssm:StartAutomationExecution", "ssm:StartAutomationExecution", True),
        ("ssm:startautomationexecution", "ssm:StartAutomationExecution", True),  # case
        ("ssm:*Automation*", "ssm:StartAutomationExecution", True),
        ("ssm:Get?utomationExecution", "ssm:GetAutomationExecution", True),
        ("ssm:Get*", "ssm:StartAutomationExecution", False),
        ("sns:*", "ssm:GetAutomationExecution", False),
    ],
)
def test_actions_match_with_wildcards_and_without_case(pattern, action, applies):
    verdict = evaluate(policy(allow(pattern)), action, "*", {})
    assert (verdict.effect is Effect.ALLOW) is applies


def test_a_resource_is_matched_case_sensitively_and_only_by_wildcard():
    document = policy(allow("ssm:GetAutomationExecution", "arn:aws:ssm:*:*:automation-execution/*"))
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-execution/abc"
    assert evaluate(document, "ssm:GetAutomationExecution", arn, {}).effect is Effect.ALLOW
    other = f"arn:aws:ssm:{REGION}:{ACCOUNT}:Automation-Execution/abc"
    assert evaluate(document, "ssm:GetAutomationExecution", other, {}).effect is Effect.NONE


def test_not_action_and_not_resource_invert_the_match():
    document = policy(
        {"Effect": "Deny", "NotAction": "ssm:Get*", "NotResource": "arn:aws:ssm:*:*:document/x"}
    )
    assert evaluate(document, "ssm:GetDocument", "*", {}).effect is Effect.NONE
    assert evaluate(document, "ssm:DeleteDocument", "arn:aws:ssm:r:1:document/x", {}).effect is (
        Effect.NONE
    )
    assert evaluate(document, "ssm:DeleteDocument", "arn:aws:ssm:r:1:document/y", {}).effect is (
        Effect.DENY
    )


def test_an_allow_whose_condition_fails_does_not_apply_rather_than_deny():
    """moto turns it into a Deny; AWS skips the statement, so another may still allow."""
    document = policy(
        allow(
            "iam:PassRole", Condition={"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}}
        ),
        allow(
            "iam:PassRole",
            Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        ),
    )
    context = {"iam:passedtoservice": ["lambda.amazonaws.com"]}
    assert evaluate(document, "iam:PassRole", "*", context).effect is Effect.ALLOW
    assert evaluate(document, "iam:PassRole", "*", {"iam:passedtoservice": ["x"]}).effect is (
        Effect.NONE
    )


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        (
            {"ArnLike": {"aws:SourceArn": f"arn:aws:events:*:{ACCOUNT}:rule/*"}},
            {"aws:sourcearn": [RULE]},
            True,
        ),
        ({"ArnEquals": {"aws:SourceArn": RULE}}, {"aws:sourcearn": [RULE + "x"]}, False),
        ({"ArnLike": {"aws:SourceArn": RULE}}, {}, False),  # a missing key fails
        ({"ArnLikeIfExists": {"aws:SourceArn": RULE}}, {}, True),
        ({"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}, {}, True),
        ({"StringEquals": {"AWS:SourceAccount": ACCOUNT}}, {"aws:sourceaccount": [ACCOUNT]}, True),
        ({"StringLike": {"aws:username": "al*"}}, {"aws:username": ["alice"]}, True),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:securetransport": ["true"]}, False),
        ({"Bool": {"aws:SecureTransport": False}}, {"aws:securetransport": ["false"]}, True),
        ({"Null": {"aws:SourceArn": "true"}}, {}, True),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": ["5"]}, True),
        ({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, {"aws:sourceip": ["127.0.0.1"]}, True),
        (
            {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
            {"aws:tagkeys": ["a", "c"]},
            False,
        ),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {"aws:tagkeys": ["c", "a"]}, True),
    ],
)
def test_condition_operators(condition, context, holds):
    verdict = evaluate(
        policy(allow("sqs:SendMessage", Condition=condition)), "sqs:SendMessage", "*", context
    )
    assert (verdict.effect is Effect.ALLOW) is holds


def test_an_operator_the_local_aws_cannot_read_is_refused_not_ignored():
    document = policy(allow("sqs:SendMessage", Condition={"BinaryEquals": {"k": "AA=="}}))
    with pytest.raises(UnsupportedCondition, match="BinaryEquals"):
        evaluate(document, "sqs:SendMessage", "*", {"k": ["AA=="]})


def test_policy_variables_are_substituted_from_the_request():
    document = policy(allow("iam:GetUser", "arn:aws:iam::*:user/${aws:username}"))
    context = {"aws:username": ["alice"]}
    assert (
        evaluate(document, "iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/alice", context).effect
        is Effect.ALLOW
    )
    assert (
        evaluate(document, "iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/bob", context).effect
        is Effect.NONE
    )


# --- the Service Authorization data and the request's resources ------------------------------


def test_start_automation_execution_requires_the_execution_and_the_document():
    required = [
        item.name for item in resource_types("ssm:StartAutomationExecution") if item.required
    ]
    assert required == ["automation-execution", "document"]
    assert resource_types("states:SendTaskSuccess") == ()
    assert canonical_action("SSM:startautomationexecution") == "ssm:StartAutomationExecution"


def test_the_resources_of_a_request_are_built_from_its_parameters():
    where = {"partition": "aws", "region": REGION, "account": ACCOUNT}
    start = resources_of("ssm:StartAutomationExecution", {"DocumentName": "gate"}, "/", **where)
    assert start[0].startswith(f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-execution/")
    assert start[1] == f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/gate"
    assert resources_of(
        "sqs:SendMessage", {"QueueUrl": f"http://h/{ACCOUNT}/dlq"}, "/", **where
    ) == [QUEUE]
    assert resources_of(
        "lambda:InvokeFunction",
        {"Qualifier": "live"},
        "/2015-03-31/functions/f/invocations",
        **where,
    ) == [f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f:live"]
    # A query of an index acts on the index alone.
    assert resources_of(
        "dynamodb:Query", {"TableName": "t", "IndexName": "pending"}, "/", **where
    ) == [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t/index/pending"]
    assert resources_of("states:SendTaskSuccess", {"taskToken": "x"}, "/", **where) == ["*"]
    # Without a required type: the optional type the request names.
    log_group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/f"
    assert resources_of("logs:ListTagsForResource", {"resourceArn": log_group}, "/", **where) == [
        log_group
    ]
    assert resources_of("kms:DeleteAlias", {"AliasName": "alias/gate"}, "/", **where) == [
        f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/gate"
    ]


# --- AWS's evaluation logic over moto's IAM ----------------------------------------------------


@pytest.fixture
def iam():
    with mock_aws():
        client = boto3.client("iam", region_name=REGION)
        client.create_user(UserName="alice")
        yield client


def put(iam, *statements):
    iam.put_user_policy(
        UserName="alice", PolicyName="p", PolicyDocument=json.dumps(policy(*statements))
    )


def test_without_an_allow_the_request_is_denied_and_the_message_says_why(iam):
    denial = decide(
        ALICE, "ssm:GetAutomationExecution", "arn:aws:ssm:r:1:automation-execution/a", {}
    )
    assert denial is not None
    assert denial.message == (
        f"User: {ALICE.arn} is not authorized to perform: ssm:GetAutomationExecution on resource: "
        "arn:aws:ssm:r:1:automation-execution/a because no identity-based policy allows the "
        "ssm:GetAutomationExecution action"
    )


def test_an_explicit_deny_wins_over_any_allow(iam):
    put(iam, allow("sqs:*"), {"Effect": "Deny", "Action": "sqs:SendMessage", "Resource": QUEUE})
    denial = decide(ALICE, "sqs:SendMessage", QUEUE, {})
    assert denial is not None and "explicit deny in an identity-based policy" in denial.message
    assert decide(ALICE, "sqs:ReceiveMessage", QUEUE, {}) is None


def test_a_permissions_boundary_limits_what_the_identity_policy_allows(iam):
    boundary = iam.create_policy(
        PolicyName="boundary", PolicyDocument=json.dumps(policy(allow("sqs:ReceiveMessage")))
    )["Policy"]["Arn"]
    role = iam.create_role(
        RoleName="bounded",
        AssumeRolePolicyDocument=json.dumps(policy()),
        PermissionsBoundary=boundary,
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="bounded", PolicyName="p", PolicyDocument=json.dumps(policy(allow("sqs:*")))
    )
    session = Caller(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/bounded/s", ACCOUNT, "assumed-role", role
    )
    assert decide(session, "sqs:ReceiveMessage", QUEUE, {}) is None
    denial = decide(session, "sqs:SendMessage", QUEUE, {})
    assert denial is not None and "permissions boundary" in denial.message


def test_a_service_principal_is_allowed_only_by_the_resource_policy(iam):
    queue_policy = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": QUEUE,
            "Condition": {"ArnEquals": {"aws:SourceArn": RULE}},
        }
    )
    assert decide(EVENTS, "sqs:SendMessage", QUEUE, {"aws:sourcearn": [RULE]}, queue_policy) is None
    other_rule = {"aws:sourcearn": [RULE + "-other"]}
    denial = decide(EVENTS, "sqs:SendMessage", QUEUE, other_rule, queue_policy)
    assert denial is not None and "no resource-based policy allows" in denial.message


def test_a_key_policy_must_allow_and_the_account_statement_delegates_to_iam(iam):
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"
    delegating = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    # The account is named: alice needs her own IAM allow as well.
    assert decide(ALICE, "kms:Decrypt", key, {}, delegating, key_policy=True) is not None
    put(iam, allow("kms:Decrypt", key))
    assert decide(ALICE, "kms:Decrypt", key, {}, delegating, key_policy=True) is None
    # A key policy that names only a service: alice's IAM allow is not enough.
    service_only = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "logs.amazonaws.com"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    denial = decide(ALICE, "kms:Decrypt", key, {}, service_only, key_policy=True)
    assert denial is not None and "no resource-based policy allows" in denial.message


def test_a_resource_policy_naming_the_user_allows_without_an_identity_policy(iam):
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:Automation-x"
    topic_policy = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ALICE.arn},
            "Action": "sns:Publish",
            "Resource": topic,
        }
    )
    assert decide(ALICE, "sns:Publish", topic, {}, topic_policy) is None
    account_only = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ACCOUNT},
            "Action": "sns:Publish",
            "Resource": topic,
        }
    )
    assert decide(ALICE, "sns:Publish", topic, {}, account_only) is not None


# --- through the local AWS's endpoint ----------------------------------------------------------


@pytest.fixture(scope="module")
def local_aws():
    from sandbox.server import LocalAws

    with LocalAws(port=0, expire_interval=None) as aws:
        yield aws


def user_client(local_aws, service, name):
    iam = local_aws.client("iam")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.client(
        service,
        endpoint_url=local_aws.endpoint,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )


def test_refusals_have_aws_codes_per_protocol(local_aws):
    ssm = user_client(local_aws, "ssm", "nobody")
    with pytest.raises(ClientError) as json_api:
        ssm.describe_automation_executions()
    assert json_api.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "user/nobody is not authorized to perform: ssm:DescribeAutomationExecutions" in str(
        json_api.value
    )
    sns = boto3.client("sns", **{**local_aws.client_kwargs()})
    topic = sns.create_topic(Name="Automation-t")["TopicArn"]
    with pytest.raises(ClientError) as query_api:
        user_client(local_aws, "sns", "stranger").publish(TopicArn=topic, Message="m")
    assert query_api.value.response["Error"]["Code"] == "AuthorizationError"


def test_an_unknown_key_is_refused_and_the_deployer_key_is_allowed(local_aws):
    stranger = boto3.client(
        "ssm",
        endpoint_url=local_aws.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with pytest.raises(ClientError) as error:
        stranger.describe_automation_executions()
    assert error.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert (
        local_aws.client("ssm").describe_automation_executions()["AutomationExecutionMetadataList"]
        == []
    )
    assert local_aws.client("sts").get_caller_identity()["Arn"].endswith(":user/local-admin")


def test_passing_a_role_to_ssm_needs_iam_pass_role_for_ssm(local_aws):
    iam = local_aws.client("iam")
    role = iam.create_role(RoleName="automation", AssumeRolePolicyDocument=json.dumps(policy()))[
        "Role"
    ]["Arn"]
    ssm = user_client(local_aws, "ssm", "starter")
    iam.put_user_policy(
        UserName="starter",
        PolicyName="start",
        PolicyDocument=json.dumps(
            policy(
                allow(
                    "ssm:StartAutomationExecution",
                    ["arn:aws:ssm:*:*:automation-execution/*", "arn:aws:ssm:*:*:document/*"],
                )
            )
        ),
    )
    with pytest.raises(ClientError) as error:
        ssm.start_automation_execution(
            DocumentName="any", Parameters={"AutomationAssumeRole": [role]}
        )
    assert "iam:PassRole on resource: " + role in str(error.value)


def test_refusals_are_listed_and_cleared_over_http(local_aws):
    local_aws.api("/moto-api/sandbox/iam/denials", method="DELETE")
    with pytest.raises(ClientError):
        user_client(local_aws, "ssm", "lister").describe_automation_executions()
    listed = local_aws.api("/moto-api/sandbox/iam/denials", method="GET")
    assert listed["enforce"] is True
    assert [(d["principal"].rsplit("/", 1)[-1], d["action"]) for d in listed["denials"]] == [
        ("lister", "ssm:DescribeAutomationExecutions")
    ]
    assert local_aws.api("/moto-api/sandbox/iam/denials", method="DELETE")["denials"] == []


# --- DynamoDB's fine-grained access (sandbox/iam/condition_keys.py) ------------------------

# What an approver may read of the records (the module's approver_policy_json): no token.
READABLE = ["pk", "approval_id", "status", "message", "requested_epoch"]
FINE_GRAINED = {
    "ForAllValues:StringEquals": {"dynamodb:Attributes": READABLE},
    "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"},
}
KEY = {"pk": {"S": "approval#1"}}


@pytest.mark.parametrize(
    ("action", "params", "allowed"),
    [
        (
            "dynamodb:GetItem",
            {
                "Key": KEY,
                "ProjectionExpression": "#a, message",
                "ExpressionAttributeNames": {"#a": "approval_id"},
            },
            True,
        ),
        ("dynamodb:GetItem", {"Key": KEY}, False),  # no projection: every attribute, the token too
        (
            "dynamodb:GetItem",
            {"Key": KEY, "ProjectionExpression": "task_token"},
            False,
        ),
        (
            "dynamodb:Query",
            {
                "IndexName": "by_status",
                "KeyConditionExpression": "#s = :s",
                "ProjectionExpression": "approval_id, #r",
                "ExpressionAttributeNames": {"#s": "status", "#r": "requested_epoch"},
            },
            True,
        ),
        ("dynamodb:Query", {"IndexName": "by_status", "Select": "ALL_PROJECTED_ATTRIBUTES"}, False),
        ("dynamodb:PutItem", {"Item": {"task_token": {"S": "t"}}}, True),  # writes: not read keys
    ],
)
def test_dynamodb_attribute_conditions_follow_the_request(action, params, allowed):
    assert conditions_hold(FINE_GRAINED, condition_keys(action, params)) is allowed
