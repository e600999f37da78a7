"""Replay the gate's events from the dead-letter queue, once their cause is fixed
(`approvals redrive`, `make redrive`; formerly scripts/redrive.py).

Each message in the queue is an event that EventBridge could not deliver, or that a function
failed on after Lambda's retries: its body is the event. It goes back to the function of its
source, synchronously: SSM's result events (`aws.ssm`) to receive_result, Step Functions'
execution events (`aws.states`) to close_approvals. A message is deleted only when the function
succeeded, so a replay that fails again loses nothing; a message of another source is left in
the queue and reported. Both functions act once per approval, so replaying what was handled
meanwhile is harmless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Redrive:
    replayed: int = 0
    failed: list[str] = field(default_factory=list)
    # What was (or, with dry_run, would be) replayed: message id, function, event or answer.
    messages: list[dict[str, str]] = field(default_factory=list)


def gate_functions(result_function: str, close_function: str) -> dict[str, str]:
    """Event source -> the function (alias ARN) that handles it."""
    return {"aws.ssm": result_function, "aws.states": close_function}


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
    # Receipt handles of the messages read and kept (a dry run's, another source's, a failed
    # replay's): visible again at the end, not while reading, so that they do not come back
    # in the same pass in front of the rest.
    kept: list[str] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            for handle in kept:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0
                )
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
                kept.append(message["ReceiptHandle"])
                continue
            if dry_run:
                kept.append(message["ReceiptHandle"])
                result.messages.append(
                    {
                        "message_id": message["MessageId"],
                        "function": function,
                        "event": message["Body"][:500],
                    }
                )
                continue
            response = lambda_.invoke(FunctionName=function, Payload=message["Body"].encode())
            answer = response["Payload"].read().decode()
            if response.get("FunctionError"):
                result.failed.append(f"{message['MessageId']}: {answer[:300]}")
                kept.append(message["ReceiptHandle"])
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            result.replayed += 1
            result.messages.append(
                {"message_id": message["MessageId"], "function": function, "answer": answer[:500]}
            )


def _source(body: str) -> str | None:
    try:
        event = json.loads(body)
    except ValueError:
        return None
    return event.get("source") if isinstance(event, dict) else None
