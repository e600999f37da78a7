"""Logger, tracer and metrics of this service (set up in approval_core.observability)."""

from approval_core.observability import create
from receive_result import __version__

SERVICE = "receive_result"

logger, tracer, metrics = create(SERVICE, __version__)
