"""build/package.py's zips: what they hold and leave out, normalised entries, and the same
bytes from any checkout (tests/support/package_build.py; the shared builds in conftest.py)."""

from __future__ import annotations

import csv
import io
import shutil
import sys
import tomllib
import zipfile

import pytest

from tests.support.package_build import (
    EXECUTABLE_PROBE,
    FIXED_TIME,
    HOST_BYTECODE_DATA,
    PRIVATE_PROBE,
    REPO,
    SERVICES,
    TAG,
    bytecode_name,
    functions_of,
    module_file,
    package,
    read_manifest,
    run_package,
    zip_path,
)

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


@pytest.mark.parametrize("name", SERVICES)
def test_folders_the_service_excludes_do_not_ship(repo, dist, name):
    excluded = tomllib.loads((repo / "services" / name / "pyproject.toml").read_text())["tool"][
        "approval-gate"
    ]["exclude"]
    assert "aws_lambda_powertools/event_handler" in excluded
    with zipfile.ZipFile(zip_path(dist, name)) as archive:
        names = archive.namelist()
    assert not [n for n in names for folder in excluded if n.startswith(folder + "/")]
    # The Logger imports it: excluding a folder leaves the others.
    assert "aws_lambda_powertools/utilities/jmespath_utils/__init__.py" in names


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
