"""build/package.py under test (tests/functional/build/test_package_*): the script loaded as a
module, a copy of the repository to build from, runs of the script and readers of what it
wrote (the manifest, the zips, its progress lines).

The zips carry bytecode compiled by a CPython 3.12 (the Lambda runtime's), found as the build
finds it; RUNTIME_PYTHON is None, and the tests marked needs_runtime_python are skipped,
saying so, where there is none.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "build" / "package.py"
SERVICES = ("receive_result", "start_approval")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
EXECUTABLE_PROBE = "start_approval/_mode_probe_executable.sh"
PRIVATE_PROBE = "start_approval/_mode_probe_private.txt"
# Bytecode left in the source tree by the host's Python: never shipped.
HOST_BYTECODE = (
    "start_approval/__pycache__/handler.cpython-312.pyc",
    "start_approval/__pycache__/handler.cpython-311.pyc",
    "start_approval/stray.pyc",
)
HOST_BYTECODE_DATA = b"bytecode from the host"
TAG = "cpython-312"


def load_script():
    """build/package.py as a module, for the tests that inject failures."""
    spec = importlib.util.spec_from_file_location("package_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


package = load_script()
# The modules whose functions the failure-injection tests replace, where the build calls them.
third_party = importlib.import_module("lambda_packaging.third_party")
zips = importlib.import_module("lambda_packaging.zips")


def runtime_python():
    try:
        return package.find_runtime_python()
    except package.BuildError:  # a $LAMBDA_PYTHON that does not work: the build says so
        return None


RUNTIME_PYTHON = runtime_python()
needs_runtime_python = pytest.mark.skipif(
    RUNTIME_PYTHON is None,
    reason="no CPython 3.12 (LAMBDA_PYTHON, python3.12 on PATH, pyenv) to compile the runtime's "
    "bytecode with",
)
# The bytecode a default build ships here: cpython-312 where a 3.12 is found, else none.
EXPECTED_BYTECODE = TAG if RUNTIME_PYTHON else None


def bytecode_name(source: str) -> str:
    folder, slash, file = source.rpartition("/")
    return f"{folder}{slash}__pycache__/{file[:-3]}.{TAG}.pyc"


def make_repo(dest: Path) -> Path:
    """Services and libs copied from the repository, with a tiny handler where none exists."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for part in ("services", "libs"):
        shutil.copytree(REPO / part, dest / part, ignore=ignore)
    for name in SERVICES:
        source = dest / "services" / name / "src" / name
        source.mkdir(parents=True, exist_ok=True)
        (source / "__init__.py").touch()
        for handler in functions_of(dest, name).values():
            module = source.parent / module_file(handler)
            if not module.exists():
                module.parent.mkdir(parents=True, exist_ok=True)
                module.write_text("def lambda_handler(event, context):\n    return event\n")
    core = dest / "libs" / "approval_core" / "src" / "approval_core"
    core.mkdir(parents=True, exist_ok=True)
    (core / "__init__.py").touch()
    # Odd permissions, to see them normalised.
    sources = dest / "services" / "start_approval" / "src"
    (sources / EXECUTABLE_PROBE).write_text("#!/bin/sh\n")
    (sources / EXECUTABLE_PROBE).chmod(0o750)
    (sources / PRIVATE_PROBE).write_text("private\n")
    (sources / PRIVATE_PROBE).chmod(0o600)
    for name in HOST_BYTECODE:
        (sources / name).parent.mkdir(exist_ok=True)
        (sources / name).write_bytes(HOST_BYTECODE_DATA)
    return dest


def functions_of(root: Path, name: str) -> dict[str, str]:
    """[tool.approval-gate.functions] of a service in the checkout `root`."""
    pyproject = root / "services" / name / "pyproject.toml"
    return tomllib.loads(pyproject.read_text())["tool"]["approval-gate"]["functions"]


def module_file(handler: str) -> str:
    """The file of a handler's module, as named in the zip (and under the service's src/)."""
    return handler.rpartition(".")[0].replace(".", "/") + ".py"


def handler_file(name: str) -> str:
    """The file of the handler of the function named like the service."""
    return module_file(functions_of(REPO, name)[name])


def service_version(root: Path, name: str) -> str:
    """[project].version of a service in the checkout `root`."""
    pyproject = root / "services" / name / "pyproject.toml"
    return tomllib.loads(pyproject.read_text())["project"]["version"]


def run_package(
    root: Path, dist: Path, *args: str, env: dict | None = None
) -> subprocess.CompletedProcess:
    if env is None:
        env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    command = [sys.executable, str(SCRIPT), "--root", str(root), "--dist", str(dist), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def read_manifest(dist: Path) -> dict:
    return json.loads((dist / "manifest.json").read_text())


def zip_path(dist: Path, name: str) -> Path:
    return dist / read_manifest(dist)["services"][name]["zip"]


def status_of(output: str, name: str) -> str:
    """The status word of a service's progress line."""
    lines = [line.split() for line in output.splitlines() if line.startswith(name)]
    assert len(lines) == 1, output
    return lines[0][2]


def no_interpreter_env(tmp_path: Path) -> dict:
    """An environment in which no CPython 3.12 can be found: on PATH only a pyenv shim that
    fails (as one does when pyenv has no such version selected), and no pyenv."""
    bin_dir = tmp_path / "no-python-bin"
    bin_dir.mkdir()
    shim = bin_dir / "python3.12"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    hidden = ("SOURCE_DATE_EPOCH", "LAMBDA_PYTHON", "PYENV_ROOT", "PYENV_VERSION")
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    return {**env, "PATH": str(bin_dir), "HOME": str(home)}
