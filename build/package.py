"""Package each Lambda service into a reproducible zip and record it in dist/manifest.json.

    python build/package.py [--service NAME] [--arch x86_64|arm64] [--dist DIR] [--root DIR]
                            [--bytecode-python PATH | --no-bytecode]

What goes in a zip and what the manifest promises: docs/contracts.md. Standard library only,
so it runs before anything is installed. Two builds of the same sources and toolchain give the
same bytes, and a service whose inputs have not changed since its zip was built is not rebuilt.

Each zip carries, beside every module, its bytecode for the Lambda runtime's interpreter
(`__pycache__/<module>.cpython-312.pyc`, unchecked-hash, so valid whatever the files' mtimes):
/var/task is read-only, so without it every cold start compiles the modules from source. Only
a CPython 3.12 interpreter can write that bytecode; find_runtime_python() looks for one
(--bytecode-python or $LAMBDA_PYTHON, python3.12 on PATH, pyenv). Without one the zips ship
sources only, with a warning.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

RUNTIME = "python3.12"  # the Lambda runtime; everything below about its Python follows from it
RUNTIME_VERSION = RUNTIME.removeprefix("python")  # "3.12"
# The interpreter's sys.implementation.cache_tag, in the bytecode files' names.
BYTECODE_TAG = "cpython-" + RUNTIME_VERSION.replace(".", "")  # "cpython-312"
# Names the interpreter that compiles the bytecode (as --bytecode-python does).
LAMBDA_PYTHON_ENV = "LAMBDA_PYTHON"
ARCHITECTURES = ("x86_64", "arm64")
SCHEMA_VERSION = 1
# A Lambda handler: a dotted module path, then the function (module.function).
HANDLER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
MANIFEST_NAME = "manifest.json"
# Where the inputs' fingerprint of each built zip is kept, beside the zips. Not in the zip
# itself, so a change to this script alone that gives the same zip leaves its sha256 alone.
FINGERPRINTS_DIR = ".fingerprints"

# 1980-01-01T00:00:00Z: the earliest time a zip entry can hold.
ZIP_EPOCH = 315532800
COMPRESS_TYPE = zipfile.ZIP_DEFLATED
COMPRESS_LEVEL = 9
# Native code would tie a zip to one platform; the contract is pure Python only.
COMPILED_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
# What pip records about the act of installing (who, on request, from where), not the package.
INSTALL_RECORDS = {"INSTALLER", "REQUESTED", "direct_url.json"}
# Console scripts: their shebang names the build machine's interpreter, and Lambda never runs
# them.
SKIPPED_TOP_LEVEL = frozenset({"bin"})


class BuildError(Exception):
    """A service cannot be packaged; the message says why."""


# --- The Lambda runtime's interpreter, to compile the bytecode ---------------------------------


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


@dataclass(frozen=True)
class Service:
    name: str
    version: str
    # The functions deployed from this zip: {function name: handler (module.attribute)}.
    functions: dict[str, str]
    libs: tuple[str, ...]
    root: Path  # the repository root
    # Folders of the third-party packages left out of the zip: parts the service never
    # imports (for example Powertools' event handlers), kept out for size.
    exclude: tuple[str, ...] = ()

    @property
    def handler(self) -> str:
        """The handler of the function named like the service (the manifest's `handler`)."""
        return self.functions[self.name]

    @property
    def zip_name(self) -> str:
        return f"{self.name}-{self.version}.zip"

    @property
    def service_dir(self) -> Path:
        return self.root / "services" / self.name

    @property
    def lock(self) -> Path:
        return self.service_dir / "requirements.lock"


def load_service(root: Path, name: str) -> Service:
    pyproject = root / "services" / name / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        gate = data["tool"]["approval-gate"]
        return Service(
            name=name,
            version=data["project"]["version"],
            functions=read_functions(gate["functions"], name, pyproject),
            libs=tuple(gate.get("libs", [])),
            root=root,
            exclude=tuple(gate.get("exclude", [])),
        )
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise BuildError(f"cannot read {pyproject}: {error}") from error
    except KeyError as error:
        raise BuildError(f"{pyproject} lacks {error}") from error


def read_functions(table: object, name: str, pyproject: Path) -> dict[str, str]:
    """[tool.approval-gate.functions]: function name -> handler, one of them named like the
    service."""
    where = f"{pyproject} [tool.approval-gate.functions]"
    if not isinstance(table, dict) or not table:
        raise BuildError(f'{where}: declare each function as <function> = "<handler>"')
    for function, handler in table.items():
        if not isinstance(handler, str) or not HANDLER.fullmatch(handler):
            raise BuildError(
                f"{where}: {function} = {handler!r} is not a handler (module.function, such "
                f"as {name}.handlers.{function}.lambda_handler)"
            )
    if name not in table:
        raise BuildError(f"{where}: no function named like the service ({name})")
    return dict(sorted(table.items()))


def discover_services(root: Path) -> list[str]:
    return sorted(p.parent.name for p in (root / "services").glob("*/pyproject.toml"))


# --- Collecting files: {name in the zip: (bytes, mode)} ----------------------------------------


def collect_tree(folder: Path, prefix: str, skip_top: frozenset[str] = frozenset()) -> dict:
    """Files under folder, named as in the zip; no byte code, modes reduced to 0644/0755."""
    if not folder.is_dir():
        raise BuildError(f"{folder} does not exist")
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] in skip_top or "__pycache__" in relative.parts:
            continue
        if path.is_dir() or path.suffix in (".pyc", ".pyo"):
            continue
        mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
        files[f"{prefix}{relative.as_posix()}"] = (path.read_bytes(), mode)
    return files


def merge(into: dict, files: dict, origin: str) -> None:
    clashes = sorted(into.keys() & files.keys())
    if clashes:
        raise BuildError(f"{origin} ships files that are already in the zip: {clashes[:5]}")
    into.update(files)


def collect_sources(service: Service) -> dict:
    """The service's own package and its shared libraries, as they go in the zip."""
    files = collect_tree(service.service_dir / "src" / service.name, f"{service.name}/")
    for lib in service.libs:
        lib_files = collect_tree(service.root / "libs" / lib / "src" / lib, f"{lib}/")
        merge(files, lib_files, f"libs/{lib}")
    return files


def check_pure(files: dict, origin: str) -> None:
    compiled = [name for name in files if name.endswith(COMPILED_SUFFIXES)]
    if compiled:
        raise BuildError(f"compiled files from {origin} (pure Python only): {compiled[:5]}")


def bytecode_name(source: str) -> str:
    """Where the runtime looks for a module's bytecode: a/b.py -> a/__pycache__/b.cpython-312.pyc"""
    folder, slash, file = source.rpartition("/")
    return f"{folder}{slash}__pycache__/{file.removesuffix('.py')}.{BYTECODE_TAG}.pyc"


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


def check_handlers(service: Service, files: dict) -> None:
    """Each function's handler module is in the sources (its attribute is not checked: that
    would mean importing the service)."""
    for function, handler in service.functions.items():
        module = handler.rpartition(".")[0].replace(".", "/")
        if f"{module}.py" not in files and f"{module}/__init__.py" not in files:
            raise BuildError(
                f"function {function}: handler {handler}: no {module}.py in the sources"
            )


def install_locked(service: Service, target: Path) -> dict:
    """The locked third-party packages, installed for the Lambda runtime, never the host."""
    if not service.lock.is_file():
        raise BuildError(f"{service.lock} does not exist")
    python_version = RUNTIME_VERSION
    command = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--only-binary=:all:",
        "--python-version", python_version, "--implementation", "py", "--abi", "none",
        "--platform", "any", "--target", str(target), "--no-compile",
        "--disable-pip-version-check", "--no-input", "--quiet", "-r", str(service.lock),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
        detail = "; ".join(errors) or result.stderr.strip()[-2000:] or "no output"
        raise BuildError(f"pip could not install {service.lock.name}: {detail}")
    return collect_tree(target, "", skip_top=SKIPPED_TOP_LEVEL)


def leave_out(files: dict, service: Service) -> None:
    """Drop the folders `exclude` names; one that matches nothing is a stale setting."""
    for folder in service.exclude:
        prefix = folder.strip("/") + "/"
        matched = [name for name in files if name.startswith(prefix)]
        if not matched:
            raise BuildError(
                f"[tool.approval-gate].exclude names {folder!r}, which no locked package "
                "installs: remove it from pyproject.toml"
            )
        for name in matched:
            del files[name]


def normalise_dist_info(files: dict) -> None:
    """Drop pip's install records and list in each RECORD only the files that ship."""
    for name in [n for n in files if is_dist_info(n) and n.rpartition("/")[2] in INSTALL_RECORDS]:
        del files[name]
    for name in [n for n in files if is_dist_info(n) and n.endswith("/RECORD")]:
        data, mode = files[name]
        rows = csv.reader(io.StringIO(data.decode("utf-8")))
        kept = sorted(row for row in rows if row and row[0] in files)
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(kept)
        files[name] = (out.getvalue().encode("utf-8"), mode)


def is_dist_info(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[0].endswith(".dist-info")


# --- Writing -----------------------------------------------------------------------------------


def write_zip(path: Path, files: dict, epoch: int) -> None:
    """Same files and epoch, same bytes: sorted entries, one timestamp, fixed modes and level."""
    date_time = time.gmtime(max(epoch, ZIP_EPOCH))[:6]
    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(files):
            data, mode = files[name]
            info = zipfile.ZipInfo(name, date_time)
            info.create_system = 3  # Unix, so the modes below are honoured when extracted
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = COMPRESS_TYPE
            archive.writestr(info, data, compresslevel=COMPRESS_LEVEL)


def write_atomically(path: Path, write) -> None:
    """write(temp path), then rename over path: a failure never leaves a partial file."""
    descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(descriptor)
    temp = Path(temp_name)
    try:
        write(temp)
        temp.chmod(0o644)  # mkstemp creates 0600
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def fingerprint(
    service: Service,
    sources: dict,
    architecture: str,
    epoch: int,
    interpreter: Interpreter | None,
) -> str:
    """Hash of everything a zip is made from; paths are repo-relative, so checkouts agree.

    The bytecode compiler counts by its version (another interpreter rebuilds), not its path.
    """
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("script", Path(__file__).read_bytes())
    add("target", f"{RUNTIME} {architecture} {epoch}".encode())
    add("bytecode", interpreter.identity.encode() if interpreter else b"none")
    add("pyproject", (service.service_dir / "pyproject.toml").read_bytes())
    add("lock", service.lock.read_bytes() if service.lock.is_file() else b"")
    for name in sorted(sources):
        data, mode = sources[name]
        add(f"{name} {mode:o}", data)
    return digest.hexdigest()


def file_sha256(path: Path) -> bytes:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").digest()


def manifest_entry(
    service: Service, zip_path: Path, architecture: str, interpreter: Interpreter | None
) -> dict:
    digest = file_sha256(zip_path)
    return {
        "version": service.version,
        "zip": zip_path.name,
        "handler": service.handler,
        "functions": service.functions,
        "sha256": digest.hex(),
        "source_code_hash": base64.b64encode(digest).decode("ascii"),
        "size": zip_path.stat().st_size,
        "runtime": RUNTIME,
        "architecture": architecture,
        "bytecode": interpreter.cache_tag if interpreter else None,
    }


# --- One service, then all ---------------------------------------------------------------------


def package_service(
    service: Service,
    dist: Path,
    architecture: str,
    epoch: int,
    interpreter: Interpreter | None,
) -> tuple[str, dict]:
    """Build (or keep) one service's zip; returns (status, manifest entry).

    interpreter: the runtime's, to compile the bytecode with; None ships sources only.
    """
    sources = collect_sources(service)
    check_pure(sources, "the sources")
    check_handlers(service, sources)
    inputs = fingerprint(service, sources, architecture, epoch, interpreter)
    zip_path = dist / service.zip_name
    state_path = dist / FINGERPRINTS_DIR / f"{service.name}.json"

    if zip_path.is_file() and state_path.is_file():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        if state.get("inputs") == inputs and state.get("sha256") == file_sha256(zip_path).hex():
            return "unchanged", manifest_entry(service, zip_path, architecture, interpreter)

    with tempfile.TemporaryDirectory(prefix=f"package-{service.name}-") as site:
        third_party = install_locked(service, Path(site))
    check_pure(third_party, service.lock.name)
    leave_out(third_party, service)
    files = dict(sources)
    merge(files, third_party, service.lock.name)
    normalise_dist_info(files)
    if interpreter:
        merge(files, compile_bytecode(files, interpreter), "the bytecode")
    check_bytecode(files, with_bytecode=interpreter is not None)
    write_atomically(zip_path, lambda temp: write_zip(temp, files, epoch))

    entry = manifest_entry(service, zip_path, architecture, interpreter)
    state_path.parent.mkdir(exist_ok=True)
    state = {
        "zip": zip_path.name,
        "inputs": inputs,
        "sha256": entry["sha256"],
        "bytecode": interpreter.identity if interpreter else None,
    }
    write_atomically(
        state_path,
        lambda temp: temp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8"),
    )
    return "built", entry


def load_manifest(path: Path, architecture: str) -> dict:
    """The existing entries that still describe this target; others would mislead."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    kept = {}
    for name, entry in manifest.get("services", {}).items():
        if entry.get("runtime") == RUNTIME and entry.get("architecture") == architecture:
            # Zips built before the manifest said so carry no bytecode.
            kept[name] = {**entry, "bytecode": entry.get("bytecode")}
        else:
            print(f"{name}: dropping its manifest entry, built for another target")
    return kept


def write_manifest(path: Path, entries: dict, architecture: str) -> None:
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "runtime": RUNTIME,
        "architecture": architecture,
        "services": dict(sorted(entries.items())),
    }
    text = json.dumps(manifest, indent=2) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_atomically(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def source_date_epoch() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    try:
        return int(value) if value else ZIP_EPOCH
    except ValueError:
        raise SystemExit(f"SOURCE_DATE_EPOCH must be an integer, not {value!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service", help="build only this service (default: all)")
    parser.add_argument("--arch", choices=ARCHITECTURES, default="x86_64")
    parser.add_argument("--dist", type=Path, help="output folder (default: ROOT/dist)")
    parser.add_argument(
        "--root", type=Path, default=Path(__file__).resolve().parent.parent, help="repo root"
    )
    bytecode = parser.add_mutually_exclusive_group()
    bytecode.add_argument(
        "--bytecode-python",
        metavar="PATH",
        help=f"the CPython {RUNTIME_VERSION} that compiles the bytecode (default: "
        f"${LAMBDA_PYTHON_ENV}, else python{RUNTIME_VERSION} on PATH, else pyenv's)",
    )
    bytecode.add_argument(
        "--no-bytecode", action="store_true", help="ship sources only (slower cold starts)"
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    dist = (args.dist or root / "dist").resolve()
    epoch = source_date_epoch()
    interpreter = None
    if not args.no_bytecode:
        try:
            interpreter = find_runtime_python(args.bytecode_python)
        except BuildError as error:
            parser.error(str(error))
        if interpreter is None:
            print(NO_BYTECODE_WARNING, file=sys.stderr, flush=True)
        else:
            print(f"bytecode: {interpreter.cache_tag}, by Python {interpreter.version} "
                  f"({interpreter.path})", flush=True)  # fmt: skip

    names = discover_services(root)
    if args.service:
        if args.service not in names:
            parser.error(f"no service {args.service!r} under {root / 'services'}: {names}")
        names = [args.service]
    if not names:
        parser.error(f"no services under {root / 'services'}")

    dist.mkdir(parents=True, exist_ok=True)
    manifest_path = dist / MANIFEST_NAME
    entries = load_manifest(manifest_path, args.arch)
    if not args.service:  # a full build lists exactly the services that exist
        entries = {name: entry for name, entry in entries.items() if name in names}

    failed = []
    for name in names:
        version = "?"
        try:
            service = load_service(root, name)
            version = service.version
            status, entry = package_service(service, dist, args.arch, epoch, interpreter)
        except (BuildError, OSError) as error:
            failed.append(name)
            print(f"{name:<15} {version:<7} FAILED     {error}", file=sys.stderr, flush=True)
            continue
        entries[name] = entry
        size = entry["size"] / 1_000_000
        print(f"{name:<15} {version:<7} {status:<10} {size:5.2f} MB  sha256 {entry['sha256']}")
        sys.stdout.flush()

    write_manifest(manifest_path, entries, args.arch)
    if failed:
        print(f"packaging failed for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
