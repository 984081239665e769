"""Settings of the exports domain, read from environment variables when used (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from routines.settings import env_float, env_int


@dataclass(frozen=True)
class ExportsConfig:
    progress_interval: float = 0.5  # seconds between two progress writes to a task row (at most 2 a second)
    tick_batch: int = 1000  # pending tasks turned into run requests per sensor tick (the rest next tick)
    rerequest_minutes: float = 10  # a requested task still pending after this is requested again (same key)
    retention_days: int = 30  # the daily cleanup removes task files older than this
    download_url: str = ""  # link of "file ready" notifications; `{task_id}` is replaced
    slot_wait_seconds: float = 1.0  # how often a run waiting for a free `exports` slot looks again

    @classmethod
    def from_env(cls) -> ExportsConfig:
        return cls(
            progress_interval=env_float("ROUTINES_EXPORTS_PROGRESS_INTERVAL", 0.5, 0),
            tick_batch=env_int("ROUTINES_EXPORTS_TICK_BATCH", 1000, 1),
            rerequest_minutes=env_float("ROUTINES_EXPORTS_REREQUEST_MINUTES", 10, 1),
            retention_days=env_int("ROUTINES_EXPORTS_RETENTION_DAYS", 30, 1),
            download_url=os.environ.get("ROUTINES_EXPORTS_DOWNLOAD_URL", "").strip(),
        )

    def link_for(self, task_id: int) -> str | None:
        return self.download_url.replace("{task_id}", str(task_id)) if self.download_url else None
