"""``python -m sandbox serve|stop|status``: the local AWS as a process of its own.

    python -m sandbox serve [--port 5000] [--state-dir .sandbox] [--expire-interval 1]
    python -m sandbox stop [--state-dir .sandbox]      # SIGTERM the server of the pid file
    python -m sandbox status [--state-dir .sandbox]    # exit 0 and print the endpoint if up

``serve`` prints the endpoint and the environment for the AWS CLI and Terraform, writes
``<state-dir>/server.json`` (pid, endpoint; the folder ignores itself in git) and stops
cleanly, workers included, on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from sandbox import server


def _serve(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    running = server.read_state(args.state_dir)
    if running and server.alive(int(running["pid"])):
        print(
            f"A sandbox already runs on {running['endpoint']} (pid {running['pid']}); "
            "stop it with `python -m sandbox stop`.",
            file=sys.stderr,
        )
        return 1
    aws = server.LocalAws(
        port=args.port,
        state_dir=args.state_dir,
        expire_interval=args.expire_interval or None,
        region=args.region,
        log_requests=args.verbose,
    )
    try:
        aws.start()
    except OSError as exc:
        print(f"Cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    try:
        print(server.banner(aws), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        print("Stopping the sandbox...", flush=True)
        aws.stop()
        print("Stopped.", flush=True)
    return 0


def _stop(args: argparse.Namespace) -> int:
    if server.stop_background(args.state_dir):
        print("Stopped the sandbox.")
    else:
        print("No sandbox was running.")
    return 0


def _status(args: argparse.Namespace) -> int:
    state = server.read_state(args.state_dir)
    if state and server.alive(int(state["pid"])):
        print(state["endpoint"])
        return 0
    print("No sandbox is running.", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the local AWS until SIGINT/SIGTERM")
    serve.add_argument("--port", type=int, default=5000, help="0 picks a free port")
    serve.add_argument("--region", default=server.REGION)
    serve.add_argument("--verbose", action="store_true", help="log every HTTP request")
    serve.add_argument("--expire-interval", type=float, default=1.0, help="0: no expiry thread")
    for command in (serve, commands.add_parser("stop"), commands.add_parser("status")):
        command.add_argument("--state-dir", type=Path, default=server.DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    return {"serve": _serve, "stop": _stop, "status": _status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
