"""Asynchronous invocations (Lambda's retries, dead-letter queue, destinations) and EventBridge
rules delivering to Lambda functions (sandbox.events)."""

from __future__ import annotations

import json

from sandbox import faults
from tests.support.lambda_harness import recorder


def test_an_asynchronous_invocation_runs_in_the_background(lambdas):
    seen_url, _ = lambdas.queue("seen")
    recorder(lambdas, "recorder", "seen")

    response = lambdas.lam.invoke(
        FunctionName="recorder", InvocationType="Event", Payload=json.dumps({"n": 1})
    )

    assert response["StatusCode"] == 202
    (seen,) = lambdas.receive(seen_url)
    assert seen["body"]["event"] == {"n": 1}


def test_a_failing_asynchronous_invocation_is_retried_twice_then_dead_lettered(
    lambdas, fast_retries
):
    seen_url, _ = lambdas.queue("seen")
    dead_url, dead_arn = lambdas.queue("dead-letters")
    failures_url, failures_arn = lambdas.queue("failures")
    recorder(lambdas, "recorder", "seen", DeadLetterConfig={"TargetArn": dead_arn})
    lambdas.lam.put_function_event_invoke_config(
        FunctionName="recorder",
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )

    lambdas.lam.invoke(
        FunctionName="recorder", InvocationType="Event", Payload=json.dumps({"fail": True})
    )

    attempts = lambdas.receive(seen_url, count=3)
    assert len(attempts) == 3  # the first try and Lambda's two retries
    assert len({item["body"]["request_id"] for item in attempts}) == 1
    (dead,) = lambdas.receive(dead_url)
    assert dead["body"] == {"fail": True}
    assert dead["attributes"]["RequestID"] == attempts[0]["body"]["request_id"]
    assert dead["attributes"]["ErrorMessage"] == "asked to fail"
    (failure,) = lambdas.receive(failures_url)
    record = failure["body"]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"fail": True}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert lambdas.receive(seen_url, wait=0.3) == []  # no fourth attempt


def test_event_invoke_config_limits_the_retries(lambdas, fast_retries):
    seen_url, _ = lambdas.queue("seen")
    successes_url, successes_arn = lambdas.queue("successes")
    recorder(lambdas, "recorder", "seen")
    lambdas.lam.put_function_event_invoke_config(
        FunctionName="recorder",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": successes_arn}},
    )

    lambdas.lam.invoke(FunctionName="recorder", InvocationType="Event", Payload='{"fail": true}')
    lambdas.lam.invoke(FunctionName="recorder", InvocationType="Event", Payload='{"ok": true}')

    assert len(lambdas.receive(seen_url, count=2)) == 2
    (success,) = lambdas.receive(successes_url)
    assert success["body"]["requestContext"]["condition"] == "Success"
    assert success["body"]["responsePayload"] == "recorded"
    assert lambdas.receive(seen_url, wait=0.3) == []


# --- EventBridge -------------------------------------------------------------------------


def test_a_rule_invokes_a_lambda_alias_with_the_event_and_keeps_other_targets(lambdas):
    seen_url, _ = lambdas.queue("seen")
    copies_url, copies_arn = lambdas.queue("copies")
    recorder(lambdas, "recorder", "seen")
    lambdas.lam.publish_version(FunctionName="recorder")
    alias_arn = lambdas.lam.create_alias(FunctionName="recorder", Name="live", FunctionVersion="1")[
        "AliasArn"
    ]
    lambdas.events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop.orders"]}))
    lambdas.events.put_targets(
        Rule="orders",
        Targets=[{"Id": "function", "Arn": alias_arn}, {"Id": "queue", "Arn": copies_arn}],
    )

    lambdas.events.put_events(
        Entries=[
            {"Source": "shop.orders", "DetailType": "Order Placed", "Detail": '{"id": 7}'},
            {"Source": "shop.other", "DetailType": "Ignored", "Detail": "{}"},
        ]
    )

    (seen,) = lambdas.receive(seen_url)
    event = seen["body"]["event"]
    assert event["source"] == "shop.orders"
    assert event["detail-type"] == "Order Placed"
    assert event["detail"] == {"id": 7}
    assert event["account"] == "123456789012"
    assert event["region"] == "us-east-1"
    assert event["time"].endswith("Z")
    assert set(event) == {
        "version", "id", "detail-type", "source", "account", "time", "region", "resources",
        "detail",
    }  # fmt: skip
    assert seen["body"]["invoked_function_arn"] == alias_arn
    assert seen["body"]["version"] == "1"
    (copy,) = lambdas.receive(copies_url)
    assert copy["body"]["detail"] == {"id": 7}
    assert lambdas.receive(seen_url, wait=0.3) == []


def test_input_input_path_and_input_transformer(lambdas):
    seen_url, _ = lambdas.queue("seen")
    arn = recorder(lambdas, "recorder", "seen")
    lambdas.events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop.orders"]}))
    lambdas.events.put_targets(
        Rule="orders",
        Targets=[
            {"Id": "constant", "Arn": arn, "Input": '{"constant": true}'},
            {"Id": "path", "Arn": arn, "InputPath": "$.detail"},
            {
                "Id": "template",
                "Arn": arn,
                "InputTransformer": {
                    "InputPathsMap": {"order": "$.detail.id"},
                    "InputTemplate": '{"order": <order>, "kind": "placed"}',
                },
            },
        ],
    )

    lambdas.events.put_events(
        Entries=[{"Source": "shop.orders", "DetailType": "Order Placed", "Detail": '{"id": 7}'}]
    )

    received = [item["body"]["event"] for item in lambdas.receive(seen_url, count=3)]
    assert sorted(received, key=json.dumps) == sorted(
        [{"constant": True}, {"id": 7}, {"order": 7, "kind": "placed"}], key=json.dumps
    )


def test_a_missing_function_goes_to_the_dead_letter_queue_at_once(lambdas, fast_retries):
    dead_url, dead_arn = lambdas.queue("dead-letters")
    missing = "arn:aws:lambda:us-east-1:123456789012:function:gone:live"
    rule_arn = lambdas.events.put_rule(
        Name="orders", EventPattern=json.dumps({"source": ["shop.orders"]})
    )["RuleArn"]
    lambdas.events.put_targets(
        Rule="orders",
        Targets=[
            {
                "Id": "gone",
                "Arn": missing,
                "RetryPolicy": {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 60},
                "DeadLetterConfig": {"Arn": dead_arn},
            }
        ],
    )

    lambdas.events.put_events(
        Entries=[{"Source": "shop.orders", "DetailType": "Order Placed", "Detail": '{"id": 7}'}]
    )

    (dead,) = lambdas.receive(dead_url)
    assert dead["body"]["detail"] == {"id": 7}
    attributes = dead["attributes"]
    assert attributes["RULE_ARN"] == rule_arn
    assert attributes["TARGET_ARN"] == missing
    assert attributes["ERROR_CODE"] == "NO_RESOURCE"  # AWS does not retry a missing target
    assert attributes["RETRY_ATTEMPTS"] == "0"
    assert "ResourceNotFoundException" in attributes["ERROR_MESSAGE"]


def test_a_throttled_delivery_is_retried_within_the_retry_policy(lambdas, fast_retries):
    seen_url, _ = lambdas.queue("seen")
    dead_url, dead_arn = lambdas.queue("dead-letters")
    arn = recorder(lambdas, "recorder", "seen")
    lambdas.events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop.orders"]}))
    lambdas.events.put_targets(
        Rule="orders",
        Targets=[
            {
                "Id": "function",
                "Arn": arn,
                "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
                "DeadLetterConfig": {"Arn": dead_arn},
            }
        ],
    )
    entry = {"Source": "shop.orders", "DetailType": "Order Placed", "Detail": '{"id": 7}'}

    # Throttled twice, then accepted: delivered on the third attempt.
    fault = faults.inject("lambda", "Invoke", "TooManyRequestsException", status=429, times=2)
    lambdas.events.put_events(Entries=[entry])
    (seen,) = lambdas.receive(seen_url)
    assert seen["body"]["event"]["detail"] == {"id": 7}
    assert fault.injected == 2

    # Throttled beyond the policy: 1 attempt + 2 retries, then the dead-letter queue.
    faults.clear()
    fault = faults.inject("lambda", "Invoke", "TooManyRequestsException", status=429)
    lambdas.events.put_events(Entries=[entry])
    (dead,) = lambdas.receive(dead_url)
    assert fault.injected == 3
    assert dead["attributes"]["ERROR_CODE"] == "THROTTLING"
    assert dead["attributes"]["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert dead["attributes"]["RETRY_ATTEMPTS"] == "2"
    assert lambdas.receive(seen_url, wait=0.3) == []


def test_an_approval_event_reaches_a_lambda_target(lambdas, local_gate):
    seen_url, _ = lambdas.queue("seen")
    arn = recorder(lambdas, "receive-result", "seen")
    lambdas.events.put_rule(
        Name="approval-results",
        EventPattern=json.dumps(
            {
                "source": ["aws.ssm"],
                "detail-type": ["EC2 Automation Step Status-change Notification"],
                "detail": {"Action": ["aws:approve"], "Status": ["Success", "Failed"]},
            }
        ),
    )
    lambdas.events.put_targets(Rule="approval-results", Targets=[{"Id": "fn", "Arn": arn}])
    alice = local_gate.user("alice")
    execution_id = local_gate.start([alice.arn])

    alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")

    (seen,) = lambdas.receive(seen_url)
    assert seen["body"]["event"]["detail"]["ExecutionId"] == execution_id
    assert seen["body"]["event"]["detail"]["Status"] == "Success"
