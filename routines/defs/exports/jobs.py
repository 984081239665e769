"""`export_task_job`: one run per export task (thin glue over `routines.exports.service.execute_task`), and the
daily cleanup of old task files."""

import dagster as dg

from routines.lib.resources import DatabaseResource, FileStoreResource, pool_limit

EXPORTS_POOL = "exports"
TASK_TAG = "routines/export_task"
RUN_KEY_TAG = "routines/export_run_key"
PRIORITY_TAG = "dagster/priority"
PARENT_RUN_TAG = "dagster/parent_run_id"


@dg.op(
    pool=EXPORTS_POOL,
    out=dg.Out(dg.Nothing),
    description=(
        "Executa uma tarefa de exportação (export_tasks): assume a tarefa, gera o arquivo com progresso, grava no "
        "file store (task_files/AAAA/MM/<tipo>/) e conclui, ou registra a falha; notifica o usuário."
    ),
)
def export_task(context: dg.OpExecutionContext, database: DatabaseResource, file_store: FileStoreResource):
    import traceback

    from routines.errors import UserError
    from routines.exports.service import TaskCancelled, execute_task

    tags = context.run.tags
    task_id = int(tags[TASK_TAG])
    try:
        outcome = execute_task(
            database.get_engine(),
            file_store.get_store(),
            task_id,
            run_id=context.run_id,
            run_key=tags[RUN_KEY_TAG],
            slots=pool_limit(context.instance, EXPORTS_POOL),
            previous_run_id=tags.get(PARENT_RUN_TAG),
            log=context.log.info,
        )
    except TaskCancelled as exc:
        # The task was cancelled while running: end this run as canceled (a step failing while the run is
        # CANCELING makes Dagster mark the run CANCELED), whether or not the sensor reached the run first.
        context.log.warning(str(exc))
        run = context.instance.get_run_by_id(context.run_id)
        if run is not None and run.status == dg.DagsterRunStatus.STARTED:
            context.instance.report_run_canceling(run, message=f"tarefa {task_id} cancelada")
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    metadata = {"task_id": task_id, "status": outcome.status, "progress_writes": outcome.progress_writes}
    if outcome.status == "failed":
        if outcome.exception is not None and not isinstance(outcome.exception, UserError):
            context.log.error("".join(traceback.format_exception(outcome.exception)))
        raise dg.Failure(description=outcome.message, metadata=metadata, allow_retries=False)
    if outcome.status == "skipped":
        context.log.info(outcome.message)
        return dg.Output(None, metadata={**metadata, "skipped": outcome.message})
    task = outcome.task
    metadata.update({"task_type": task.task_type, "summary": outcome.message, "attempt": task.attempts})
    if task.file_key:
        metadata.update(
            {"file_key": task.file_key, "file_name": task.file_name, "size_bytes": task.file_size,
             "sha256": task.file_sha256}
        )  # fmt: skip
    return dg.Output(None, metadata=metadata)


def run_config_for_executor(executor: str) -> dict:
    """On one host (the default executor) a task's single op runs in the run's own process: a second process
    would only add start-up time. Any other executor takes the job as it is."""
    return {"execution": {"config": {"in_process": {}}}} if executor == "multiprocess" else {}


@dg.job(
    name="export_task_job",
    # The code location's executor (ROUTINES_EXECUTOR): with Celery the op goes to the workers like every other
    # step; on one host the sensor asks for in-process execution (see `run_config_for_executor`).
    description="Uma execução por tarefa de exportação (run key = tarefa e tentativa), iniciada pelo sensor.",
    tags={
        # A failed export is recorded on its task and told to its user: re-running it is the user's `retry`.
        # Runs that die (killed worker) are still retried by the instance's run retries and take the task over.
        "dagster/retry_on_asset_or_op_failure": "false",
        "routines/notifies_itself": "true",
    },
)
def export_task_job():
    export_task()


class CleanupConfig(dg.Config):
    days: int = 0  # 0: ROUTINES_EXPORTS_RETENTION_DAYS (default 30)
    dry_run: bool = False


@dg.op(
    out=dg.Out(dg.Nothing),
    description="Remove arquivos de tarefas com mais de N dias e marca as tarefas como não mais baixáveis.",
)
def cleanup_export_files(
    context: dg.OpExecutionContext,
    config: CleanupConfig,
    database: DatabaseResource,
    file_store: FileStoreResource,
):
    from routines.exports.cleanup import cleanup_task_files
    from routines.exports.config import ExportsConfig

    days = config.days or ExportsConfig.from_env().retention_days
    report = cleanup_task_files(
        database.get_engine(), file_store.get_store(), days=days, dry_run=config.dry_run
    )
    context.log.info(report.summary())
    return dg.Output(
        None,
        metadata={
            "removed_files": report.count,
            "removed_bytes": report.bytes,
            "keys": dg.MetadataValue.json([f.key for f in report.files]),
            "tasks": dg.MetadataValue.json(sorted(f.task_id for f in report.files if f.task_id is not None)),
            "days": days,
            "cutoff": report.cutoff.isoformat(),
            "dry_run": report.dry_run,
        },
    )


@dg.job(name="export_files_cleanup_job", description="Limpeza diária dos arquivos antigos das tarefas.")
def export_files_cleanup_job():
    cleanup_export_files()


export_files_cleanup_schedule = dg.ScheduleDefinition(
    name="export_files_cleanup_schedule",
    job=export_files_cleanup_job,
    cron_schedule="30 3 * * *",
    execution_timezone="America/Sao_Paulo",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Todo dia às 03:30 (São Paulo): remove arquivos de tarefas mais antigos que a retenção.",
)
