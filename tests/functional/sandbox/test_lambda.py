"""Lambda Invoke runs the function's real zip in a warm worker process (sandbox.awslambda)."""

from __future__ import annotations

import base64
import os
import time

import pytest
from botocore.exceptions import ClientError

from sandbox import awslambda

APP = """
import json
import os
import time

import boto3

CALLS = {"count": 0}


class ApprovalRejected(Exception):
    pass


def handler(event, context):
    CALLS["count"] += 1
    print("echo", json.dumps(event))
    return {
        "event": event,
        "pid": os.getpid(),
        "calls": CALLS["count"],
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
        "env": {
            name: os.environ.get(name)
            for name in (
                "GREETING",
                "AWS_LAMBDA_FUNCTION_NAME",
                "AWS_LAMBDA_FUNCTION_VERSION",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                "AWS_REGION",
                "AWS_DEFAULT_REGION",
                "LAMBDA_TASK_ROOT",
                "POWERTOOLS_TRACE_DISABLED",
                "AWS_ENDPOINT_URL",
            )
        },
        "cwd": os.getcwd(),
    }


def use_boto3(event, context):
    ssm = boto3.client("ssm")
    value = ssm.get_parameter(Name=event["parameter"])["Parameter"]["Value"]
    sqs = boto3.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=event["queue"])["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"value": value}))
    caller = boto3.client("sts").get_caller_identity()["Arn"]
    return {"value": value, "caller": caller}


def fail(event, context):
    print("about to fail")
    raise ApprovalRejected(event.get("why", "no"))


def sleepy(event, context):
    time.sleep(event.get("seconds", 30))
    return "woke"


def crash(event, context):
    os._exit(3)


def unserializable(event, context):
    return {"when": object()}


def version(event, context):
    return {
        "code": CODE,
        "greeting": os.environ.get("GREETING"),
        "version": context.function_version,
        "arn": context.invoked_function_arn,
        "pid": os.getpid(),
    }


CODE = "one"
"""


def test_a_function_runs_its_zip_with_lambdas_environment_and_context(lambdas, local_aws):
    arn = lambdas.function(
        "echo", {"app.py": APP}, environment={"GREETING": "hello"}, timeout=7, MemorySize=256
    )

    response, result = lambdas.invoke("echo", {"approval": 42})

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert result["event"] == {"approval": 42}
    context = result["context"]
    assert context["function_name"] == "echo"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == arn
    assert context["memory_limit_in_mb"] == "256"  # a string, as Lambda's runtime has it
    assert context["log_group_name"] == "/aws/lambda/echo"
    assert "/[$LATEST]" in context["log_stream_name"]
    assert 5000 < context["remaining_ms"] <= 7000
    assert result["env"] == {
        "GREETING": "hello",
        "AWS_LAMBDA_FUNCTION_NAME": "echo",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": result["cwd"],
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_ENDPOINT_URL": local_aws.endpoint,
    }
    assert os.path.isfile(os.path.join(result["cwd"], "app.py"))


def test_boto3_in_the_function_reaches_the_sandbox_as_its_role(lambdas):
    lambdas.client("ssm").put_parameter(Name="/gate/colour", Value="green", Type="String")
    queue_url, _ = lambdas.queue("out")
    lambdas.function("reader", {"app.py": APP}, "app.use_boto3")

    _, result = lambdas.invoke("reader", {"parameter": "/gate/colour", "queue": "out"})

    assert result == {
        "value": "green",
        # Lambda calls AWS with its execution role, the session named after the function.
        "caller": "arn:aws:sts::123456789012:assumed-role/function-role/reader",
    }
    assert [item["body"] for item in lambdas.receive(queue_url)] == [{"value": "green"}]


def test_an_error_is_returned_as_lambda_does_and_logged(lambdas):
    lambdas.function("failing", {"app.py": APP}, "app.fail")

    response, error = lambdas.invoke("failing", {"why": "not today"}, LogType="Tail")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ApprovalRejected"
    assert error["errorMessage"] == "not today"
    assert any("in fail" in line for line in error["stackTrace"])
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "about to fail" in tail
    assert "[ERROR] ApprovalRejected: not today" in tail
    messages = lambdas.log_messages("failing")
    assert "about to fail" in messages
    assert any(line.startswith("START RequestId: ") for line in messages)
    assert any(line.startswith("REPORT RequestId: ") for line in messages)


def test_the_log_is_in_cloudwatch_logs(lambdas):
    lambdas.function("echo", {"app.py": APP})
    lambdas.invoke("echo", {"n": 1})
    lambdas.invoke("echo", {"n": 2})

    messages = lambdas.log_messages("echo")
    assert 'echo {"n": 1}' in messages
    assert 'echo {"n": 2}' in messages
    starts = [line for line in messages if line.startswith("START RequestId:")]
    assert len(starts) == 2
    assert all(line.endswith("Version: $LATEST") for line in starts)
    streams = lambdas.logs.describe_log_streams(logGroupName="/aws/lambda/echo")["logStreams"]
    assert len(streams) == 1  # one warm execution environment


def test_a_warm_worker_serves_the_next_invocations(lambdas):
    lambdas.function("echo", {"app.py": APP})

    _, first = lambdas.invoke("echo")
    _, second = lambdas.invoke("echo")

    assert second["pid"] == first["pid"]
    assert (first["calls"], second["calls"]) == (1, 2)

    # New configuration: new execution environments, as in Lambda.
    lambdas.lam.update_function_configuration(
        FunctionName="echo", Environment={"Variables": {"GREETING": "bonjour"}}
    )
    _, third = lambdas.invoke("echo")
    assert third["pid"] != first["pid"]
    assert third["calls"] == 1
    assert third["env"]["GREETING"] == "bonjour"
    assert not _alive(first["pid"])


def test_a_worker_that_dies_is_replaced(lambdas):
    lambdas.function("echo", {"app.py": APP})
    lambdas.function("crashing", {"app.py": APP}, "app.crash")

    response, error = lambdas.invoke("crashing")
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in error["errorMessage"]

    lambdas.lam.update_function_configuration(FunctionName="crashing", Handler="app.handler")
    response, result = lambdas.invoke("crashing")
    assert "FunctionError" not in response
    assert result["calls"] == 1


def test_a_timeout_kills_the_worker(lambdas):
    lambdas.function("sleepy", {"app.py": APP}, "app.sleepy", timeout=1)
    _, ok = lambdas.invoke("sleepy", {"seconds": 0})
    assert ok == "woke"
    (worker,) = [item for item in awslambda.workers() if item["function_name"] == "sleepy"]

    started = time.monotonic()
    response, error = lambdas.invoke("sleepy", {"seconds": 30})

    assert time.monotonic() - started < 3
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    assert any(
        "Task timed out after 1.00 seconds" in line for line in lambdas.log_messages("sleepy")
    )
    assert not _alive(worker["pid"])
    _, ok = lambdas.invoke("sleepy", {"seconds": 0})
    assert ok == "woke"


def test_a_package_missing_from_the_zip_does_not_import(lambdas):
    # requests is in the sandbox's own virtualenv, but not in Lambda's runtime nor the zip.
    lambdas.function(
        "needs-requests",
        {"needs_requests.py": "import requests\ndef handler(e, c): pass\n"},
        "needs_requests.handler",
    )
    lambdas.function(
        "needs-moto",
        {"needs_moto.py": "import moto\ndef handler(e, c): pass\n"},
        "needs_moto.handler",
    )
    lambdas.function(
        "runtime-only",
        {
            "runtime_only.py": "import boto3, botocore, dateutil, jmespath, s3transfer, urllib3\n"
            "def handler(e, c):\n    return boto3.__version__\n"
        },
        "runtime_only.handler",
    )

    response, error = lambdas.invoke("needs-requests")
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == (
        "Unable to import module 'needs_requests': No module named 'requests'"
    )
    _, error = lambdas.invoke("needs-moto")
    assert error["errorType"] == "Runtime.ImportModuleError"
    response, version = lambdas.invoke("runtime-only")
    assert "FunctionError" not in response
    assert version


def test_handler_problems_are_lambdas_runtime_errors(lambdas):
    lambdas.function("no-such-handler", {"app.py": APP}, "app.missing")
    lambdas.function("bad-name", {"app.py": APP}, "app")
    lambdas.function("syntax", {"broken.py": "def handler(:\n"}, "broken.handler")
    lambdas.function("marshal", {"app.py": APP}, "app.unserializable")

    assert lambdas.invoke("no-such-handler")[1]["errorType"] == "Runtime.HandlerNotFound"
    assert lambdas.invoke("bad-name")[1]["errorType"] == "Runtime.MalformedHandlerName"
    assert lambdas.invoke("syntax")[1]["errorType"] == "Runtime.UserCodeSyntaxError"
    marshal = lambdas.invoke("marshal")[1]
    assert marshal["errorType"] == "Runtime.MarshalError"
    assert "Unable to marshal response" in marshal["errorMessage"]


def test_versions_and_aliases_run_their_own_code_and_configuration(lambdas):
    arn = lambdas.function(
        "versioned", {"app.py": APP}, "app.version", environment={"GREETING": "v1"}
    )
    assert lambdas.lam.publish_version(FunctionName="versioned")["Version"] == "1"
    lambdas.update_code("versioned", {"app.py": APP.replace('CODE = "one"', 'CODE = "two"')})
    lambdas.lam.update_function_configuration(
        FunctionName="versioned", Environment={"Variables": {"GREETING": "v2"}}
    )
    assert lambdas.lam.publish_version(FunctionName="versioned")["Version"] == "2"
    alias_arn = lambdas.lam.create_alias(
        FunctionName="versioned", Name="live", FunctionVersion="1"
    )["AliasArn"]

    one = lambdas.invoke("versioned", Qualifier="1")[1]
    two = lambdas.invoke("versioned", Qualifier="2")[1]
    latest = lambdas.invoke("versioned")[1]
    live_response, live = lambdas.invoke(alias_arn)

    assert (one["code"], one["greeting"], one["version"]) == ("one", "v1", "1")
    assert one["arn"] == f"{arn}:1"
    assert (two["code"], two["greeting"], two["version"]) == ("two", "v2", "2")
    assert (latest["code"], latest["version"]) == ("two", "$LATEST")
    assert latest["arn"] == arn
    assert (live["code"], live["version"], live["arn"]) == ("one", "1", alias_arn)
    assert live_response["ExecutedVersion"] == "1"
    assert live["pid"] == one["pid"]  # the alias runs version 1's environment
    assert len({one["pid"], two["pid"], latest["pid"]}) == 3

    lambdas.lam.update_alias(FunctionName="versioned", Name="live", FunctionVersion="2")
    assert lambdas.invoke("versioned:live")[1]["code"] == "two"


def test_dry_run_bad_payloads_missing_functions_and_throttling(lambdas):
    lambdas.function("echo", {"app.py": APP})

    assert lambdas.lam.invoke(FunctionName="echo", InvocationType="DryRun")["StatusCode"] == 204
    assert awslambda.workers() == []  # nothing ran

    with pytest.raises(ClientError) as raised:
        lambdas.lam.invoke(FunctionName="echo", Payload=b"not json")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"

    with pytest.raises(ClientError) as raised:
        lambdas.lam.invoke(FunctionName="nobody")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"

    lambdas.lam.put_function_concurrency(FunctionName="echo", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as raised:
        lambdas.lam.invoke(FunctionName="echo")
    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_dead_letter_config_is_kept(lambdas):
    _, queue_arn = lambdas.queue("dead-letters")
    lambdas.function("echo", {"app.py": APP}, DeadLetterConfig={"TargetArn": queue_arn})

    configuration = lambdas.lam.get_function_configuration(FunctionName="echo")

    assert configuration["DeadLetterConfig"] == {"TargetArn": queue_arn}


def test_invoking_in_process_uses_the_same_runner(inprocess_lambdas):
    lambdas = inprocess_lambdas
    lambdas.client("ssm").put_parameter(Name="/gate/colour", Value="blue", Type="String")
    queue_url, _ = lambdas.queue("out")
    lambdas.function("reader", {"app.py": APP}, "app.use_boto3")

    _, result = lambdas.invoke("reader", {"parameter": "/gate/colour", "queue": "out"})

    assert result["value"] == "blue"
    assert [item["body"] for item in lambdas.receive(queue_url)] == [{"value": "blue"}]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False
