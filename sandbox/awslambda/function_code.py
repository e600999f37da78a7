"""A function's files on this machine: its zip, extracted once per code sha256; Lambda's
runtime packages; the bootstrap folder that starts a worker; the Python that runs it.

Everything lives in one temporary folder, removed by ``remove_work_dir`` (``shutdown``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

from sandbox.awslambda import worker_process
from sandbox.awslambda.exceptions import SandboxUnsupported
from sandbox.awslambda.models import FunctionSpec
from sandbox.awslambda.settings import lambda_settings

# What the Lambda Python runtime itself provides: these and their dependencies.
RUNTIME_DISTRIBUTIONS = ("boto3",)
# ``python -m`` this in the bootstrap folder: a worker process (standard library only).
WORKER_MODULE = worker_process.__name__

_lock = threading.RLock()
_base_dir: Path | None = None
_runtime_dir: Path | None = None


def work_dir() -> Path:
    global _base_dir
    with _lock:
        if _base_dir is None:
            _base_dir = Path(tempfile.mkdtemp(prefix="sandbox-lambda-"))
        return _base_dir


def bootstrap_dir() -> Path:
    """A folder with only the worker process's module (``WORKER_MODULE``) and its empty
    packages, so ``python -m`` runs it without importing the sandbox (and moto) into the
    function's process."""
    folder = work_dir() / "bootstrap"
    *packages, name = WORKER_MODULE.split(".")
    package = folder.joinpath(*packages)
    if not (package / f"{name}.py").exists():
        package.mkdir(parents=True, exist_ok=True)
        for depth in range(1, len(packages) + 1):
            folder.joinpath(*packages[:depth], "__init__.py").touch()
        shutil.copyfile(str(worker_process.__file__), package / f"{name}.py")
    return folder


def _requirement_names(distribution: importlib.metadata.Distribution) -> Iterator[str]:
    for requirement in distribution.requires or []:
        if "extra ==" in requirement.replace('"', "'").replace("extra=='", "extra == '"):
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        if match:
            yield match.group(0)


def runtime_dir() -> Path:
    """Lambda's runtime packages: boto3, botocore and their dependencies, symlinked."""
    global _runtime_dir
    with _lock:
        if _runtime_dir is not None and _runtime_dir.exists():
            return _runtime_dir
        folder = work_dir() / "runtime"
        folder.mkdir(parents=True, exist_ok=True)
        pending, seen = list(RUNTIME_DISTRIBUTIONS), set()
        while pending:
            name = pending.pop()
            key = name.lower().replace("_", "-")
            if key in seen:
                continue
            seen.add(key)
            try:
                distribution = importlib.metadata.distribution(name)
            except importlib.metadata.PackageNotFoundError:
                continue
            pending.extend(_requirement_names(distribution))
            site = Path(str(distribution.locate_file("")))
            tops = {Path(str(item)).parts[0] for item in distribution.files or []}
            for top in tops:
                source = site / top
                if top in ("..", "__pycache__", "bin") or not source.exists():
                    continue
                target = folder / top
                if not target.exists():
                    target.symlink_to(source, target_is_directory=source.is_dir())
        _runtime_dir = folder
        return folder


_interpreters: dict[str, str] = {}  # Python version -> the interpreter that runs it


def interpreter(runtime: str) -> str:
    """The Python that runs a function of ``runtime``: its own version if installed."""
    match = re.fullmatch(r"python(3\.\d+)", runtime)
    if not lambda_settings.match_runtime_python or match is None:
        return sys.executable
    version = match.group(1)
    with _lock:
        if version not in _interpreters:
            _interpreters[version] = sys.executable
            candidate = shutil.which(f"python{version}")
            if candidate and f"{sys.version_info.major}.{sys.version_info.minor}" != version:
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    answer = subprocess.run(  # a pyenv shim may exist without the version
                        [
                            candidate,
                            "-S",
                            "-c",
                            "import sys; print('%d.%d' % sys.version_info[:2])",
                        ],
                        capture_output=True,
                        text=True,
                        timeout=10,
                        check=False,
                    )
                    if answer.returncode == 0 and answer.stdout.strip() == version:
                        _interpreters[version] = candidate
        return _interpreters[version]


def code_dir(spec: FunctionSpec) -> Path:
    """The function's zip, extracted once per code sha256."""
    digest = spec.code_sha256 or hashlib.sha256(spec.code).hexdigest()
    digest = re.sub(r"[^A-Za-z0-9_-]", "_", digest)
    target = work_dir() / "code" / digest
    with _lock:
        if target.exists():
            return target
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=work_dir()))
        try:
            with zipfile.ZipFile(io.BytesIO(spec.code)) as archive:
                archive.extractall(staging)
        except zipfile.BadZipFile as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise SandboxUnsupported(
                f"Could not unzip the code of {spec.function_name}: {exc}"
            ) from exc
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(target)
        return target


def remove_work_dir() -> None:
    """Remove the folder and everything in it (at exit, or by LocalAws.stop)."""
    global _base_dir, _runtime_dir
    with _lock:
        base, _base_dir, _runtime_dir = _base_dir, None, None
    if base is not None:
        shutil.rmtree(base, ignore_errors=True)
