"""Alerts and their pt-BR text (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from routines.alerts.deadlines import TIMEZONE

# kind -> (notification kind, pt-BR label)
KINDS = {
    "run_failed": ("error", "Falha na execução"),
    "check_failed": ("error", "Verificação com erro"),
    "tick_failed": ("error", "Erro no tick"),
    "deadline_missed": ("error", "Prazo perdido"),
    "deadline_warning": ("warning", "Prazo próximo"),
    "deadline_met": ("info", "Regularizado"),
}


@dataclass(frozen=True)
class Alert:
    kind: str  # one of KINDS
    routine: str  # asset key, job, schedule or sensor name
    reason: str  # pt-BR
    partition: str | None = None
    run_id: str | None = None
    run_url: str | None = None
    owners: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    company_code: str | None = None
    subject: str | None = None  # what de-duplication keys on (default: routine + partition)
    at: datetime | None = None
    details: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"alert kind {self.kind!r}: expected one of {', '.join(KINDS)}")

    @property
    def key(self) -> str:
        return self.subject or (f"{self.routine}:{self.partition}" if self.partition else self.routine)

    @property
    def notification_kind(self) -> str:
        return KINDS[self.kind][0]


def title(alert: Alert) -> str:
    label = KINDS[alert.kind][1]
    partition = f" (partição {alert.partition})" if alert.partition else ""
    return f"[{label}] {alert.routine}{partition}"


def body(alert: Alert) -> str:
    """Plain text: routine, partition, reason, run link (the same text in every channel)."""
    lines = [f"Rotina: {alert.routine}"]
    if alert.partition:
        lines.append(f"Partição: {alert.partition}")
    lines.append(f"Motivo: {alert.reason}")
    for name, value in alert.details.items():
        lines.append(f"{name}: {value}")
    if alert.at is not None:
        lines.append(f"Quando: {alert.at.astimezone(TIMEZONE):%d/%m/%Y %H:%M} (horário de Brasília)")
    if alert.run_url:
        lines.append(f"Execução no Dagster: {alert.run_url}")
    elif alert.run_id:
        lines.append(f"Execução no Dagster: {alert.run_id}")
    return "\n".join(lines)
