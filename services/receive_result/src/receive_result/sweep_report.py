"""What sweep_approvals returns: out of models.py so that the receive_result function's cold
start does not create its dataclass (docs/benchmarks.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SweepReport:
    """What one sweep found and delivered."""

    pending: int  # listed by the pending index
    finished: int  # of those, automations SSM shows in a final status
    delivered: tuple[str, ...] = ()  # approval ids this sweep delivered
    unchecked: int = 0  # left for the next sweep (short of time, or of SSM's rate)
    queued: int = 0  # automations SSM keeps queued (Pending): nobody has been asked yet
    not_started: tuple[str, ...] = ()  # approval ids given up as Approval.NotStarted

    def to_dict(self) -> dict[str, int | list[str]]:
        return {
            "pending": self.pending,
            "finished": self.finished,
            "delivered": list(self.delivered),
            "unchecked": self.unchecked,
            "queued": self.queued,
            "not_started": list(self.not_started),
        }
