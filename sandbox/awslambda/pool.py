"""The warm workers of each function version: one per invocation at a time, kept for the
next (until ``idle_worker_seconds`` unused), as many as reserved concurrency (or
``max_workers_per_version``) allows. New code or configuration gets new workers."""

from __future__ import annotations

import threading
import time
from typing import Any

from sandbox.awslambda.models import FunctionSpec
from sandbox.awslambda.settings import lambda_settings
from sandbox.awslambda.tracing import xray_daemon
from sandbox.awslambda.worker import Worker
from sandbox.core import background
from sandbox.core.endpoint import endpoint

_lock = threading.Lock()
_pools: dict[tuple[str, str, str, str], Pool] = {}


class Pool:
    """The warm workers of one function version."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self.idle: list[Worker] = []
        self.busy: set[Worker] = set()
        self.closed = False
        self.condition = threading.Condition()

    def acquire(self, limit: int, throttle: bool) -> Worker | None:
        """An idle worker, or a new (unstarted) one; None if throttled."""
        with self.condition:
            while True:
                current = endpoint()
                daemon = xray_daemon()
                while self.idle:
                    worker = self.idle.pop()
                    if worker.alive() and (worker.endpoint, worker.xray_daemon) == (
                        current,
                        daemon,
                    ):
                        self.busy.add(worker)
                        return worker
                    worker.kill()  # dead, its sandbox server has gone, or X-Ray changed
                if len(self.busy) < limit:
                    worker = Worker(self.spec)
                    self.busy.add(worker)
                    return worker
                if throttle:
                    return None
                self.condition.wait(0.5)
                if background.stopping():
                    return None

    def release(self, worker: Worker) -> None:
        with self.condition:
            self.busy.discard(worker)
            if worker.alive() and not self.closed:
                self.idle.append(worker)
            else:
                worker.kill()
            self.condition.notify()

    def close(self) -> None:
        with self.condition:
            self.closed = True
            idle, self.idle = self.idle, []
            busy = list(self.busy)
        for worker in idle + busy:
            worker.kill()

    def reap(self, older_than: float) -> None:
        with self.condition:
            stale = [worker for worker in self.idle if worker.last_used < older_than]
            self.idle = [worker for worker in self.idle if worker not in stale]
        for worker in stale:
            worker.kill()


def pool_for(spec: FunctionSpec) -> Pool:
    with _lock:
        pool = _pools.get(spec.key)
        if pool is not None and pool.spec != spec:
            pool.close()  # new code or configuration: new execution environments
            pool = None
        if pool is None:
            pool = _pools[spec.key] = Pool(spec)
        older_than = time.monotonic() - lambda_settings.idle_worker_seconds
        pools = list(_pools.values())
    for item in pools:
        item.reap(older_than)
    return pool


def workers() -> list[dict[str, Any]]:
    """The running workers (function, version, pid), for tests and diagnostics."""
    with _lock:
        pools = list(_pools.values())
    found = []
    for pool in pools:
        with pool.condition:
            members = list(pool.idle) + list(pool.busy)
        for worker in members:
            if worker.alive() and worker.process is not None:
                found.append(
                    {
                        "function_name": pool.spec.function_name,
                        "version": pool.spec.version,
                        "pid": worker.process.pid,
                        "log_stream": worker.log_stream,
                    }
                )
    return found


def close_all() -> None:
    """Stop every worker of every function (sandbox.reset)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()
