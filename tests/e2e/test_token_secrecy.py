"""The task token never leaves the workflow and the records table.

Whole approvals run through the deployed gate (approved, rejected, a workflow stopped while it
waits, a bad request, a result whose callback keeps failing and is left in the dead-letter
queue, an expiry); then everything the local AWS recorded is searched for their
task tokens:

- the state of every moto backend in use in the server's process, walked object by object:
  SSM (parameters, documents, the sandbox's automation executions kept on the backend),
  CloudWatch Logs (every event of every log group: the functions' logs and EMF metrics, the
  state machine's group), SNS (published notifications), SQS (the approvers' inbox, the
  dead-letter queue), EventBridge, CloudWatch, Lambda, IAM, KMS, STS, DynamoDB (every table
  and item but one attribute, below)...;
- the sandbox's own module state (workers, faults, settings, listeners);
- what the local AWS logged in this process (Python logging);
- the X-Ray segments the functions emitted (the local AWS's own X-Ray daemon: the Lambda
  setting `capture_traces`; they are also in moto's X-Ray backend, searched above);
- Step Functions' API answers beyond the Task's parameters (outputs, errors, causes);
- Terraform's outputs (`terraform output -json`) and its state file.

Whitelisted, because the gate cannot work without them:

- the `task_token` attribute of the records table's items (that attribute only: the rest of
  the table, idempotency records included, is searched): the one place the gate keeps the
  token, to call the workflow back (README, "Who may do what");
- Step Functions itself (its moto backends, and objects of its classes wherever reached): it
  issued the token and keeps it to accept the callback; its execution history shows it in the
  Task's parameters (TaskScheduled), which is AWS's own store, readable only by whoever may
  read the workflow's history. The rest of what its API returns is searched.

The searcher is shown to find the token where it is (the whitelisted attribute, the
TaskScheduled parameters) and to reach the data of the searched services (the request's text
in SSM, SNS and SQS, the approval id in the functions' logs and traces, in X-Ray's backend
too), so a pass means the
token is absent, not that the search saw nothing.

The searcher and its roots are in tests/support (object_search.py, local_aws_state.py), the
flows in tests/support/secrecy_flows.py; every test here reads the one deployment of this
module (module-scoped `gate`, `recorded`).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from tests.support.local_aws_state import (
    LogRecorder,
    is_step_functions,
    moto_backends,
    records_table,
    sandbox_state,
    step_functions_backends,
    stored_tokens,
)
from tests.support.object_search import Hit, Search, needles_of
from tests.support.secrecy_flows import CANARY, run_flows, settled

pytestmark = pytest.mark.terraform


# --- X-Ray: the segments the functions emit -----------------------------------------------


@pytest.fixture(scope="module")
def xray_segments(gate):
    """Reads the X-Ray segments the functions sent from here on.

    The local AWS's Lambda setting ``capture_traces`` (sandbox/LOCAL_AWS.md, "X-Ray traces")
    gives every worker started from now on its own X-Ray daemon, and runs the gate's functions
    (Active tracing) sampled, as Lambda does; ``GET /moto-api/sandbox/xray/segments`` answers
    what the daemon received, Lambda's function segments and the functions' subsegments."""
    path = "/moto-api/sandbox/xray/segments"
    gate.aws.api("/moto-api/sandbox/settings", {"lambda": {"capture_traces": True}})
    gate.aws.api(path, method="DELETE")
    try:
        yield lambda: gate.aws.api(path, method="GET")["segments"]
    finally:
        gate.aws.api("/moto-api/sandbox/settings", {"lambda": {"capture_traces": False}})
        gate.aws.api(path, method="DELETE")


# --- the approvals, run once --------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded(gate, xray_segments):
    logs = LogRecorder()
    root = logging.getLogger()
    root.addHandler(logs)
    try:
        flows = run_flows(gate)
    finally:
        root.removeHandler(logs)
    time.sleep(0.5)  # the last segments and log lines arrive
    needles: dict[str, str] = {}
    for flow in flows.values():
        assert len(flow.token) > 20, f"{flow.name}: no task token in its history"
        needles |= needles_of(flow.token, f"token of {flow.name!r}")
    return {
        "flows": flows,
        "needles": needles,
        "logs": logs.lines,
        "segments": xray_segments(),
    }


def leaks(hits: list[Hit]) -> str:
    return "the task token was found:\n" + "\n".join(f"  {hit}" for hit in hits)


# --- the tests ----------------------------------------------------------------------------


def test_every_flow_ended_as_expected_and_kept_its_token_in_the_records_table(recorded):
    flows = recorded["flows"]

    def status(name: str) -> tuple[str, str | None]:
        execution = flows[name].execution
        return execution["status"], execution.get("error")

    def decision(name: str) -> str:
        return json.loads(flows[name].execution["output"])["approval"]["decision"]

    assert status("approved") == ("SUCCEEDED", None) and decision("approved") == "Approved"
    assert status("rejected") == ("SUCCEEDED", None) and decision("rejected") == "Rejected"
    assert status("stopped")[0] == "ABORTED" and settled(flows["stopped"].record)
    assert status("bad request") == ("FAILED", "InvalidApprovalRequest")
    assert flows["bad request"].record == {}  # refused before anything was stored
    # Its result waits in the dead-letter queue, or was delivered by a sweep of the gate
    # once the expiry flow moved the clock (either way, the queue held it: see below).
    assert status("undelivered")[0] in ("RUNNING", "SUCCEEDED")
    assert flows["undelivered"].record["callback"] in ("SENDING", "DELIVERED")
    assert status("expired") == ("FAILED", "Approval.Expired")
    for flow in flows.values():
        if flow.name != "bad request":
            assert flow.record["task_token"] == flow.token, flow.name
    assert len({flow.token for flow in flows.values()}) == len(flows)


def test_the_searcher_finds_the_token_where_it_is_kept(recorded, gate):
    """The positive controls: the whitelisted places hold the token, and the walk finds it."""
    needles = recorded["needles"]
    table = records_table(gate)
    hits = Search(needles).walk([("records table", table)]).hits
    stored = {hit.needle for hit in hits if ".attrs['task_token']" in hit.path}
    for flow in recorded["flows"].values():
        if flow.name != "bad request":
            assert f"token of {flow.name!r}" in stored, hits
    # Step Functions (whitelisted) holds every token: its history, its callback pool.
    hits = Search(needles).walk(step_functions_backends()).hits
    for flow in recorded["flows"].values():
        assert f"token of {flow.name!r}" in {hit.needle for hit in hits}, flow.name
    # With the attribute whitelisted, nothing else in the table (idempotency records too).
    whitelisted = stored_tokens(table)
    rest = Search(needles, skip=lambda value: id(value) in whitelisted).walk(
        [("records table", table)]
    )
    assert rest.hits == [], leaks(rest.hits)


def test_the_search_reaches_the_data_of_every_searched_service(recorded, gate):
    """The request's text (in every flow's request) is found in SSM (the automation's
    parameters), SNS (the approvers' notification) and SQS (their inbox); the approval id in
    the functions' logs (CloudWatch Logs) and traces (X-Ray)."""
    approval_id = recorded["flows"]["approved"].record["approval_id"]
    search = Search({"canary": CANARY, "approval id": approval_id}).walk(moto_backends())
    services = {(hit.needle, hit.path.split("[", 1)[0]) for hit in search.hits}
    assert {("canary", "ssm"), ("canary", "sns"), ("canary", "sqs")} <= services, services
    assert {("approval id", "logs"), ("approval id", "xray")} <= services, services
    assert search.too_deep == [], search.too_deep[:20]


def test_no_backend_of_the_local_aws_holds_the_token(recorded, gate):
    needles = recorded["needles"]
    whitelisted = stored_tokens(records_table(gate))
    search = Search(
        needles, skip=lambda value: id(value) in whitelisted or is_step_functions(value)
    ).walk([*moto_backends(), *sandbox_state()])
    assert search.hits == [], leaks(search.hits)
    assert search.too_deep == [], search.too_deep[:20]
    assert search.nodes > 1000


def test_the_dead_letter_queue_held_a_result_when_searched(recorded, gate):
    """The dead-letter queue was not empty when the backends were searched (its messages and
    their ErrorMessage attributes were part of the search)."""
    attributes = gate.client("sqs").get_queue_attributes(
        QueueUrl=gate.outputs["dead_letter_queue_url"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]
    assert int(attributes["ApproximateNumberOfMessages"]) >= 1


def test_the_local_aws_logged_no_token(recorded):
    needles = recorded["needles"]
    search = Search(needles).walk([("python logging", recorded["logs"])])
    assert search.hits == [], leaks(search.hits)


def test_no_trace_segment_holds_the_token(recorded, gate):
    segments = recorded["segments"]
    needles = recorded["needles"]
    approval_id = recorded["flows"]["approved"].record["approval_id"]
    assert segments, "the functions emitted no X-Ray segment: the capture no longer works"
    # Lambda's segment of each function, and the functions' own subsegments under them.
    functions = {s["name"]: s for s in segments if s.get("origin") == "AWS::Lambda::Function"}
    for output in ("start_approval_function_name", "receive_result_function_name"):
        assert gate.outputs[output] in functions, sorted(functions)
    parents = {s["id"] for s in functions.values()}
    assert any(s.get("parent_id") in parents for s in segments), "no subsegment of a function"
    calls = {(s.get("aws") or {}).get("operation") for s in segments}
    assert "SendTaskSuccess" in calls  # the call that carries the token
    assert approval_id in json.dumps(segments)
    search = Search(needles).walk(
        (f"x-ray segment {index}", segment) for index, segment in enumerate(segments)
    )
    assert search.nodes >= len(segments)
    assert search.hits == [], leaks(search.hits)


def test_step_functions_shows_the_token_only_in_the_tasks_parameters(recorded, gate):
    """Outputs, errors and causes of every execution and every other history event are clean;
    and the state machine's logs leave execution data out (the local AWS writes no Step
    Functions logs, so the setting stands in for searching them)."""
    needles = recorded["needles"]
    roots = []
    for flow in recorded["flows"].values():
        history = json.loads(json.dumps(flow.history, default=str))
        for event in history:
            if event["type"] == "TaskScheduled":
                assert flow.token in event["taskScheduledEventDetails"].pop("parameters")
        roots += [(f"{flow.name} history", history), (f"{flow.name} execution", flow.execution)]
    search = Search(needles).walk(json.loads(json.dumps(roots, default=str)))
    assert search.hits == [], leaks(search.hits)
    logging_configuration = gate.client("stepfunctions").describe_state_machine(
        stateMachineArn=gate.outputs["state_machine_arn"]
    )["loggingConfiguration"]
    # Absent means false (the API's default).
    assert not logging_configuration.get("includeExecutionData", False), logging_configuration


def test_terraform_outputs_and_state_hold_no_token(recorded, gate):
    needles = recorded["needles"]
    state = gate.terraform.state
    files = [path for path in (state, state.with_name(state.name + ".backup")) if path.exists()]
    assert state in files
    roots: list[tuple[str, Any]] = [("terraform output -json", gate.terraform.outputs())]
    roots += [(str(path), path.read_text()) for path in files]
    search = Search(needles).walk(roots)
    assert search.hits == [], leaks(search.hits)
