"""bench/cold_start.py, on a tiny zip: the handler is imported as Lambda would import it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Fails the import (and so the benchmark) unless the bench isolates the function as Lambda
# does: its own zip and the runtime's boto3 only, the function's environment, no host config.
PROBE_HANDLER = """\
import importlib.util
import os

import boto3
import helper

assert importlib.util.find_spec("aws_lambda_powertools") is None, "site-packages leaked in"
assert helper.ZIPPED
assert os.environ["POWERTOOLS_SERVICE_NAME"] == "start_approval"
assert os.environ["LAMBDA_TASK_ROOT"] == os.path.dirname(os.path.dirname(__file__))
assert "POWERTOOLS_TRACE_DISABLED" not in os.environ
assert "PYTHONPATH" not in os.environ
ssm = boto3.client("ssm")
assert ssm.meta.region_name == os.environ["AWS_DEFAULT_REGION"]


def lambda_handler(event, context):
    return event
"""


def test_cold_start_bench_imports_the_handler_from_the_zip(tmp_path):
    zip_path = tmp_path / "start_approval-0.1.0.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("start_approval/__init__.py", "")
        archive.writestr("start_approval/handler.py", PROBE_HANDLER)
        archive.writestr("helper.py", "ZIPPED = True\n")
    data = zip_path.read_bytes()
    entry = {
        "version": "0.1.0",
        "zip": zip_path.name,
        "handler": "start_approval.handler.lambda_handler",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    manifest = {"schema_version": 1, "services": {"start_approval": entry}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))

    bench = REPO / "bench" / "cold_start.py"
    result = subprocess.run(
        [sys.executable, str(bench), "--dist", str(tmp_path), "--runs", "2"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
    )

    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| start_approval")]
    assert len(rows) == 1
    assert "ms" in rows[0] and "x |" in rows[0]
