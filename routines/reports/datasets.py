"""Named datasets: ready-made queries a report can use instead of its own SQL (field `dataset`).

Each is one SELECT over the reporting views, which already show only the report's company (validated and run
like user SQL).
"""

from __future__ import annotations

from routines.reports.validation import ReportValidationError

DATASETS: dict[str, str] = {
    "empresas": 'SELECT code AS "Código", name AS "Empresa", cnpj AS "CNPJ", active AS "Ativa" FROM companies ORDER BY code',
    "execucoes_relatorios": (
        'SELECT d.name AS "Relatório", e.scheduled_for AS "Agendado para", e.trigger AS "Origem", '
        'e.status AS "Situação", e.row_count AS "Linhas", e.error AS "Erro" '
        "FROM report_executions e JOIN report_definitions d ON d.id = e.report_id ORDER BY e.scheduled_for DESC"
    ),
}


def dataset_sql(name: str, report: str | None = None) -> str:
    try:
        return DATASETS[name]
    except KeyError:
        raise ReportValidationError(
            "dataset", f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}", report
        ) from None
