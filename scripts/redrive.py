"""Replay the gate's events from the dead-letter queue, once their cause is fixed.

    python -m scripts.redrive [--example aws|local] [--endpoint URL] [--dry-run]
    python -m scripts.redrive --queue-url URL --function ARN --close-function ARN
                                                               (without Terraform)

(`make redrive` calls the first form.) Each message in the queue is an event that
EventBridge could not deliver, or that a function failed on after Lambda's retries: its body
is the event. It goes back to the function of its source, synchronously: SSM's result
events (`aws.ssm`) to receive_result, Step Functions' execution events (`aws.states`) to
close_approvals. A message is deleted only when the function succeeded, so a replay that
fails again loses nothing; a message of another source is left in the queue and reported.
Both functions act once per approval, so replaying what was handled meanwhile is harmless.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any

import boto3


@dataclass
class Redrive:
    replayed: int = 0
    failed: list[str] = field(default_factory=list)


def redrive(
    sqs: Any,
    lambda_: Any,
    queue_url: str,
    functions: dict[str, str],
    dry_run: bool = False,
) -> Redrive:
    """`functions`: event source -> the function (alias ARN) that handles it."""
    result = Redrive()
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            return result
        for message in fresh:
            seen.add(message["MessageId"])
            source = _source(message["Body"])
            function = functions.get(source or "")
            if function is None:
                result.failed.append(
                    f"{message['MessageId']}: source {source!r} is not the gate's "
                    f"({', '.join(sorted(functions))}); left in the queue"
                )
                continue
            if dry_run:
                print(f"would replay {message['MessageId']} to {function}: {message['Body'][:200]}")
                continue
            response = lambda_.invoke(FunctionName=function, Payload=message["Body"].encode())
            answer = response["Payload"].read().decode()
            if response.get("FunctionError"):
                result.failed.append(f"{message['MessageId']}: {answer[:300]}")
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            result.replayed += 1
            print(f"replayed {message['MessageId']} to {function}: {answer[:200]}")


def _source(body: str) -> str | None:
    try:
        event = json.loads(body)
    except ValueError:
        return None
    return event.get("source") if isinstance(event, dict) else None


def gate_functions(result_function: str, close_function: str) -> dict[str, str]:
    return {"aws.ssm": result_function, "aws.states": close_function}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--example", choices=["aws", "local"], default="aws")
    parser.add_argument("--endpoint", help="the local AWS endpoint (example local)")
    parser.add_argument("--queue-url", help="the dead-letter queue (default: Terraform output)")
    parser.add_argument("--function", help="receive_result's alias ARN (default: Terraform output)")
    parser.add_argument(
        "--close-function", help="close_approvals' alias ARN (default: Terraform output)"
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed")
    args = parser.parse_args(argv)

    queue_url, function, close_function = args.queue_url, args.function, args.close_function
    if not (queue_url and function and close_function):
        from scripts.gate_terraform import GateError, GateTerraform

        try:
            gate = GateTerraform(args.example, {"endpoint": args.endpoint} if args.endpoint else {})
            gate.check()
            outputs = gate.outputs()
        except GateError as error:
            print(f"redrive: {error}", file=sys.stderr)
            return 1
        if "dead_letter_queue_url" not in outputs:
            print("redrive: no deployment found: run `make deploy` first.", file=sys.stderr)
            return 1
        queue_url = queue_url or outputs["dead_letter_queue_url"]
        function = function or outputs["receive_result_alias_arn"]
        close_function = close_function or outputs["close_approvals_alias_arn"]

    endpoint = {"endpoint_url": args.endpoint} if args.endpoint else {}
    result = redrive(
        boto3.client("sqs", **endpoint),
        boto3.client("lambda", **endpoint),
        queue_url,
        gate_functions(function, close_function),
        dry_run=args.dry_run,
    )
    print(json.dumps({"replayed": result.replayed, "failed": len(result.failed)}))
    for failure in result.failed:
        print(f"still failing (kept in the queue): {failure}", file=sys.stderr)
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
