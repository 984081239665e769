"""What a catalog routine does when it runs (pure: the assets, the CLI and tests call these).

Each function takes the routine, the day it runs for and the shared pieces (file store, database engine,
calendar) and returns the metadata the UI shows (plain values).
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import io
import json
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from routines.catalog.parsing import parse_file, parse_json_rows
from routines.catalog.schema import ApiCall, Checks, DownloadFile, LoadFile, PythonCall, RoutineSpec
from routines.catalog.tables import write_rows
from routines.catalog.templating import render, render_body, render_env
from routines.errors import InputFileError, UserError
from routines.files import FileStore, dated_key

HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body")


def _headers(headers: dict[str, str], routine: str) -> dict[str, str]:
    return {name: render_env(value, f"routine {routine}, header {name}") for name, value in headers.items()}


def check_content(data: bytes, checks: Checks, source: str) -> None:
    """The expected-content checks of a download (an error names the URL and the check)."""
    if checks.non_empty and not data.strip():
        raise InputFileError(source, "empty file", None, "checks.non_empty")
    if checks.not_html and data[:1024].lstrip().lower().startswith(HTML_MARKERS):
        raise InputFileError(
            source, "got an HTML page instead of the file (an error page?)", None, "checks.not_html"
        )
    if checks.min_size is not None and len(data) < checks.min_size:
        raise InputFileError(
            source, f"{len(data)} bytes, less than the minimum {checks.min_size}", None, "checks.min_size"
        )
    if checks.zip_member is not None:
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            raise InputFileError(source, "not a ZIP file", None, "checks.zip_member") from None
        if not any(fnmatch.fnmatch(name, checks.zip_member) for name in names):
            raise InputFileError(
                source,
                f"ZIP has no member {checks.zip_member!r} (has: {', '.join(names[:10])})",
                None,
                "checks.zip_member",
            )


def _client(routine: str, url: str, timeout: float):
    from routines.http import HttpClient

    parts = urlsplit(url)
    return HttpClient(f"catalog {routine}", f"{parts.scheme}://{parts.netloc}", timeout=(10.0, timeout))


def store_key(routine: str, day: date, filename: str) -> str:
    return dated_key(f"catalog/{routine}", day, filename)


def download_file(spec: RoutineSpec, day: date, store: FileStore, calendar) -> dict[str, Any]:
    execution = spec.execution
    assert isinstance(execution, DownloadFile)
    url = render(render_env(execution.url, f"routine {spec.name}, url"), day, calendar)
    client = _client(spec.name, url, execution.timeout_seconds)
    try:
        response = client.get(url, headers=_headers(execution.headers, spec.name))
    finally:
        client.close()
    data = response.content
    check_content(data, execution.checks, url)
    filename = (
        render(execution.filename, day, calendar)
        if execution.filename
        else PurePosixPath(urlsplit(url).path).name or f"{spec.name}.dat"
    )
    stored = store.write_bytes(store_key(spec.name, day, filename), data)
    return {"url": url, "file_key": stored.key, **stored.metadata()}


def load_bytes(
    spec: RoutineSpec, data: bytes, file: str, day: date | None, engine, *, partitioned: bool
) -> dict[str, Any]:
    """Validate the whole file, then write it (one transaction)."""
    execution = spec.execution
    assert isinstance(execution, LoadFile)
    from routines.catalog import pg_load

    if engine.dialect.name == "postgresql" and pg_load.supported(execution.format, execution.table):
        result, left_out, preview = pg_load.load_csv(
            engine,
            execution.format,
            execution.table,
            data,
            file,
            partitioned=partitioned,
            day=day,
            routine=spec.name,
        )
        return {
            "file": file,
            "table": execution.table.name,
            "mode": result.mode,
            "row_count": result.rows,
            "rows_replaced": result.deleted,
            "rows_of_other_days": left_out,
            "table_created": result.created,
            "preview": json.dumps(preview, ensure_ascii=False),
        }
    parsed = parse_file(data, execution.format, execution.table, file, day if partitioned else None)
    result = write_rows(
        engine, execution.table, parsed, partitioned=partitioned, day=day, file=file, routine=spec.name
    )
    return {
        "file": file,
        "table": execution.table.name,
        "mode": result.mode,
        "row_count": result.rows,
        "rows_replaced": result.deleted,
        "rows_of_other_days": parsed.left_out,
        "table_created": result.created,
        "preview": json.dumps(parsed.preview, ensure_ascii=False),
    }


def load_path_template(spec: RoutineSpec, day: date, calendar) -> Path:
    execution = spec.execution
    assert isinstance(execution, LoadFile) and execution.source is not None and execution.source.path
    return Path(render(execution.source.path, day, calendar)).expanduser()


def api_call(spec: RoutineSpec, day: date, store: FileStore, engine_factory, calendar, *, partitioned: bool):
    execution = spec.execution
    assert isinstance(execution, ApiCall)
    url = render(render_env(execution.url, f"routine {spec.name}, url"), day, calendar)
    client = _client(spec.name, url, execution.timeout_seconds)
    kwargs: dict[str, Any] = {"headers": _headers(execution.headers, spec.name)}
    if execution.body is not None:
        kwargs["json"] = render_body(execution.body, day, calendar)
    try:
        response = client.request(execution.method, url, **kwargs)
    finally:
        client.close()
    if response.status_code not in execution.expected_status:
        raise UserError(
            f"routine {spec.name}: HTTP {response.status_code} at {url}, expected "
            f"{', '.join(map(str, execution.expected_status))}"
        )
    data = response.content
    stored = store.write_bytes(store_key(spec.name, day, "response.json"), data)
    metadata: dict[str, Any] = {
        "url": url,
        "status": response.status_code,
        "file_key": stored.key,
        **stored.metadata(),
    }
    if execution.table is not None:
        try:
            document = json.loads(data.decode(response.encoding or "utf-8"), parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputFileError(url, f"response is not JSON: {exc}") from None
        parsed = parse_json_rows(
            document, execution.table.rows_path, execution.table, url, day if partitioned else None
        )
        result = write_rows(
            engine_factory(),
            execution.table,
            parsed,
            partitioned=partitioned,
            day=day,
            file=url,
            routine=spec.name,
        )
        metadata.update(
            table=execution.table.name,
            row_count=result.rows,
            rows_replaced=result.deleted,
            mode=result.mode,
            preview=json.dumps(parsed.preview, ensure_ascii=False),
        )
    return metadata


def resolve_callable(path: str):
    module_name, _, attribute = path.partition(":")
    if not attribute:
        module_name, _, attribute = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        function = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"callable {path!r} cannot be imported: {exc}") from None
    if not callable(function):
        raise UserError(f"{path!r} is not callable")
    return function


def python_call(spec: RoutineSpec, day: date, available: dict[str, Any]) -> dict[str, Any]:
    """Call the routine's function with the keyword arguments it declares among: day, params, calendar,
    file_store, database (engine), log, routine (the name)."""
    execution = spec.execution
    assert isinstance(execution, PythonCall)
    function = resolve_callable(execution.callable)
    offered = {"day": day, "params": dict(execution.params), "routine": spec.name, **available}
    signature = inspect.signature(function)
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    kwargs = {k: v for k, v in offered.items() if accepts_any or k in signature.parameters}
    result = function(**kwargs)
    if result is None:
        return {}
    if isinstance(result, dict):
        return {str(k): v if isinstance(v, str | int | float | bool) else str(v) for k, v in result.items()}
    return {"result": str(result)}
