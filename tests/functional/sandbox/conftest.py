"""Fixtures of the sandbox tests: moto with the sandbox installed, in-process or as a server,
with their harnesses (tests/support/sandbox_account.py, tests/support/lambda_harness.py).
They exercise the emulation's mechanics with clients that never retry, several SSM calls a
second: SSM's API rates are lifted here (tests/support/ssm_rates.py)."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

import sandbox
from sandbox.awslambda import lambda_settings
from sandbox.server import LocalAws
from tests.support.lambda_harness import LambdaHarness
from tests.support.sandbox_account import Principal, SandboxAccount
from tests.support.ssm_rates import lift_ssm_rates


@pytest.fixture
def aws() -> Iterator[SandboxAccount]:
    with mock_aws():
        sandbox.install()
        sandbox.reset()
        lift_ssm_rates()
        yield SandboxAccount()
        sandbox.reset()


@pytest.fixture
def server_aws() -> Iterator[SandboxAccount]:
    """The same world through moto's server mode, on 127.0.0.1 (an ephemeral port)."""
    sandbox.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint_url = f"http://{host}:{port}"
    try:
        # moto's state is process-wide: start from a clean slate.
        urllib.request.urlopen(
            urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
        ).close()
        sandbox.reset()
        lift_ssm_rates()
        yield SandboxAccount(endpoint_url=endpoint_url)
    finally:
        sandbox.reset()
        server.stop()


@pytest.fixture
def emitted() -> Iterator[list[dict[str, Any]]]:
    """Every event the sandbox emits during the test."""
    seen: list[dict[str, Any]] = []
    sandbox.add_event_listener(seen.append)
    yield seen
    sandbox.remove_event_listener(seen.append)


@pytest.fixture
def alice(aws: SandboxAccount) -> Principal:
    return aws.user("alice")


@pytest.fixture
def users(aws: SandboxAccount) -> Callable[..., list[Principal]]:
    def make(*names: str) -> list[Principal]:
        return [aws.user(name) for name in names]

    return make


@pytest.fixture
def fast_retries() -> Iterator[None]:
    """Lambda's and EventBridge's retry delays in tens of milliseconds."""
    lambda_settings.async_retry_delays = (0.05, 0.05)
    lambda_settings.async_throttle_delay = 0.05
    lambda_settings.eventbridge_retry_delay = 0.05
    lambda_settings.eventbridge_max_retry_delay = 0.2
    yield
    lambda_settings.reset()


@pytest.fixture
def local_aws() -> Iterator[LocalAws]:
    """The local AWS of ``make demo``: LocalAws on 127.0.0.1, a free port. IAM off: these
    tests exercise the emulation's mechanics with bare resources; IAM has its own tests
    (test_iam.py) and is on wherever the gate is deployed (tests/e2e, make demo)."""
    with LocalAws(port=0, expire_interval=0.1, iam=False) as server:
        server.api("/moto-api/reset")
        sandbox.reset()
        lift_ssm_rates()
        yield server
        sandbox.reset()


@pytest.fixture
def lambdas(local_aws: LocalAws) -> LambdaHarness:
    return LambdaHarness(endpoint_url=local_aws.endpoint)


@pytest.fixture
def local_gate(local_aws: LocalAws) -> SandboxAccount:
    """The gate's document, topic and principals on the local AWS server."""
    return SandboxAccount(endpoint_url=local_aws.endpoint)


@pytest.fixture
def inprocess_lambdas() -> Iterator[LambdaHarness]:
    """The same in-process (mock_aws), Step Functions executing their definitions."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sandbox.install()
        sandbox.reset()
        lift_ssm_rates()
        yield LambdaHarness()
        sandbox.reset()


@pytest.fixture(params=["server", "in-process"])
def any_lambdas(request: pytest.FixtureRequest) -> LambdaHarness:
    """Both modes, for the behaviour that must not depend on it."""
    name = "lambdas" if request.param == "server" else "inprocess_lambdas"
    return request.getfixturevalue(name)
