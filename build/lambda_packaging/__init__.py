"""Packaging a Lambda service into a reproducible zip: the pieces build/package.py puts together.

By concern, each importing only those above it:

    target.py        the Lambda runtime and architectures the zips are for
    errors.py        BuildError: a service cannot be packaged, and why
    interpreter.py   finding the runtime's CPython, to compile the bytecode with
    services.py      a service as its pyproject.toml declares it
    sources.py       the service's own files and its libraries, as they go in the zip
    bytecode.py      the runtime's bytecode beside each module, and checks on stray bytecode
    third_party.py   the locked requirements, installed for the runtime and trimmed
    zips.py          reproducible zips, written atomically
    fingerprints.py  what a zip is made from, to skip a service whose inputs have not changed
    manifest.py      dist/manifest.json
    service_zip.py   one service from sources to zip and manifest entry
"""
