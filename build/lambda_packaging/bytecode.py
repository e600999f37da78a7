"""The runtime's bytecode beside every module, and no other bytecode in a zip.

Each zip carries, beside every module, its bytecode for the Lambda runtime's interpreter
(`__pycache__/<module>.cpython-312.pyc`, unchecked-hash, so valid whatever the files' mtimes):
/var/task is read-only, so without it every cold start compiles the modules from source.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from .errors import BuildError
from .interpreter import Interpreter
from .target import BYTECODE_TAG, RUNTIME_VERSION

# A .pyc's header: magic number (4 bytes), flags (4: bit 0 hash-based, bit 1 check the
# source), the source's hash (8). Unchecked hash: 0b01.
UNCHECKED_HASH_FLAGS = (0b01).to_bytes(4, "little")
# Runs in the runtime's interpreter: stdin = [[source file, bytecode file, name in the zip]].
# The name in the zip, not the scratch path, goes in the code objects (co_filename), so the
# bytes do not depend on where the build ran; the runtime sets the real path at import.
COMPILER = """
import json, py_compile, sys
failed = []
for source, target, name in json.load(sys.stdin):
    try:
        py_compile.compile(
            source, cfile=target, dfile=name, doraise=True, optimize=0,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    except py_compile.PyCompileError as error:
        failed.append(f"{name}: {error.exc_type_name}: {error.exc_value}")
json.dump(failed, sys.stdout)
"""


def bytecode_name(source: str) -> str:
    """Where the runtime looks for a module's bytecode: a/b.py -> a/__pycache__/b.cpython-312.pyc"""
    folder, slash, file = source.rpartition("/")
    return f"{folder}{slash}__pycache__/{file.removesuffix('.py')}.{BYTECODE_TAG}.pyc"


def compile_bytecode(files: dict, interpreter: Interpreter) -> dict:
    """Unchecked-hash bytecode of every module in files, compiled by the runtime's interpreter.

    Unchecked: the runtime loads it without looking at the source's mtime or hash (the zip's
    timestamps are fixed, and the .py beside it is the one it was compiled from).
    """
    sources = sorted(name for name in files if name.endswith(".py"))
    compiled = {}
    with tempfile.TemporaryDirectory(prefix="bytecode-") as scratch:
        jobs = []
        for number, name in enumerate(sources):
            source = Path(scratch, "src", name)
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_bytes(files[name][0])
            jobs.append((str(source), str(Path(scratch, "pyc", f"{number}.pyc")), name))
        try:
            result = subprocess.run(
                # A fixed hash seed and nothing from the environment: the same bytes each time.
                [interpreter.path, "-s", "-S", "-P", "-c", COMPILER],
                input=json.dumps(jobs), capture_output=True, text=True, timeout=600,
                env={"PYTHONHASHSEED": "0", "PYTHONUTF8": "1"}, check=False,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as error:
            raise BuildError(f"Python {interpreter.version} could not compile: {error}") from error
        if result.returncode != 0:
            detail = result.stderr.strip()[-2000:] or "no output"
            raise BuildError(f"Python {interpreter.version} could not compile: {detail}")
        try:
            failed = json.loads(result.stdout)
        except ValueError:
            raise BuildError(f"Python {interpreter.version}: {result.stdout[-2000:]!r}") from None
        if failed:
            raise BuildError(f"not valid Python {RUNTIME_VERSION}: {'; '.join(failed[:5])}")
        header = bytes.fromhex(interpreter.magic) + UNCHECKED_HASH_FLAGS
        for _, target, name in jobs:
            data = Path(target).read_bytes()
            if not data.startswith(header):  # never seen: py_compile wrote what it was asked
                raise BuildError(f"{name}: not unchecked-hash {BYTECODE_TAG} bytecode")
            compiled[bytecode_name(name)] = (data, 0o644)
    return compiled


def check_bytecode(files: dict, with_bytecode: bool) -> None:
    """Bytecode only as compiled here: the runtime's tag, beside its source; none from the host."""
    stray = []
    for name in files:
        if not (name.endswith((".pyc", ".pyo")) or "__pycache__" in name.split("/")):
            continue
        folder, _, file = name.rpartition("/")
        parent, _, cache = folder.rpartition("/")
        stem = file.removesuffix(f".{BYTECODE_TAG}.pyc")
        source = f"{parent}/{stem}.py" if parent else f"{stem}.py"
        if not (with_bytecode and cache == "__pycache__" and stem != file and source in files):
            stray.append(name)
    if stray:
        raise BuildError(f"byte code that is not the runtime's, beside its source: {stray[:5]}")
