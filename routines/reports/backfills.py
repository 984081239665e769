"""Whether a backfill of the `reports` asset may send its e-mails: a pure decision (no Dagster).

A Dagster backfill creates one run per partition, each tagged `dagster/backfill=<id>` plus the tags given at
launch. A backfill of more than `confirm_above` reports must carry the tag `routines/confirm_report_count`
equal to its number of reports; otherwise every run of it refuses before sending anything (and the first one
cancels the backfill), so no one e-mails thousands of reports by accident.
"""

from __future__ import annotations

CONFIRM_TAG = "routines/confirm_report_count"


def backfill_refusal(report_count: int, confirmation: str | None, confirm_above: int) -> str | None:
    """None when the backfill may run; otherwise the pt-BR reason, saying how to confirm."""
    if report_count <= confirm_above:
        return None
    how = (
        f"lance-o de novo com a tag {CONFIRM_TAG}={report_count} para confirmar que {report_count} relatórios "
        f"devem ser enviados por e-mail"
    )
    if confirmation is None:
        return f"backfill de {report_count} relatórios (mais de {confirm_above}) sem confirmação: {how}"
    if confirmation.strip() != str(report_count):
        return (
            f"backfill de {report_count} relatórios confirmado com {CONFIRM_TAG}={confirmation.strip()!r}, "
            f"que não é o número de relatórios: {how}"
        )
    return None
