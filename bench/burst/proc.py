"""Memory and CPU time of processes, from /proc (Linux), and the machine the bench ran on."""

from __future__ import annotations

import os
import platform
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path
from typing import Any


def proc_status(pid: int | str, key: str) -> int | None:
    """A kB value of /proc/<pid>/status (VmRSS, VmHWM), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (/proc/<pid>/stat), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def lambda_workers(workers: list[dict[str, Any]]) -> dict[str, Any]:
    """The running Lambda workers (their own processes, as the local AWS lists them: pid and
    function_name): peak RSS and CPU time, by function."""
    peaks: defaultdict[str, list[int]] = defaultdict(list)
    cpu: defaultdict[str, float] = defaultdict(float)
    for worker in workers:
        peak, used = proc_status(worker["pid"], "VmHWM"), cpu_seconds(worker["pid"])
        if peak is not None:
            peaks[worker["function_name"]].append(peak)
        cpu[worker["function_name"]] += used or 0.0
    every = [kb for found in peaks.values() for kb in found]
    return {
        "workers": len(every),
        "peak_rss_mb_max": round(max(every) / 1024, 1) if every else None,
        "peak_rss_mb_sum": round(sum(every) / 1024, 1) if every else None,
        "cpu_s": round(sum(cpu.values()), 1),
        "per_function": {
            name: {"workers": len(found), "cpu_s": round(cpu[name], 1)}
            for name, found in sorted(peaks.items())
        },
    }


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "moto": version("moto"),
        "boto3": version("boto3"),
    }
