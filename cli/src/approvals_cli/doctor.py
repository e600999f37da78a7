"""`approvals doctor`: checks a deployment and says what to do about each problem."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError

from approvals_cli.aws import error_code
from approvals_cli.gate import Gate
from approvals_cli.output import now_epoch, parse_time
from approvals_cli.records import Approval

ALIAS = "live"  # terraform/modules/lambda_service: every function runs behind this alias
# A callback still SENDING after this long stopped half-way (a delivery takes seconds).
STUCK_CALLBACK_SECONDS = 300


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run(gate: Gate) -> list[Check]:
    checks: list[Check] = []
    for check in (_rules, _aliases, _dead_letters, _alarms, _records):
        checks += _guarded(check, gate)
    return checks


def _guarded(check: Callable[[Gate], list[Check]], gate: Gate) -> list[Check]:
    """A check that AWS refuses or fails is a finding too, not a crash."""
    try:
        return check(gate)
    except ClientError as error:
        name = check.__name__.strip("_").replace("_", " ")
        return [
            Check(
                name,
                False,
                f"could not check: {error_code(error)}: "
                f"{error.response.get('Error', {}).get('Message', '')}",
                "run doctor with an operator's credentials (read access to the gate's resources)",
            )
        ]


def _rules(gate: Gate) -> list[Check]:
    events = gate.aws.client("events")
    found = []
    for output, purpose in (
        ("event_rule_name", "SSM's results reach receive_result"),
        ("sweep_rule_name", "the sweep runs"),
        ("workflow_ended_rule_name", "ended workflows close their approvals"),
    ):
        name = gate.deployment.get(output)
        if not name:
            continue
        state = events.describe_rule(Name=name).get("State", "")
        found.append(
            Check(
                f"rule {name}",
                state == "ENABLED",
                f"{state}: {purpose}"
                if state == "ENABLED"
                else f"{state}: nothing ensures {purpose}",
                ""
                if state == "ENABLED"
                else f"aws events enable-rule --name {name} "
                '(or event_rule_state = "ENABLED" in Terraform)',
            )
        )
    return found


def _aliases(gate: Gate) -> list[Check]:
    lambda_ = gate.aws.client("lambda")
    found = []
    for output in (
        "start_approval_function_name",
        "receive_result_function_name",
        "sweep_function_name",
        "close_approvals_function_name",
    ):
        name = gate.deployment.get(output)
        if not name:
            continue
        try:
            alias = lambda_.get_alias(FunctionName=name, Name=ALIAS)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            found.append(
                Check(
                    f"function {name}",
                    False,
                    f"no alias {ALIAS!r}",
                    "terraform apply the gate again",
                )
            )
            continue
        found.append(
            Check(f"function {name}", True, f"alias {ALIAS} -> version {alias['FunctionVersion']}")
        )
    return found


def _dead_letters(gate: Gate) -> list[Check]:
    url = gate.deployment.get("dead_letter_queue_url")
    if not url:
        return []
    attributes = gate.aws.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    waiting = int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )
    return [
        Check(
            "dead letters",
            waiting == 0,
            f"{waiting} event(s) in the dead-letter queue",
            ""
            if waiting == 0
            else "read them (approvals redrive --dry-run), fix the cause, then approvals redrive",
        )
    ]


def _alarms(gate: Gate) -> list[Check]:
    names = [
        name
        for output in (
            "dead_letter_alarm_name",
            "failed_notifications_alarm_name",
            "approvals_queued_alarm_name",
        )
        if (name := gate.deployment.get(output))
    ]
    if not names:
        return []
    alarms = gate.aws.client("cloudwatch").describe_alarms(AlarmNames=names).get("MetricAlarms", [])
    states = {alarm["AlarmName"]: alarm.get("StateValue", "") for alarm in alarms}
    return [
        Check(
            f"alarm {name}",
            states.get(name) != "ALARM",
            states.get(name, "not found"),
            ""
            if states.get(name) != "ALARM"
            else f"see the alarm's reason: aws cloudwatch describe-alarms --alarm-names {name}",
        )
        for name in names
    ]


def _records(gate: Gate) -> list[Check]:
    now = now_epoch()
    pending = list(gate.records.by_status(("PENDING",)))
    expired = [a for a in pending if (gate.expires_epoch(a) or now + 1) < now]
    stuck = [
        a
        for a in gate.records.by_status(("DECIDED",))
        if a.callback == "SENDING" and now - _epoch(a.updated_at) > STUCK_CALLBACK_SECONDS
    ]
    return [
        Check(
            "pending past expiry",
            not expired,
            f"{len(pending)} pending, {len(expired)} past their expiry" + _some(expired),
            "approvals sweep (delivers their Approval.Expired); if they stay, read the sweep's logs"
            if expired
            else "",
        ),
        Check(
            "callbacks half-finished",
            not stuck,
            f"{len(stuck)} decided approval(s) whose callback has been SENDING for over "
            f"{STUCK_CALLBACK_SECONDS // 60} min" + _some(stuck),
            "approvals sweep (it resumes the delivery once)" if stuck else "",
        ),
    ]


def _epoch(value: str | None) -> float:
    parsed = parse_time(value or "")
    return parsed.timestamp() if parsed else 0.0


def _some(approvals: list[Approval]) -> str:
    return f": {', '.join(a.approval_id for a in approvals[:5])}" if approvals else ""
