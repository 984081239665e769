"""Which `running` executions were left behind by a worker that died: a pure decision (no database, no Dagster).

An execution is `running` from the moment a run claims it until that run records the outcome. When the Dagster
run that claimed it is over (success, failure, canceled) or gone and the row still says `running`, the worker
died in between: the e-mail may or may not have left, so the execution is failed with that reason (never sent
again automatically) and the failure is notified. Executions claimed outside Dagster (`routines reports run
--in-process`) have no run to ask: they are failed after `stale_after`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

FINISHED_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})


@dataclass(frozen=True)
class RunningExecution:
    execution_id: int
    dagster_run_id: str | None
    started_at: datetime | None


@dataclass(frozen=True)
class StaleExecution:
    execution_id: int
    dagster_run_id: str | None
    reason: str  # pt-BR, recorded on the execution and in the notification


AFTERMATH = 'o e-mail pode não ter sido enviado; use "executar agora" para enviar de novo se preciso'


def find_stale(
    running: list[RunningExecution],
    run_statuses: dict[str, str | None],
    now: datetime,
    stale_after: timedelta,
) -> list[StaleExecution]:
    """`run_statuses`: Dagster run id -> status name (`STARTED`, `FAILURE`...) or None when the run is unknown."""
    stale = []
    for execution in running:
        run_id = execution.dagster_run_id
        if run_id:
            status = run_statuses.get(run_id)
            if status is None:
                reason = (
                    f"a execução Dagster {run_id} que enviava este relatório não existe mais; {AFTERMATH}"
                )
            elif status in FINISHED_RUN_STATUSES:
                reason = (
                    f"a execução Dagster {run_id} terminou ({status}) sem registrar o resultado (o processo "
                    f"parou no meio do envio); {AFTERMATH}"
                )
            else:
                continue
        elif execution.started_at is None or now - execution.started_at > stale_after:
            hours = stale_after.total_seconds() / 3600
            reason = f"execução iniciada fora do Dagster há mais de {hours:g} h sem resultado; {AFTERMATH}"
        else:
            continue
        stale.append(StaleExecution(execution.execution_id, run_id, reason))
    return stale
