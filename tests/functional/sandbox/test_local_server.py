"""The local AWS as a server of its own: LocalAws, ``python -m sandbox serve|status|stop``, the
sandbox's HTTP controls (clock, expiry, faults) and the expiry thread."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from moto.core.config import default_user_config

import sandbox
from sandbox import awslambda
from sandbox.__main__ import main as cli
from sandbox.core import endpoint
from sandbox.server import LocalAws, call_api
from tests.support.lambda_harness import LambdaHarness

REPO = Path(__file__).resolve().parents[3]
APP = {"app.py": "import os\ndef handler(event, context):\n    return os.getpid()\n"}
RESULTS_PATTERN = {
    "source": ["aws.ssm"],
    "detail-type": ["EC2 Automation Step Status-change Notification"],
    "detail": {"Action": ["aws:approve"], "Status": ["TimedOut"]},
}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _reachable(endpoint: str) -> bool:
    try:
        urllib.request.urlopen(f"{endpoint}/moto-api/sandbox/clock", timeout=2).close()
    except (urllib.error.URLError, ConnectionError, OSError):
        return False
    return True


def test_local_aws_starts_on_a_free_port_and_stops_everything(tmp_path):
    before = dict(default_user_config["stepfunctions"])
    with LocalAws(port=0, state_dir=tmp_path) as aws:
        assert aws.port > 0
        assert aws.endpoint == f"http://127.0.0.1:{aws.port}"
        assert default_user_config["stepfunctions"]["execute_state_machine"] is True
        state = json.loads((tmp_path / "server.json").read_text())
        assert state == {"pid": os.getpid(), "endpoint": aws.endpoint, "port": aws.port}
        assert (tmp_path / ".gitignore").read_text().splitlines()[-1] == "*"
        lambdas = LambdaHarness(endpoint_url=aws.endpoint)
        lambdas.function("pid", APP)
        worker_pid = lambdas.invoke("pid")[1]
        assert _alive(worker_pid)
        with pytest.raises(RuntimeError):
            LocalAws(port=0).start()  # moto's state is process-wide: one at a time

    assert not _alive(worker_pid)
    assert not _reachable(aws.endpoint)
    assert awslambda.workers() == []
    assert endpoint.server_endpoint() is None
    assert not (tmp_path / "server.json").exists()
    assert default_user_config["stepfunctions"] == before


def _serve(state_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", "0", "--state-dir", str(state_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_serve_status_and_stop_from_the_command_line(tmp_path, capsys):
    server = _serve(tmp_path)
    try:
        banner = [server.stdout.readline() for _ in range(12)]
        assert banner[0].startswith("Local AWS"), banner
        endpoint = banner[0].split(" on ")[1].strip()
        assert f"  export AWS_ENDPOINT_URL={endpoint}\n" in banner
        assert f"  export TF_VAR_endpoint={endpoint}\n" in banner
        assert json.loads((tmp_path / "server.json").read_text())["pid"] == server.pid
        assert (tmp_path / ".gitignore").exists()

        lambdas = LambdaHarness(endpoint_url=endpoint)
        lambdas.function("pid", APP)
        worker_pid = lambdas.invoke("pid")[1]
        workers = call_api(endpoint, "/moto-api/sandbox/lambda/workers", method="GET")
        assert [item["pid"] for item in workers["workers"]] == [worker_pid]
        assert cli(["status", "--state-dir", str(tmp_path)]) == 0
        assert capsys.readouterr().out.strip() == endpoint

        assert cli(["stop", "--state-dir", str(tmp_path)]) == 0  # SIGTERM, then waits
        assert "Stopped the sandbox." in capsys.readouterr().out
        assert server.wait(timeout=20) == 0
        assert "Stopped." in server.stdout.read()
        assert not _alive(worker_pid)
        assert not (tmp_path / "server.json").exists()
        assert not _reachable(endpoint)
        assert cli(["status", "--state-dir", str(tmp_path)]) == 1
    finally:
        _kill(server)


def test_serve_stops_on_ctrl_c(tmp_path):
    server = _serve(tmp_path)
    try:
        endpoint = server.stdout.readline().split(" on ")[1].strip()
        assert _reachable(endpoint)
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=20) == 0
        assert "Stopped." in server.stdout.read()
        assert not (tmp_path / "server.json").exists()
    finally:
        _kill(server)


def _kill(server: subprocess.Popen[str]) -> None:
    if server.poll() is None:
        server.kill()
        server.wait()
    server.stdout.close()


def test_the_clock_advances_over_http_and_expires_an_approval(local_aws, local_gate, lambdas):
    queue_url, queue_arn = lambdas.queue("results")
    lambdas.events.put_rule(Name="results", EventPattern=json.dumps(RESULTS_PATTERN))
    lambdas.events.put_targets(Rule="results", Targets=[{"Id": "q", "Arn": queue_arn}])
    alice = local_gate.user("alice")
    execution_id = local_gate.start([alice.arn])

    before = local_aws.api("/moto-api/sandbox/clock", method="GET")
    answer = local_aws.api("/moto-api/sandbox/clock/advance", {"seconds": 3601})

    assert answer["expired"] == [execution_id]
    assert answer["now"] > before["now"]
    (event,) = lambdas.receive(queue_url)
    assert event["body"]["detail"]["Status"] == "TimedOut"
    assert local_gate.execution(execution_id)["AutomationExecutionStatus"] == "TimedOut"
    assert local_aws.api("/moto-api/sandbox/clock/reset")["frozen"] is False


def test_the_expiry_thread_times_out_approvals_without_any_call(local_gate, lambdas):
    queue_url, queue_arn = lambdas.queue("results")
    lambdas.events.put_rule(Name="results", EventPattern=json.dumps(RESULTS_PATTERN))
    lambdas.events.put_targets(Rule="results", Targets=[{"Id": "q", "Arn": queue_arn}])
    alice = local_gate.user("alice")
    execution_id = local_gate.start([alice.arn])

    sandbox.clock.advance(3601)  # no SSM call follows: only the server's thread can expire it

    (event,) = lambdas.receive(queue_url, wait=5)
    assert event["body"]["detail"]["ExecutionId"] == execution_id
    assert event["body"]["detail"]["Status"] == "TimedOut"


def test_faults_and_settings_over_http(local_aws, lambdas):
    local_aws.api(
        "/moto-api/sandbox/faults",
        {"service": "sqs", "operation": "CreateQueue", "error_code": "ThrottlingException",
         "times": 1},
    )  # fmt: skip
    with pytest.raises(ClientError) as raised:
        lambdas.queue("throttled")
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert local_aws.api("/moto-api/sandbox/faults", method="GET")["faults"] == []
    lambdas.queue("fine")

    answer = local_aws.api(
        "/moto-api/sandbox/settings",
        {"sandbox": {"rejection_status": "Success"}, "lambda": {"async_retry_delays": [0, 0]}},
    )
    assert answer["sandbox"]["rejection_status"] == "Success"
    assert awslambda.lambda_settings.async_retry_delays == (0, 0)
    local_aws.api("/moto-api/sandbox/reset")
    assert sandbox.settings.rejection_status == "Failed"
    assert awslambda.lambda_settings.async_retry_delays == (1.0, 2.0)
