"""Lambda's settings in the local AWS (the group ``lambda`` of ``/moto-api/sandbox/settings``).

Delays AWS counts in minutes are scaled down, so tests stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.core.settings import SettingsGroup


@dataclass
class LambdaSettings(SettingsGroup):
    # Lambda retries a failed asynchronous invocation twice, after about 1 and 2 minutes;
    # the sandbox waits these many seconds instead.
    async_retry_delays: tuple[float, ...] = (1.0, 2.0)
    # Wait between attempts of an asynchronous invocation the function's reserved
    # concurrency throttles (Lambda keeps trying for up to 6 hours / MaximumEventAgeInSeconds).
    async_throttle_delay: float = 1.0
    # EventBridge retries a failed delivery with exponential backoff from this delay...
    eventbridge_retry_delay: float = 1.0
    # ... up to this one (AWS does not document its schedule).
    eventbridge_max_retry_delay: float = 30.0
    # Lambda's limit for the init phase (importing the handler's module).
    init_timeout: float = 10.0
    # Workers of one function version at once (without reserved concurrency).
    max_workers_per_version: int = 10
    # A worker unused this long is stopped (Lambda recycles idle environments too).
    idle_worker_seconds: float = 900.0
    # Run a function on the Python of its runtime (python3.12: a ``python3.12`` on PATH)
    # when there is one, else on the sandbox's own interpreter.
    match_runtime_python: bool = True
    # X-Ray. Off by default: tracing disabled in the functions (POWERTOOLS_TRACE_DISABLED,
    # AWS_XRAY_SDK_ENABLED=false), unsampled trace headers. With a daemon (the sandbox's own
    # when capture_traces, else "host:port" of yours), workers get AWS_XRAY_DAEMON_ADDRESS and
    # their function's own tracing settings, and a function whose TracingConfig is Active
    # runs sampled (Sampled=1) under a function segment the sandbox sends, as Lambda does.
    # A change applies from the next invocation on (idle workers are replaced).
    capture_traces: bool = False
    xray_daemon_address: str | None = None


lambda_settings = LambdaSettings()
