"""`make test-aws`: the deployed `aws` example driven on a real account.

Skipped, with the reason, when there is nothing to drive: under the default suite (its
tests/conftest.py replaces the credentials with fake ones; `make test-aws` does not load it),
without the deployment (`make deploy EXAMPLE=aws`), or without credentials. The approvers
are IAM roles created for the session and deleted after it (scripts/aws_probe/approvers.py).

APPROVAL_GATE_EXAMPLE (a root module folder) or APPROVAL_GATE_STATE (a state file) name
another deployment; AWS_ENDPOINT_URL (read by boto3) points the suite at the local AWS.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from scripts.aws_probe.approvers import ProbeRoles
from scripts.aws_probe.deployment import DEFAULT_EXAMPLE, Preflight, preflight
from scripts.aws_probe.gate import DeployedGate

APPROVERS = ["a", "b", "c", "stranger"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "aws: drives the gate deployed in a real AWS account (make test-aws)"
    )


@pytest.fixture(scope="session")
def deployment() -> Preflight:
    if "tests.support.aws_env" in sys.modules:
        pytest.skip(
            "the default suite runs with fake AWS credentials (tests/conftest.py): "
            "run `make test-aws` to drive the deployed aws example"
        )
    example = Path(os.environ.get("APPROVAL_GATE_EXAMPLE") or DEFAULT_EXAMPLE)
    state = os.environ.get("APPROVAL_GATE_STATE")
    found = preflight(example, Path(state) if state else None, endpoint=None)
    if found.problems:
        pytest.skip("cannot drive a deployed gate: " + " ".join(found.problems))
    return found


@pytest.fixture(scope="session")
def aws_gate(deployment: Preflight) -> DeployedGate:
    assert deployment.account is not None
    wait = float(os.environ.get("APPROVAL_GATE_WAIT_SECONDS", "300"))
    return DeployedGate(deployment.account, deployment.outputs, wait_seconds=wait)


@pytest.fixture(scope="session")
def approvers(deployment: Preflight, aws_gate: DeployedGate):
    """Roles a, b, c (listed as approvers by the tests) and stranger (never listed)."""
    assert deployment.account is not None
    policy = deployment.outputs.get("approver_policy_json")
    roles = ProbeRoles(deployment.account, f"t{uuid.uuid4().hex[:7]}", policy)
    try:
        roles.create(APPROVERS)
        yield roles
    finally:
        aws_gate.stop_leftovers()
        left = roles.delete_all()
        assert not left, f"delete these yourself: {left}"
