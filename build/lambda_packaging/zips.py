"""Writing: reproducible zips, and any output file atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import zipfile
from pathlib import Path

# 1980-01-01T00:00:00Z: the earliest time a zip entry can hold.
ZIP_EPOCH = 315532800
COMPRESS_TYPE = zipfile.ZIP_DEFLATED
COMPRESS_LEVEL = 9


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


def file_sha256(path: Path) -> bytes:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").digest()
