"""The services' functional tests' fixtures: the gate in moto + the local AWS
(tests/support/in_process_gate.py), a Lambda context, and the deployed handlers."""

from __future__ import annotations

import pytest
from moto import mock_aws

import sandbox
from tests.support.in_process_gate import MOTO_CONFIG, InProcessGate
from tests.support.lambda_context import LambdaContext
from tests.support.ssm_rates import lift_ssm_rates


@pytest.fixture
def gate():
    """The handlers in-process against moto + the local AWS. These tests drive the services
    faster than SSM's API rates allow (two starts in a row, a sweep of many approvals), and
    the services' own retries of a throttled call wait at random: SSM's rates are lifted
    here; they have their own tests (tests/functional/sandbox/test_rate_quotas.py), and
    the end-to-end layer and `make demo` run at AWS's figures."""
    with mock_aws(config=MOTO_CONFIG):
        sandbox.install()
        sandbox.reset()
        lift_ssm_rates()
        yield InProcessGate()
        sandbox.reset()


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def start_handler():
    from start_approval.handlers.start_approval import lambda_handler

    return lambda_handler


@pytest.fixture
def receive_handler():
    from receive_result.handlers.receive_result import lambda_handler

    return lambda_handler


@pytest.fixture
def sweep_approvals_handler():
    from receive_result.handlers.sweep_approvals import lambda_handler

    return lambda_handler


@pytest.fixture
def close_approvals_handler():
    from receive_result.handlers.close_approvals import lambda_handler

    return lambda_handler


@pytest.fixture
def started(gate, start_handler, context):
    """Starts a workflow whose approval waits; returns (workflow, start reply)."""

    def start(**request):
        body = {"message": "Ship it?", "approvers": [gate.principal("alice")]} | request
        workflow = gate.start_workflow(body)
        return workflow, start_handler(workflow.payload, context)

    return start
