"""bench/cold_start.py, on a tiny zip: the handler is imported as Lambda would import it.

Without a CPython 3.12 (or with --current-python) the bench runs on this interpreter: those
tests need nothing from the network. The one on the runtime's interpreter uses the bench's venv
of boto3 and botocore under .bench/ (gitignored), made once, from PyPI, as `make bench` does.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BENCH = REPO / "bench" / "cold_start.py"


def load_package_script():
    spec = importlib.util.spec_from_file_location(
        "package_for_bench_tests", REPO / "build" / "package.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


package = load_package_script()
try:
    RUNTIME_PYTHON = package.find_runtime_python()
except package.BuildError:
    RUNTIME_PYTHON = None

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


# On the runtime's interpreter: the zip's bytecode is what runs (it was compiled from another
# source than the .py beside it, which unchecked-hash bytecode allows), and the runtime's boto3
# is the pinned one, byte-compiled for that interpreter.
BYTECODE_PROBE = """\
import os
import sys

import boto3
import botocore

assert sys.version_info[:2] == (3, 12)
assert FROM_BYTECODE
assert boto3.__version__ == botocore.__version__ == "{version}"
assert os.path.exists(boto3.__cached__) and os.path.exists(botocore.__cached__)
assert "/.bench/" in os.path.realpath(boto3.__file__)
ssm = boto3.client("ssm")


def lambda_handler(event, context):
    return event
"""


def write_dist(folder: Path, files: dict, bytecode: str | None = None) -> None:
    """A zip of files, and a manifest naming it, as make package writes them."""
    zip_path = folder / "start_approval-0.1.0.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    data = zip_path.read_bytes()
    entry = {
        "version": "0.1.0",
        "zip": zip_path.name,
        "handler": "start_approval.handler.lambda_handler",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "bytecode": bytecode,
    }
    manifest = {"schema_version": 1, "services": {"start_approval": entry}}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def run_bench(dist: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, str(BENCH), "--dist", str(dist), "--runs", "2", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, env=env)


def assert_one_row(output: str) -> None:
    rows = [line for line in output.splitlines() if line.startswith("| start_approval")]
    assert len(rows) == 1, output
    assert "ms" in rows[0] and "x |" in rows[0]


@pytest.mark.parametrize("how", ["no CPython 3.12 found", "--current-python"])
def test_cold_start_bench_imports_the_handler_from_the_zip(tmp_path, how):
    dist = tmp_path / "dist"
    dist.mkdir()
    files = {
        "start_approval/__init__.py": "",
        "start_approval/handler.py": PROBE_HANDLER,
        "helper.py": "ZIPPED = True\n",
    }
    write_dist(dist, files)
    # Nothing to find a 3.12 with: no python3.12 or pyenv on PATH, a HOME without ~/.pyenv.
    (tmp_path / "bin").mkdir()
    (tmp_path / "home").mkdir()
    env = {"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path / "home"), "PYTHONPATH": str(dist)}
    args = ["--current-python"] if how == "--current-python" else []

    result = run_bench(dist, *args, env=env)

    assert result.returncode == 0, result.stderr
    assert_one_row(result.stdout)
    fell_back = "note: no CPython 3.12 found" in result.stderr
    assert fell_back == (how == "no CPython 3.12 found"), result.stderr
    assert f"Python {platform.python_version()} (this interpreter" in result.stdout


@pytest.mark.skipif(
    RUNTIME_PYTHON is None,
    reason="no CPython 3.12 (LAMBDA_PYTHON, python3.12 on PATH, pyenv) to measure with",
)
def test_cold_start_bench_runs_the_shipped_bytecode_on_the_runtimes_interpreter(tmp_path):
    pins = dict(
        line.strip().split("==")
        for line in (REPO / "requirements-dev.txt").read_text().splitlines()
        if line.startswith(("boto3==", "botocore=="))
    )
    assert pins["boto3"] == pins["botocore"]
    handler = BYTECODE_PROBE.format(version=pins["boto3"])
    sources = {
        "start_approval/__init__.py": b"",
        "start_approval/handler.py": handler.replace("FROM_BYTECODE", "False").encode(),
    }
    compiled = package.compile_bytecode(
        {
            "start_approval/handler.py": (handler.replace("FROM_BYTECODE", "True").encode(), 0o644),
            "start_approval/__init__.py": (b"", 0o644),
        },
        RUNTIME_PYTHON,
    )
    dist = tmp_path / "dist"
    dist.mkdir()
    bytecode = {name: data for name, (data, _) in compiled.items()}
    write_dist(dist, {**sources, **bytecode}, bytecode="cpython-312")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "LAMBDA_PYTHON": RUNTIME_PYTHON.path,
    }

    result = run_bench(dist, env=env)

    assert result.returncode == 0, result.stderr
    assert_one_row(result.stdout)
    assert f"Python {RUNTIME_PYTHON.version} (the runtime's" in result.stdout
    assert "zips' cpython-312 bytecode used" in result.stdout

    # --source-only: the same zip without its bytecode fails the probe (FROM_BYTECODE False).
    result = run_bench(dist, "--source-only", env=env)
    assert result.returncode != 0
    assert "AssertionError" in result.stderr
