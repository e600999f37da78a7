"""build/package.py: real zips built from a copy of the repository in temporary folders.

Builds are slow (pip), so one session-wide build is shared by the read-only tests, and the
tests that change something work on copies of it. Where a service's handler is not written
yet, the copy gets a tiny one, so these tests do not depend on the services' progress.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
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


def load_script():
    """build/package.py as a module, for the tests that inject failures."""
    spec = importlib.util.spec_from_file_location("package_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


package = load_script()


def make_repo(dest: Path) -> Path:
    """Services and libs copied from the repository, with a tiny handler where none exists."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for part in ("services", "libs"):
        shutil.copytree(REPO / part, dest / part, ignore=ignore)
    for name in SERVICES:
        source = dest / "services" / name / "src" / name
        source.mkdir(parents=True, exist_ok=True)
        (source / "__init__.py").touch()
        handler = source / "handler.py"
        if not handler.exists():
            handler.write_text("def lambda_handler(event, context):\n    return event\n")
    core = dest / "libs" / "approval_core" / "src" / "approval_core"
    core.mkdir(parents=True, exist_ok=True)
    (core / "__init__.py").touch()
    # Odd permissions, to see them normalised.
    sources = dest / "services" / "start_approval" / "src"
    (sources / EXECUTABLE_PROBE).write_text("#!/bin/sh\n")
    (sources / EXECUTABLE_PROBE).chmod(0o750)
    (sources / PRIVATE_PROBE).write_text("private\n")
    (sources / PRIVATE_PROBE).chmod(0o600)
    return dest


def run_package(root: Path, dist: Path, *args: str) -> subprocess.CompletedProcess:
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


@pytest.fixture(scope="session")
def dist(repo, tmp_path_factory) -> Path:
    """One full build, shared: tests must not change it (copy it first)."""
    dist = tmp_path_factory.mktemp("dist")
    result = run_package(repo, dist)
    assert result.returncode == 0, result.stderr
    assert [status_of(result.stdout, name) for name in SERVICES] == ["built", "built"]
    return dist


def test_two_builds_from_two_checkouts_are_byte_identical(repo, dist, tmp_path):
    elsewhere = shutil.copytree(repo, tmp_path / "another" / "checkout")
    result = run_package(elsewhere, tmp_path / "dist")
    assert result.returncode == 0, result.stderr
    for name in SERVICES:
        assert zip_path(dist, name).read_bytes() == zip_path(tmp_path / "dist", name).read_bytes()
    assert read_manifest(dist) == read_manifest(tmp_path / "dist")


def test_manifest_describes_the_zips(repo, dist):
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
            "handler": pyproject["tool"]["approval-gate"]["handler"],
            "sha256": digest.hex(),
            "source_code_hash": base64.b64encode(digest).decode(),
            "size": len(data),
            "runtime": "python3.12",
            "architecture": "x86_64",
        }


@pytest.mark.parametrize("name", SERVICES)
def test_zip_entries_are_normalised(dist, name):
    with zipfile.ZipFile(zip_path(dist, name)) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert not [n for n in names if n.endswith((".pyc", ".so", "/")) or "__pycache__" in n]
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
            if path.is_file() and "__pycache__" not in path.parts:
                shipped = contents[f"{package_name}/{path.relative_to(folder).as_posix()}"]
                assert shipped == path.read_bytes()
    assert f"{name}/handler.py" in contents
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


def test_service_option_builds_only_that_one_and_keeps_the_other_entry(repo, dist, tmp_path):
    result = run_package(repo, tmp_path, "--service", "receive_result")
    assert result.returncode == 0, result.stderr
    assert "start_approval" not in result.stdout
    assert sorted(p.name for p in tmp_path.glob("*.zip")) == ["receive_result-0.1.0.zip"]
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

    handler = checkout / "services" / "start_approval" / "src" / "start_approval" / "handler.py"
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
        assert archive.read("start_approval/handler.py").endswith(b"# changed\n")


def test_a_failed_build_leaves_no_zip_names_the_service_and_keeps_the_others(repo, dist, tmp_path):
    checkout = shutil.copytree(repo, tmp_path / "checkout")
    service = checkout / "services" / "receive_result"
    pyproject = service / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.1.0"', 'version = "0.2.0"'))
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
    assert not (out / "receive_result-0.2.0.zip").exists()
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
    monkeypatch.setattr(package, "install_locked", lambda *_: {"native/_c.so": (b"", 0o755)})
    service = package.load_service(repo, "start_approval")
    with pytest.raises(package.BuildError, match=r"requirements\.lock.*native/_c\.so"):
        package.package_service(service, tmp_path, "x86_64", package.ZIP_EPOCH)
    assert not list(tmp_path.iterdir())


def test_a_write_that_fails_halfway_leaves_no_partial_zip(repo, tmp_path, monkeypatch, capsys):
    def write_half_then_fail(path, files, epoch):
        path.write_bytes(b"PK\x03\x04 half a zip")
        raise OSError("No space left on device")

    monkeypatch.setattr(package, "install_locked", lambda *_: {})
    monkeypatch.setattr(package, "write_zip", write_half_then_fail)
    code = package.main(
        ["--root", str(repo), "--dist", str(tmp_path), "--service", "start_approval"]
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

    def fingerprint(root=checkout, architecture="x86_64", epoch=package.ZIP_EPOCH):
        service = package.load_service(root, "start_approval")
        return package.fingerprint(service, package.collect_sources(service), architecture, epoch)

    original = fingerprint()
    assert fingerprint(root=repo) == original
    assert fingerprint(architecture="arm64") != original
    assert fingerprint(epoch=1700000000) != original

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
