"""Validation of what users type into a report definition: the SQL query, recipients, templates, options.

Pure functions (no database, no Dagster). Every error is a `ReportValidationError` (a `UserError`) whose text
names the field at fault.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from routines.errors import UserError

ALLOWED_FIRST_KEYWORDS = {"SELECT", "WITH"}
# Whole words refused anywhere outside string literals/quoted identifiers: statements that write, change
# the schema or the session, and SELECT ... INTO / FOR UPDATE (which write or lock).
# (Statements such as SET or COMMENT ON can only come first, and the first word must be SELECT/WITH.)
FORBIDDEN_KEYWORDS = {
    "INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "DROP", "CREATE", "ALTER", "TRUNCATE", "GRANT",
    "REVOKE", "COPY", "CALL", "EXECUTE", "PREPARE", "VACUUM", "REINDEX", "ATTACH", "DETACH", "PRAGMA",
    "INTO", "COMMIT", "ROLLBACK", "SAVEPOINT",
}  # fmt: skip
# Functions that read the server's files, reach other servers or touch other sessions.
FORBIDDEN_FUNCTIONS = {
    "PG_READ_FILE", "PG_READ_BINARY_FILE", "PG_LS_DIR", "PG_STAT_FILE", "LO_IMPORT", "LO_EXPORT", "DBLINK",
    "DBLINK_EXEC", "PG_TERMINATE_BACKEND", "PG_CANCEL_BACKEND", "SET_CONFIG", "PG_RELOAD_CONF",
    "PG_ROTATE_LOGFILE", "LOAD_EXTENSION", "WRITEFILE", "READFILE", "PG_ADVISORY_LOCK", "PG_ADVISORY_XACT_LOCK",
}  # fmt: skip

# Tables/columns a report may not read (secrets of the platform itself).
FORBIDDEN_NAMES = {"REPORT_SMTP_SETTINGS", "PASSWORD_ENCRYPTED", "PG_SHADOW", "PG_AUTHID", "PG_USER_MAPPINGS"}

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


class ReportValidationError(UserError):
    """A report definition field is invalid; the text names the field."""

    def __init__(self, field: str, message: str, report: str | None = None):
        self.field = field
        self.reason = message
        where = f"report {report!r}, " if report else ""
        super().__init__(f"{where}field {field}: {message}")


def _mask_sql(sql: str) -> str:
    """The SQL with comments removed and string literals / quoted identifiers / dollar quotes blanked.

    What remains is only keywords, names, numbers and punctuation, so keywords hidden in literals do not
    count and statements hidden behind comments do.
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif sql.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            if depth:
                raise ReportValidationError("query", "unterminated /* comment")
            i = j
            out.append(" ")
        elif ch in "'\"`":
            j = i + 1
            while True:
                j = sql.find(ch, j)
                if j < 0:
                    raise ReportValidationError("query", f"unterminated {ch} quote")
                if j + 1 < n and sql[j + 1] == ch:  # doubled quote = escaped
                    j += 2
                    continue
                break
            out.append("''" if ch == "'" else '"x"')
            i = j + 1
        elif ch == "$":
            match = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:])
            if match:
                tag = match.group(0)
                end = sql.find(tag, i + len(tag))
                if end < 0:
                    raise ReportValidationError("query", f"unterminated {tag} quote")
                out.append("''")
                i = end + len(tag)
            else:
                out.append(ch)
                i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def validate_query(sql: str | None, report: str | None = None) -> str:
    """Accept only one read-only SELECT or WITH statement; return it without a trailing semicolon."""
    if sql is None or not sql.strip():
        raise ReportValidationError("query", "empty query: write one SELECT or WITH statement", report)
    try:
        masked = _mask_sql(sql).strip()
    except ReportValidationError as exc:
        raise ReportValidationError("query", exc.reason, report) from None
    body = masked.rstrip().rstrip(";").rstrip()
    if ";" in body:
        raise ReportValidationError(
            "query", "more than one statement (';' found): only a single SELECT or WITH is allowed", report
        )
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", body)
    if not words:
        raise ReportValidationError("query", "no SQL statement found", report)
    first = words[0].upper()
    if first not in ALLOWED_FIRST_KEYWORDS or not re.match(r"^\(*\s*[A-Za-z]", body):
        raise ReportValidationError(
            "query", f"must start with SELECT or WITH, not {words[0]!r} (reports are read-only)", report
        )
    upper_words = {w.upper() for w in words}
    normalized = re.sub(r"\s+", " ", body.upper())
    if re.search(r"\bFOR\s+(UPDATE|SHARE|NO KEY UPDATE|KEY SHARE)\b", normalized):
        raise ReportValidationError("query", "row locking (FOR UPDATE/SHARE) not allowed in a report", report)
    forbidden = sorted(upper_words & FORBIDDEN_KEYWORDS)
    if forbidden:
        raise ReportValidationError(
            "query", f"{', '.join(forbidden)} not allowed: a report query may only read data", report
        )
    secret = sorted(upper_words & FORBIDDEN_NAMES)
    if secret:
        raise ReportValidationError("query", f"{secret[0].lower()} may not be read by a report", report)
    functions = sorted(upper_words & FORBIDDEN_FUNCTIONS)
    if functions:
        raise ReportValidationError(
            "query", f"function {functions[0].lower()}() not allowed in a report", report
        )
    # Return the original text minus a trailing semicolon (comments are harmless once validated).
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
