"""Package each Lambda service into a reproducible zip and record it in dist/manifest.json.

    python build/package.py [--service NAME] [--arch x86_64|arm64] [--dist DIR] [--root DIR]

What goes in a zip and what the manifest promises: docs/contracts.md. Standard library only,
so it runs before anything is installed. Two builds of the same sources give the same bytes,
and a service whose inputs have not changed since its zip was built is not rebuilt.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

RUNTIME = "python3.12"
ARCHITECTURES = ("x86_64", "arm64")
SCHEMA_VERSION = 1
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


@dataclass(frozen=True)
class Service:
    name: str
    version: str
    handler: str
    libs: tuple[str, ...]
    root: Path  # the repository root

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
            handler=gate["handler"],
            libs=tuple(gate.get("libs", [])),
            root=root,
        )
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise BuildError(f"cannot read {pyproject}: {error}") from error
    except KeyError as error:
        raise BuildError(f"{pyproject} lacks {error}") from error


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


def check_handler(service: Service, files: dict) -> None:
    module = service.handler.rpartition(".")[0].replace(".", "/")
    if f"{module}.py" not in files and f"{module}/__init__.py" not in files:
        raise BuildError(f"handler {service.handler}: no {module}.py in the sources")


def install_locked(service: Service, target: Path) -> dict:
    """The locked third-party packages, installed for the Lambda runtime, never the host."""
    if not service.lock.is_file():
        raise BuildError(f"{service.lock} does not exist")
    python_version = RUNTIME.removeprefix("python")
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


def fingerprint(service: Service, sources: dict, architecture: str, epoch: int) -> str:
    """Hash of everything a zip is made from; paths are repo-relative, so checkouts agree."""
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("script", Path(__file__).read_bytes())
    add("target", f"{RUNTIME} {architecture} {epoch}".encode())
    add("pyproject", (service.service_dir / "pyproject.toml").read_bytes())
    add("lock", service.lock.read_bytes() if service.lock.is_file() else b"")
    for name in sorted(sources):
        data, mode = sources[name]
        add(f"{name} {mode:o}", data)
    return digest.hexdigest()


def file_sha256(path: Path) -> bytes:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").digest()


def manifest_entry(service: Service, zip_path: Path, architecture: str) -> dict:
    digest = file_sha256(zip_path)
    return {
        "version": service.version,
        "zip": zip_path.name,
        "handler": service.handler,
        "sha256": digest.hex(),
        "source_code_hash": base64.b64encode(digest).decode("ascii"),
        "size": zip_path.stat().st_size,
        "runtime": RUNTIME,
        "architecture": architecture,
    }


# --- One service, then all ---------------------------------------------------------------------


def package_service(
    service: Service, dist: Path, architecture: str, epoch: int
) -> tuple[str, dict]:
    """Build (or keep) one service's zip; returns (status, manifest entry)."""
    sources = collect_sources(service)
    check_pure(sources, "the sources")
    check_handler(service, sources)
    inputs = fingerprint(service, sources, architecture, epoch)
    zip_path = dist / service.zip_name
    state_path = dist / FINGERPRINTS_DIR / f"{service.name}.json"

    if zip_path.is_file() and state_path.is_file():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        if state.get("inputs") == inputs and state.get("sha256") == file_sha256(zip_path).hex():
            return "unchanged", manifest_entry(service, zip_path, architecture)

    with tempfile.TemporaryDirectory(prefix=f"package-{service.name}-") as site:
        third_party = install_locked(service, Path(site))
    check_pure(third_party, service.lock.name)
    files = dict(sources)
    merge(files, third_party, service.lock.name)
    normalise_dist_info(files)
    write_atomically(zip_path, lambda temp: write_zip(temp, files, epoch))

    entry = manifest_entry(service, zip_path, architecture)
    state_path.parent.mkdir(exist_ok=True)
    state = {"zip": zip_path.name, "inputs": inputs, "sha256": entry["sha256"]}
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
            kept[name] = entry
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
    args = parser.parse_args(argv)
    root = args.root.resolve()
    dist = (args.dist or root / "dist").resolve()
    epoch = source_date_epoch()

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
            status, entry = package_service(service, dist, args.arch, epoch)
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
