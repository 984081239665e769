"""Demo data of the reports domain for `routines demo seed` (idempotent).

Per demo company (BEG, ACME): SMTP settings pointing at a local test server (127.0.0.1:1025, no TLS, no
login) and one report, Excel + PDF, every business day (ANBIMA calendar) at 08:00 America/Sao_Paulo.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines.companies.models import Company
from routines.reports.models import ReportDefinition, SmtpSettings

DEMO_REPORT_NAME = "Resumo diário de demonstração"
# Works on SQLite and PostgreSQL: a CTE over literal rows joined to the companies table.
DEMO_QUERY = """
WITH itens(codigo, descricao, quantidade, valor_total) AS (
    SELECT 1, 'Faturas recebidas', 12, 15230.45
    UNION ALL SELECT 2, 'Faturas enviadas ao SAT', 11, 14100.00
    UNION ALL SELECT 3, 'Cotações carregadas', 1, 0.00
)
SELECT i.codigo AS "Código", i.descricao AS "Descrição", i.quantidade AS "Quantidade",
       i.valor_total AS "Valor total", c.name AS "Empresa"
FROM itens i CROSS JOIN companies c
WHERE c.code = '{code}'
ORDER BY i.codigo
""".strip()


def seed_demo(session: Session) -> int:
    """Insert the missing demo rows; returns how many were added."""
    from routines.reports.service import save_definition

    added = 0
    for code in ("BEG", "ACME"):
        company = session.scalar(select(Company).where(Company.code == code))
        if company is None:
            continue
        domain = "beg.example.com" if code == "BEG" else "acme.example.com"
        if session.scalar(select(SmtpSettings).where(SmtpSettings.company_id == company.id)) is None:
            session.add(
                SmtpSettings(
                    company_id=company.id, host="127.0.0.1", port=1025, security="none", username=None,
                    password_encrypted=None, from_address=f"relatorios@{domain}", from_name=f"Relatórios {code}",
                    timeout_seconds=30,
                )
            )  # fmt: skip
            added += 1
        exists = session.scalar(
            select(ReportDefinition.id).where(
                ReportDefinition.company_id == company.id, ReportDefinition.name == DEMO_REPORT_NAME
            )
        )
        if exists is None:
            definition = ReportDefinition(
                company_id=company.id, company=company, name=DEMO_REPORT_NAME, query_sql=DEMO_QUERY.format(code=code),
                format="xlsx,pdf", recipients_to=[f"financeiro@{domain}"], recipients_cc=[f"operacoes@{domain}"],
                subject_template="{relatorio} - {empresa} - {data}", body_template=None, cron="0 8 * * *",
                timezone="America/Sao_Paulo", calendar_name="ANBIMA", business_days_only=True, shift="skip",
                active=True,
            )  # fmt: skip
            save_definition(session, definition)
            added += 1
    session.flush()
    return added
