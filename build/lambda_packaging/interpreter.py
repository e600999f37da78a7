"""The Lambda runtime's interpreter, to compile the bytecode with.

Only a CPython of the runtime's version can write the bytecode the runtime loads; this finds
one: --bytecode-python or $LAMBDA_PYTHON, python3.12 on PATH, pyenv.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildError
from .target import BYTECODE_TAG, RUNTIME_VERSION

# Names the interpreter that compiles the bytecode (as --bytecode-python does).
LAMBDA_PYTHON_ENV = "LAMBDA_PYTHON"


@dataclass(frozen=True)
class Interpreter:
    path: str  # its own sys.executable, so a pyenv shim is not in the way
    version: str  # platform.python_version(), e.g. "3.12.1"
    cache_tag: str  # sys.implementation.cache_tag, e.g. "cpython-312"
    magic: str  # importlib.util.MAGIC_NUMBER, hex: the bytecode format

    @property
    def identity(self) -> str:
        """What its bytecode depends on (not where it is installed)."""
        return f"{self.cache_tag} {self.version} {self.magic}"


PROBE = (
    "import importlib.util, platform, sys; "
    "print(sys.implementation.cache_tag, platform.python_version(), "
    "importlib.util.MAGIC_NUMBER.hex()); print(sys.executable)"
)


def probe_python(command: str, environ: dict | None = None) -> Interpreter | None:
    """The interpreter command runs, if it runs and is the Lambda runtime's CPython."""
    try:
        result = subprocess.run(
            [command, "-I", "-S", "-c", PROBE],
            capture_output=True, text=True, env=environ, timeout=60, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    lines = result.stdout.splitlines()
    if result.returncode != 0 or len(lines) != 2 or len(lines[0].split()) != 3:
        return None  # a pyenv shim without that version, say
    cache_tag, version, magic = lines[0].split()
    if cache_tag != BYTECODE_TAG or not re.match(rf"{re.escape(RUNTIME_VERSION)}\b", version):
        return None
    return Interpreter(path=lines[1], version=version, cache_tag=cache_tag, magic=magic)


def version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


def pyenv_candidates(environ: dict) -> list[str]:
    """The runtime's version installed by pyenv, newest first (any pyenv version selected)."""
    pyenv = shutil.which("pyenv", path=environ.get("PATH"))
    if pyenv is None:  # installed but not on PATH
        root = environ.get("PYENV_ROOT") or Path(environ.get("HOME") or "~").expanduser() / ".pyenv"
        pyenv = Path(root) / "bin" / "pyenv"
        if not os.access(pyenv, os.X_OK):
            return []

    def run(*args: str, **extra: str) -> str:
        try:
            result = subprocess.run(
                [str(pyenv), *args], capture_output=True, text=True,
                env={**environ, **extra}, timeout=60, check=False,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return ""
        return result.stdout.strip() if result.returncode == 0 else ""

    executable = f"python{RUNTIME_VERSION}"
    root = run("root")
    found = sorted(
        Path(root).glob(f"versions/{RUNTIME_VERSION}*/bin/{executable}") if root else [],
        key=lambda path: version_key(path.parent.parent.name),
        reverse=True,
    )
    if found:
        return [str(path) for path in found]
    names = [
        n
        for n in run("versions", "--bare").split()
        if re.match(rf"{re.escape(RUNTIME_VERSION)}\b", n)
    ]
    paths = (run("which", executable, PYENV_VERSION=name) for name in sorted(names, reverse=True))
    return [path for path in paths if path]


def find_runtime_python(explicit: str | None = None, environ=None) -> Interpreter | None:
    """A CPython of the Lambda runtime's version, to compile the bytecode with; None if none.

    In this order: explicit (--bytecode-python), else $LAMBDA_PYTHON, which must work
    (BuildError otherwise); python3.12 on PATH, if it really runs (a pyenv shim may exist and
    fail); the newest 3.12 that pyenv installed.
    """
    environ = dict(os.environ if environ is None else environ)
    label = "--bytecode-python"
    if not explicit and environ.get(LAMBDA_PYTHON_ENV):
        explicit, label = environ[LAMBDA_PYTHON_ENV], LAMBDA_PYTHON_ENV
    if explicit:
        command = shutil.which(explicit, path=environ.get("PATH")) or explicit
        found = probe_python(command, environ)
        if found is None:
            raise BuildError(f"{label}={explicit}: not a working CPython {RUNTIME_VERSION}")
        return found
    on_path = shutil.which(f"python{RUNTIME_VERSION}", path=environ.get("PATH"))
    if on_path and (found := probe_python(on_path, environ)):
        return found
    for candidate in pyenv_candidates(environ):
        if found := probe_python(candidate, environ):
            return found
    return None


NO_BYTECODE_WARNING = (
    f"warning: no CPython {RUNTIME_VERSION} found (${LAMBDA_PYTHON_ENV}, python{RUNTIME_VERSION} "
    f"on PATH, pyenv): the zips ship no bytecode, so the functions' cold starts will be slower; "
    f"install Python {RUNTIME_VERSION}, or pass {LAMBDA_PYTHON_ENV}=/path/to/python"
    f"{RUNTIME_VERSION} (or --bytecode-python)"
)
