"""Runs one whole approval with X-Ray tracing on, as in Lambda, and prints what leaves the
functions: every log line and metric (stdout) and, last, one line `TRACES <json list>` with
every segment the X-Ray SDK emitted. Run by tests/functional/services/test_observability.py
in a fresh interpreter, because tracing is switched on or off once per process."""

import json
import sys

from aws_xray_sdk.core import xray_recorder
from moto import mock_aws

import sandbox
import tests.support.aws_env  # noqa: F401  (the fake AWS identity, before any client exists)
from tests.support.in_process_gate import MOTO_CONFIG, InProcessGate
from tests.support.lambda_context import LambdaContext


class MemoryEmitter:
    """Keeps what the SDK would send to the X-Ray daemon."""

    def __init__(self):
        self.documents: list[str] = []

    def send_entity(self, entity):
        self.documents.append(entity.serialize())

    def set_daemon_address(self, address):
        pass

    @property
    def ip(self):
        return "127.0.0.1"

    @property
    def port(self):
        return 2000


def main() -> None:
    emitter = MemoryEmitter()
    with mock_aws(config=MOTO_CONFIG):
        sandbox.install()
        gate = InProcessGate()
        from receive_result.handlers.receive_result import lambda_handler as receive
        from start_approval.handlers.start_approval import lambda_handler as start

        xray_recorder.configure(emitter=emitter)
        workflow = gate.start_workflow(
            {"message": "Ship it?", "approvers": [gate.principal("alice")]}
        )
        print("TOKEN", json.dumps(workflow.payload["task_token"]))
        reply = start(workflow.payload, LambdaContext())
        gate.signal("alice", reply["automation_execution_id"], "Approve", comment="fine")
        for event in gate.result_events():
            receive(event, LambdaContext())
        print("STATUS", gate.execution(workflow.execution_arn)["status"])
        automation = gate.ssm.get_automation_execution(
            AutomationExecutionId=reply["automation_execution_id"]
        )
        print("AUTOMATION", json.dumps(automation["AutomationExecution"], default=str))
    print("TRACES", json.dumps(emitter.documents))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
