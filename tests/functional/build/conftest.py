"""The builds the tests of build/package.py share (tests/support/package_build.py).

Builds are slow (pip), so one session-wide build of each kind is shared by the read-only
tests, and the tests that change something work on copies of it. Where a service's handler is
not written yet, the copy of the repository gets a tiny one, so these tests do not depend on
the services' progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.package_build import SERVICES, make_repo, run_package, status_of


@pytest.fixture(scope="session")
def repo(tmp_path_factory) -> Path:
    return make_repo(tmp_path_factory.mktemp("repo"))


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
