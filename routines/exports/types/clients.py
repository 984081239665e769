"""Export type `import_clients` (the legacy `import_csv`): a CSV of the company's invoice clients and the
operators each one uses. The whole file is validated first (every error names its line and field) and nothing
is written when any line is wrong; then, in one transaction, clients are inserted or updated by name and their
operator links set.

Columns (header required, any order, `;` or `,` separated, UTF-8 or latin-1):

    nome        client name (required; unique per company, compared without case)
    cnpj        client CNPJ (optional; check digits verified; stored as 11.222.333/0001-81)
    operadoras  operator codes the client uses, separated by `|`, `,` or spaces (optional column: when it is
                present, the listed links are active and the client's other links are deactivated)
    ativo       sim/não (optional, default sim)
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from sqlalchemy import func, select

from routines.database.engine import session_scope
from routines.errors import InputFileError, UserError
from routines.exports.context import ExportContext, ExportOutput
from routines.exports.payloads import ImportClientsPayload, format_cnpj
from routines.invoices.models import Client, ClientOperator, Operator

COLUMNS = ("nome", "cnpj", "operadoras", "ativo")
TRUE = {"sim", "s", "true", "1", "ativo", "yes"}
FALSE = {"não", "nao", "n", "false", "0", "inativo", "no"}
MAX_ERRORS_SHOWN = 20


@dataclass(frozen=True)
class ClientLine:
    line: int
    name: str
    cnpj: str | None
    operators: tuple[str, ...] | None  # None: the file has no operadoras column
    active: bool


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_clients_csv(text: str, known_operators: set[str], file: str = "CSV") -> list[ClientLine]:
    """Every line checked; InputFileError listing every problem (line and field) when any is wrong."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or not lines[0].strip():
        raise InputFileError(file, "empty file: expected a header line (nome;cnpj;operadoras;ativo)", line=1)
    delimiter = ";" if lines[0].count(";") >= lines[0].count(",") else ","
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    header = [name.strip().lower() for name in next(reader)]
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise InputFileError(
            file, f"unknown column {unknown[0]!r} (known: {', '.join(COLUMNS)})", line=1, field=unknown[0]
        )
    if "nome" not in header:
        raise InputFileError(file, "the header has no column 'nome'", line=1, field="nome")
    position = {name: index for index, name in enumerate(header)}
    errors: list[str] = []
    parsed: list[ClientLine] = []
    seen: dict[str, int] = {}

    def error(line: int, field: str, message: str) -> None:
        errors.append(f"line {line}, field {field}: {message}")

    for line_number, values in enumerate(reader, start=2):
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            error(line_number, "*", f"{len(values)} columns, the header has {len(header)}")
            continue
        cell = {name: values[index].strip() for name, index in position.items()}
        name = re.sub(r"\s+", " ", cell["nome"])
        if not name:
            error(line_number, "nome", "empty client name")
        elif len(name) > 200:
            error(line_number, "nome", "longer than 200 characters")
        elif name.lower() in seen:
            error(line_number, "nome", f"client {name!r} repeated (first on line {seen[name.lower()]})")
        else:
            seen[name.lower()] = line_number
        cnpj = None
        if cell.get("cnpj"):
            try:
                cnpj = format_cnpj(cell["cnpj"])
            except ValueError:
                error(line_number, "cnpj", f"invalid CNPJ {cell['cnpj']!r}")
        operators = None
        if "operadoras" in cell:
            operators = tuple(
                dict.fromkeys(code.upper() for code in re.split(r"[|,\s]+", cell["operadoras"]) if code)
            )
            for code in operators:
                if code not in known_operators:
                    error(
                        line_number,
                        "operadoras",
                        f"unknown operator {code!r} (known: {', '.join(sorted(known_operators))})",
                    )
        active = True
        if cell.get("ativo"):
            value = cell["ativo"].lower()
            if value not in TRUE | FALSE:
                error(line_number, "ativo", f"{cell['ativo']!r}: expected sim or não")
            active = value in TRUE
        parsed.append(ClientLine(line_number, name, cnpj, operators, active))
    if errors:
        shown = "; ".join(errors[:MAX_ERRORS_SHOWN])
        more = f" (and {len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > MAX_ERRORS_SHOWN else ""
        raise InputFileError(file, f"{len(errors)} error(s), nothing imported: {shown}{more}")
    if not parsed:
        raise InputFileError(file, "no client lines after the header")
    return parsed


def import_clients(ctx: ExportContext, payload: ImportClientsPayload) -> ExportOutput:
    if payload.file_key:
        if not ctx.store.exists(payload.file_key):
            raise UserError(f"payload.file_key: no file {payload.file_key!r} in the file store")
        text, file = _decode(ctx.store.read_bytes(payload.file_key)), payload.file_key
    else:
        text, file = payload.csv_text or "", "CSV"
    with session_scope(ctx.engine) as session:
        operators = {o.code: o.id for o in session.scalars(select(Operator).where(Operator.active.is_(True)))}
    lines = parse_clients_csv(text, set(operators), file)
    ctx.progress(30, 100, f"{len(lines)} clientes validados; gravando")
    created = updated = linked = unlinked = 0
    with session_scope(ctx.engine) as session:  # one transaction: everything or nothing
        existing = {
            client.name.lower(): client
            for client in session.scalars(select(Client).where(Client.company_id == ctx.company.id))
        }
        # (no progress writes inside this transaction: on SQLite they would wait for its write lock)
        for item in lines:
            client = existing.get(item.name.lower())
            if client is None:
                client = Client(company_id=ctx.company.id, name=item.name, cnpj=item.cnpj, active=item.active)
                session.add(client)
                session.flush()
                created += 1
            else:
                client.name, client.active = item.name, item.active
                if item.cnpj:
                    client.cnpj = item.cnpj
                updated += 1
            if item.operators is not None:
                links = {
                    link.operator_id: link
                    for link in session.scalars(
                        select(ClientOperator).where(ClientOperator.client_id == client.id)
                    )
                }
                wanted = {operators[code] for code in item.operators}
                for operator_id in wanted:
                    link = links.get(operator_id)
                    if link is None:
                        session.add(ClientOperator(client_id=client.id, operator_id=operator_id, active=True))
                        linked += 1
                    elif not link.active:
                        link.active = True
                        linked += 1
                for operator_id, link in links.items():
                    if operator_id not in wanted and link.active:
                        link.active = False
                        unlinked += 1
        session.flush()
        total = session.scalar(
            select(func.count()).select_from(Client).where(Client.company_id == ctx.company.id)
        )
    return ExportOutput(
        summary=(
            f"{created} cliente(s) criado(s), {updated} atualizado(s); {linked} vínculo(s) com operadoras "
            f"ativado(s), {unlinked} desativado(s)"
        ),
        result={"created": created, "updated": updated, "links_activated": linked, "links_deactivated": unlinked,
                "clients_of_company": total},
    )  # fmt: skip
