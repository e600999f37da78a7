"""X-Ray for the functions: the sandbox's own daemon (``daemon``) and its HTTP control
(``controls``). Off unless ``lambda_settings.capture_traces`` (sandbox/LOCAL_AWS.md,
"X-Ray traces")."""

from sandbox.xray import controls  # noqa: F401  (registers its HTTP route)
from sandbox.xray.daemon import clear, new_trace, segments, send, start, stop

__all__ = ["clear", "new_trace", "segments", "send", "start", "stop"]
