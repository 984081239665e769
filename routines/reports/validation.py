"""Validation of what users type into a report definition: the SQL query, recipients, templates, options.

Pure functions (no database, no Dagster). Every error is a `ReportValidationError` (a `UserError`) whose text
names the field at fault.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from routines.errors import UserError

EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")  # fmt: skip
TEMPLATE_FIELD_RE = re.compile(r"\{(\w*)\}")
TEMPLATE_BRACES_RE = re.compile(r"\{([^{}\n]*)\}")
TEMPLATE_FIELDS = {
    "relatorio": "report name",
    "empresa": "company name",
    "data": "reference date (dd/mm/aaaa)",
    "periodo": "reference period",
    "linhas": "number of rows",
    "gerado_em": "generation time (dd/mm/aaaa hh:mm)",
    "arquivo": "attachment file name",
}


# Functions refused by name (lower case, after unquoting): server files, other servers, other sessions, settings
# and roles, sequences, large objects, and every function that runs SQL given as a string.
DENIED_FUNCTIONS = re.compile(
    r"^(pg_|lo_|pragma_|dblink|(query|table|cursor|schema|database)_to_xml|xpath|ts_stat$|ts_rewrite$|set_config$"
    r"|current_setting$|load_extension$|readfile$|writefile$|edit$|fts3_tokenizer$|sqlite_|txid_|nextval$"
    r"|setval$|currval$|lastval$|inet_|has_\w*privilege$|to_reg|binary_upgrade|gin_clean|brin_)"
)
SQLGLOT_DIALECTS = {"postgresql": "postgres", "postgres": "postgres", "sqlite": "sqlite"}
_STATEMENT_NODES = (
    "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command", "Set", "Pragma", "Transaction",
    "Commit", "Rollback", "Copy", "Attach", "Detach", "Use", "TruncateTable", "Grant", "Revoke", "Describe",
    "Analyze", "Kill", "Cache", "Uncache", "LoadData", "Refresh", "Comment", "Show", "Execute", "Declare",
)  # fmt: skip


class ReportValidationError(UserError):
    """A report definition field is invalid; the text names the field."""

    def __init__(self, field: str, message: str, report: str | None = None):
        self.field = field
        self.reason = message
        where = f"report {report!r}, " if report else ""
        super().__init__(f"{where}field {field}: {message}")


def _name(identifier, dialect: str) -> str:
    """How the database sees a name: unquoted names fold to lower case (SQLite: every name)."""
    text = identifier.name if hasattr(identifier, "name") else str(identifier)
    quoted = getattr(identifier, "quoted", False)
    return text if quoted and dialect == "postgres" else text.lower()


def _is_cte_reference(table, name: str, dialect: str) -> bool:
    """Whether `table` names a CTE visible where it stands (a non-recursive CTE sees only the ones before it; a
    CTE's own body, without RECURSIVE, sees the real table of the same name)."""
    from sqlglot import exp

    previous, node, inside = table, table.parent, None
    while node is not None:
        if isinstance(node, exp.CTE):
            inside = node
        elif isinstance(node, exp.With):
            ctes = list(node.expressions)
            index = next((i for i, cte in enumerate(ctes) if cte is inside), None)
            visible = ctes if index is None or node.args.get("recursive") else ctes[:index]
            if name in {_name(cte.args["alias"].this, dialect) for cte in visible}:
                return True
            inside = None
        elif isinstance(node, exp.Query) and node.args.get("with_") is not None:
            if previous is not node.args["with_"] and name in {
                _name(cte.args["alias"].this, dialect) for cte in node.args["with_"].expressions
            }:
                return True
        previous, node = node, node.parent
    return False


def _function_names(node) -> set[str]:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return {node.name.lower()}
    return {name.lower() for name in node.sql_names()} | {node.key.lower()}


def validate_query(sql: str | None, report: str | None = None, dialect: str = "postgresql") -> str:
    """Parse with the database's dialect and accept only one SELECT/WITH query over the reporting views, without
    denied functions; return it without a trailing semicolon. The first, friendly line of defence: the database
    enforces the same boundary (`routines.reports.query`)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.tokens import TokenType

    from routines.reports.surface import VIEW_NAMES

    def refuse(message: str):
        raise ReportValidationError("query", message, report)

    if sql is None or not sql.strip():
        refuse("empty query: write one SELECT or WITH statement")
    read = SQLGLOT_DIALECTS.get(dialect, dialect)
    try:
        tokens = sqlglot.Dialect.get_or_raise(read).tokenize(sql)
        statements = [s for s in sqlglot.parse(sql, read=read) if s is not None]
    except SqlglotError as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        refuse(f"cannot be parsed as {read} SQL: {message}")
    for current, following in zip(tokens, tokens[1:], strict=False):
        if current.text.upper() == "U" and following.token_type == TokenType.AMP:
            refuse('Unicode-escaped names (U&"...") are not allowed: write the name plainly')
    if not statements:
        refuse("no SQL statement found")
    if len(statements) > 1:
        refuse("more than one statement (';' found): only a single SELECT or WITH is allowed")
    [root] = statements
    statement_nodes = tuple(getattr(exp, name) for name in _STATEMENT_NODES if hasattr(exp, name))
    if not isinstance(root, exp.Query) or isinstance(root, statement_nodes):
        kind = str(root.this).split()[0] if isinstance(root, exp.Command) else root.key
        refuse(f"must be a SELECT or WITH query, not {kind.upper()} (reports are read-only)")
    for node in root.walk():
        if isinstance(node, statement_nodes):
            refuse(f"{node.key.upper()} is not allowed: a report query may only read data")
        if isinstance(node, exp.Into):
            refuse("SELECT ... INTO is not allowed: a report query may only read data")
        if isinstance(node, exp.Lock):
            refuse("row locking (FOR UPDATE/SHARE) is not allowed in a report")
        if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
            refuse(f"schema-qualified function {node.this.name}.{node.expression.name}() is not allowed")
        if isinstance(node, exp.Func):
            denied = sorted(name for name in _function_names(node) if DENIED_FUNCTIONS.match(name))
            if denied:
                refuse(f"function {denied[0]}() is not allowed in a report")
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            qualified = ".".join(part.name for part in node.parts)
            if node.args.get("db") is not None or node.args.get("catalog") is not None:
                refuse(f"{qualified}: schema-qualified names are not allowed; use the reporting views")
            name = _name(node.this, read)
            if _is_cte_reference(node, name, read):
                continue
            if name not in VIEW_NAMES:
                refuse(
                    f"{qualified} is not a reporting view; a report reads only: {', '.join(sorted(VIEW_NAMES))}"
                )
    stripped = sql.strip()
    while stripped.endswith(";"):
        stripped = stripped[:-1].rstrip()
    return stripped


def validate_addresses(
    addresses: Iterable[str] | str | None, field: str, report: str | None = None
) -> list[str]:
    """Split (`,` or `;`), trim and check e-mail addresses; return them in order without duplicates."""
    if addresses is None:
        return []
    if isinstance(addresses, str):
        addresses = re.split(r"[,;\s]+", addresses)
    result: list[str] = []
    for raw in addresses:
        address = (raw or "").strip()
        if not address:
            continue
        if not EMAIL_RE.match(address) or len(address) > 254 or ".." in address:
            raise ReportValidationError(field, f"invalid e-mail address {address!r}", report)
        if address.lower() not in {a.lower() for a in result}:
            result.append(address)
    return result


def validate_recipients(to, cc=None, report: str | None = None) -> tuple[list[str], list[str]]:
    to_list = validate_addresses(to, "recipients_to", report)
    cc_list = validate_addresses(cc, "recipients_cc", report)
    if not to_list:
        raise ReportValidationError("recipients_to", "no recipients: give at least one 'to' address", report)
    return to_list, cc_list


def validate_template(template: str | None, field: str, report: str | None = None) -> str | None:
    if template is None:
        return None
    for name in TEMPLATE_BRACES_RE.findall(template):
        if name not in TEMPLATE_FIELDS:
            known = ", ".join("{" + k + "}" for k in TEMPLATE_FIELDS)
            raise ReportValidationError(field, f"unknown placeholder {{{name}}}; known: {known}", report)
    return template


def render_template(template: str, values: dict[str, object]) -> str:
    """Replace `{name}` placeholders (only the known ones); `{{` and `}}` are not special."""
    return TEMPLATE_FIELD_RE.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)
