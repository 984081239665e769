"""Reports that wait for their data (pure): a report definition may name the assets it reads
(`wait_for_assets`, e.g. ["b3_quotes"]); its run for a day waits until those assets' partitions of that day are
materialized, at most `wait_limit_minutes` (default 120) after the scheduled time; then it is sent with a pt-BR
warning in the e-mail (`wait_action` "warn", the default) or skipped ("skip")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

ACTIONS = ("warn", "skip")
DEFAULT_LIMIT_MINUTES = 120
WARNING_TAG = "routines/report_missing_data"


@dataclass(frozen=True)
class WaitDecision:
    action: str  # run | wait | warn | skip
    missing: tuple[str, ...] = ()

    def warning(self, day: date) -> str:
        """The pt-BR warning added to the e-mail (warn) or recorded on the execution (skip)."""
        names = ", ".join(self.missing)
        if self.action == "skip":
            return f"não enviado: os dados de {names} do dia {day:%d/%m/%Y} não chegaram no prazo de espera"
        return (
            f"Atenção: os dados de {names} do dia {day:%d/%m/%Y} ainda não estavam disponíveis no prazo de "
            f"espera; este relatório pode estar incompleto."
        )


def validate(assets, limit_minutes, action, name: str = "report") -> None:
    if assets is not None and (
        not isinstance(assets, list) or not all(isinstance(a, str) and a for a in assets)
    ):
        raise ValueError(f"report {name!r}, field wait_for_assets: expected a list of asset keys")
    if limit_minutes is not None and not 0 <= int(limit_minutes) <= 24 * 60:
        raise ValueError(f"report {name!r}, field wait_limit_minutes: expected 0..1440")
    if action is not None and action not in ACTIONS:
        raise ValueError(f"report {name!r}, field wait_action: expected one of {', '.join(ACTIONS)}")


def decide(
    missing: list[str], scheduled_for: datetime, now: datetime, limit_minutes: int | None, action: str | None
) -> WaitDecision:
    """`missing`: the assets whose partition of the day is not materialized yet."""
    if not missing:
        return WaitDecision("run")
    limit = DEFAULT_LIMIT_MINUTES if limit_minutes is None else limit_minutes
    if now < scheduled_for + timedelta(minutes=limit):
        return WaitDecision("wait", tuple(missing))
    return WaitDecision("skip" if action == "skip" else "warn", tuple(missing))
