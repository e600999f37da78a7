"""Cold start of each service's zip, beside a handler that only creates the same boto3 clients.

    make package
    python bench/cold_start.py [--dist DIR] [--runs N] [--trace-disabled] [--precompiled] [--check]

Each run is a fresh interpreter that imports the handler module from the extracted zip, as the
Lambda runtime does: the zip's folder first on sys.path, then a folder holding only what the
runtime provides (boto3 and its dependencies, taken from this interpreter's site-packages),
no site-packages, no byte code written (/var/task is read-only in Lambda). The time measured
is the import of the handler module (its initialisation code included), not interpreter
start-up, which is the same for both. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RATIO_GOAL = 1.5
SIZE_GOAL = 2_000_000  # bytes
# The clients each service creates at import time; the baseline creates the same.
BASELINE_CLIENTS = {
    "start_approval": ("ssm", "dynamodb"),
    "receive_result": ("ssm", "stepfunctions", "dynamodb"),
}
REGION = "eu-west-1"

# Runs in the fresh interpreter: argv = task folder, runtime folder, module, function.
CHILD = """
import importlib, sys, time
task, runtime, module, function = sys.argv[1:5]
sys.path[:0] = [task, runtime]
start = time.perf_counter()
handler = getattr(importlib.import_module(module), function)
elapsed = time.perf_counter() - start
if not callable(handler):
    raise SystemExit(f"{module}.{function} is not callable")
print(elapsed)
"""


def function_environment(service: str, handler: str, task: Path, trace_disabled: bool) -> dict:
    """What Lambda and Terraform set (docs/contracts.md), with dummy values; nothing from the
    host's AWS configuration."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        # Lambda runtime
        "AWS_LAMBDA_FUNCTION_NAME": f"approval-gate-{service}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": str(task),
        "_HANDLER": handler,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        # Terraform (docs/contracts.md, "Function environment")
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": "ApprovalGate",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "APPROVALS_TABLE_NAME": "approval-gate-records",
        "APPROVAL_DOCUMENT_NAME": "approval-gate-approve",
    }
    if service == "start_approval":
        env["NOTIFICATION_TOPIC_ARN"] = f"arn:aws:sns:{REGION}:123456789012:approval-gate"
    # By default the tracer initialises (and patches boto3) as in a function with active
    # tracing; --trace-disabled shows what that costs.
    if trace_disabled:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def runtime_folder(folder: Path) -> Path:
    """boto3 and its dependencies, linked from site-packages: what the Lambda runtime holds."""
    folder.mkdir()
    (folder / "__pycache__").mkdir()
    todo, seen = ["boto3"], set()
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        name = dist.metadata["Name"].lower()
        if name in seen:
            continue
        seen.add(name)
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                todo.append(re.match(r"[A-Za-z0-9._-]+", requirement).group())
        for file in dist.files or []:
            top = file.parts[0]
            if top == "__pycache__":  # byte code of single-module distributions (six.py)
                source, linked = dist.locate_file(file), folder / file
            elif top.endswith(".dist-info") or top in ("..", "bin"):
                continue
            else:
                source, linked = dist.locate_file(top), folder / top
            if not linked.is_symlink():
                linked.symlink_to(source)
    return folder


def baseline_folder(folder: Path, service: str) -> Path:
    clients = BASELINE_CLIENTS.get(service, ())
    lines = ["import boto3", ""]
    lines += [f"{name} = boto3.client({name!r})" for name in clients]
    lines += ["", "", "def lambda_handler(event, context):", "    return None", ""]
    folder.mkdir()
    (folder / "baseline_handler.py").write_text("\n".join(lines), encoding="utf-8")
    return folder


def measure_once(task: Path, runtime: Path, handler: str, env: dict) -> float:
    module, _, function = handler.rpartition(".")
    command = [sys.executable, "-I", "-S", "-B", "-c", CHILD, str(task), str(runtime)]
    result = subprocess.run(
        [*command, module, function], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"importing {handler} from {task} failed:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def load_services(dist: Path) -> list[dict]:
    manifest_path = dist / "manifest.json"
    if not manifest_path.is_file():
        raise SystemExit(f"no {manifest_path}: run `make package` first")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    services = []
    for name, entry in sorted(manifest["services"].items()):
        zip_path = dist / entry["zip"]
        if hashlib.sha256(zip_path.read_bytes()).hexdigest() != entry["sha256"]:
            raise SystemExit(f"{zip_path} does not match the manifest: run `make package`")
        services.append({"name": name, "zip_path": zip_path, **entry})
    return services


def milliseconds(samples: list[float]) -> str:
    median, low, high = (1000 * f(samples) for f in (statistics.median, min, max))
    return f"{median:.0f} ms ({low:.0f}-{high:.0f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=REPO_ROOT / "dist")
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per case")
    parser.add_argument("--trace-disabled", action="store_true", help="POWERTOOLS_TRACE_DISABLED")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument(
        "--precompiled",
        action="store_true",
        help="byte-compile the extracted zip first: what shipping .pyc files would save",
    )
    args = parser.parse_args(argv)
    services = load_services(args.dist)

    with tempfile.TemporaryDirectory(prefix="cold-start-") as scratch:
        scratch = Path(scratch)
        runtime = runtime_folder(scratch / "runtime")
        cases = []  # (service, kind, task folder, handler, environment)
        for service in services:
            name = service["name"]
            task = scratch / name
            with zipfile.ZipFile(service["zip_path"]) as archive:
                archive.extractall(task)
            if args.precompiled:
                compileall.compile_dir(task, quiet=1)
            env = function_environment(name, service["handler"], task, args.trace_disabled)
            baseline = baseline_folder(scratch / f"baseline-{name}", name)
            cases.append((name, "service", task, service["handler"], env))
            cases.append((name, "baseline", baseline, "baseline_handler.lambda_handler", env))

        samples = {(name, kind): [] for name, kind, *_ in cases}
        for run in range(args.runs + 1):  # interleaved, so drift hits every case alike
            for name, kind, task, handler, env in cases:
                elapsed = measure_once(task, runtime, handler, env)
                if run > 0:  # the first round only warms the file cache
                    samples[name, kind].append(elapsed)

    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {args.runs} runs per case, "
        f"tracer {'disabled' if args.trace_disabled else 'enabled'}"
        f"{', zip byte-compiled first' if args.precompiled else ''}\n"
    )
    print("| function | zip size | cold start: median (min-max) | baseline (boto3 clients) "
          "| ratio | goals |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    all_met = True
    for service in services:
        name = service["name"]
        ours, base = samples[name, "service"], samples[name, "baseline"]
        ratio = statistics.median(ours) / statistics.median(base)
        misses = [f"ratio over {RATIO_GOAL}x"] if ratio > RATIO_GOAL else []
        misses += [f"zip over {SIZE_GOAL / 1e6:.0f} MB"] if service["size"] >= SIZE_GOAL else []
        all_met = all_met and not misses
        print(
            f"| {name} {service['version']} | {service['size'] / 1e6:.2f} MB "
            f"| {milliseconds(ours)} | {milliseconds(base)} | {ratio:.2f}x "
            f"| {', '.join(misses) or 'met'} |"
        )
    return 1 if args.check and not all_met else 0


if __name__ == "__main__":
    sys.exit(main())
