"""build/package.py's bytecode: the runtime's CPython 3.12 found as the build finds it, the
bytecode it compiles into the zips, and builds without it (--no-bytecode, or no interpreter
found), tested on every machine (tests/support/package_build.py; the shared builds in
conftest.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.package_build import (
    RUNTIME_PYTHON,
    SERVICES,
    TAG,
    bytecode_name,
    handler_file,
    needs_runtime_python,
    no_interpreter_env,
    package,
    read_manifest,
    run_package,
    status_of,
    zip_path,
)

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
