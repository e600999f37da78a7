"""Logger, tracer and metrics of this service (set up in approval_core.observability)."""

from approval_core.observability import create
from start_approval import __version__

SERVICE = "start_approval"

_observability = create(SERVICE, __version__)
logger = _observability.logger
tracer = _observability.tracer
metrics = _observability.metrics
