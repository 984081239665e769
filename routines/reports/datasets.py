"""Named datasets: ready-made queries a report can use instead of its own SQL (field `dataset`).

Each is a function of the report's company id returning one read-only SELECT (validated like user SQL).
"""

from __future__ import annotations

from collections.abc import Callable

from routines.reports.validation import ReportValidationError

DATASETS: dict[str, Callable[[int], str]] = {
    "empresas": lambda company_id: (
        'SELECT code AS "Código", name AS "Empresa", cnpj AS "CNPJ", active AS "Ativa" FROM companies ORDER BY code'
    ),
    "execucoes_relatorios": lambda company_id: (
        'SELECT d.name AS "Relatório", e.scheduled_for AS "Agendado para", e.trigger AS "Origem", '
        'e.status AS "Situação", e.row_count AS "Linhas", e.error AS "Erro" '
        "FROM report_executions e JOIN report_definitions d ON d.id = e.report_id "
        f"WHERE d.company_id = {int(company_id)} ORDER BY e.scheduled_for DESC"
    ),
}


def dataset_sql(name: str, company_id: int, report: str | None = None) -> str:
    try:
        return DATASETS[name](company_id)
    except KeyError:
        raise ReportValidationError(
            "dataset", f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}", report
        ) from None
