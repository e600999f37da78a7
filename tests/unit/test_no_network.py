"""The unit layer's guard (tests/unit/conftest.py) refuses the network, so no unit test can
reach AWS, moto's server or the local AWS unnoticed."""

import socket

import boto3
import pytest
from botocore.config import Config

from tests.support.no_network import NetworkUsed


@pytest.mark.parametrize(
    "connect",
    [
        lambda: socket.create_connection(("127.0.0.1", 4566), timeout=1),
        lambda: socket.socket().connect(("127.0.0.1", 4566)),
        lambda: socket.getaddrinfo("ssm.us-east-1.amazonaws.com", 443),
    ],
    ids=["create_connection", "connect", "getaddrinfo"],
)
def test_a_connection_attempt_is_refused_and_recorded(network_attempts, connect):
    with pytest.raises(NetworkUsed):
        connect()
    assert len(network_attempts) == 1
    network_attempts.clear()  # seen: the guard would otherwise fail this test at teardown


def test_an_aws_call_fails_even_when_the_sdk_swallows_the_refusal(network_attempts):
    ssm = boto3.client(
        "ssm", endpoint_url="http://127.0.0.1:4566", config=Config(retries={"max_attempts": 0})
    )
    with pytest.raises(Exception):  # noqa: B017 (botocore wraps the refusal its own way)
        ssm.describe_automation_executions()
    assert network_attempts, "the SDK's connection attempt was not seen"
    network_attempts.clear()
