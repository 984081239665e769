"""The one state machine of an invoice process (pure: no database, no Dagster).

    AGUARDANDO_DOWNLOAD --download ok--> AGUARDANDO_APROVACAO --approved--> AGUARDANDO_ENVIO_SAT --> UPLOAD_REALIZADO
          |    ^                               |                                  |    ^
          v    | retry                         v rejected                         v    | retry
       FALHA_DOWNLOAD                       REJEITADO --new download--+        FALHA_ENVIO_SAT
                                                                      v
                                                             AGUARDANDO_DOWNLOAD

`routines.invoices.service.transition` applies a checked transition to the database together with its
transition record (time, actor, reason) in one transaction.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    AGUARDANDO_DOWNLOAD = "AGUARDANDO_DOWNLOAD"
    FALHA_DOWNLOAD = "FALHA_DOWNLOAD"
    AGUARDANDO_APROVACAO = "AGUARDANDO_APROVACAO"
    REJEITADO = "REJEITADO"
    AGUARDANDO_ENVIO_SAT = "AGUARDANDO_ENVIO_SAT"
    FALHA_ENVIO_SAT = "FALHA_ENVIO_SAT"
    UPLOAD_REALIZADO = "UPLOAD_REALIZADO"


INITIAL = Status.AGUARDANDO_DOWNLOAD

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.AGUARDANDO_DOWNLOAD: frozenset({Status.AGUARDANDO_APROVACAO, Status.FALHA_DOWNLOAD}),
    Status.FALHA_DOWNLOAD: frozenset({Status.AGUARDANDO_DOWNLOAD}),
    Status.AGUARDANDO_APROVACAO: frozenset({Status.AGUARDANDO_ENVIO_SAT, Status.REJEITADO}),
    Status.REJEITADO: frozenset({Status.AGUARDANDO_DOWNLOAD}),
    Status.AGUARDANDO_ENVIO_SAT: frozenset({Status.UPLOAD_REALIZADO, Status.FALHA_ENVIO_SAT}),
    Status.FALHA_ENVIO_SAT: frozenset({Status.AGUARDANDO_ENVIO_SAT}),
    Status.UPLOAD_REALIZADO: frozenset(),
}

# pt-BR labels for people (CLI, notifications).
LABELS: dict[Status, str] = {
    Status.AGUARDANDO_DOWNLOAD: "Aguardando download",
    Status.FALHA_DOWNLOAD: "Falha no download",
    Status.AGUARDANDO_APROVACAO: "Aguardando aprovação",
    Status.REJEITADO: "Rejeitado",
    Status.AGUARDANDO_ENVIO_SAT: "Aguardando envio ao SAT",
    Status.FALHA_ENVIO_SAT: "Falha no envio ao SAT",
    Status.UPLOAD_REALIZADO: "Upload realizado",
}


class IllegalTransition(ValueError):
    """A status change the flow does not allow (for example UPLOAD_REALIZADO -> AGUARDANDO_DOWNLOAD)."""

    def __init__(self, current: str, target: str, process_id: int | None = None):
        self.current = current
        self.target = target
        self.process_id = process_id
        what = f"process {process_id}" if process_id is not None else "process"
        allowed = (
            ", ".join(sorted(TRANSITIONS.get(Status(current), ()))) if current in Status.__members__ else ""
        )
        super().__init__(
            f"{what}: illegal transition {current} -> {target}"
            + (f" (allowed from {current}: {allowed})" if allowed else f" ({current} is final)")
        )


def parse(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise ValueError(f"unknown invoice process status {value!r}") from None


def check(current: str, target: str, process_id: int | None = None) -> Status:
    """Return the target status if `current -> target` is allowed; raise IllegalTransition otherwise."""
    source, destination = parse(current), parse(target)
    if destination not in TRANSITIONS[source]:
        raise IllegalTransition(source, destination, process_id)
    return destination
