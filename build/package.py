"""Package each Lambda service into a reproducible zip and record it in dist/manifest.json.

    python build/package.py [--service NAME] [--arch x86_64|arm64] [--dist DIR] [--root DIR]
                            [--bytecode-python PATH | --no-bytecode]

What goes in a zip and what the manifest promises: docs/contracts.md. Standard library only,
so it runs before anything is installed. Two builds of the same sources and toolchain give the
same bytes, and a service whose inputs have not changed since its zip was built is not rebuilt.

Each zip carries, beside every module, its bytecode for the Lambda runtime's interpreter
(lambda_packaging/bytecode.py). Only a CPython 3.12 interpreter can write that bytecode;
find_runtime_python() looks for one (--bytecode-python or $LAMBDA_PYTHON, python3.12 on PATH,
pyenv). Without one the zips ship sources only, with a warning.

This file is the command line; the work is in lambda_packaging/, a module per concern. What
loads this file by path (bench/cold_start.py, the tests) finds the names in __all__ here.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Run by path (make package) or loaded by path (bench, tests): lambda_packaging sits beside
# this file. Python puts this folder first on sys.path only in the first case; do it in both.
BUILD_DIR = str(Path(__file__).resolve().parent)
if BUILD_DIR not in sys.path:
    sys.path.insert(0, BUILD_DIR)

from lambda_packaging.bytecode import check_bytecode, compile_bytecode  # noqa: E402
from lambda_packaging.errors import BuildError  # noqa: E402
from lambda_packaging.fingerprints import fingerprint  # noqa: E402
from lambda_packaging.interpreter import (  # noqa: E402
    LAMBDA_PYTHON_ENV,
    NO_BYTECODE_WARNING,
    Interpreter,
    find_runtime_python,
)
from lambda_packaging.manifest import MANIFEST_NAME, load_manifest, write_manifest  # noqa: E402
from lambda_packaging.service_zip import package_service  # noqa: E402
from lambda_packaging.services import discover_services, load_service  # noqa: E402
from lambda_packaging.sources import collect_sources  # noqa: E402
from lambda_packaging.target import ARCHITECTURES, BYTECODE_TAG, RUNTIME_VERSION  # noqa: E402
from lambda_packaging.zips import ZIP_EPOCH, write_zip  # noqa: E402

__all__ = [
    "BYTECODE_TAG",
    "LAMBDA_PYTHON_ENV",
    "RUNTIME_VERSION",
    "ZIP_EPOCH",
    "BuildError",
    "Interpreter",
    "check_bytecode",
    "collect_sources",
    "compile_bytecode",
    "find_runtime_python",
    "fingerprint",
    "load_service",
    "main",
    "package_service",
    "source_date_epoch",
    "write_zip",
]


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
