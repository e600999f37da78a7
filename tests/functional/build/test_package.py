"""build/package.py: real zips built from a copy of the repository in temporary folders.

Builds are slow (pip), so one session-wide build is shared by the read-only tests, and the
tests that change something work on copies of it. Where a service's handler is not written
yet, the copy gets a tiny one, so these tests do not depend on the services' progress.

The zips carry bytecode compiled by a CPython 3.12 (the Lambda runtime's), found as the build
finds it; the tests that need one are skipped, saying so, where there is none. Builds without
bytecode (--no-bytecode, or no interpreter found) are tested on every machine.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "build" / "package.py"
SERVICES = ("receive_result", "start_approval")
# What the locked requirements install (top-level names in the zip).
THIRD_PARTY = (
    "aws_lambda_powertools/__init__.py",
    "aws_xray_sdk/__init__.py",
    "fastjsonschema/__init__.py",
    "jmespath/__init__.py",
    "typing_extensions.py",
    "wrapt/__init__.py",
)
# Provided by the Lambda runtime, so never shipped.
RUNTIME_PROVIDED = ("boto3/", "botocore/", "s3transfer/", "dateutil/", "urllib3/", "six.py")
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

# Runs in the runtime's interpreter on a zip: its magic number, each source's hash as the
# runtime computes it, and the file name each bytecode file's code object carries.
INSPECT_ZIP = """
import importlib.util, json, marshal, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as archive:
    contents = {name: archive.read(name) for name in archive.namelist()}
json.dump({
    "magic": importlib.util.MAGIC_NUMBER.hex(),
    "hashes": {
        name: importlib.util.source_hash(data).hex()
        for name, data in contents.items() if name.endswith(".py")
    },
    "filenames": {
        name: marshal.loads(data[16:]).co_filename
        for name, data in contents.items() if name.endswith(".pyc")
    },
}, sys.stdout)
"""


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


@pytest.fixture(scope="session")
def repo(tmp_path_factory) -> Path:
    return make_repo(tmp_path_factory.mktemp("repo"))


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


@pytest.fixture(scope="session")
def dist(repo, tmp_path_factory) -> Path:
    """One full build as `make package` does it, shared: tests must not change it (copy it
    first). With bytecode where a CPython 3.12 is found."""
    dist = tmp_path_factory.mktemp("dist")
    result = run_package(repo, dist)
    assert result.returncode == 0, result.stderr
    assert [status_of(result.stdout, name) for name in SERVICES] == ["built", "built"]
    return dist


@pytest.fixture(scope="session")
def sources_only_dist(repo, tmp_path_factory) -> Path:
    """One full build with --no-bytecode, shared likewise."""
    dist = tmp_path_factory.mktemp("sources-only-dist")
    result = run_package(repo, dist, "--no-bytecode")
    assert result.returncode == 0, result.stderr
    assert [status_of(result.stdout, name) for name in SERVICES] == ["built", "built"]
    assert "warning" not in result.stderr  # asked for: no warning
    return dist


@pytest.mark.parametrize(
    ("built", "options"), [("dist", ()), ("sources_only_dist", ("--no-bytecode",))]
)
def test_two_builds_from_two_checkouts_are_byte_identical(repo, built, options, request, tmp_path):
    first = request.getfixturevalue(built)
    elsewhere = shutil.copytree(repo, tmp_path / "another" / "checkout")
    result = run_package(elsewhere, tmp_path / "dist", *options)
    assert result.returncode == 0, result.stderr
    for name in SERVICES:
        assert zip_path(first, name).read_bytes() == zip_path(tmp_path / "dist", name).read_bytes()
    assert read_manifest(first) == read_manifest(tmp_path / "dist")


@pytest.mark.parametrize(
    ("built", "bytecode"), [("dist", EXPECTED_BYTECODE), ("sources_only_dist", None)]
)
def test_manifest_describes_the_zips(repo, built, bytecode, request):
    dist = request.getfixturevalue(built)
    manifest = read_manifest(dist)
    assert {k: manifest[k] for k in ("schema_version", "runtime", "architecture")} == {
        "schema_version": 1,
        "runtime": "python3.12",
        "architecture": "x86_64",
    }
    assert sorted(manifest["services"]) == list(SERVICES)
    for name, entry in manifest["services"].items():
        pyproject = tomllib.loads((repo / "services" / name / "pyproject.toml").read_text())
        version = pyproject["project"]["version"]
        data = (dist / entry["zip"]).read_bytes()  # relative to the manifest's folder
        digest = hashlib.sha256(data).digest()
        assert entry == {
            "version": version,
            "zip": f"{name}-{version}.zip",
            "handler": pyproject["tool"]["approval-gate"]["functions"][name],
            "functions": pyproject["tool"]["approval-gate"]["functions"],
            "sha256": digest.hex(),
            "source_code_hash": base64.b64encode(digest).decode(),
            "size": len(data),
            "runtime": "python3.12",
            "architecture": "x86_64",
            "bytecode": bytecode,
        }


@pytest.mark.parametrize("built", ["dist", "sources_only_dist"])
@pytest.mark.parametrize("name", SERVICES)
def test_zip_entries_are_normalised(built, name, request):
    dist = request.getfixturevalue(built)
    with zipfile.ZipFile(zip_path(dist, name)) as archive:
        infos = archive.infolist()
        contents = {info.filename: archive.read(info) for info in infos}
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert not [n for n in names if n.endswith((".so", "/"))]
    # Bytecode: only the runtime's, each beside its source; none from the host.
    bytecode = [n for n in names if n.endswith((".pyc", ".pyo")) or "__pycache__" in n]
    expected = read_manifest(dist)["services"][name]["bytecode"]
    if expected is None:
        assert bytecode == []
    else:
        assert expected == TAG
        assert sorted(bytecode) == sorted(bytecode_name(n) for n in names if n.endswith(".py"))
    assert HOST_BYTECODE_DATA not in contents.values()
    assert {info.date_time for info in infos} == {FIXED_TIME}
    assert {info.compress_type for info in infos} == {zipfile.ZIP_DEFLATED}
    modes = {info.filename: info.external_attr >> 16 for info in infos}
    assert set(modes.values()) <= {0o100644, 0o100755}
    if name == "start_approval":
        assert modes[EXECUTABLE_PROBE] == 0o100755
        assert modes[PRIVATE_PROBE] == 0o100644


@pytest.mark.parametrize("name", SERVICES)
def test_zip_holds_the_service_its_libs_and_the_locked_packages(repo, dist, name):
    with zipfile.ZipFile(zip_path(dist, name)) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}

    for folder, package_name in [
        (repo / "services" / name / "src" / name, name),
        (repo / "libs" / "approval_core" / "src" / "approval_core", "approval_core"),
    ]:
        for path in folder.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                shipped = contents[f"{package_name}/{path.relative_to(folder).as_posix()}"]
                assert shipped == path.read_bytes()
    for handler in functions_of(repo, name).values():
        assert module_file(handler) in contents
    assert set(THIRD_PARTY) <= contents.keys()
    assert not [n for n in contents if n.startswith(RUNTIME_PROVIDED) or n.startswith("bin/")]

    # Nothing from the build machine: no install records, RECORD lists what ships.
    dist_infos = {n.split("/")[0] for n in contents if ".dist-info/" in n}
    assert len(dist_infos) == 6
    for info_dir in dist_infos:
        assert not {"INSTALLER", "REQUESTED", "direct_url.json"} & {
            n.split("/")[1] for n in contents if n.startswith(f"{info_dir}/")
        }
        record = csv.reader(io.StringIO(contents[f"{info_dir}/RECORD"].decode()))
        assert {row[0] for row in record} <= contents.keys()
    for needle in (str(repo), str(dist), sys.prefix, str(REPO)):
        assert not [n for n, data in contents.items() if needle.encode() in data], needle


@needs_runtime_python
@pytest.mark.parametrize("name", SERVICES)
def test_every_module_ships_unchecked_hash_bytecode_of_its_source(dist, name):
    path = zip_path(dist, name)
    with zipfile.ZipFile(path) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    sources = sorted(n for n in contents if n.endswith(".py"))
    assert len(sources) > 100 and handler_file(name) in sources
    assert "typing_extensions.py" in sources  # top-level modules too
    result = subprocess.run(
        [RUNTIME_PYTHON.path, "-I", "-c", INSPECT_ZIP, str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    runtime = json.loads(result.stdout)

    for source in sources:
        pyc = contents[bytecode_name(source)]
        assert pyc[:4].hex() == runtime["magic"], source  # 3.12's bytecode
        assert int.from_bytes(pyc[4:8], "little") == 0b01, source  # hash-based, unchecked
        assert pyc[8:16].hex() == runtime["hashes"][source], source  # of the .py beside it
        # The name in the zip, not a path of the build machine.
        assert runtime["filenames"][bytecode_name(source)] == source


@needs_runtime_python
@pytest.mark.parametrize("name", SERVICES)
def test_the_bytecode_is_all_a_sources_only_zip_lacks(dist, sources_only_dist, name):
    def contents(folder):
        with zipfile.ZipFile(zip_path(folder, name)) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist()}

    with_bytecode = contents(dist)
    sources_only = contents(sources_only_dist)
    assert {n: d for n, d in with_bytecode.items() if not n.endswith(".pyc")} == sources_only


def test_with_no_interpreter_the_build_warns_once_and_ships_sources_only(
    repo, sources_only_dist, tmp_path
):
    result = run_package(repo, tmp_path / "dist", env=no_interpreter_env(tmp_path))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1, result.stderr
    assert warnings[0].startswith("warning:")
    for words in ("3.12", "cold start", "LAMBDA_PYTHON", "install Python 3.12"):
        assert words in warnings[0]
    assert {e["bytecode"] for e in read_manifest(tmp_path / "dist")["services"].values()} == {None}
    assert read_manifest(tmp_path / "dist") == read_manifest(sources_only_dist)
    for name in SERVICES:  # the same bytes as --no-bytecode
        assert (
            zip_path(tmp_path / "dist", name).read_bytes()
            == zip_path(sources_only_dist, name).read_bytes()
        )


@needs_runtime_python
def test_another_bytecode_interpreter_rebuilds(repo, dist, tmp_path):
    out = shutil.copytree(dist, tmp_path / "dist")
    result = run_package(repo, out, "--no-bytecode")
    assert result.returncode == 0, result.stderr
    assert [status_of(result.stdout, name) for name in SERVICES] == ["built"] * 2
    assert {e["bytecode"] for e in read_manifest(out)["services"].values()} == {None}

    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    result = run_package(repo, out, env={**env, "LAMBDA_PYTHON": RUNTIME_PYTHON.path})
    assert result.returncode == 0, result.stderr
    assert [status_of(result.stdout, name) for name in SERVICES] == ["built"] * 2
    assert read_manifest(out) == read_manifest(dist)


def test_an_explicit_interpreter_that_is_not_3_12_is_a_usage_error(repo, tmp_path):
    result = run_package(repo, tmp_path, "--bytecode-python", sys.executable)
    assert result.returncode == 2
    assert "--bytecode-python" in result.stderr and "not a working CPython 3.12" in result.stderr
    env = {**no_interpreter_env(tmp_path), "LAMBDA_PYTHON": str(tmp_path / "nowhere")}
    result = run_package(repo, tmp_path, env=env)
    assert result.returncode == 2
    assert "LAMBDA_PYTHON" in result.stderr and "not a working CPython 3.12" in result.stderr
    assert not list(tmp_path.glob("*.zip"))


def test_service_option_builds_only_that_one_and_keeps_the_other_entry(repo, dist, tmp_path):
    result = run_package(repo, tmp_path, "--service", "receive_result")
    assert result.returncode == 0, result.stderr
    assert "start_approval" not in result.stdout
    assert sorted(p.name for p in tmp_path.glob("*.zip")) == [
        f"receive_result-{service_version(repo, 'receive_result')}.zip"
    ]
    assert list(read_manifest(tmp_path)["services"]) == ["receive_result"]
    first = read_manifest(tmp_path)["services"]["receive_result"]
    first_mtime = zip_path(tmp_path, "receive_result").stat().st_mtime_ns

    result = run_package(repo, tmp_path, "--service", "start_approval")
    assert result.returncode == 0, result.stderr
    assert "receive_result" not in result.stdout
    assert read_manifest(tmp_path) == read_manifest(dist)  # same bytes as a full build
    assert read_manifest(tmp_path)["services"]["receive_result"] == first
    assert zip_path(tmp_path, "receive_result").stat().st_mtime_ns == first_mtime


def test_unchanged_services_are_skipped_and_a_change_rebuilds_only_that_one(repo, dist, tmp_path):
    # A dist built from another checkout of the same sources is still up to date.
    checkout = shutil.copytree(repo, tmp_path / "checkout")
    out = shutil.copytree(dist, tmp_path / "dist")
    mtimes = {name: zip_path(out, name).stat().st_mtime_ns for name in SERVICES}
    result = run_package(checkout, out)
    assert result.returncode == 0, result.stderr
    assert [status_of(result.stdout, name) for name in SERVICES] == ["unchanged"] * 2
    assert {name: zip_path(out, name).stat().st_mtime_ns for name in SERVICES} == mtimes

    handler = checkout / "services" / "start_approval" / "src" / handler_file("start_approval")
    handler.write_text(handler.read_text() + "\n# changed\n")
    result = run_package(checkout, out)
    assert result.returncode == 0, result.stderr
    assert status_of(result.stdout, "start_approval") == "built"
    assert status_of(result.stdout, "receive_result") == "unchanged"
    assert zip_path(out, "receive_result").stat().st_mtime_ns == mtimes["receive_result"]
    entry = read_manifest(out)["services"]["start_approval"]
    new_zip = zip_path(out, "start_approval").read_bytes()
    assert (
        entry["sha256"]
        == hashlib.sha256(new_zip).hexdigest()
        != (read_manifest(dist)["services"]["start_approval"]["sha256"])
    )
    with zipfile.ZipFile(io.BytesIO(new_zip)) as archive:
        assert archive.read(handler_file("start_approval")).endswith(b"# changed\n")


@pytest.mark.parametrize("name", SERVICES)
def test_folders_the_service_excludes_do_not_ship(repo, dist, name):
    excluded = tomllib.loads((repo / "services" / name / "pyproject.toml").read_text())["tool"][
        "approval-gate"
    ]["exclude"]
    assert "aws_lambda_powertools/event_handler" in excluded
    with zipfile.ZipFile(zip_path(dist, name)) as archive:
        names = archive.namelist()
    assert not [n for n in names for folder in excluded if n.startswith(folder + "/")]
    assert "aws_lambda_powertools/utilities/idempotency/__init__.py" in names  # still used


def test_an_exclude_that_matches_nothing_fails_and_says_what_to_remove(repo, tmp_path):
    checkout = shutil.copytree(repo, tmp_path / "checkout")
    pyproject = checkout / "services" / "start_approval" / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("exclude = [", 'exclude = [\n  "no_such_package/part",', 1)
    )
    result = run_package(checkout, tmp_path / "dist", "--service", "start_approval")
    assert result.returncode == 1
    assert "'no_such_package/part'" in result.stderr and "remove it" in result.stderr


def test_a_function_whose_handler_module_is_missing_fails_the_build_naming_it(repo, tmp_path):
    checkout = shutil.copytree(repo, tmp_path / "checkout")
    pyproject = checkout / "services" / "receive_result" / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + 'forgotten = "receive_result.handlers.forgotten.lambda_handler"\n'
    )
    result = run_package(checkout, tmp_path / "dist", "--service", "receive_result")
    assert result.returncode == 1
    assert "function forgotten" in result.stderr
    assert "no receive_result/handlers/forgotten.py in the sources" in result.stderr
    assert not list((tmp_path / "dist").glob("*.zip"))


@pytest.mark.parametrize(
    ("functions", "problem"),
    [
        ('other = "start_approval.handlers.start_approval.lambda_handler"', "like the service"),
        ('start_approval = "start_approval"', "is not a handler"),
    ],
)
def test_the_functions_table_needs_the_services_own_function_and_real_handlers(
    repo, tmp_path, functions, problem
):
    checkout = shutil.copytree(repo, tmp_path / "checkout")
    pyproject = checkout / "services" / "start_approval" / "pyproject.toml"
    text = pyproject.read_text()
    table = text[text.index("[tool.approval-gate.functions]") :]
    pyproject.write_text(text.replace(table, f"[tool.approval-gate.functions]\n{functions}\n"))
    result = run_package(checkout, tmp_path / "dist", "--service", "start_approval")
    assert result.returncode == 1
    assert "[tool.approval-gate.functions]" in result.stderr and problem in result.stderr
    assert not list((tmp_path / "dist").glob("*.zip"))


def test_a_failed_build_leaves_no_zip_names_the_service_and_keeps_the_others(repo, dist, tmp_path):
    checkout = shutil.copytree(repo, tmp_path / "checkout")
    service = checkout / "services" / "receive_result"
    pyproject = service / "pyproject.toml"
    current = service_version(checkout, "receive_result")
    pyproject.write_text(
        pyproject.read_text().replace(f'version = "{current}"', 'version = "9.9.9"')
    )
    assert service_version(checkout, "receive_result") == "9.9.9"
    lock = service / "requirements.lock"
    lock.write_text(lock.read_text().replace("fastjsonschema==2.22.3", "fastjsonschema==0.0.999"))
    out = shutil.copytree(dist, tmp_path / "dist")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    result = run_package(checkout, out)

    assert result.returncode == 1
    failure = [line for line in result.stderr.splitlines() if "FAILED" in line]
    assert len(failure) == 1
    assert failure[0].startswith("receive_result") and "fastjsonschema" in failure[0]
    assert status_of(result.stdout, "start_approval") == "unchanged"
    assert not (out / "receive_result-9.9.9.zip").exists()
    # Nothing else changed: the last good zip and its entry stay, no temporary files.
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_a_compiled_file_in_the_sources_fails_the_build(repo, tmp_path):
    checkout = shutil.copytree(repo, tmp_path / "checkout")
    sources = checkout / "services" / "start_approval" / "src" / "start_approval"
    (sources / "_speedups.cpython-312-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    result = run_package(checkout, tmp_path / "dist", "--service", "start_approval")
    assert result.returncode == 1
    assert "start_approval" in result.stderr and "_speedups" in result.stderr
    assert not list((tmp_path / "dist").glob("*.zip"))


def test_a_compiled_third_party_package_fails_the_build(repo, tmp_path, monkeypatch):
    monkeypatch.setattr(third_party, "install_locked", lambda *_: {"native/_c.so": (b"", 0o755)})
    service = package.load_service(repo, "start_approval")
    with pytest.raises(package.BuildError, match=r"requirements\.lock.*native/_c\.so"):
        package.package_service(service, tmp_path, "x86_64", package.ZIP_EPOCH, RUNTIME_PYTHON)
    assert not list(tmp_path.iterdir())


def test_a_write_that_fails_halfway_leaves_no_partial_zip(repo, tmp_path, monkeypatch, capsys):
    def write_half_then_fail(path, files, epoch):
        path.write_bytes(b"PK\x03\x04 half a zip")
        raise OSError("No space left on device")

    monkeypatch.setattr(third_party, "install_locked", lambda *_: {})
    monkeypatch.setattr(zips, "write_zip", write_half_then_fail)
    code = package.main(
        ["--root", str(repo), "--dist", str(tmp_path), "--service", "start_approval"]
        + ([] if RUNTIME_PYTHON else ["--no-bytecode"])
    )
    assert code == 1
    assert "start_approval" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
    assert read_manifest(tmp_path)["services"] == {}


def test_an_unknown_service_is_a_usage_error(repo, tmp_path):
    result = run_package(repo, tmp_path, "--service", "nope")
    assert result.returncode == 2
    assert "start_approval" in result.stderr  # lists the services there are


def test_write_zip_is_deterministic_and_honours_source_date_epoch(tmp_path, monkeypatch):
    files = {"b.py": (b"b = 2\n", 0o644), "a/run.sh": (b"#!/bin/sh\n", 0o755)}
    for epoch, expected in [(0, FIXED_TIME), (1700000000, (2023, 11, 14, 22, 13, 20))]:
        first, second = tmp_path / f"{epoch}-1.zip", tmp_path / f"{epoch}-2.zip"
        package.write_zip(first, files, epoch)
        package.write_zip(second, dict(reversed(files.items())), epoch)
        assert first.read_bytes() == second.read_bytes()
        with zipfile.ZipFile(first) as archive:
            assert archive.namelist() == ["a/run.sh", "b.py"]
            assert {info.date_time for info in archive.infolist()} == {expected}

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert package.source_date_epoch() == 1700000000
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert package.source_date_epoch() == package.ZIP_EPOCH


def test_fingerprint_covers_every_input_but_not_where_the_checkout_is(repo, tmp_path):
    checkout = shutil.copytree(repo, tmp_path / "checkout")

    python = package.Interpreter("/x/bin/python3.12", "3.12.1", TAG, "cb0d0d0a")

    def fingerprint(root=checkout, architecture="x86_64", epoch=package.ZIP_EPOCH, python=python):
        service = package.load_service(root, "start_approval")
        sources = package.collect_sources(service)
        return package.fingerprint(service, sources, architecture, epoch, python)

    original = fingerprint()
    assert fingerprint(root=repo) == original
    assert fingerprint(architecture="arm64") != original
    assert fingerprint(epoch=1700000000) != original
    # Which interpreter compiled the bytecode (its version, not where it is), or none.
    assert fingerprint(python=None) != original
    assert fingerprint(python=package.Interpreter("/y/python", "3.12.1", TAG, "cb0d0d0a")) == (
        original
    )
    assert fingerprint(
        python=package.Interpreter("/x/bin/python3.12", "3.12.9", TAG, "cb0d0d0a")
    ) != (original)

    service_dir = checkout / "services" / "start_approval"
    core_init = checkout / "libs" / "approval_core" / "src" / "approval_core" / "__init__.py"
    for path in (service_dir / "requirements.lock", service_dir / "pyproject.toml", core_init):
        saved = path.read_bytes()
        path.write_bytes(saved + b"\n# changed\n")
        assert fingerprint() != original, path
        path.write_bytes(saved)
    assert fingerprint() == original
    (service_dir / "src" / EXECUTABLE_PROBE).chmod(0o644)  # the mode ships, so it counts
    assert fingerprint() != original


# --- Bytecode: unit tests ----------------------------------------------------------------------


def test_check_bytecode_accepts_only_the_runtimes_beside_its_source():
    files = {"a/b.py": (b"", 0o644), "c.py": (b"", 0o644)}
    ours = {"a/__pycache__/b.cpython-312.pyc": (b"", 0o644), "__pycache__/c.cpython-312.pyc": ()}
    package.check_bytecode({**files, **ours}, with_bytecode=True)
    package.check_bytecode(files, with_bytecode=False)
    with pytest.raises(package.BuildError, match="not the runtime's"):
        package.check_bytecode({**files, **ours}, with_bytecode=False)
    for stray in (
        "a/__pycache__/b.cpython-311.pyc",  # another interpreter's
        "a/__pycache__/z.cpython-312.pyc",  # no source beside it
        "a/b.pyc",  # sourceless
        "a/b.pyo",
        "a/__pycache__/notes.txt",
    ):
        with pytest.raises(package.BuildError, match=re.escape(stray)):
            package.check_bytecode({**files, **ours, stray: (b"", 0o644)}, with_bytecode=True)


@needs_runtime_python
def test_compile_bytecode_is_reproducible_and_names_what_does_not_compile():
    files = {
        "pkg/__init__.py": (b"", 0o644),
        "pkg/mod.py": (b'"""Doc."""\nVALUES = {"a", "b", "c", "d"}\nassert VALUES\n', 0o644),
        "top.py": (b"def f(x):\n    return x in {'x', 'y', 'z'}\n", 0o755),
    }
    compiled = package.compile_bytecode(files, RUNTIME_PYTHON)
    assert sorted(compiled) == [
        "__pycache__/top.cpython-312.pyc",
        "pkg/__pycache__/__init__.cpython-312.pyc",
        "pkg/__pycache__/mod.cpython-312.pyc",
    ]
    assert {mode for _, mode in compiled.values()} == {0o644}
    # The same bytes alone or among others, in another process (another hash seed).
    alone = package.compile_bytecode({"pkg/mod.py": files["pkg/mod.py"]}, RUNTIME_PYTHON)
    assert (
        alone["pkg/__pycache__/mod.cpython-312.pyc"]
        == compiled["pkg/__pycache__/mod.cpython-312.pyc"]
    )

    broken = {**files, "pkg/broken.py": (b"def broken(:\n", 0o644)}
    with pytest.raises(package.BuildError, match=r"not valid Python 3\.12: pkg/broken\.py"):
        package.compile_bytecode(broken, RUNTIME_PYTHON)


def fake_command(path: Path, script: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_find_runtime_python_skips_what_does_not_run_and_finds_nothing(tmp_path):
    env = no_interpreter_env(tmp_path)  # a failing pyenv shim on PATH, no pyenv
    assert package.find_runtime_python(environ=env) is None
    # Something named python3.12 that is another version is not it either.
    (Path(env["PATH"]) / "python3.12").unlink()
    (Path(env["PATH"]) / "python3.12").symlink_to(sys.executable)
    assert package.find_runtime_python(environ=env) is None
    with pytest.raises(package.BuildError, match="--bytecode-python"):
        package.find_runtime_python(sys.executable, environ=env)
    with pytest.raises(package.BuildError, match="LAMBDA_PYTHON"):
        package.find_runtime_python(environ={**env, "LAMBDA_PYTHON": sys.executable})


@needs_runtime_python
def test_find_runtime_python_order(tmp_path):
    real = RUNTIME_PYTHON.path
    env = no_interpreter_env(tmp_path)
    bin_dir = Path(env["PATH"])

    # pyenv, found on PATH: the newest 3.12 under `pyenv root`, skipping one that fails.
    root = tmp_path / "pyenv-root"
    fake_command(root / "versions" / "3.12.2" / "bin" / "python3.12", "exit 1")
    (root / "versions" / "3.12.10" / "bin").mkdir(parents=True)
    (root / "versions" / "3.12.10" / "bin" / "python3.12").symlink_to(real)
    fake_command(root / "versions" / "3.11.9" / "bin" / "python3.12", "exit 1")
    fake_command(bin_dir / "pyenv", f'[ "$1" = root ] && echo "{root}"')
    found = package.find_runtime_python(environ=env)
    assert found.path == str(root / "versions" / "3.12.10" / "bin" / "python3.12")
    assert (found.version, found.cache_tag) == (RUNTIME_PYTHON.version, TAG)

    # pyenv that only `pyenv which` can answer (PYENV_VERSION selects the version).
    fake_command(
        bin_dir / "pyenv",
        f"case $1 in versions) printf '3.11.9\\n3.12.4\\n';; "
        f'which) [ "$PYENV_VERSION" = 3.12.4 ] && echo "{real}";; *) exit 1;; esac',
    )
    assert package.find_runtime_python(environ=env) == RUNTIME_PYTHON

    # pyenv installed but not on PATH: $PYENV_ROOT/bin/pyenv.
    moved = fake_command(tmp_path / "elsewhere" / "bin" / "pyenv", f'echo "{root}"')
    (bin_dir / "pyenv").unlink()
    env_root = {**env, "PYENV_ROOT": str(moved.parent.parent)}
    assert package.find_runtime_python(environ=env_root).version == RUNTIME_PYTHON.version

    # python3.12 on PATH that runs comes before pyenv; LAMBDA_PYTHON before both.
    (bin_dir / "python3.12").unlink()
    (bin_dir / "python3.12").symlink_to(real)
    assert package.find_runtime_python(environ=env_root).path == str(bin_dir / "python3.12")
    explicit = tmp_path / "explicit" / "python"
    explicit.parent.mkdir()
    explicit.symlink_to(real)
    with_env = {**env_root, "LAMBDA_PYTHON": str(explicit)}
    assert package.find_runtime_python(environ=with_env).path == str(explicit)
    assert package.find_runtime_python(real, environ=with_env) == RUNTIME_PYTHON
