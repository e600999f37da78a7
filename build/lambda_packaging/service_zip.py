"""One service, from its sources to its zip and manifest entry."""

from __future__ import annotations

import tempfile
from pathlib import Path

# Modules, not their functions: the tests replace third_party.install_locked and
# zips.write_zip to inject failures, and see it here.
from . import bytecode, fingerprints, manifest, sources, third_party, zips
from .interpreter import Interpreter
from .services import Service


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
    own = sources.collect_sources(service)
    sources.check_pure(own, "the sources")
    sources.check_handlers(service, own)
    inputs = fingerprints.fingerprint(service, own, architecture, epoch, interpreter)
    zip_path = dist / service.zip_name
    if fingerprints.is_up_to_date(dist, service, inputs):
        return "unchanged", manifest.manifest_entry(service, zip_path, architecture, interpreter)

    with tempfile.TemporaryDirectory(prefix=f"package-{service.name}-") as site:
        installed = third_party.install_locked(service, Path(site))
    sources.check_pure(installed, service.lock.name)
    third_party.leave_out(installed, service)
    files = dict(own)
    sources.merge(files, installed, service.lock.name)
    third_party.normalise_dist_info(files)
    if interpreter:
        sources.merge(files, bytecode.compile_bytecode(files, interpreter), "the bytecode")
    bytecode.check_bytecode(files, with_bytecode=interpreter is not None)
    zips.write_atomically(zip_path, lambda temp: zips.write_zip(temp, files, epoch))

    entry = manifest.manifest_entry(service, zip_path, architecture, interpreter)
    fingerprints.record(dist, service, inputs, entry["sha256"], interpreter)
    return "built", entry
