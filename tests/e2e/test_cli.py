"""`approvals` (cli/) against the gate deployed by Terraform into the local AWS, run as a
person runs it: the installed command in a process of its own, with IAM users' keys.

The users: alice, bob and carol (approvers: the module's approver policy, as LocalGate makes
them, plus `approvals policy approver`), mallory (a stranger: the same policies, named in no
request), olivia (a workflow owner: `approvals policy owner`) and oscar (an operator:
`approvals policy operator`). Bad input (unknown ids, another document's automation, a
decision on a decided or expired approval, a missing or wrong deployment, no credentials)
must give a clear message and a non-zero exit and change nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox.server import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.terraform

REPO = Path(__file__).resolve().parents[2]
ADMIN_KEY = (ACCESS_KEY, SECRET_KEY)  # the local AWS's deployer (sandbox.iam.admin)
# ExitCode of cli/src/approvals_cli/errors.py, as a script sees them.
OK, NOT_FOUND, REFUSED, CONFLICT, CONFIGURATION, PROBLEMS = 0, 3, 4, 5, 6, 7
REJECTED, EXPIRED, CANCELLED = 10, 11, 12
ROLES = {"alice": "approver", "bob": "approver", "carol": "approver", "mallory": "approver"}
ROLES |= {"olivia": "owner", "oscar": "operator"}


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """Runs `python -m approvals_cli` as one of the users (or the deployer, `admin`)."""

    def __init__(self, gate: Any, home: Path):
        self.gate = gate
        self.home = home
        self.config = home / "gate.json"
        self.config.write_text(json.dumps(gate.outputs))
        self.keys: dict[str, tuple[str, str]] = {}

    def env(self, user: str, **extra: str) -> dict[str, str]:
        key = ADMIN_KEY if user == "admin" else self.keys[user]
        return {
            "PATH": os.environ["PATH"],
            "HOME": str(self.home),  # no ~/.aws, no ~/.config/approvals of the machine's user
            "AWS_ENDPOINT_URL": self.gate.aws.endpoint,
            "AWS_REGION": self.gate.aws.region,
            "AWS_ACCESS_KEY_ID": key[0],
            "AWS_SECRET_ACCESS_KEY": key[1],
            "APPROVALS_CONFIG": str(self.config),
        } | extra

    def __call__(self, user: str, *args: str, env: dict[str, str] | None = None) -> Ran:
        done = subprocess.run(
            [sys.executable, "-m", "approvals_cli", *args],
            env=env if env is not None else self.env(user),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        return Ran(done.returncode, done.stdout, done.stderr)

    def add_user(self, name: str, role: str) -> None:
        iam = self.gate.client("iam")
        if name not in self.gate.approvers:
            iam.create_user(UserName=name)
            iam.put_user_policy(
                UserName=name,
                PolicyName="approval-gate-approver",
                PolicyDocument=self.gate.outputs["approver_policy_json"],
            )
            key = iam.create_access_key(UserName=name)["AccessKey"]
            self.keys[name] = (key["AccessKeyId"], key["SecretAccessKey"])
        else:
            person = self.gate.approvers[name]
            self.keys[name] = (person.access_key_id, person.secret_access_key)
        policy = self("admin", "policy", role)
        assert policy.code == OK, policy.err
        iam.put_user_policy(UserName=name, PolicyName="approvals-cli", PolicyDocument=policy.out)


@pytest.fixture(scope="module")
def cli(gate, tmp_path_factory) -> Cli:
    # The functions' X-Ray segments, for `approvals trace` (off by default in the local AWS;
    # workers started from now on send them).
    gate.aws.api("/moto-api/sandbox/settings", {"lambda": {"capture_traces": True}})
    runner = Cli(gate, tmp_path_factory.mktemp("cli-home"))
    for name, role in ROLES.items():
        runner.add_user(name, role)
    yield runner
    gate.aws.api("/moto-api/sandbox/settings", {"lambda": {"capture_traces": False}})


def start(gate, *approvers: str, message: str = "Ship it?", quorum: int = 1) -> tuple[str, str]:
    """A workflow waiting for its approval: (execution name, automation id)."""
    name = f"cli-{uuid.uuid4().hex[:8]}"
    arn = gate.start(
        {
            "message": message,
            "approvers": [gate.principal_arn(a) for a in approvers],
            "min_required_approvals": quorum,
        },
        name=name,
    )
    return name, gate.automation_of(arn)


def automation_state(gate, automation_id: str) -> tuple[str, list[str]]:
    """The automation's status and the decisions SSM recorded."""
    execution = gate.client("ssm").get_automation_execution(AutomationExecutionId=automation_id)[
        "AutomationExecution"
    ]
    decisions = [
        d
        for step in execution["StepExecutions"]
        for d in step["Outputs"].get("ApproverDecisions", [])
    ]
    return execution["AutomationExecutionStatus"], decisions


def execution_arn(gate, name: str) -> str:
    return gate.outputs["state_machine_arn"].replace(":stateMachine:", ":execution:") + ":" + name


# --- approvers --------------------------------------------------------------------------------


def test_list_mine_shows_each_approver_only_what_they_may_decide(cli, gate):
    for_alice, _ = start(gate, "alice", "bob", message="Deploy release 42 to production?")
    for_carol, _ = start(gate, "carol", message="Rotate the database credentials?")

    def listed(user: str) -> set[str]:
        ran = cli(user, "--json", "list", "--mine")
        assert ran.code == OK, ran.err
        return {row["execution_arn"].rsplit(":", 1)[-1] for row in ran.json}

    assert for_alice in listed("alice") and for_carol not in listed("alice")
    assert for_carol in listed("carol") and for_alice not in listed("carol")
    assert {for_alice, for_carol}.isdisjoint(listed("mallory"))

    table = cli("bob", "list")
    assert table.code == OK, table.err
    [line] = [line for line in table.out.splitlines() if for_alice in line]
    assert "Deploy release 42 to production?" in line
    assert "alice, bob (1 of 2)" in line and "PENDING" in line
    rows = {
        row["execution_arn"].rsplit(":", 1)[-1]: row for row in cli("bob", "--json", "list").json
    }
    assert rows[for_alice]["waiting_seconds"] >= 0
    assert 0 < rows[for_alice]["expires_in_seconds"] <= 3600  # LocalGate's timeout


def test_an_approval_decided_with_the_cli_reaches_the_workflow_and_shows_its_timeline(cli, gate):
    name, automation = start(gate, "alice", "bob", message="Ship release 43?")

    approved = cli("alice", "approve", name, "-m", "Looks good, ship it")
    assert approved.code == OK, approved.err
    assert "Approved approval" in approved.out

    waited = cli("alice", "--json", "wait", name, "--timeout", "60")
    assert waited.code == OK, waited.err
    assert (waited.json["outcome"], waited.json["callback"]) == ("Approved", "DELIVERED")
    execution = gate.finished(execution_arn(gate, name))
    assert execution["status"] == "SUCCEEDED"
    decided_by = json.loads(execution["output"])["approval"]["decided_by"]
    assert [(d["approver"], d["comment"]) for d in decided_by] == [
        (gate.principal_arn("alice"), "Looks good, ship it")
    ]

    shown = cli("bob", "--json", "show", automation)  # by automation id this time
    assert shown.code == OK, shown.err
    steps = [event["step"] for event in shown.json["timeline"]]
    for step in ("requested", "notified", "decision", "outcome", "delivered", "workflow"):
        assert step in steps, (step, shown.json["timeline"])
    decision = next(e for e in shown.json["timeline"] if e["step"] == "decision")
    assert decision["what"] == 'alice: Approve "Looks good, ship it"'
    assert shown.json["workflow"]["status"] == "SUCCEEDED"
    assert automation in shown.json["links"]["automation"]
    text = cli("bob", "show", name)
    assert text.code == OK and "Ship release 43?" in text.out and "SUCCEEDED" in text.out


def test_a_rejection_by_approval_id_ends_wait_with_its_exit_status(cli, gate):
    name, _ = start(gate, "bob")
    [record] = gate.records_of(execution_arn(gate, name))
    rejected = cli("bob", "reject", record["approval_id"], "-m", "Not before the freeze")
    assert rejected.code == OK, rejected.err

    waited = cli("carol", "wait", execution_arn(gate, name), "--timeout", "60")
    assert waited.code == REJECTED, waited.err
    output = json.loads(gate.finished(execution_arn(gate, name))["output"])["approval"]
    assert (output["decision"], output["decided_by"][0]["comment"]) == (
        "Rejected",
        "Not before the freeze",
    )


def test_a_quorum_of_two_waits_for_the_second_approver(cli, gate):
    name, automation = start(gate, "alice", "bob", "carol", quorum=2)
    assert cli("alice", "approve", name, "-m", "one").code == OK
    again = cli("alice", "approve", name, "-m", "twice")
    assert again.code == CONFLICT and "you already decided" in again.err
    assert automation_state(gate, automation)[0] == "Waiting"
    assert cli("carol", "wait", name, "--timeout", "3").code == 14  # still waiting
    assert cli("carol", "approve", name).code == OK
    assert cli("carol", "wait", name, "--timeout", "60").code == OK


def test_a_stranger_is_refused_with_the_approvers_named_and_nothing_is_sent(cli, gate):
    name, automation = start(gate, "alice", "bob")
    for user in ("mallory", "carol"):
        refused = cli(user, "approve", name, "-m", "let me in")
        assert refused.code == REFUSED, refused.err
        assert "not an approver" in refused.err
        assert (
            gate.principal_arn("alice") in refused.err and gate.principal_arn("bob") in refused.err
        )
        assert "nothing was sent" in refused.err
    assert automation_state(gate, automation) == ("Waiting", [])
    # IAM's refusal too: mallory may not stop automations.
    withdrawn = cli("mallory", "withdraw", name)
    assert withdrawn.code == REFUSED and "ssm:StopAutomationExecution" in withdrawn.err
    assert automation_state(gate, automation) == ("Waiting", [])
    assert cli("alice", "reject", name).code == OK  # leaves nothing pending behind


def test_a_decision_on_a_decided_approval_says_so_and_changes_nothing(cli, gate):
    name, automation = start(gate, "alice")
    assert cli("alice", "approve", name, "-m", "first").code == OK
    assert cli("alice", "wait", name, "--timeout", "60").code == OK
    [before] = gate.records_of(execution_arn(gate, name))
    for verb in ("approve", "reject"):
        again = cli("alice", verb, name, "-m", "second thoughts")
        assert again.code == CONFLICT, again.err
        assert "already decided: Approved" in again.err and "nothing was sent" in again.err
    withdrawn = cli("olivia", "withdraw", name)
    assert withdrawn.code == CONFLICT, withdrawn.err
    [after] = gate.records_of(execution_arn(gate, name))
    assert after == before
    assert len(automation_state(gate, automation)[1]) == 1


def test_unknown_ids_and_another_documents_automation_are_not_found(cli, gate):
    for ident in (str(uuid.uuid4()), "no-such-run", "arn:aws:sns:us-east-1:123456789012:topic"):
        ran = cli("alice", "approve", ident, "-m", "?")
        assert ran.code == NOT_FOUND, (ident, ran.err)
        assert "approvals list" in ran.err or "not a workflow execution ARN" in ran.err
        assert cli("alice", "show", ident).code == NOT_FOUND

    # An approval automation of another document (one the gate did not start).
    ssm = gate.client("ssm")
    document = gate.client("ssm").get_document(Name=gate.outputs["document_name"])["Content"]
    ssm.create_document(Name="AnotherTeamsApproval", Content=document, DocumentType="Automation")
    other = ssm.start_automation_execution(
        DocumentName="AnotherTeamsApproval",
        Parameters={
            "ApprovalId": [str(uuid.uuid4())],
            "Message": ["someone else's"],
            "Approvers": [gate.principal_arn("alice")],
            "NotificationArn": [gate.outputs["notification_topic_arn"]],
        },
    )["AutomationExecutionId"]
    ran = cli("alice", "approve", other, "-m", "not yours")
    assert ran.code == NOT_FOUND, ran.err
    assert "AnotherTeamsApproval" in ran.err and gate.outputs["document_name"] in ran.err
    assert automation_state(gate, other)[1] == []
    ssm.stop_automation_execution(AutomationExecutionId=other, Type="Cancel")


def test_the_workflow_owner_withdraws_a_pending_approval(cli, gate):
    name, automation = start(gate, "carol", message="Withdraw me")
    withdrawn = cli("olivia", "withdraw", name)
    assert withdrawn.code == OK, withdrawn.err
    assert cli("olivia", "wait", name, "--timeout", "60").code == CANCELLED
    execution = gate.finished(execution_arn(gate, name))
    assert (execution["status"], execution["error"]) == ("FAILED", "Approval.Cancelled")
    assert automation_state(gate, automation)[0] == "Cancelled"
    late = cli("carol", "approve", name)
    assert late.code == CONFLICT and "Cancelled" in late.err


def test_ssm_throttling_is_retried(cli, gate):
    name, _ = start(gate, "alice")
    gate.aws.api(
        "/moto-api/sandbox/faults",
        {
            "service": "ssm",
            "operation": "GetAutomationExecution",
            "error_code": "ThrottlingException",
            "times": 3,
        },
    )
    try:
        shown = cli("alice", "--json", "show", name)
    finally:
        gate.aws.api("/moto-api/sandbox/faults", method="DELETE")
    assert shown.code == OK, shown.err
    assert shown.json["automation"]["status"] == "Waiting"
    assert cli("alice", "approve", name).code == OK


def test_trace_shows_the_functions_and_their_aws_calls(cli, gate):
    name, _ = start(gate, "alice")
    assert cli("alice", "approve", name).code == OK
    assert cli("alice", "wait", name, "--timeout", "60").code == OK
    # As the deployer: the local AWS's IAM names X-Ray's read actions after their REST paths
    # (xray:TraceSummaries) where AWS has xray:GetTraceSummaries (reported, sandbox/iam).
    traced = cli("admin", "--json", "trace", name)
    assert traced.code == OK, traced.err

    def names(node: dict) -> list[str]:
        return [
            node["name"] + " " + node["detail"],
            *(n for c in node["children"] for n in names(c)),
        ]

    every = [n for trace in traced.json["traces"] for root in trace for n in names(root)]
    assert any("receive-result" in n for n in every), every
    assert any("SendTaskSuccess" in n for n in every), every
    text = cli("admin", "trace", name)
    assert text.code == OK and "GetAutomationExecution" in text.out


# --- operators --------------------------------------------------------------------------------


def test_sweep_runs_as_the_operator_only(cli, gate):
    swept = cli("oscar", "--json", "sweep")
    assert swept.code == OK, swept.err
    assert swept.json["failed"] is False and "pending" in json.loads(swept.json["answer"])
    refused = cli("alice", "sweep")
    assert refused.code == REFUSED and "lambda:InvokeFunction" in refused.err


def test_redrive_replays_the_dead_letters_of_the_gate_and_keeps_the_others(cli, gate):
    name, automation = start(gate, "alice")
    assert cli("alice", "approve", name).code == OK
    assert cli("alice", "wait", name, "--timeout", "60").code == OK
    sqs, queue = gate.client("sqs"), gate.outputs["dead_letter_queue_url"]
    # What EventBridge leaves there when receive_result keeps failing: SSM's event.
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "EC2 Automation Step Status-change Notification",
        "source": "aws.ssm",
        "account": "123456789012",
        "time": "2026-11-30T10:00:00Z",
        "region": gate.aws.region,
        "resources": [],
        "detail": {
            "ExecutionId": automation,
            "Definition": gate.outputs["document_name"],
            "StepName": "Approve",
            "Action": "aws:approve",
            "Status": "Success",
        },
    }
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(event))
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"source": "someone.else"}))

    doctor = cli("oscar", "--json", "doctor")
    assert doctor.code == PROBLEMS
    [dead] = [c for c in doctor.json if c["name"] == "dead letters"]
    assert not dead["ok"] and "redrive" in dead["fix"]

    dry = cli("oscar", "--json", "redrive", "--dry-run")
    assert dry.code == PROBLEMS, dry.err  # the foreign message
    assert dry.json["replayed"] == 0 and len(dry.json["messages"]) == 1
    ran = cli("oscar", "--json", "redrive")
    assert ran.code == PROBLEMS, ran.err
    assert ran.json["replayed"] == 1 and "someone.else" in ran.json["failed"][0]
    left = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["source"] for m in left] == ["someone.else"]
    for message in left:
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    assert cli("alice", "redrive").code == REFUSED


def test_doctor_finds_a_disabled_rule_and_says_what_to_do(cli, gate):
    events, rule = gate.client("events"), gate.outputs["event_rule_name"]
    healthy = cli("oscar", "doctor")
    assert healthy.code == OK, healthy.out + healthy.err
    events.disable_rule(Name=rule)
    try:
        sick = cli("oscar", "--json", "doctor")
    finally:
        events.enable_rule(Name=rule)
    assert sick.code == PROBLEMS
    [check] = [c for c in sick.json if c["name"] == f"rule {rule}"]
    assert not check["ok"] and f"aws events enable-rule --name {rule}" in check["fix"]


def test_export_is_the_audit_trail(cli, gate):
    name, _ = start(gate, "bob", message="Audit me")
    assert cli("bob", "reject", name, "-m", "no, audited").code == OK
    assert cli("bob", "wait", name, "--timeout", "60").code == REJECTED
    exported = cli("oscar", "export", "--since", "1d")
    assert exported.code == OK, exported.err
    rows = {
        json.loads(line)["execution_arn"]: json.loads(line) for line in exported.out.splitlines()
    }
    row = rows[execution_arn(gate, name)]
    assert (row["message"], row["outcome"], row["delivery"]) == (
        "Audit me",
        "Rejected",
        "DELIVERED by receive_result",
    )
    assert row["approvers"] == [gate.principal_arn("bob")] and row["min_required_approvals"] == 1
    [decision] = row["decisions"]
    assert (decision["approver"], decision["decision"], decision["comment"]) == (
        gate.principal_arn("bob"),
        "Reject",
        "no, audited",
    )
    csv = cli("oscar", "export", "--since", "2020-01-01", "--format", "csv")
    assert csv.code == OK
    assert csv.out.startswith("approval_id,requested_at,execution_arn,requested_by")
    assert "no, audited" in csv.out
    assert cli("oscar", "export", "--since", "last tuesday").code == 2


# --- configuration and credentials ------------------------------------------------------------


def test_a_missing_or_wrong_deployment_is_named(cli, gate, tmp_path):
    env = cli.env("alice")
    del env["APPROVALS_CONFIG"]
    missing = cli("alice", "list", env=env)
    assert missing.code == CONFIGURATION
    assert "--terraform-dir" in missing.err and "--config" in missing.err

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert cli("alice", "list", env=env | {"APPROVALS_CONFIG": str(broken)}).code == CONFIGURATION

    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"document_name": gate.outputs["document_name"]}))
    ran = cli("oscar", "redrive", env=cli.env("oscar", APPROVALS_CONFIG=str(partial)))
    assert ran.code == CONFIGURATION
    for output in (
        "dead_letter_queue_url",
        "receive_result_alias_arn",
        "close_approvals_alias_arn",
    ):
        assert output in ran.err

    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(gate.outputs | {"approvals_table_name": "no-such-table"}))
    ran = cli("admin", "list", env=cli.env("admin", APPROVALS_CONFIG=str(wrong)))
    assert ran.code == CONFIGURATION and "no-such-table" in ran.err
    assert "check the deployment" in ran.err
    ran = cli("alice", "list", env=env | {"APPROVALS_CONFIG": str(wrong)})  # IAM's answer first
    assert ran.code == REFUSED and "table/no-such-table" in ran.err

    # The Terraform state LocalGate deployed with: read directly, or through terraform.
    state = str(gate.terraform.state)
    by_state = cli("alice", "--terraform-state", state, "--json", "list", "--all", env=env)
    assert by_state.code == OK, by_state.err
    terraform_dir = str(REPO / "terraform" / "examples" / "local")
    tf_env = env | {k: v for k, v in os.environ.items() if k.startswith(("TF_", "TERRAFORM"))}
    by_dir = cli(
        "alice", "--terraform-dir", terraform_dir, "--terraform-state", state, "list", env=tf_env
    )
    assert by_dir.code == OK, by_dir.err


def test_no_or_bad_credentials_are_named(cli, gate, tmp_path):
    env = {k: v for k, v in cli.env("alice").items() if not k.startswith("AWS_ACCESS_KEY_ID")}
    env.pop("AWS_SECRET_ACCESS_KEY")
    env |= {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    env |= {"AWS_EC2_METADATA_DISABLED": "true"}
    ran = cli("alice", "list", env=env)
    assert ran.code == CONFIGURATION and "no AWS credentials" in ran.err

    bad = cli.env("alice", AWS_ACCESS_KEY_ID="AKIANOBODY0000000000")
    ran = cli("alice", "list", env=bad)
    assert ran.code == CONFIGURATION and "credentials were not accepted" in ran.err


def test_help_has_examples_and_exit_codes(cli):
    for command in ((), ("list",), ("approve",), ("wait",), ("redrive",), ("export",)):
        ran = cli("alice", *command, "--help", env={"PATH": os.environ["PATH"]})
        assert ran.code == OK and "Example" in ran.out and "Exit codes" in ran.out


def test_a_decision_on_an_expired_approval_changes_nothing(cli, gate):
    """Last: moving the sandbox clock expires every approval still waiting."""
    name, automation = start(gate, "alice")
    gate.aws.api("/moto-api/sandbox/clock/advance", {"seconds": 3601})
    assert cli("alice", "wait", name, "--timeout", "60").code == EXPIRED
    ran = cli("alice", "approve", name, "-m", "too late")
    assert ran.code == CONFLICT and "expired" in ran.err
    assert automation_state(gate, automation) == ("TimedOut", [])
