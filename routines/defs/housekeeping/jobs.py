"""Housekeeping jobs (thin glue over `routines.housekeeping`): retention, with its dry run, and daily backups.

- `retention_job` (daily, ROUTINES_RETENTION_CRON) and `retention_dry_run_job` (the same ops with `dry_run`:
  lists what the real run would remove, changes nothing): old Dagster runs with their logs, old files of the
  file store, old read notifications. Every op records what it removed (count, bytes, the list) as metadata.
- `database_backup_job` (daily, ROUTINES_BACKUP_CRON): a consistent backup of the business database, then the
  retention of backups (last N daily, M monthly).
"""

import dagster as dg
from pydantic import Field

from routines import settings
from routines.lib.resources import DatabaseResource, FileStoreResource
from routines.lib.schedules import cron_job_schedule

RETENTION_CRON_ENV = "ROUTINES_RETENTION_CRON"
BACKUP_CRON_ENV = "ROUTINES_BACKUP_CRON"
LISTED = 500  # removals listed in the metadata (the counts and bytes cover all of them)


class RetentionConfig(dg.Config):
    dry_run: bool = Field(default=False, description="só lista o que seria removido; não altera nada")


def _removal_metadata(removals, dry_run: bool) -> dict:
    from routines.housekeeping.retention import summarize

    totals = summarize(removals)
    lines = [removal.line() for removal in removals[:LISTED]]
    return {
        "dry_run": dry_run,
        "removed_count": len(removals),
        "removed_bytes": sum(removal.size_bytes for removal in removals),
        "by_kind": dg.MetadataValue.json(totals),
        "removed": dg.MetadataValue.json(
            lines + ([f"... e mais {len(removals) - LISTED}"] if len(removals) > LISTED else [])
        ),
    }


def _report(context, what: str, removals, dry_run: bool) -> None:
    verb = "seriam removidos" if dry_run else "removidos"
    context.log.info(f"{what}: {len(removals)} {verb} ({sum(r.size_bytes for r in removals)} bytes)")
    for removal in removals[:LISTED]:
        context.log.info(("[simulação] " if dry_run else "") + removal.line())
    context.add_output_metadata(_removal_metadata(removals, dry_run))


@dg.op(
    out=dg.Out(dg.Nothing),
    description=(
        "Remove execuções do Dagster terminadas há mais de ROUTINES_RETENTION_RUNS_DAYS dias (padrão 90; as que "
        "falharam, ROUTINES_RETENTION_FAILED_RUNS_DAYS, padrão 365) com seus logs de eventos e de computação, "
        "pela API da instância. Mantém as que guardam a materialização mais recente de uma partição."
    ),
)
def dagster_runs_retention(context: dg.OpExecutionContext, config: RetentionConfig) -> None:
    from routines.database.base import utcnow
    from routines.defs.housekeeping.dagster_storage import run_retention
    from routines.housekeeping.settings import RetentionRules

    removals = run_retention(context.instance, RetentionRules.from_env(), utcnow(), config.dry_run)
    _report(context, "execuções do Dagster", removals, config.dry_run)


@dg.op(
    out=dg.Out(dg.Nothing),
    description=(
        "Remove do file store os arquivos antigos de cada área (market/, invoices/, reports/; task_files/ é da limpeza de exportações) "
        "conforme ROUTINES_RETENTION_<ÁREA>_DAYS. Arquivos brutos de mercado são mantidos por padrão; PDFs de "
        "faturas nunca são removidos enquanto o processo não está em estado final."
    ),
)
def file_store_retention(
    context: dg.OpExecutionContext,
    config: RetentionConfig,
    database: DatabaseResource,
    file_store: FileStoreResource,
) -> None:
    from routines.database.base import utcnow
    from routines.housekeeping.retention import file_retention
    from routines.housekeeping.settings import RetentionRules

    removals = file_retention(
        database.get_engine(), file_store.get_store(), RetentionRules.from_env(), utcnow(), config.dry_run
    )
    _report(context, "arquivos do file store", removals, config.dry_run)


@dg.op(
    out=dg.Out(dg.Nothing),
    description=(
        "Apaga notificações já lidas criadas há mais de ROUTINES_RETENTION_NOTIFICATIONS_DAYS dias (padrão 90); "
        "notificações não lidas nunca são apagadas."
    ),
)
def read_notifications_retention(
    context: dg.OpExecutionContext, config: RetentionConfig, database: DatabaseResource
) -> None:
    from routines.database.base import utcnow
    from routines.housekeeping.retention import notification_retention
    from routines.housekeeping.settings import RetentionRules

    removals = notification_retention(
        database.get_engine(), RetentionRules.from_env(), utcnow(), config.dry_run
    )
    _report(context, "notificações lidas", removals, config.dry_run)


@dg.graph(
    description="Retenção: execuções antigas do Dagster com seus logs, arquivos antigos, notificações lidas."
)
def retention():
    dagster_runs_retention()
    file_store_retention()
    read_notifications_retention()


RETENTION_OPS = ("dagster_runs_retention", "file_store_retention", "read_notifications_retention")

retention_job = retention.to_job(
    name="retention_job",
    description="Retenção (remove): execuções antigas do Dagster com seus logs, arquivos antigos do file store e "
    "notificações lidas antigas. Veja as regras no README (Housekeeping).",
    tags={"routines/domain": "housekeeping"},
)

retention_dry_run_job = retention.to_job(
    name="retention_dry_run_job",
    description="Simulação da retenção: lista exatamente o que `retention_job` removeria agora; não altera nada.",
    config={"ops": {name: {"config": {"dry_run": True}} for name in RETENTION_OPS}},
    tags={"routines/domain": "housekeeping"},
)


@dg.op(
    out=dg.Out(dg.Nothing),
    description=(
        "Backup consistente do banco de negócio: PostgreSQL com `pg_dump -Fc` (versão do cliente conferida com a "
        "do servidor), SQLite pela API de backup online; grava na pasta de backups (ROUTINES_BACKUP_DIR) com "
        "manifesto (sha256, tamanho)."
    ),
)
def backup_business_database(context: dg.OpExecutionContext, database: DatabaseResource) -> None:
    from routines.errors import UserError
    from routines.housekeeping.backup import backup_database
    from routines.housekeeping.settings import BackupSettings

    try:
        backup = backup_database(database.resolved_url(), BackupSettings.from_env())
    except UserError as exc:  # a missing or too old pg_dump will not get better by retrying
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    context.log.info(f"backup {backup.path.name}: {backup.size_bytes} bytes, sha256 {backup.sha256}")
    context.add_output_metadata(backup.metadata())


@dg.op(
    ins={"after": dg.In(dg.Nothing)},
    out=dg.Out(dg.Nothing),
    description=(
        "Retenção dos backups: mantém o mais recente de cada um dos últimos ROUTINES_BACKUP_KEEP_DAILY dias "
        "(padrão 7) e o primeiro de cada um dos últimos ROUTINES_BACKUP_KEEP_MONTHLY meses (padrão 12)."
    ),
)
def backup_retention(context: dg.OpExecutionContext, config: RetentionConfig) -> None:
    from routines.housekeeping.backup import backup_retention as apply_backup_retention
    from routines.housekeeping.settings import BackupSettings

    removals = apply_backup_retention(BackupSettings.from_env(), config.dry_run)
    _report(context, "backups", removals, config.dry_run)


@dg.job(
    description="Backup diário do banco de negócio e retenção dos backups (últimos N diários e M mensais).",
    tags={"routines/domain": "housekeeping"},
)
def database_backup_job():
    backup_retention(after=backup_business_database())


def build_retention_schedule() -> dg.ScheduleDefinition:
    cron = settings.env_cron(RETENTION_CRON_ENV, "30 3 * * *")
    return cron_job_schedule(
        name="retention_schedule",
        job=retention_job,
        cron=cron,
        description=f"Retenção diária (cron `{cron}`, São Paulo; {RETENTION_CRON_ENV}).",
    )


def build_backup_schedule() -> dg.ScheduleDefinition:
    cron = settings.env_cron(BACKUP_CRON_ENV, "0 1 * * *")
    return cron_job_schedule(
        name="database_backup_schedule",
        job=database_backup_job,
        cron=cron,
        description=f"Backup diário do banco de negócio (cron `{cron}`, São Paulo; {BACKUP_CRON_ENV}).",
    )


retention_schedule = build_retention_schedule()
database_backup_schedule = build_backup_schedule()
