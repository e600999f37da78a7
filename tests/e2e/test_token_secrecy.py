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
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime
import decimal
import enum
import io
import json
import logging
import socket
import subprocess
import sys
import threading
import time
import types
import urllib.parse
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scripts.local_gate import wait_for

pytestmark = pytest.mark.terraform

ACCOUNT_ID = "123456789012"
# In the request of every flow: the searched services' data is shown reachable by finding it.
CANARY = "token-secrecy-canary-7f3a"

# --- the searcher -------------------------------------------------------------------------

_LEAVES = (
    int,
    float,
    complex,
    bool,
    type(None),
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    uuid.UUID,
    Path,
)
# Code, threads, sockets, files, processes: no recorded data, and walking them leads into the
# interpreter's own state.
_OPAQUE = (
    types.ModuleType,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.BuiltinMethodType,
    types.CodeType,
    types.FrameType,
    types.GeneratorType,
    types.CoroutineType,
    weakref.ref,
    threading.Thread,
    socket.socket,
    io.IOBase,
    subprocess.Popen,
    logging.Logger,
    logging.Handler,
)
MAX_DEPTH = 200
MAX_NODES = 5_000_000


@dataclasses.dataclass(frozen=True)
class Hit:
    path: str
    needle: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.path}: {self.needle} in {self.excerpt!r}"


@dataclasses.dataclass
class Search:
    """Walks objects (dicts, sequences, sets, attributes, slots, dataclasses, strings and
    bytes) from named roots, depth first, each object once, and reports where a needle is."""

    needles: dict[str, str]  # name -> text
    skip: Callable[[Any], bool] = lambda value: False
    hits: list[Hit] = dataclasses.field(default_factory=list)
    nodes: int = 0
    too_deep: list[str] = dataclasses.field(default_factory=list)

    def text(self, path: str, value: str | bytes) -> None:
        for name, needle in self.needles.items():
            raw = needle.encode() if isinstance(value, bytes | bytearray) else needle
            at = value.find(raw)  # type: ignore[arg-type]
            if at >= 0:
                excerpt = value[max(at - 60, 0) : at + len(raw) + 60]
                if isinstance(excerpt, bytes | bytearray):
                    excerpt = excerpt.decode("utf-8", errors="replace")
                self.hits.append(Hit(path, name, str(excerpt)))

    def walk(self, roots: Iterable[tuple[str, Any]]) -> Search:
        seen: set[int] = set()
        keep: list[Any] = []  # objects made during the walk stay alive: ids stay unique
        for root_path, root in roots:
            stack: list[tuple[str, Any, int]] = [(root_path, root, 0)]
            while stack:
                path, value, depth = stack.pop()
                if isinstance(value, str):
                    self.text(path, value)
                    continue
                if isinstance(value, bytes | bytearray | memoryview):
                    self.text(path, bytes(value))
                    continue
                if isinstance(value, _LEAVES + _OPAQUE):
                    continue
                if isinstance(value, enum.Enum):
                    stack.append((f"{path}.value", value.value, depth + 1))
                    continue
                if id(value) in seen or self.skip(value):
                    continue
                seen.add(id(value))
                keep.append(value)
                self.nodes += 1
                if self.nodes > MAX_NODES:
                    raise AssertionError(f"more than {MAX_NODES} objects from {root_path}")
                if depth >= MAX_DEPTH:
                    self.too_deep.append(path)
                    continue
                stack.extend(
                    (child_path, child, depth + 1) for child_path, child in _children(path, value)
                )
        return self

    def found(self) -> list[str]:
        return [str(hit) for hit in self.hits]


def _children(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    for attempt in range(5):  # the server's threads may change a container meanwhile
        try:
            return iter(list(_children_now(path, value)))
        except RuntimeError:
            time.sleep(0.05 * (attempt + 1))
    return iter(list(_children_now(path, value)))


def _children_now(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in list(value.items()):
            if not isinstance(key, str | int):
                yield f"{path}<key {key!r:.60}>", key
            yield f"{path}[{key!r:.80}]", item
    elif isinstance(value, list | tuple | set | frozenset | collections.deque):
        for index, item in enumerate(list(value)):
            yield f"{path}[{index}]", item
    try:
        attributes = object.__getattribute__(value, "__dict__")
    except Exception:  # no __dict__; or a proxy (werkzeug's LocalProxy) that refuses
        attributes = None
    if isinstance(attributes, dict):
        for name, item in list(attributes.items()):
            yield f"{path}.{name}", item
    for cls in type(value).__mro__:
        for name in getattr(cls, "__slots__", ()) or ():
            if isinstance(name, str) and name not in ("__dict__", "__weakref__"):
                try:
                    yield f"{path}.{name}", getattr(value, name)
                except Exception:  # an empty slot
                    continue


def needles_of(token: str, label: str) -> dict[str, str]:
    """The token and forms of it a copy might take: JSON-escaped, URL-encoded, and slices of
    it (start, middle, end; 40 characters, or half of a shorter token such as moto's UUIDs)
    in case a copy is truncated or re-wrapped."""
    forms = {
        f"{label}": token,
        f"{label} (JSON-escaped)": json.dumps(token)[1:-1],
        f"{label} (URL-encoded)": urllib.parse.quote(token, safe=""),
    }
    size = min(40, len(token) // 2)
    if size >= 16:
        middle = (len(token) - size) // 2
        forms |= {
            f"{label}[:{size}]": token[:size],
            f"{label}[{middle}:{middle + size}]": token[middle : middle + size],
            f"{label}[-{size}:]": token[-size:],
        }
    unique: dict[str, str] = {}
    for name, text in forms.items():
        if text not in unique.values():
            unique[name] = text
    return unique


# --- what the local AWS recorded ----------------------------------------------------------


def is_step_functions(value: Any) -> bool:
    """Step Functions' own objects (moto's and the sandbox's): whitelisted, see the docstring."""
    module = type(value).__module__ or ""
    return module.startswith(("moto.stepfunctions", "sandbox.stepfunctions"))


def moto_backends() -> Iterator[tuple[str, Any]]:
    """Every moto backend in use (moto keeps the list to reset them), per account and Region;
    Step Functions' left out (whitelisted)."""
    from moto.core.base_backend import BackendDict
    from moto.moto_api._internal.models import moto_api_backend

    for backend_dict in list(BackendDict._instances):
        for account, region, backend in backend_dict.iter_backends():
            if backend_dict.service_name == "stepfunctions":
                continue
            yield f"{backend_dict.service_name}[{account}][{region}]", backend
    yield "moto_api", moto_api_backend


def step_functions_backends() -> Iterator[tuple[str, Any]]:
    from moto.core.base_backend import BackendDict

    for backend_dict in list(BackendDict._instances):
        if backend_dict.service_name == "stepfunctions":
            for account, region, backend in backend_dict.iter_backends():
                yield f"{type(backend).__name__}[{account}][{region}]", backend


def sandbox_state() -> Iterator[tuple[str, Any]]:
    """The sandbox's module-level state (workers, faults, settings, listeners...)."""
    for name, module in sorted(sys.modules.items()):
        if name != "sandbox" and not name.startswith("sandbox."):
            continue
        for attribute, value in sorted(vars(module).items()):
            if attribute.startswith("__") or isinstance(value, _OPAQUE):
                continue
            yield f"{name}.{attribute}", value


def records_table(gate: Any) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT_ID][gate.aws.region].tables[
        gate.outputs["approvals_table_name"]
    ]


def stored_tokens(table: Any) -> set[int]:
    """ids of the records table's `task_token` values (moto DynamoType objects)."""
    found = set()
    for value in list(table.items.values()):
        for item in list(value.values()) if isinstance(value, dict) else [value]:
            attribute = item.attrs.get("task_token")
            if attribute is not None:
                found.add(id(attribute))
    return found


class LogRecorder(logging.Handler):
    """What the local AWS (moto, the sandbox, werkzeug) logs in this process."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{record.name} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(line)


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


# --- the approvals ------------------------------------------------------------------------


@dataclasses.dataclass
class WatchedApproval:
    name: str
    execution_arn: str
    token: str = ""
    record: dict[str, Any] = dataclasses.field(default_factory=dict)
    execution: dict[str, Any] = dataclasses.field(default_factory=dict)
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def request(gate: Any, *approvers: str, message: str) -> dict[str, Any]:
    return {
        "message": f"{message} ({CANARY})",
        "approvers": [gate.principal_arn(a) for a in approvers],
        "min_required_approvals": 1,
    }


def run_flows(gate: Any) -> dict[str, WatchedApproval]:
    sfn = gate.client("stepfunctions")
    flows: dict[str, WatchedApproval] = {}

    def start(name: str, body: dict[str, Any]) -> WatchedApproval:
        flows[name] = WatchedApproval(
            name, gate.start(body, name=f"secrecy-{name}-{uuid.uuid4().hex[:6]}")
        )
        return flows[name]

    # Approved, with a comment.
    flow = start("approved", request(gate, "alice", "bob", message="Ship release 42?"))
    gate.decide("alice", gate.automation_of(flow.execution_arn), "Approve", "checked the diff")
    gate.finished(flow.execution_arn)

    # Rejected.
    flow = start("rejected", request(gate, "bob", message="Drop the old table?"))
    gate.decide("bob", gate.automation_of(flow.execution_arn), "Reject", "not now")
    gate.finished(flow.execution_arn)

    # The workflow is stopped before the decision: the gate closes the approval (and cancels
    # its automation), or, if the decision comes first, Step Functions refuses the callback.
    flow = start("stopped", request(gate, "alice", message="Rotate the keys?"))
    automation = gate.automation_of(flow.execution_arn)
    sfn.stop_execution(executionArn=flow.execution_arn, error="Stopped", cause="by its owner")
    with contextlib.suppress(ClientError):  # the automation may be cancelled already
        gate.decide("alice", automation, "Approve", "too late")
    wait_for(
        lambda: any(settled(r) for r in gate.records_of(flow.execution_arn)),
        60,
        "the approval of the stopped workflow was neither closed nor refused",
    )

    # A bad request: start_approval refuses it before anything is stored.
    start("bad request", {"message": "m", "approvers": ["arn:aws:iam::123456789012:group/Ops"]})
    gate.finished(flows["bad request"].execution_arn)

    # Step Functions refuses every SendTaskSuccess (a broken role, say): receive_result fails
    # with the token in hand, Lambda retries twice, the event stays in the dead-letter queue.
    flow = start("undelivered", request(gate, "alice", message="Scale down?"))
    automation = gate.automation_of(flow.execution_arn)
    sqs = gate.client("sqs")
    queue = gate.outputs["dead_letter_queue_url"]
    gate.aws.api(
        "/moto-api/sandbox/faults",
        {
            "service": "stepfunctions",
            "operation": "SendTaskSuccess",
            "error_code": "AccessDeniedException",
        },
    )
    try:
        gate.decide("alice", automation, "Approve", "while broken")
        wait_for(
            lambda: int(
                sqs.get_queue_attributes(
                    QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]["ApproximateNumberOfMessages"]
            ),
            60,
            "nothing reached the dead-letter queue",
        )
    finally:
        gate.aws.api("/moto-api/sandbox/faults", method="DELETE")

    # Nobody decides: the approval expires (last: the clock moves for every automation).
    flow = start("expired", request(gate, "alice", message="Restart the cluster?"))
    gate.automation_of(flow.execution_arn)
    gate.aws.api("/moto-api/sandbox/clock/advance", {"seconds": 3601})
    gate.finished(flow.execution_arn)

    for flow in flows.values():
        flow.execution = sfn.describe_execution(executionArn=flow.execution_arn)
        flow.history = sfn.get_execution_history(executionArn=flow.execution_arn, maxResults=1000)[
            "events"
        ]
        flow.token = scheduled_token(flow.history)
        records = gate.records_of(flow.execution_arn)
        flow.record = records[0] if records else {}
    return flows


def settled(record: dict[str, Any]) -> bool:
    """The approval of a stopped workflow is over: closed, or its callback refused."""
    return record.get("status") == "CLOSED" or record.get("callback") == "REFUSED"


def scheduled_token(history: list[dict[str, Any]]) -> str:
    """The token Step Functions put in the Task's parameters (TaskScheduled)."""
    [scheduled] = [e for e in history if e["type"] == "TaskScheduled"]
    parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
    return parameters["Payload"]["task_token"]


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
