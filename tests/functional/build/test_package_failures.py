"""build/package.py's failures: what fails the build, says why, and leaves no zip behind
(tests/support/package_build.py; the shared builds in conftest.py)."""

from __future__ import annotations

import shutil

import pytest

from tests.support.package_build import (
    RUNTIME_PYTHON,
    package,
    read_manifest,
    run_package,
    service_version,
    status_of,
    third_party,
    zips,
)


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
