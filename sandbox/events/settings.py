"""EventBridge's settings in the local AWS (the group ``schedules`` of
``/moto-api/sandbox/settings``); its retry delays are Lambda's (``lambda_settings``)."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.core.settings import SettingsGroup


@dataclass
class ScheduleSettings(SettingsGroup):
    tick_seconds: float = 1.0  # how often the ticker looks for due schedules
    max_catch_up: int = 10  # scheduled events fired at most per rule when the clock jumps


schedule_settings = ScheduleSettings()
