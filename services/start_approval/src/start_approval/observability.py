"""Logger, tracer and metrics of this service (set up in approval_core.observability)."""

from approval_core.observability import create
from start_approval import __version__

SERVICE = "start_approval"

logger, tracer, metrics = create(SERVICE, __version__)
