"""build/package.py's manifest, and its rebuilds: only what changed (the fingerprint), only
the service asked for (tests/support/package_build.py; the shared builds in conftest.py)."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import tomllib
import zipfile

import pytest

from tests.support.package_build import (
    EXECUTABLE_PROBE,
    EXPECTED_BYTECODE,
    SERVICES,
    TAG,
    handler_file,
    package,
    read_manifest,
    run_package,
    service_version,
    status_of,
    zip_path,
)


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
